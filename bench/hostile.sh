#!/usr/bin/env bash
# Hostile-load benchmark (issue 13, must-show): `kbgap serve` on 127.0.0.1 with a synthetic fleet;
# from other processes on loopback, wrk runs 256 connections of machine getmissingkbs for 60 s,
# first alone (the baseline), then while bench/hostile.py holds 1,000 idle half-sent
# connections open, sends a 300-term $filter to machinesVulnerabilities every second and probes
# /healthz every 20 ms on fresh connections. Pass: /healthz p99 <= 50 ms, throughput >= 80% of
# the baseline, zero errors (wrk socket errors and non-2xx, failed probes).
# Usage: bench/hostile.sh [MACHINES] [SECONDS]   (defaults 200, 60; needs a release build, wrk)
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-200}"
secs="${2:-60}"
conns=256
bin=target/release/kbgap
port="${PORT:-18090}"
# 256 + 1,000 + probes: the connection cap must exceed them, and the open-files limit the cap.
max_conn="${MAX_CONNECTIONS:-2048}"
ulimit -n 8192
work="$(mktemp -d)"
server=
trap '[ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$work"' EXIT
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)" >&2; exit 2; }

"$bin" --data-dir "$work" -q catalog stats >/dev/null   # imports the bundled catalog
printf '{"19045":[%s],"19044":[%s],"22631":[%s],"26100":[%s],"26200":[%s],"20348":[%s],"17763":[%s]}\n' \
    5371 5371 4460 2894 6899 2966 6659 >"$work/ubrs.json"
python3 bench/fleet.py "$n" --ubrs "$work/ubrs.json" >"$work/fleet.ndjson"
"$bin" --data-dir "$work" -q machines import "$work/fleet.ndjson" >/dev/null

"$bin" --data-dir "$work" serve --listen "127.0.0.1:$port" --max-connections "$max_conn" \
    --rate-per-minute 100000000 --rate-per-hour 1000000000 2>"$work/serve.log" &
server=$!
until grep -qs "listening on" "$work/serve.log"; do sleep 0.2; done
export TOKEN="$("$bin" --data-dir "$work" token --roles Machine.Read.All,Software.Read.All,Vulnerability.Read.All)"
base="http://127.0.0.1:$port"
python3 - "$base" "$work/ids.txt" <<'PY'
import json, os, sys, urllib.request
base, path = sys.argv[1:]
req = urllib.request.Request(f"{base}/api/machines?$top=10000",
                             headers={"Authorization": "Bearer " + os.environ["TOKEN"]})
ids = [m["id"] for m in json.load(urllib.request.urlopen(req))["value"]]
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
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT rps=%.1f requests=%d non2xx=%d connect=%d read=%d write=%d timeout=%d p99_ms=%.1f\n",
    summary.requests / (summary.duration / 1e6), summary.requests, e.status, e.connect, e.read,
    e.write, e.timeout, latency:percentile(99) / 1000))
end
LUA
run_wrk() { wrk -t2 -c"$conns" -d"${secs}s" --timeout 10s -s "$work/mkb.lua" "$base" | grep RESULT; }

echo "== load: $(uptime | sed 's/.*load average/load average/')  ($(nproc) cores, $n machines)"
echo "== baseline: $conns connections, machine getmissingkbs, ${secs} s"
baseline="$(run_wrk)"; echo "$baseline"
echo "== hostile: the same, with 1000 idle half-sent connections, a 300-term \$filter every second, /healthz probes"
python3 bench/hostile.py 127.0.0.1 "$port" "$TOKEN" "$((secs + 2))" --idle 1000 --terms 300 >"$work/hostile.json" &
hostile=$!
sleep 6   # hostile.py opens its idle sockets first (5 s warm-up)
loaded="$(run_wrk)"; echo "$loaded"
wait "$hostile"
cat "$work/hostile.json"; echo
echo "== load after: $(uptime | sed 's/.*load average/load average/')"
python3 - "$baseline" "$loaded" "$work/hostile.json" <<'PY'
import json, re, sys
def parse(line):
    return {k: float(v) for k, v in re.findall(r"(\w+)=([\d.]+)", line)}
b, l = parse(sys.argv[1]), parse(sys.argv[2])
h = json.load(open(sys.argv[3]))
ratio = l["rps"] / b["rps"]
errors = sum(l[k] for k in ("non2xx", "connect", "read", "write", "timeout")) + h["healthz"]["errors"]
p99 = h["healthz"]["p99_ms"]
ok = p99 is not None and p99 <= 50 and ratio >= 0.8 and errors == 0
print(f"healthz p99 {p99:.1f} ms (<= 50), throughput {l['rps']:.0f}/s = {ratio:.0%} of {b['rps']:.0f}/s (>= 80%), errors {errors:.0f} (0): {'PASS' if ok else 'FAIL'}")
sys.exit(0 if ok else 1)
PY
