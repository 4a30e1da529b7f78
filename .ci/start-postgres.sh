#!/usr/bin/env bash
# Starts a PostgreSQL server for kbgap's tests, from Debian's packages, listening on 127.0.0.1
# only, with a role `kbgap` (password `kbgap`, CREATEDB) that the tests use to create and drop
# one database per run. Idempotent: run it as often as you like; it installs, creates the
# cluster, reconfigures and starts only what is missing.
#
# Must run as root (it may apt-get install, and it runs the server as the `postgres` user).
# Port: $PGPORT, default 5432. Last line printed, for `eval "$(.ci/start-postgres.sh | tail -1)"`:
#   export KBGAP_TEST_DATABASE_URL=postgres://kbgap:kbgap@127.0.0.1:5432/postgres
set -euo pipefail

port="${PGPORT:-5432}"
cluster="${KBGAP_PG_CLUSTER:-main}"
log() { echo "start-postgres: $*" >&2; }

if [ "$(id -u)" -ne 0 ]; then
    log "must run as root (installs packages and runs the server as the postgres user)"
    exit 1
fi

# 1. Debian's packages. The server, then pg_lsclusters & co from postgresql-common.
if ! command -v pg_lsclusters >/dev/null 2>&1 || ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
    log "installing postgresql from Debian's packages"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq --no-install-recommends postgresql >&2
fi

# 2. The newest installed major version, and a cluster of it.
version="$(ls /usr/lib/postgresql | sort -V | tail -1)"
if ! pg_lsclusters -h | awk -v v="$version" -v c="$cluster" '$1 == v && $2 == c { found = 1 } END { exit !found }'; then
    log "creating cluster $version/$cluster"
    pg_createcluster "$version" "$cluster" --port "$port" >&2
fi

# 3. Loopback only, on our port. The port goes into postgresql.conf (Debian's tools read it
#    there); the rest into a conf.d drop-in of ours. A changed setting needs a restart if the
#    server is up.
changed=0
if [ "$(pg_conftool -s "$version" "$cluster" show port 2>/dev/null || true)" != "$port" ]; then
    pg_conftool "$version" "$cluster" set port "$port"
    changed=1
fi
dropin="/etc/postgresql/$version/$cluster/conf.d/kbgap-tests.conf"
wanted="# Written by kbgap's .ci/start-postgres.sh.
listen_addresses = '127.0.0.1'
# The tests open a pool per run, and several test binaries may run at once.
max_connections = 200"
if [ ! -f "$dropin" ] || [ "$(cat "$dropin")" != "$wanted" ]; then
    mkdir -p "$(dirname "$dropin")"
    printf '%s\n' "$wanted" >"$dropin"
    chown postgres:postgres "$dropin"
    changed=1
fi

status() { pg_lsclusters -h | awk -v v="$version" -v c="$cluster" '$1 == v && $2 == c { print $4 }'; }
if [ "$(status)" = "online" ]; then
    if [ "$changed" = 1 ]; then
        log "restarting cluster $version/$cluster to apply its settings"
        pg_ctlcluster "$version" "$cluster" restart >&2
    fi
else
    log "starting cluster $version/$cluster on 127.0.0.1:$port"
    pg_ctlcluster "$version" "$cluster" start >&2
fi

for _ in $(seq 1 60); do
    if pg_isready -q -h 127.0.0.1 -p "$port"; then
        break
    fi
    sleep 0.5
done
pg_isready -h 127.0.0.1 -p "$port" >&2

# 4. The test role (password auth over TCP is Debian's default for 127.0.0.1).
runuser -u postgres -- psql -q -X -v ON_ERROR_STOP=1 -p "$port" -d postgres >&2 <<'SQL'
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'kbgap') THEN
        CREATE ROLE kbgap LOGIN CREATEDB PASSWORD 'kbgap';
    ELSE
        ALTER ROLE kbgap LOGIN CREATEDB PASSWORD 'kbgap';
    END IF;
END
$$;
SQL

log "PostgreSQL $version ready on 127.0.0.1:$port (role kbgap/kbgap, CREATEDB)"
echo "export KBGAP_TEST_DATABASE_URL=postgres://kbgap:kbgap@127.0.0.1:${port}/postgres"
