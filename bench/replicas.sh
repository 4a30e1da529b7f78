#!/usr/bin/env bash
# Replica benchmark on PostgreSQL: a synthetic fleet (bench/fleet.py) bulk-imported with
# `kbgap machines import`, how long a fresh replica (empty data dir) takes to start serving it
# and its RSS, ingest throughput with two replicas sharing the load, and machine getmissingkbs
# latency on each replica during that ingest. Load comes from wrk (Debian's `wrk` package).
#
# Usage: [KBGAP_BIN=path] [POST_CONNS=32] [READ_CONNS=8] [READ_RATE=0] [BENCH_DB=name] bench/replicas.sh [MACHINES] [SECONDS]
#   (defaults 100000 machines, 20 s; needs a release build). BENCH_DB keeps the database
#   between runs (imported once, never dropped) for repeated runs on one fleet. READ_RATE
#   paces the readers to that many getmissingkbs requests a second per replica (0: flat out,
#   which on a small machine takes the CPU the ingest would use).
# The database: a scratch database created (and dropped) on the server KBGAP_TEST_DATABASE_URL
# names (`source /work/pgenv` or .ci/start-postgres.sh), with psql.
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-100000}"
secs="${2:-20}"
# Connections posting reports to each replica, and reading getmissingkbs from each (0: none).
post_conns="${POST_CONNS:-32}"
read_conns="${READ_CONNS:-8}"
read_rate="${READ_RATE:-0}"
bin="${KBGAP_BIN:-target/release/kbgap}"
base_url="${KBGAP_TEST_DATABASE_URL:?set KBGAP_TEST_DATABASE_URL (a role with CREATEDB)}"
for tool in wrk psql python3; do
    command -v "$tool" >/dev/null || { echo "needs $tool" >&2; exit 2; }
done
name="${BENCH_DB:-kbgap_bench_$$}"
db="${base_url%/*}/$name"
work="$(mktemp -d)"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    [ -n "${BENCH_DB:-}" ] ||
        psql -q "$base_url" -c "DROP DATABASE IF EXISTS $name WITH (FORCE)" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
fresh=1
if [ -n "${BENCH_DB:-}" ] && [ "$(psql -qAt "$base_url" -c "SELECT 1 FROM pg_database WHERE datname = '$name'")" = 1 ]; then
    fresh=0
else
    psql -q "$base_url" -c "CREATE DATABASE $name" >/dev/null
fi
k() { "$bin" --data-dir "$work/cli" --db "$db" -q "$@"; }

k catalog stats >/dev/null # imports the bundled catalog into the database
# Realistic UBRs per branch, read off the catalog (bench/ubrs.py).
python3 bench/ubrs.py "$bin" --data-dir "$work/cli" --db "$db" >"$work/ubrs.json"
if [ "$fresh" = 1 ]; then
    python3 bench/fleet.py "$n" --ubrs "$work/ubrs.json" >"$work/fleet.ndjson"
    echo "== bulk import of $n reports into PostgreSQL (kbgap machines import)"
    /usr/bin/time -f "%e s, %M KB max RSS" "$bin" --data-dir "$work/cli" --db "$db" -q \
        machines import "$work/fleet.ndjson" 2>&1 | tail -1
else
    echo "== reusing database $name ($(psql -qAt "$db" -c "SELECT count(*) FROM machines") machines)"
fi

# A replica on a fresh data dir: compiles the catalog, loads and evaluates every machine.
start_replica() { # NAME PORT
    local dir="$work/$1" t0
    t0=$(date +%s.%N)
    "$bin" --data-dir "$dir" --db "$db" serve --listen "127.0.0.1:$2" --sync-interval off \
        --rate-per-minute 100000000 --rate-per-hour 1000000000 2>"$work/$1.log" &
    pids+=($!)
    until grep -qs "listening on" "$work/$1.log"; do
        kill -0 "$!" 2>/dev/null || { echo "replica $1 exited:" >&2; tail -3 "$work/$1.log" >&2; exit 1; }
        sleep 0.05
    done
    echo "replica $1: serving $n machines $(python3 -c "print(f'{$(date +%s.%N) - $t0:.1f}')") s after start, RSS $(awk '/VmRSS/ {printf "%.0f MB", $2/1024}' /proc/$!/status)"
}
echo "== fresh replicas start (empty data dir: catalog compiled, machines loaded and evaluated)"
start_replica a 18081
start_replica b 18082
export TOKEN="$(k token --roles Machine.ReadWrite.All,Machine.Read.All,Software.Read.All)"
python3 - "http://127.0.0.1:18081" "$work/ids.txt" <<'PY'
import json, os, sys, urllib.request
base, path = sys.argv[1:]
ids, url = [], f"{base}/api/machines?$top=10000"
while url:
    req = urllib.request.Request(url, headers={"Authorization": "Bearer " + os.environ["TOKEN"]})
    body = json.load(urllib.request.urlopen(req))
    ids += [m["id"] for m in body["value"]]
    url = body.get("@odata.nextLink")
open(path, "w").write("\n".join(ids) + "\n")
PY
ubrs="$(python3 -c "import json; print(','.join(map(str, json.load(open('$work/ubrs.json'))['19045'])))")"
cat >"$work/mkb.lua" <<LUA
local ids = {}
for line in io.lines("$work/ids.txt") do ids[#ids + 1] = line end
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", "/api/machines/" .. ids[(n * 7919) % #ids + 1] .. "/getmissingkbs",
    {["Authorization"] = "Bearer " .. os.getenv("TOKEN")})
end
LUA
if [ "$read_rate" -gt 0 ] && [ "$read_conns" -gt 0 ]; then
    # Each connection waits this long before each request (wrk's delay(), in ms).
    echo "delay = function() return $((read_conns * 1000 / read_rate)) end" >>"$work/mkb.lua"
fi
# Known machines reporting again at another UBR: each report changes a stored machine, which
# the other replica then reads back.
cat >"$work/post.lua" <<LUA
local ubrs = {$ubrs}
local n = 0
request = function()
  n = n + 1
  local i = (n * 104729 + tonumber(os.getenv("SEED"))) % $n
  local body = string.format('{"computerDnsName":"host%06d.corp.example","osName":"Microsoft Windows 10 Enterprise","osVersion":"10.0.19045","ubr":%d,"installationType":"Client","architecture":"x64","installedKbs":[]}', i, ubrs[n % #ubrs + 1])
  return wrk.format("POST", "/api/inventory", {["Authorization"] = "Bearer " .. os.getenv("TOKEN"), ["Content-Type"] = "application/json"}, body)
end
LUA
echo "== ${secs} s: reports posted to both replicas ($post_conns connections each), getmissingkbs read from both ($read_conns each, $([ "$read_rate" -gt 0 ] && echo "paced to $read_rate req/s" || echo "flat out"))"
load=()
SEED=1 wrk -t1 -c"$post_conns" -d"${secs}s" -s "$work/post.lua" http://127.0.0.1:18081 >"$work/post-a.txt" &
load+=($!)
SEED=2 wrk -t1 -c"$post_conns" -d"${secs}s" -s "$work/post.lua" http://127.0.0.1:18082 >"$work/post-b.txt" &
load+=($!)
if [ "$read_conns" -gt 0 ]; then
    wrk -t1 -c"$read_conns" -d"${secs}s" --latency -s "$work/mkb.lua" http://127.0.0.1:18081 >"$work/mkb-a.txt" &
    load+=($!)
    wrk -t1 -c"$read_conns" -d"${secs}s" --latency -s "$work/mkb.lua" http://127.0.0.1:18082 >"$work/mkb-b.txt" &
    load+=($!)
fi
wait "${load[@]}"
sleep 1
for side in a b; do
    echo "replica $side ingest:  $(grep -E 'Requests/sec' "$work/post-$side.txt") ($(grep -cE 'Non-2xx' "$work/post-$side.txt" || true) non-2xx lines)"
done
python3 - "$work" <<'PY'
import re, sys
work = sys.argv[1]
total = sum(float(re.search(r"Requests/sec:\s+([\d.]+)", open(f"{work}/post-{s}.txt").read()).group(1)) for s in "ab")
print(f"ingest in total: {total:.0f} reports/s")
PY
[ "$read_conns" -gt 0 ] && for side in a b; do
    echo "replica $side getmissingkbs during ingest: $(grep -E 'Requests/sec' "$work/mkb-$side.txt"), $(grep -E '^\s+(50|99)%' "$work/mkb-$side.txt" | tr -s ' ' | tr '\n' ' ')"
done
# Both replicas must hold the same fleet afterwards.
python3 - <<'PY'
import json, os, urllib.request
def fleet(port):
    url, out = f"http://127.0.0.1:{port}/api/machines?$top=10000", {}
    while url:
        req = urllib.request.Request(url, headers={"Authorization": "Bearer " + os.environ["TOKEN"]})
        body = json.load(urllib.request.urlopen(req))
        out.update({m["id"]: (m["osBuild"], m["lastSeen"]) for m in body["value"]})
        url = body.get("@odata.nextLink")
    return out
a, b = fleet(18081), fleet(18082)
print(f"after the run: replica a {len(a)} machines, replica b {len(b)}, identical: {a == b}")
PY
