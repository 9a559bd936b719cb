# Sourced by run.sh: Prometheus (Debian) with a known two-hour history, exported as
# FLIGHTDECK_TEST_PROMETHEUS and FLIGHTDECK_TEST_PROMETHEUS_ANCHOR (unix seconds of the last sample).
# The history is tests/backends/llm_history.awk's.
if ! command -v prometheus >/dev/null; then
  # A fresh machine may not have read the package lists yet.
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus >/dev/null ||
    { apt-get update >/dev/null &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus >/dev/null; }
fi

PROMETHEUS_DIR="$WORK/prometheus"
mkdir -p "$PROMETHEUS_DIR/data"
# A whole minute, a minute ago: the blocks hold absolute timestamps up to here.
PROMETHEUS_ANCHOR=$(( $(date +%s) / 60 * 60 - 60 ))

awk -v anchor="$PROMETHEUS_ANCHOR" -v unit=s -f tests/backends/llm_history.awk \
  >"$PROMETHEUS_DIR/history.om"
promtool tsdb create-blocks-from openmetrics --quiet "$PROMETHEUS_DIR/history.om" \
  "$PROMETHEUS_DIR/data" >"$PROMETHEUS_DIR/promtool.log" 2>&1

# It also scrapes itself, so queries at "now" have live series (`up`) next to the history.
cat > "$PROMETHEUS_DIR/prometheus.yml" <<'YAML'
global:
  scrape_interval: 5s
scrape_configs:
  - job_name: prometheus
    static_configs:
      - targets: ["127.0.0.1:19090"]
YAML

prometheus --config.file="$PROMETHEUS_DIR/prometheus.yml" \
  --storage.tsdb.path="$PROMETHEUS_DIR/data" \
  --web.listen-address=127.0.0.1:19090 >"$PROMETHEUS_DIR/prometheus.log" 2>&1 &
PIDS+=($!)
wait_for prometheus http://127.0.0.1:19090/-/ready 30 "$PROMETHEUS_DIR/prometheus.log"
# Ready is not scraped: the first scrape of `up` comes up to one interval later.
PROMETHEUS_DEADLINE=$((SECONDS + 30))
until curl -fsS 'http://127.0.0.1:19090/api/v1/query?query=up' | grep -q '"value"'; do
  if ((SECONDS >= PROMETHEUS_DEADLINE)); then
    echo "backends: prometheus did not scrape itself within 30s" >&2
    return 1
  fi
  sleep 0.5
done
export FLIGHTDECK_TEST_PROMETHEUS=http://127.0.0.1:19090
export FLIGHTDECK_TEST_PROMETHEUS_ANCHOR=$PROMETHEUS_ANCHOR
