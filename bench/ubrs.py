#!/usr/bin/env python3
"""Realistic UBRs per Windows branch, read off kbgap's catalog, as JSON for bench/fleet.py.

For each branch: scan an unpatched machine to find the newest cumulative update, then walk
`supersedes` back through `kbgap kb` and keep the fixed build each update gives the branch:
the revisions a real fleet of that branch sits at (the newest 24).

Usage: bench/ubrs.py KBGAP_BIN [--data-dir DIR] [--db URL] > ubrs.json
"""
import json, re, subprocess, sys, tempfile

BRANCHES = [("10.0.19045", "Client"), ("10.0.19044", "Client"), ("10.0.22631", "Client"),
            ("10.0.26100", "Client"), ("10.0.26200", "Client"), ("10.0.20348", "Server"),
            ("10.0.17763", "Server")]


def kbgap(args):
    p = subprocess.run([BIN, *STORE, "-q", *args], capture_output=True, text=True)
    if p.returncode not in (0, 1):  # scan exits 1 when KBs are missing
        sys.exit(f"kbgap {' '.join(args)}: {p.stderr.strip()}")
    return json.loads(p.stdout)


def revisions(ver, kind, work):
    build = ver.split(".")[2]
    rep = {"computerDnsName": "x", "osVersion": ver, "ubr": 1, "installationType": kind,
           "architecture": "x64", "installedKbs": []}
    path = f"{work}/r-{build}.json"
    open(path, "w").write(json.dumps(rep))
    entries = kbgap(["scan", "--all", "--format", "json", path])["value"]
    kb = next((e["id"] for e in entries if e.get("kind") == "CumulativeUpdate"), None)
    revs, seen = set(), set()
    while kb and kb not in seen and len(revs) < 24:
        seen.add(kb)
        info = kbgap(["kb", kb, "--format", "json"])
        for p in info["products"]:
            m = re.fullmatch(rf"10\.0\.{build}\.(\d+)", p.get("fixedBuild") or "")
            if m and p.get("kind") == "CumulativeUpdate":
                revs.add(int(m.group(1)))
        kb = (info.get("supersedes") or [None])[0]
    return sorted(revs)[-24:]


if __name__ == "__main__":
    BIN, STORE = sys.argv[1], sys.argv[2:]
    with tempfile.TemporaryDirectory() as work:
        out = {v.split(".")[2]: revisions(v, k, work) for v, k in BRANCHES}
    empty = [b for b, r in out.items() if not r]
    if empty:
        sys.exit(f"no cumulative-update revisions found for builds {empty}")
    print(json.dumps(out))
