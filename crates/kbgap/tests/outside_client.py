#!/usr/bin/env python3
"""An outside client of kbgap's Defender-compatible API, written the way Microsoft's
documentation shows it: a bearer token in the Authorization header, JSON bodies, and
`@odata.nextLink` followed until there is none.

It loads every shared systeminfo file as a machine, then checks both getmissingkbs endpoints
against `kbgap scan --format json` on the same files. Run by `tests/outside_client.rs`; by hand:

    outside_client.py --base http://127.0.0.1:8080 --token "$TOKEN" --kbgap target/release/kbgap \
        --data-dir DIR fixtures/systeminfo/*.txt

Exits 0 when every check holds; on the first failed check, prints it and exits 1.
"""

import argparse
import collections
import json
import subprocess
import sys

import requests


def fail(msg):
    print(f"outside client: FAILED: {msg}", file=sys.stderr)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def get_all(session, url, params=None):
    """GET a collection, following @odata.nextLink to the end (as Microsoft's samples do)."""
    items, pages = [], 0
    while url:
        r = session.get(url, params=params)
        check(r.status_code == 200, f"GET {url}: {r.status_code} {r.text[:300]}")
        body = r.json()
        check("@odata.context" in body, f"GET {url}: no @odata.context")
        items.extend(body["value"])
        url, params, pages = body.get("@odata.nextLink"), None, pages + 1
        check(pages < 10_000, "nextLink never ends")
    return items, pages


def scan(kbgap, data_dir, path, *flags):
    """kbgap scan --format json on one file: (exit code, parsed JSON or None)."""
    p = subprocess.run(
        [kbgap, "--data-dir", data_dir, "scan", "--format", "json", *flags, path],
        capture_output=True,
        env={"KBGAP_LOG": "error", "PATH": "/usr/bin:/bin"},
        timeout=120,
    )
    if p.returncode == 2:
        return 2, None
    return p.returncode, json.loads(p.stdout)


# The fields of a PublicProductFixDto that do not depend on the rest of the fleet.
MACHINE_SCOPED = ("id", "name", "osBuild", "productsNames", "url", "cveAddressed")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--kbgap", required=True)
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("files", nargs="+")
    args = ap.parse_args()

    s = requests.Session()
    s.headers.update({"Authorization": f"Bearer {args.token}", "Accept": "application/json"})
    api = args.base.rstrip("/") + "/api"

    # 1. Load the fleet: each file as raw systeminfo text. Files kbgap cannot place (hotfix lists
    #    without an OS) are refused with 400 InvalidInput, exactly when `kbgap scan` refuses them
    #    too. Releases MSRC covers no more (XP, Server 2003 ...) are accepted as "EndOfSupport",
    #    exactly when `kbgap scan` exits 3 for them.
    latest = {}  # machine id -> the file whose report it holds now (a host reported twice updates)
    refused = accepted = 0
    scanned = {}  # path -> (exit code, JSON): each file is scanned once
    for path in args.files:
        with open(path, "rb") as f:
            r = s.post(f"{api}/inventory", data=f.read(), headers={"Content-Type": "text/plain"})
        code, out = scan(args.kbgap, args.data_dir, path)
        scanned[path] = (code, out)
        if r.status_code == 200:
            check(code in (0, 1, 3), f"{path}: the server accepted it, scan exited {code}")
            m = r.json()
            eos = code == 3
            check(
                m["servicingStatus"] == ("EndOfSupport" if eos else "Supported"),
                f"{path}: servicingStatus {m['servicingStatus']}, scan exited {code}",
            )
            check(
                (m["servicingNote"] == out["device"].get("endOfSupport")) and (eos == bool(m["servicingNote"])),
                f"{path}: servicingNote {m['servicingNote']!r} != scan {out['device'].get('endOfSupport')!r}",
            )
            check(len(m["id"]) == 40 and all(c in "0123456789abcdef" for c in m["id"]), f"{path}: id {m['id']}")
            latest[m["id"]] = path
            accepted += 1
        else:
            check(r.status_code == 400, f"{path}: {r.status_code} {r.text[:300]}")
            err = r.json()["error"]
            check(err["code"] == "InvalidInput" and err["message"] and err["target"], f"{path}: {err}")
            check(code == 2, f"{path}: the server refused it, scan exited {code}")
            refused += 1
    check(accepted >= 20, f"only {accepted} reports were accepted")

    # 2. The machine list, a few at a time, following nextLink to the end.
    machines, pages = get_all(s, f"{api}/machines", {"$top": "7"})
    ids = sorted(m["id"] for m in machines)
    check(ids == sorted(latest), f"machine list {len(ids)} ids != {len(latest)} accepted")
    check(pages == -(-len(ids) // 7), f"{pages} pages for {len(ids)} machines at $top=7")

    # 3. Each machine's missing KBs against `kbgap scan` on the file it last reported.
    scans, scans_all = {}, {}
    for mid, path in sorted(latest.items()):
        code, out = scanned[path]
        scans[mid] = out["value"]
        scans_all[mid] = scan(args.kbgap, args.data_dir, path, "--all")[1]["value"]
        expected = 3 if out["device"].get("endOfSupport") else (1 if out["value"] else 0)
        check(code == expected, f"{path}: scan exit {code} with {len(out['value'])} KBs")
    missed_on = collections.Counter(e["id"] for v in scans.values() for e in v)
    total_kbs = 0
    for mid, path in sorted(latest.items()):
        got, _ = get_all(s, f"{api}/machines/{mid}/getmissingkbs")
        want = scans[mid]
        check(
            [e["id"] for e in got] == [e["id"] for e in want],
            f"{path}: server KBs {[e['id'] for e in got]} != scan KBs {[e['id'] for e in want]}",
        )
        for g, w in zip(got, want):
            for k in MACHINE_SCOPED:
                check(g[k] == w[k], f"{path}: KB{g['id']} {k}: server {g[k]!r} != scan {w[k]!r}")
            check(
                g["machineMissedOn"] == missed_on[g["id"]],
                f"{path}: KB{g['id']} machineMissedOn {g['machineMissedOn']} != {missed_on[g['id']]} scans",
            )
        total_kbs += len(got)

    # 4. Each software's missing KBs over the machines that have it (machineReferences). The
    #    software answer is a frontier over that software's products only, which need not be the
    #    machine frontier's KBs (an old Edge fix that a machine's newer cumulative update
    #    supersedes: the machine frontier names the newer update, the edge frontier the Edge
    #    fix). So: every machine counted for a KB is one on which `scan --all` finds that KB
    #    unsatisfied for that software, and a software is missing something exactly when some
    #    machine's own answer names a KB for it.
    software, _ = get_all(s, f"{api}/Software")
    checked = 0
    for sw in software:
        refs, _ = get_all(s, f"{api}/Software/{sw['id']}/machineReferences")
        holders = {m["id"] for m in refs}
        check(holders <= set(latest), f"{sw['id']}: references unknown machines")
        name = sw["id"].split("-_-", 1)[1]

        def count(source):
            c = collections.Counter()
            for mid in holders:
                for e in source[mid]:
                    if name in e["productsNames"]:
                        c[e["id"]] += 1
            return c

        low, high = count(scans), count(scans_all)
        got, _ = get_all(s, f"{api}/Software/{sw['id']}/getmissingkbs")
        check(bool(got) == bool(low), f"{sw['id']}: {len(got)} KBs, machine answers name {sorted(low)}")
        for g in got:
            check(g["productsNames"] == [name], f"{sw['id']}: KB{g['id']} productsNames {g['productsNames']}")
            check(
                1 <= g["machineMissedOn"] <= high[g["id"]],
                f"{sw['id']}: KB{g['id']} machineMissedOn {g['machineMissedOn']}, "
                f"but scan --all finds it on {high[g['id']]} machines",
            )
            # 0 is right for a servicing stack update, whose only "vulnerability" is ADV990001.
            check(isinstance(g["cveAddressed"], int) and g["cveAddressed"] >= 0, f"{sw['id']}: {g}")
        checked += 1
    check(checked > 0, "no software listed")

    # 5. Errors the way clients see them.
    r = s.get(f"{api}/machines/{'0' * 40}/getmissingkbs")
    check(r.status_code == 404 and r.json()["error"]["code"] == "ResourceNotFound", f"unknown machine: {r.text}")
    r = requests.get(f"{api}/machines")
    check(r.status_code == 401 and r.json()["error"]["code"] == "Unauthorized", f"no token: {r.text}")

    print(
        f"outside client: {len(args.files)} files, {accepted} accepted as {len(latest)} machines, {refused} refused, "
        f"{total_kbs} missing-KB entries checked, {checked} software checked"
    )


if __name__ == "__main__":
    main()
