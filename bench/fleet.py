#!/usr/bin/env python3
"""A synthetic fleet as NDJSON machine reports (schemas/machine-report.schema.json), for the
server benchmarks: `bench/fleet.py 100000 > fleet.ndjson`, then `kbgap machines import`.

States are realistic, drawn from what a real estate looks like: the supported client and server
releases in rough market share, each at a UBR among that branch's last ~24 cumulative updates
(given by `--ubrs`, a JSON object branch -> sorted UBR list read off the catalog by
bench/server.sh), some with .NET Framework and Edge in their software. Deterministic for a seed.
"""

import argparse
import json
import random

OSES = [
    # (weight, osName, osVersion, installationType)
    (30, "Windows 10 Enterprise", "10.0.19045", "Client"),
    (6, "Windows 10 Enterprise", "10.0.19044", "Client"),
    (20, "Windows 11 Enterprise", "10.0.22631", "Client"),
    (20, "Windows 11 Enterprise", "10.0.26100", "Client"),
    (4, "Windows 11 Enterprise", "10.0.26200", "Client"),
    (8, "Windows Server 2022 Datacenter", "10.0.20348", "Server"),
    (6, "Windows Server 2019 Standard", "10.0.17763", "Server"),
    (3, "Windows Server 2025 Datacenter", "10.0.26100", "Server"),
    (3, "Windows Server 2022 Datacenter", "10.0.20348", "Server Core"),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("count", type=int)
    ap.add_argument("--ubrs", required=True, help="JSON file: {\"19045\": [ubr, ...], ...}")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    ubrs = json.load(open(args.ubrs))
    rng = random.Random(args.seed)
    weights = [o[0] for o in OSES]
    for i in range(args.count):
        _, name, ver, itype = rng.choices(OSES, weights)[0]
        branch = ver.split(".")[2]
        revs = ubrs.get(branch) or [1]
        # Most machines are a month or two behind; a tail is years behind.
        back = min(int(rng.expovariate(0.5)), len(revs) - 1)
        ubr = revs[-1 - back]
        software = []
        if rng.random() < 0.7:
            software.append({"vendor": "Microsoft Corporation", "name": "Microsoft .NET Framework 4.8.1", "version": "4.8.09032"})
        report = {
            "computerDnsName": f"host{i:06d}.corp.example",
            "osName": f"Microsoft {name}",
            "osVersion": ver,
            "ubr": ubr,
            "installationType": itype,
            "architecture": "x64",
            "installedKbs": [],
            "software": software,
        }
        print(json.dumps(report, separators=(",", ":")))


if __name__ == "__main__":
    main()
