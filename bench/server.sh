#!/usr/bin/env bash
# Whole-server benchmark: a synthetic fleet in a fresh SQLite store, `kbgap serve` on 127.0.0.1,
# load from a second process with wrk (Debian's `wrk` package). Prints the figures the server
# issue asks for. Usage: bench/server.sh [MACHINES]   (default 100000; needs a release build)
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-100000}"
bin=target/release/kbgap
port=18080
work="$(mktemp -d)"
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)" >&2; exit 2; }

"$bin" --data-dir "$work" -q catalog stats >/dev/null   # imports the bundled catalog

# Realistic UBRs: each branch's cumulative-update revisions, read off the catalog (bench/ubrs.py).
python3 bench/ubrs.py "$bin" --data-dir "$work" >"$work/ubrs.json"
python3 bench/fleet.py "$n" --ubrs "$work/ubrs.json" >"$work/fleet.ndjson"
echo "== bulk import of $n reports (kbgap machines import)"
/usr/bin/time -f "%e s, %M KB max RSS" "$bin" --data-dir "$work" -q machines import "$work/fleet.ndjson" | tail -1

"$bin" --data-dir "$work" serve --listen "127.0.0.1:$port" \
    --rate-per-minute 100000000 --rate-per-hour 1000000000 2>"$work/serve.log" &
server=$!
until grep -q "listening on" "$work/serve.log"; do sleep 0.2; done
export TOKEN="$("$bin" --data-dir "$work" token --roles Machine.ReadWrite.All,Machine.Read.All,Software.Read.All)"
base="http://127.0.0.1:$port"
python3 - "$base" "$work/ids.txt" <<'PY'
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
cat >"$work/post.lua" <<'LUA'
local n = 0
request = function()
  n = n + 1
  local body = string.format('{"computerDnsName":"wrk%07d.corp.example","osVersion":"10.0.19045","ubr":7184,"installationType":"Client","architecture":"x64","installedKbs":[]}', n)
  return wrk.format("POST", "/api/inventory", {["Authorization"] = "Bearer " .. os.getenv("TOKEN"), ["Content-Type"] = "application/json"}, body)
end
LUA
echo "== GET /api/machines/{id}/getmissingkbs (random machines)"
wrk -t1 -c32 -d20s --latency -s "$work/mkb.lua" "$base" | grep -E "Requests/sec|50%|99%"
echo "== GET /healthz (static JSON, no auth)"
wrk -t1 -c32 -d20s --latency "$base/healthz" | grep -E "Requests/sec|50%|99%"
echo "== GET /api/Software/microsoft-_-windows_10/getmissingkbs (first call, then cached)"
for _ in 1 2 3; do
    curl -s -o /dev/null -w "%{time_total} s\n" -H "Authorization: Bearer $TOKEN" \
        "$base/api/Software/microsoft-_-windows_10/getmissingkbs"
done
echo "== dashboard: GET / (deploy first, signed in), whole request over loopback"
session="$(curl -s -D - -o /dev/null --data-urlencode "token=$TOKEN" "$base/signin" \
    | sed -n 's/^[Ss]et-[Cc]ookie: kbgap_session=\([^;]*\).*/\1/p')"
for q in "" "?exploited=1" "?format=csv"; do
    for _ in 1 2 3; do
        curl -s -o /dev/null -w "/$q %{http_code} %{time_total} s %{size_download} bytes\n" \
            -H "Cookie: kbgap_session=$session" "$base/$q"
    done
done
echo "== POST /api/inventory, one report per request, 32 connections"
wrk -t1 -c32 -d15s --latency -s "$work/post.lua" "$base" | grep -E "Requests/sec|50%|99%"
echo "== POST /api/inventory, NDJSON body of 20000 reports"
head -20000 "$work/fleet.ndjson" | sed 's/host0/bulk0/' >"$work/bulk.ndjson"
curl -s -o /dev/null -w "%{http_code} %{time_total} s\n" -H "Authorization: Bearer $TOKEN" \
    -H "Content-Type: application/x-ndjson" --data-binary @"$work/bulk.ndjson" "$base/api/inventory"
echo "== server resident memory: $(( $(ps -o rss= -p "$server") / 1024 )) MB"
