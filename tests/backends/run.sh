#!/usr/bin/env bash
# The suite against real servers: installs, starts and waits for each server that
# tests/backends/servers/*.sh describes, runs the tests that need them (the ignored ones), and
# stops every server by PID on the way out. Everything binds to 127.0.0.1.
#
# The backend tests live in tests/backend_*.rs, each test marked #[ignore] so the plain
# `cargo test` skips it. Arguments name test binaries to run, e.g. backend_prometheus.
set -euo pipefail
cd "$(dirname "$0")/../.."

WORK=$(mktemp -d -t flightdeck-backends.XXXXXX)
PIDS=()
# Functions that undo what a server script set up outside its own processes (a database it made,
# a system cluster it started); they run once every PID has ended.
STOPS=()
cleanup() {
  local pid stop
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  for stop in "${STOPS[@]}"; do
    "$stop" || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT

# Polls URL until it answers 2xx, for at most SECONDS; fails naming the server and its log, at
# once if the server just started (the last PID) has died, e.g. because its port was taken.
wait_for() {
  local name=$1 url=$2 seconds=$3 log=$4
  local deadline=$((SECONDS + seconds))
  local pid=${PIDS[-1]:-}
  until curl -fsS -o /dev/null "$url"; do
    if [[ -n $pid ]] && ! kill -0 "$pid" 2>/dev/null; then
      echo "backends: $name exited before answering $url; its log:" >&2
      tail -n 40 "$log" >&2 || true
      return 1
    fi
    if ((SECONDS >= deadline)); then
      echo "backends: $name did not answer $url within ${seconds}s; its log:" >&2
      tail -n 40 "$log" >&2 || true
      return 1
    fi
    sleep 0.5
  done
  echo "backends: $name ready at $url"
}

# One Python environment for every Python peer (the OpenTelemetry SDK, Phoenix).
source tests/backends/python.sh

# backend_chromium renders the HTML postmortem in Debian's headless Chromium.
if ! command -v chromium >/dev/null; then
  # A fresh machine may not have read the package lists yet.
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium >/dev/null ||
    { apt-get update >/dev/null &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium >/dev/null; }
fi

for server in tests/backends/servers/*.sh; do
  # Peers such as the OpenTelemetry SDK need no server: a suite may have none.
  [[ -e $server ]] || continue
  source "$server"
done

tests=()
if (($# > 0)); then
  for name in "$@"; do tests+=(--test "$name"); done
else
  for file in tests/backend_*.rs; do tests+=(--test "$(basename "$file" .rs)"); done
fi
cargo test --locked "${tests[@]}" -- --ignored
