# Sourced by run.sh: Arize Phoenix (LLM traces and a prompt registry) from the Python venv, on
# 127.0.0.1:16006 (gRPC 14317, clear of a developer's own Phoenix) with its SQLite database in
# $WORK/phoenix. Exports FLIGHTDECK_TEST_PHOENIX.
PHOENIX_LOG="$WORK/phoenix.log"
mkdir -p "$WORK/phoenix"
PHOENIX_HOST=127.0.0.1 PHOENIX_PORT=16006 PHOENIX_GRPC_PORT=14317 PHOENIX_WORKING_DIR="$WORK/phoenix" \
  PHOENIX_TELEMETRY_ENABLED=false PHOENIX_ALLOW_EXTERNAL_RESOURCES=false \
  "$(dirname "$FLIGHTDECK_TEST_PYTHON")/phoenix" serve >"$PHOENIX_LOG" 2>&1 &
PIDS+=($!)
wait_for phoenix http://127.0.0.1:16006/healthz 90 "$PHOENIX_LOG"
export FLIGHTDECK_TEST_PHOENIX=http://127.0.0.1:16006
