#!/usr/bin/env python3
"""The hostile side of bench/hostile.sh, in one asyncio process on loopback:

* holds IDLE connections that sent half a request header and then nothing (a slow-loris); when
  the server closes one (its header timeout), it is opened again at once, so IDLE stay open;
* sends a 300-term `$filter` to machinesVulnerabilities every second (each in its own task, so
  a slow answer does not delay the next);
* probes `GET /healthz` every 20 ms on a fresh connection each time and records the latency;

for DURATION seconds, then prints one JSON object of figures. Usage:
    hostile.py HOST PORT TOKEN DURATION [--idle N] [--terms N]
"""

import argparse
import asyncio
import json
import time
import urllib.parse


def percentile(values, p):
    if not values:
        return None
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


async def read_response(reader):
    """Status code of one HTTP/1.1 response read to its end (Content-Length or close)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = None
    for line in lines[1:]:
        if line.lower().startswith("content-length:"):
            length = int(line.split(":", 1)[1])
    if length is not None:
        await reader.readexactly(length)
    else:
        await reader.read()
    return status


class Idle:
    def __init__(self, host, port, n):
        self.host, self.port, self.n = host, port, n
        self.open = 0
        self.min_open_after_warmup = None
        self.reopened = 0
        self.failed = 0

    async def one(self, stop):
        while not stop.is_set():
            try:
                reader, writer = await asyncio.open_connection(self.host, self.port)
            except OSError:
                self.failed += 1
                await asyncio.sleep(0.1)
                continue
            self.open += 1
            try:
                writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
                await writer.drain()
                # Nothing more is sent: wait until the server gives up on us (or we stop).
                done = asyncio.ensure_future(reader.read())
                stopped = asyncio.ensure_future(stop.wait())
                await asyncio.wait({done, stopped}, return_when=asyncio.FIRST_COMPLETED)
                done.cancel()
                stopped.cancel()
            except OSError:
                pass
            finally:
                self.open -= 1
                writer.close()
            if not stop.is_set():
                self.reopened += 1

    async def watch(self, stop, warmup):
        await asyncio.sleep(warmup)
        while not stop.is_set():
            m = self.min_open_after_warmup
            self.min_open_after_warmup = self.open if m is None else min(m, self.open)
            await asyncio.sleep(0.5)


async def probe(host, port, stop, latencies, errors):
    while not stop.is_set():
        start = time.perf_counter()
        try:
            reader, writer = await asyncio.open_connection(host, port)
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            await writer.drain()
            status = await asyncio.wait_for(read_response(reader), 10)
            writer.close()
            latencies.append((time.perf_counter() - start) * 1000)
            if status != 200:
                errors.append(f"healthz {status}")
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError) as e:
            errors.append(f"healthz {type(e).__name__}")
        await asyncio.sleep(max(0, 0.02 - (time.perf_counter() - start)))


async def one_filter(host, port, token, query, results):
    start = time.perf_counter()
    try:
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(
            (f"GET /api/vulnerabilities/machinesVulnerabilities?{query} HTTP/1.1\r\n"
             f"Host: 127.0.0.1\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n").encode())
        await writer.drain()
        status = await asyncio.wait_for(read_response(reader), 120)
        writer.close()
    except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError) as e:
        status = type(e).__name__
    results.append((status, (time.perf_counter() - start) * 1000))


async def filters(host, port, token, terms, stop, results):
    expr = " or ".join(f"contains(cveId,'zz{i}')" for i in range(terms))
    query = "$filter=" + urllib.parse.quote(expr, safe="")
    tasks = []
    while not stop.is_set():
        tasks.append(asyncio.ensure_future(one_filter(host, port, token, query, results)))
        await asyncio.sleep(1)
    await asyncio.gather(*tasks)
    return len(expr)


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("token")
    ap.add_argument("duration", type=float)
    ap.add_argument("--idle", type=int, default=1000)
    ap.add_argument("--terms", type=int, default=300)
    ap.add_argument("--warmup", type=float, default=5, help="seconds to open the idle sockets")
    a = ap.parse_args()
    stop = asyncio.Event()
    idle = Idle(a.host, a.port, a.idle)
    idlers = [asyncio.ensure_future(idle.one(stop)) for _ in range(a.idle)]
    watcher = asyncio.ensure_future(idle.watch(stop, a.warmup))
    await asyncio.sleep(a.warmup)
    latencies, errors, filtered = [], [], []
    prober = asyncio.ensure_future(probe(a.host, a.port, stop, latencies, errors))
    filterer = asyncio.ensure_future(filters(a.host, a.port, a.token, a.terms, stop, filtered))
    await asyncio.sleep(a.duration)
    stop.set()
    expr_len = await filterer
    await prober
    await asyncio.gather(*idlers, return_exceptions=True)
    watcher.cancel()
    statuses = {}
    for s, _ in filtered:
        statuses[str(s)] = statuses.get(str(s), 0) + 1
    print(json.dumps({
        "healthz": {"probes": len(latencies), "p50_ms": percentile(latencies, 50),
                    "p99_ms": percentile(latencies, 99), "max_ms": max(latencies, default=None),
                    "errors": len(errors), "first_errors": errors[:5]},
        "filter": {"requests": len(filtered), "expression_bytes": expr_len, "statuses": statuses,
                   "p50_ms": percentile([t for _, t in filtered], 50),
                   "max_ms": max((t for _, t in filtered), default=None)},
        "idle": {"wanted": a.idle, "min_open": idle.min_open_after_warmup,
                 "reopened_after_server_close": idle.reopened, "connect_failures": idle.failed},
    }))


if __name__ == "__main__":
    asyncio.run(main())
