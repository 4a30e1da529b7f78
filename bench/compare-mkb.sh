#!/usr/bin/env bash
# Machine getmissingkbs throughput of two kbgap binaries on the same synthetic fleet, measured in
# alternation in one run (so load on the machine hits both alike). Usage:
#   bench/compare-mkb.sh BEFORE_BIN AFTER_BIN [MACHINES] [ROUNDS]   (default 20000 machines, 3 rounds)
set -euo pipefail
cd "$(dirname "$0")/.."
before="$1"; after="$2"; n="${3:-20000}"; rounds="${4:-3}"
work="$(mktemp -d)"
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)" >&2; exit 2; }
printf '{"19045":[2130,3803,4291,5011,5608,6093],"22631":[2861,3737,4890],"20348":[2113,2966,3091],"17763":[5329,6775]}' >"$work/ubrs.json"
python3 bench/fleet.py "$n" --ubrs "$work/ubrs.json" >"$work/fleet.ndjson"
port=18180
for name in before after; do
  bin="${!name}"; dir="$work/$name"
  "$bin" --data-dir "$dir" -q machines import "$work/fleet.ndjson" >/dev/null
  "$bin" --data-dir "$dir" serve --listen "127.0.0.1:$port" \
      --rate-per-minute 100000000 --rate-per-hour 1000000000 2>"$work/$name.log" &
  pids+=($!)
  until grep -q "listening on" "$work/$name.log"; do sleep 0.2; done
  echo "$port" >"$work/$name.port"
  "$bin" --data-dir "$dir" token --roles Software.Read.All,Machine.Read.All >"$work/$name.token"
  port=$((port + 1))
done
for name in before after; do
  TOKEN="$(cat "$work/$name.token")" python3 - "http://127.0.0.1:$(cat "$work/$name.port")" "$work/$name.ids" <<'PY'
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
  cat >"$work/$name.lua" <<LUA
local ids = {}
for line in io.lines("$work/$name.ids") do ids[#ids + 1] = line end
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", "/api/machines/" .. ids[(n * 7919) % #ids + 1] .. "/getmissingkbs",
    {["Authorization"] = "Bearer $(cat "$work/$name.token")"})
end
LUA
done
for r in $(seq "$rounds"); do
  for name in before after; do
    rps=$(wrk -t1 -c32 -d10s -s "$work/$name.lua" "http://127.0.0.1:$(cat "$work/$name.port")" \
          | awk '/Requests\/sec/ {print $2}')
    echo "round $r $name $rps req/s"
  done
done
