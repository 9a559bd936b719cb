# Sourced by run.sh: Unleash 8.2 feature flags (npm, in $WORK/unleash) on 127.0.0.1:14242, on the
# machine's PostgreSQL (installed and started if need be) with a database of its own for this run:
# Unleash creates the INIT_*_API_TOKENS below only in a database that has no tokens yet.
# Exports FLIGHTDECK_TEST_UNLEASH, FLIGHTDECK_TEST_UNLEASH_ADMIN_TOKEN (every project and
# environment) and FLIGHTDECK_TEST_UNLEASH_CLIENT_TOKEN (a backend SDK's token for project default
# in production).
UNLEASH_LOG="$WORK/unleash.log"
UNLEASH_DATABASE="unleash_$$"
UNLEASH_ADMIN_TOKEN='*:*.flightdeck-admin-secret'
UNLEASH_CLIENT_TOKEN='default:production.flightdeck-client-secret'

# psql and friends as the postgres superuser, from a directory it may read.
as_postgres() {
  (cd / && runuser -u postgres -- "$@")
}

if ! command -v pg_ctlcluster >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
# The first cluster (Debian's package makes "15 main" on bookworm): version, name, port, status.
read -r UNLEASH_PG_VERSION UNLEASH_PG_CLUSTER UNLEASH_PG_PORT UNLEASH_PG_STATUS _ \
  < <(pg_lsclusters --no-header | head -n 1) || true
if [[ -z ${UNLEASH_PG_VERSION:-} ]]; then
  echo "backends: PostgreSQL is installed but has no cluster (pg_lsclusters shows none)" >&2
  exit 1
fi
UNLEASH_PG_STARTED=no
if [[ $UNLEASH_PG_STATUS != online ]]; then
  pg_ctlcluster "$UNLEASH_PG_VERSION" "$UNLEASH_PG_CLUSTER" start
  UNLEASH_PG_STARTED=yes
fi

# Drops this run's database and stops the cluster if this script started it; run.sh calls it
# after Unleash has exited.
stop_unleash_database() {
  as_postgres psql -q -p "$UNLEASH_PG_PORT" -c "SET client_min_messages = warning" \
    -c "DROP DATABASE IF EXISTS $UNLEASH_DATABASE WITH (FORCE)" || true
  if [[ $UNLEASH_PG_STARTED == yes ]]; then
    pg_ctlcluster "$UNLEASH_PG_VERSION" "$UNLEASH_PG_CLUSTER" stop || true
  fi
}
STOPS+=(stop_unleash_database)

as_postgres psql -q -v ON_ERROR_STOP=1 -p "$UNLEASH_PG_PORT" <<'SQL'
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'unleash') THEN
    CREATE ROLE unleash LOGIN PASSWORD 'unleash';
  END IF;
END
$$;
SQL
as_postgres psql -q -v ON_ERROR_STOP=1 -p "$UNLEASH_PG_PORT" \
  -c "SET client_min_messages = warning" \
  -c "DROP DATABASE IF EXISTS $UNLEASH_DATABASE WITH (FORCE)" \
  -c "CREATE DATABASE $UNLEASH_DATABASE OWNER unleash"

mkdir -p "$WORK/unleash"
# Warns that it wants Node 22; it runs on Node 20.
(cd "$WORK/unleash" && npm install --no-audit --no-fund --loglevel=error unleash-server@8.2.0) \
  >"$WORK/unleash-npm.log" 2>&1 || {
  echo "backends: npm could not install unleash-server@8.2.0; its log:" >&2
  tail -n 40 "$WORK/unleash-npm.log" >&2
  exit 1
}

(
  cd "$WORK/unleash"
  export DATABASE_URL="postgres://unleash:unleash@127.0.0.1:$UNLEASH_PG_PORT/$UNLEASH_DATABASE"
  export DATABASE_SSL=false HTTP_HOST=127.0.0.1 HTTP_PORT=14242
  export CHECK_VERSION=false SEND_TELEMETRY=false
  export INIT_ADMIN_API_TOKENS="$UNLEASH_ADMIN_TOKEN"
  # INIT_CLIENT_API_TOKENS is this variable's deprecated name.
  export INIT_BACKEND_API_TOKENS="$UNLEASH_CLIENT_TOKEN"
  exec node node_modules/unleash-server/dist/server.js
) >"$UNLEASH_LOG" 2>&1 &
PIDS+=($!)
wait_for unleash http://127.0.0.1:14242/health 120 "$UNLEASH_LOG"
export FLIGHTDECK_TEST_UNLEASH=http://127.0.0.1:14242
export FLIGHTDECK_TEST_UNLEASH_ADMIN_TOKEN="$UNLEASH_ADMIN_TOKEN"
export FLIGHTDECK_TEST_UNLEASH_CLIENT_TOKEN="$UNLEASH_CLIENT_TOKEN"
