# Sourced by run.sh: a virtualenv with the Python peers, exported as FLIGHTDECK_TEST_PYTHON.
PYTHON_PACKAGES=(
  opentelemetry-sdk
  opentelemetry-exporter-otlp-proto-http
  arize-phoenix
)
python3 -m venv "$WORK/venv"
"$WORK/venv/bin/pip" install --quiet --disable-pip-version-check "${PYTHON_PACKAGES[@]}"
export FLIGHTDECK_TEST_PYTHON="$WORK/venv/bin/python"
