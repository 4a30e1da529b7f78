//! The servicing model on the real bundled catalog: every vector of `shared/spec/engine.md` §5,
//! and a sweep over every Windows product with cumulative updates or rollups.

mod common;

use common::*;
use kbgap_core::ServicingKind as K;
use kbgap_core::catalog::{Catalog, KbIx, ProductIx};
use kbgap_core::engine::{Evaluation, MachineState};
use kbgap_core::{InstalledSoftware, KbId, VulnId};

/// Kinds that set or follow the servicing level: an up-to-date machine misses none of them.
const LEVEL_KINDS: [K; 6] = [
    K::CumulativeUpdate,
    K::Hotpatch,
    K::MonthlyRollup,
    K::PreviewRollup,
    K::ServicingStack,
    K::SetupDynamicUpdate,
];

fn os(cat: &Catalog, name: &str) -> ProductIx {
    *cat.products_named(name)
        .iter()
        .find(|&&p| cat.product(p).facts.is_os)
        .unwrap_or_else(|| panic!("{name} is an OS product of the catalog"))
}

/// The newest cumulative update (or rollup) on an OS product's line, hotpatches aside.
fn newest(cat: &Catalog, os: ProductIx) -> Option<KbIx> {
    cat.servicing_line(os)
        .iter()
        .rev()
        .copied()
        .find(|&k| cat.kind_on(k, os) != Some(K::Hotpatch))
}

fn eval_on(
    cat: &Catalog,
    os: ProductIx,
    ubr: Option<u32>,
    kbs: &[u32],
) -> (MachineState, Evaluation) {
    let kbs: Vec<KbId> = kbs.iter().map(|&n| KbId::new(n).unwrap()).collect();
    let st = state(cat, &device_on(cat, os, ubr, &kbs));
    let ev = frontier(cat, &st);
    (st, ev)
}

/// A machine on the newest update of its line: at its revision when it has one, else with it
/// installed.
fn current(cat: &Catalog, p: ProductIx) -> (Option<u32>, Vec<u32>) {
    let top = newest(cat, p).unwrap();
    match cat.cumulative_revision(top, p) {
        Some(r) => (Some(r), vec![]),
        None => (None, vec![cat.kb(top).id.get()]),
    }
}

fn level_entries(ev: &Evaluation) -> Vec<KbIx> {
    ev.missing
        .iter()
        .filter(|m| LEVEL_KINDS.contains(&m.kind))
        .map(|m| m.kb)
        .collect()
}

fn is_open(cat: &Catalog, ev: &Evaluation, cve: &str) -> bool {
    let id: VulnId = cve.parse().unwrap();
    ev.open.iter().any(|&v| cat.vuln(v).id == id)
}

fn closes(cat: &Catalog, ev: &Evaluation, kb_n: u32, cve: &str) -> bool {
    let id: VulnId = cve.parse().unwrap();
    ev.missing
        .iter()
        .any(|m| cat.kb(m.kb).id.get() == kb_n && m.closes.iter().any(|&v| cat.vuln(v).id == id))
}

fn rev(cat: &Catalog, kb_n: u32, os: ProductIx) -> u32 {
    cat.cumulative_revision(kb(cat, kb_n), os)
        .unwrap_or_else(|| panic!("KB{kb_n} is a cumulative update with a FixedBuild"))
}

#[test]
fn server_2019_up_to_date_is_clean() {
    let cat = bundled();
    let s2019 = os(cat, "Windows Server 2019");
    let (_, ev) = eval_on(cat, s2019, Some(8880), &[5094123]);
    let ids = kb_ids(cat, &ev);
    for stale in [4512578, 4465664, 4558997, 4519337] {
        assert!(
            !ids.iter().any(|k| k.get() == stale),
            "KB{stale} in {ids:?}"
        );
    }
    assert_eq!(level_entries(&ev), Vec::<KbIx>::new(), "{ids:?}");
    assert_eq!(
        cat.kind_on(kb(cat, 4465664), s2019),
        Some(K::ServicingStack)
    );
    assert_eq!(
        cat.kind_on(kb(cat, 4519337), s2019),
        Some(K::SetupDynamicUpdate)
    );
    assert_eq!(
        cat.kind_on(kb(cat, 4512578), s2019),
        Some(K::CumulativeUpdate)
    );
}

#[test]
fn one_cumulative_update_after_patch_tuesday() {
    let cat = bundled();
    for (name, new, old) in [
        ("Windows Server 2025", 5094125, 5087539),
        (
            "Windows 11 Version 26H1 for x64-based Systems",
            5095051,
            5089548,
        ),
    ] {
        let p = os(cat, name);
        assert_eq!(newest(cat, p), Some(kb(cat, new)), "{name}");
        // Behind by one month: only the newest.
        let (_, ev) = eval_on(cat, p, Some(rev(cat, old, p)), &[]);
        assert_eq!(level_entries(&ev), vec![kb(cat, new)], "{name}");
        // Years behind, no UBR, nothing installed: still only the newest.
        let (_, ev) = eval_on(cat, p, None, &[]);
        assert_eq!(level_entries(&ev), vec![kb(cat, new)], "{name}");
        // The newest installed, no UBR: the older one is not missing.
        let (_, ev) = eval_on(cat, p, None, &[new]);
        assert!(!kb_ids(cat, &ev).iter().any(|k| k.get() == old), "{name}");
        assert_eq!(level_entries(&ev), Vec::<KbIx>::new(), "{name}");
    }
}

#[test]
fn a_build_that_contains_an_update_is_not_told_to_install_it() {
    let cat = bundled();
    let p = os(cat, "Windows 10 Version 1803 for x64-based Systems");
    let (_, ev) = eval_on(cat, p, Some(2207), &[]);
    let ids = kb_ids(cat, &ev);
    assert!(!ids.iter().any(|k| k.get() == 5001339), "{ids:?}");
    assert!(level_entries(&ev).len() <= 1, "{ids:?}");
}

#[test]
fn safe_os_updates_on_another_branch_keep_their_cves_open() {
    let cat = bundled();
    for name in [
        "Windows 10 Version 21H2 for x64-based Systems",
        "Windows 10 Version 22H2 for x64-based Systems",
    ] {
        let p = os(cat, name);
        let top = newest(cat, p).unwrap();
        let top_rev = cat.cumulative_revision(top, p).unwrap();
        let (_, ev) = eval_on(cat, p, Some(top_rev), &[]);
        assert!(is_open(cat, &ev, "CVE-2024-43513"), "{name}");
        assert!(closes(cat, &ev, 5046400, "CVE-2024-43513"), "{name}");
        let entry = ev
            .missing
            .iter()
            .find(|m| cat.kb(m.kb).id.get() == 5046400)
            .unwrap();
        assert_eq!(entry.kind, K::SafeOs);
        assert!(
            entry.reason.to_string().contains("reagentc"),
            "{}",
            entry.reason
        );
        // CVE-2024-38163 (KB5042320) is open too, closed by the newer Safe OS update.
        assert!(is_open(cat, &ev, "CVE-2024-38163"), "{name}");
        // A WinRE image at the fixed version closes both.
        let mut d = device_on(cat, p, Some(top_rev), &[]);
        d.winre_version = Some("10.0.19041.5000".parse().unwrap());
        let ev = frontier(cat, &state(cat, &d));
        assert!(!is_open(cat, &ev, "CVE-2024-43513"), "{name}");
        assert!(!is_open(cat, &ev, "CVE-2024-38163"), "{name}");
        // Installed, it is not missing.
        let (_, ev) = eval_on(cat, p, Some(top_rev), &[5046400]);
        assert!(!is_open(cat, &ev, "CVE-2024-43513"), "{name}");
    }
}

#[test]
fn safe_os_updates_are_not_folded_into_cumulative_updates() {
    let cat = bundled();
    for (name, safe_os, cve) in [
        ("Windows Server 2022", 5046399, "CVE-2024-43513"),
        (
            "Windows 11 version 21H2 for x64-based Systems",
            5046398,
            "CVE-2024-43513",
        ),
    ] {
        let p = os(cat, name);
        assert_eq!(cat.kind_on(kb(cat, safe_os), p), Some(K::SafeOs));
        let (ubr, kbs) = current(cat, p);
        let (_, ev) = eval_on(cat, p, ubr, &kbs);
        assert!(is_open(cat, &ev, cve), "{name}: {cve} hidden");
        assert!(closes(cat, &ev, safe_os, cve), "{name}");
        // An installed Safe OS update raises nothing: the machine stays as exposed as before.
        let (_, bare) = eval_on(cat, p, None, &[]);
        let (st, with) = eval_on(cat, p, None, &[safe_os]);
        assert_eq!(with.effective_ubr, None, "{name}");
        assert!(st.installed.len() == 1);
        let closed_by_it = bare.open.iter().filter(|v| !with.open.contains(v)).count();
        assert!(
            closed_by_it <= 2,
            "{name}: KB{safe_os} closed {closed_by_it} CVEs"
        );
    }
    // Server 2022's older Safe OS update is covered by its successor.
    let p = os(cat, "Windows Server 2022");
    let (_, ev) = eval_on(cat, p, None, &[]);
    let ids = kb_ids(cat, &ev);
    assert!(ids.iter().any(|k| k.get() == 5046399));
    assert!(!ids.iter().any(|k| k.get() == 5042322), "{ids:?}");
}

#[test]
fn fixed_build_typos_are_decided_by_presence() {
    let cat = bundled();
    let p = os(cat, "Windows 11 version 21H2 for x64-based Systems");
    let typo = kb(cat, 5022836);
    let cves: Vec<_> = cat
        .kb_fixes(typo, p)
        .map(|f| cat.vuln(f.vuln).id.clone())
        .filter(|v| v.is_cve())
        .collect();
    assert!(
        cves.len() >= 30,
        "KB5022836's rows for 21H2 are kept: {}",
        cves.len()
    );
    // January 2023's level: every CVE of the February update is open.
    let (_, ev) = eval_on(cat, p, Some(rev(cat, 5022287, p)), &[]);
    for c in &cves {
        assert!(is_open(cat, &ev, &c.to_string()), "{c} hidden");
    }
    // The newest cumulative update contains it.
    let (ubr, kbs) = current(cat, p);
    let (_, ev) = eval_on(cat, p, ubr, &kbs);
    for c in &cves {
        assert!(
            !is_open(cat, &ev, &c.to_string()),
            "{c} open on the newest level"
        );
    }
}

#[test]
fn dotnet_updates_are_cumulative_per_version_and_os() {
    let cat = bundled();
    let p = os(cat, "Windows 11 Version 24H2 for x64-based Systems");
    let top = newest(cat, p).unwrap();
    let mut d = device_on(cat, p, cat.cumulative_revision(top, p), &[]);
    d.software.push(InstalledSoftware {
        vendor: "Microsoft".into(),
        name: "Microsoft .NET Framework 4.8.1".into(),
        version: Some("4.8.09032".into()),
    });
    let ev = frontier(cat, &state(cat, &d));
    let dotnet: Vec<KbId> = ev
        .missing
        .iter()
        .filter(|m| m.kind == K::DotNet)
        .map(|m| cat.kb(m.kb).id)
        .collect();
    assert_eq!(dotnet.len(), 1, "{dotnet:?}");
    for old in [5082420, 5066131, 5049622, 5044030] {
        assert!(
            !dotnet.iter().any(|k| k.get() == old),
            "KB{old} in {dotnet:?}"
        );
    }
}

#[test]
fn hotpatches_raise_the_build_only_when_enrolled() {
    let cat = bundled();
    let p = os(cat, "Windows Server 2025");
    let hot = *cat
        .servicing_line(p)
        .iter()
        .rev()
        .find(|&&k| cat.hotpatch_revision(k, p).is_some())
        .expect("Server 2025 has hotpatches");
    let hot_id = cat.kb(hot).id;
    let plain = state(cat, &device_on(cat, p, None, &[hot_id]));
    let mut enrolled = plain.clone();
    enrolled.hotpatch = true;
    // Not enrolled: at most the cumulative update the hotpatch builds on.
    let hot_rev = cat.hotpatch_revision(hot, p).unwrap();
    assert!(
        frontier(cat, &plain)
            .effective_ubr
            .is_none_or(|u| u < hot_rev)
    );
    assert_eq!(
        frontier(cat, &enrolled).effective_ubr,
        cat.hotpatch_revision(hot, p)
    );
}

/// Five updates spread over a line, the newest left out.
fn spread(line: &[KbIx]) -> Vec<KbIx> {
    let n = line.len().saturating_sub(1);
    if n == 0 {
        return Vec::new();
    }
    let mut picks: Vec<KbIx> = [1, 3, 5, 7, 9]
        .iter()
        .map(|t| line[(n * t / 10).min(n - 1)])
        .collect();
    picks.dedup();
    picks
}

#[test]
fn every_windows_product_comes_out_clean_when_current_and_gets_one_update_when_behind() {
    let cat = bundled();
    let mut failures = Vec::new();
    let mut table = Vec::new();
    let mut products: Vec<ProductIx> = (0..cat.products().len() as ProductIx)
        .filter(|&p| cat.product(p).facts.is_os && cat.product(p).facts.build.is_some())
        .filter(|&p| newest(cat, p).is_some())
        .collect();
    products.sort_by_key(|&p| cat.product(p).name.clone());
    for p in products {
        let name = &cat.product(p).name;
        let top = newest(cat, p).unwrap();
        let top_id = cat.kb(top).id;
        let line: Vec<KbIx> = cat
            .servicing_line(p)
            .iter()
            .copied()
            .filter(|&k| cat.kind_on(k, p) != Some(K::Hotpatch))
            .collect();
        let current_by_kb = frontier(cat, &state(cat, &device_on(cat, p, None, &[top_id])));
        let mut current = vec![("by KB", current_by_kb)];
        if let Some(r) = cat.cumulative_revision(top, p) {
            current.push((
                "by UBR",
                frontier(cat, &state(cat, &device_on(cat, p, Some(r), &[]))),
            ));
        }
        for (how, ev) in &current {
            println!(
                "state\t{name}\t{how}\t{}\t{}\t{}",
                if *how == "by UBR" {
                    cat.cumulative_revision(top, p).unwrap_or(0)
                } else {
                    0
                },
                if *how == "by KB" {
                    top_id.to_string()
                } else {
                    String::new()
                },
                ev.missing.len()
            );
            let stale = level_entries(ev);
            if !stale.is_empty() {
                failures.push(format!(
                    "{name} on KB{top_id} ({how}): still told to install {:?}",
                    stale.iter().map(|&k| cat.kb(k).id).collect::<Vec<_>>()
                ));
            }
        }
        let mut behind_sizes = Vec::new();
        for old in spread(&line) {
            let ubr = cat.cumulative_revision(old, p);
            let kbs = if ubr.is_some() {
                vec![]
            } else {
                vec![cat.kb(old).id]
            };
            let ev = frontier(cat, &state(cat, &device_on(cat, p, ubr, &kbs)));
            let level: Vec<KbIx> = ev
                .missing
                .iter()
                .filter(|m| matches!(m.kind, K::CumulativeUpdate | K::MonthlyRollup))
                .map(|m| m.kb)
                .collect();
            // The newest update, or one that contains it (MSRC lists the 1909 update KB5000808
            // for IE 11 on 1903, and it supersedes 1903's last cumulative update).
            let covered = ev
                .missing
                .iter()
                .any(|m| m.supersedes_missing.contains(&top_id));
            if level != vec![top] && !(level.is_empty() && covered) {
                failures.push(format!(
                    "{name} at KB{}: told {:?}, expected only KB{top_id}",
                    cat.kb(old).id,
                    level.iter().map(|&k| cat.kb(k).id).collect::<Vec<_>>()
                ));
            }
            behind_sizes.push(ev.missing.len());
            println!(
                "state\t{name}\tbehind\t{}\t{}\t{}",
                ubr.unwrap_or(0),
                kbs.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(","),
                ev.missing.len()
            );
        }
        table.push(format!(
            "{name}\tKB{top_id}\t{}\tcurrent frontier {}\tbehind frontiers {behind_sizes:?}",
            cat.kb(top).release_date.get(..10).unwrap_or(""),
            current[0].1.missing.len(),
        ));
    }
    println!("{}", table.join("\n"));
    assert!(table.len() >= 60, "only {} products swept", table.len());
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
