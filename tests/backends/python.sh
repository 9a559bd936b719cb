# Sourced by run.sh: a virtualenv with the Python peers, exported as FLIGHTDECK_TEST_PYTHON.
# Pinned: the tests are written against these versions' APIs and wire formats.
PYTHON_PACKAGES=(
  opentelemetry-sdk==1.45.2
  opentelemetry-exporter-otlp-proto-http==1.45.2
  arize-phoenix==20.26.1
)
python3 -m venv "$WORK/venv"
"$WORK/venv/bin/pip" install --quiet --disable-pip-version-check "${PYTHON_PACKAGES[@]}"
export FLIGHTDECK_TEST_PYTHON="$WORK/venv/bin/python"
