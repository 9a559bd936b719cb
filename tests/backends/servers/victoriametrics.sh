# Sourced by run.sh: VictoriaMetrics (Debian), another Prometheus-compatible query API, with the
# same known history as prometheus.sh (tests/backends/llm_history.awk), exported as
# FLIGHTDECK_TEST_VICTORIAMETRICS and FLIGHTDECK_TEST_VICTORIAMETRICS_ANCHOR.
if ! command -v victoria-metrics >/dev/null; then
  # A fresh machine may not have read the package lists yet.
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends victoria-metrics >/dev/null ||
    { apt-get update >/dev/null &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends victoria-metrics >/dev/null; }
fi

VICTORIAMETRICS_DIR="$WORK/victoriametrics"
mkdir -p "$VICTORIAMETRICS_DIR"
VICTORIAMETRICS_ANCHOR=$(( $(date +%s) / 60 * 60 - 60 ))
# The Prometheus text format it imports takes millisecond timestamps.
awk -v anchor="$VICTORIAMETRICS_ANCHOR" -v unit=ms -f tests/backends/llm_history.awk \
  >"$VICTORIAMETRICS_DIR/history.prom"

victoria-metrics -storageDataPath="$VICTORIAMETRICS_DIR/data" \
  -httpListenAddr=127.0.0.1:18428 >"$VICTORIAMETRICS_DIR/victoriametrics.log" 2>&1 &
PIDS+=($!)
wait_for victoriametrics http://127.0.0.1:18428/health 30 "$VICTORIAMETRICS_DIR/victoriametrics.log"
curl -fsS --data-binary @"$VICTORIAMETRICS_DIR/history.prom" \
  http://127.0.0.1:18428/api/v1/import/prometheus
# Imported rows become searchable once flushed.
curl -fsS http://127.0.0.1:18428/internal/force_flush
VICTORIAMETRICS_DEADLINE=$((SECONDS + 30))
until curl -fsS "http://127.0.0.1:18428/api/v1/query?query=llm_queue_depth&time=$VICTORIAMETRICS_ANCHOR" |
  grep -q '"value"'; do
  if ((SECONDS >= VICTORIAMETRICS_DEADLINE)); then
    echo "backends: victoriametrics did not show the imported history within 30s" >&2
    return 1
  fi
  sleep 0.5
done
export FLIGHTDECK_TEST_VICTORIAMETRICS=http://127.0.0.1:18428
export FLIGHTDECK_TEST_VICTORIAMETRICS_ANCHOR=$VICTORIAMETRICS_ANCHOR
