//! The engine on real MSRC data: each case a machine state and its expected frontier.

mod common;

use std::path::PathBuf;

use common::bundled;
use kbgap_core::catalog::Catalog;
use kbgap_core::engine::{Evaluation, MachineState, Options, evaluate};
use kbgap_core::report::MissingKbEntry;
use kbgap_core::{Device, Document, InstallationType, KbId, ServicingKind};

fn fixture(name: &str) -> Document {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/msrc-cvrf-2020")
        .join(name);
    kbgap_catalog::read_path(&path).expect("fixture document")
}

fn device(version: &str, ubr: Option<u32>, product: &str, kbs: &[u32]) -> Device {
    Device {
        computer_dns_name: "test".into(),
        os_version: Some(version.parse().unwrap()),
        ubr,
        installation_type: Some(InstallationType::Client),
        products: vec![product.into()],
        installed_kbs: kbs.iter().map(|&k| KbId::new(k).unwrap()).collect(),
        ..Device::default()
    }
}

fn run(cat: &Catalog, d: &Device) -> (MachineState, Evaluation, Vec<MissingKbEntry>) {
    let res = cat.machine_state(d);
    assert!(
        res.warnings.is_empty(),
        "unexpected warnings: {:?}",
        res.warnings
    );
    let ev = evaluate(cat, &res.state, Options::default());
    let entries = MissingKbEntry::all(cat, &res.state, &ev, false);
    (res.state, ev, entries)
}

/// The entries that update the running OS: Safe OS (WinRE) and Secure Boot updates are left out,
/// because no build and no cumulative update shows them (`servicing.rs` tests those).
fn ids(entries: &[MissingKbEntry]) -> Vec<&str> {
    entries
        .iter()
        .filter(|e| !matches!(e.kind, ServicingKind::SafeOs | ServicingKind::SecureBootDbx))
        .map(|e| e.id.as_str())
        .collect()
}

/// The newest cumulative update the catalog has for a build: the KB with the highest FixedBuild
/// revision on that branch (computed from data, not hard-coded).
fn newest_cu(cat: &Catalog, product: &str) -> (String, u32) {
    let os = cat.products_named(product)[0];
    (0..cat.kbs().len() as u32)
        .filter_map(|k| {
            cat.cumulative_revision(k, os)
                .map(|r| (r, cat.kb(k).id.to_string()))
        })
        .max()
        .map(|(r, id)| (id, r))
        .unwrap()
}

const W10_22H2: &str = "Windows 10 Version 22H2 for x64-based Systems";

#[test]
fn win10_22h2_at_2129_misses_only_the_newest_cumulative_update() {
    let cat = bundled();
    let (_, ev, entries) = run(cat, &device("10.0.19045", Some(2129), W10_22H2, &[]));
    let (cu, rev) = newest_cu(cat, W10_22H2);
    assert_eq!(ids(&entries), vec![cu.as_str()]);
    assert!(
        entries[0].reason.starts_with(&format!(
            "the newest cumulative update for 10.0.19045 (build 10.0.19045.2129 is below \
             10.0.19045.{rev}); covers KB"
        )),
        "{}",
        entries[0].reason
    );
    assert_eq!(entries[0].kind, ServicingKind::CumulativeUpdate);
    assert_eq!(entries[0].os_build, Some(19045));
    assert_eq!(entries[0].products_names, vec!["windows_10"]);
    assert!(
        entries[0].supersedes_missing.len() > 30,
        "replaces the missing monthly updates since 2129"
    );
    assert_eq!(ev.effective_ubr, Some(2129));
}

#[test]
fn installed_newest_cumulative_update_without_ubr_leaves_the_branch_clean() {
    let cat = bundled();
    let (cu, rev) = newest_cu(cat, W10_22H2);
    let (_, ev, entries) = run(
        cat,
        &device("10.0.19045", None, W10_22H2, &[cu.parse().unwrap()]),
    );
    assert_eq!(
        ev.effective_ubr,
        Some(rev),
        "the installed CU implies the UBR"
    );
    assert!(
        ids(&entries).is_empty(),
        "nothing from that branch: {:?}",
        ids(&entries)
    );
}

#[test]
fn chain_across_windows_versions_reports_only_the_newest() {
    // KB5094127 (22H2) supersedes 5087544, which MSRC lists only under 21H2, which supersedes 5082200.
    let cat = bundled();
    assert!(
        cat.superseded_by(KbId::new(5_082_200).unwrap())
            .contains(&KbId::new(5_094_127).unwrap())
    );
    let (_, _, entries) = run(cat, &device("10.0.19045", None, W10_22H2, &[5_082_200]));
    assert_eq!(ids(&entries), vec!["5094127"]);
}

#[test]
fn shared_kb_decides_on_each_machines_own_branch() {
    let cat = bundled();
    let (cu, _) = newest_cu(cat, W10_22H2);
    let kb = cat.kb(cat.kb_ix(cu.parse().unwrap()).unwrap());
    let branches: Vec<u32> = kb
        .products
        .iter()
        .filter_map(|p| {
            p.native_revision
                .map(|_| cat.product(p.product).facts.build.unwrap())
        })
        .collect();
    assert!(
        branches.contains(&19044) && branches.contains(&19045),
        "one KB, FixedBuilds on 19044 and 19045"
    );
    let w21 = cat.products_named("Windows 10 Version 21H2 for x64-based Systems")[0];
    let rev44 = cat
        .cumulative_revision(cat.kb_ix(cu.parse().unwrap()).unwrap(), w21)
        .unwrap();
    // A 21H2 machine at exactly the 19044 FixedBuild has it; a 22H2 machine at that revision number does not
    // unless the 19045 FixedBuild is the same.
    let (_, _, e21) = run(
        cat,
        &device(
            "10.0.19044",
            Some(rev44),
            "Windows 10 Version 21H2 for x64-based Systems",
            &[],
        ),
    );
    assert!(!ids(&e21).contains(&cu.as_str()));
    let (_, _, e22) = run(cat, &device("10.0.19045", Some(rev44 - 1), W10_22H2, &[]));
    assert!(ids(&e22).contains(&cu.as_str()));
}

#[test]
fn windows_11_23h2_and_24h2_get_their_own_cumulative_updates() {
    let cat = bundled();
    for (ver, name) in [
        (
            "10.0.22631",
            "Windows 11 Version 23H2 for x64-based Systems",
        ),
        (
            "10.0.26100",
            "Windows 11 Version 24H2 for x64-based Systems",
        ),
    ] {
        let (cu, _) = newest_cu(cat, name);
        let (_, _, entries) = run(cat, &device(ver, Some(1), name, &[]));
        let (own, others): (Vec<_>, Vec<_>) =
            (entries.iter().cloned()).partition(|e| e.kind == ServicingKind::CumulativeUpdate);
        assert_eq!(ids(&own), vec![cu.as_str()], "{name}");
        assert_eq!(own[0].products_names, vec!["windows_11"]);
        // Besides it, only what MSRC lists with another branch's build (KB5055528, the 23H2
        // update, under 24H2), or what no build shows.
        for e in others {
            assert!(
                e.reason.contains("another branch")
                    || matches!(e.kind, ServicingKind::SafeOs | ServicingKind::SecureBootDbx),
                "{name}: KB{} {}",
                e.id,
                e.reason
            );
        }
    }
}

#[test]
fn servers_are_told_apart() {
    let cat = bundled();
    for (ver, name, software) in [
        ("10.0.17763", "Windows Server 2019", "windows_server_2019"),
        ("10.0.20348", "Windows Server 2022", "windows_server_2022"),
        ("10.0.26100", "Windows Server 2025", "windows_server_2025"),
        (
            "10.0.20348",
            "Windows Server 2022 (Server Core installation)",
            "windows_server_2022",
        ),
    ] {
        let mut d = device(ver, Some(1), name, &[]);
        d.installation_type = Some(InstallationType::Server);
        let (state, _, entries) = run(cat, &d);
        let (cu, _) = newest_cu(cat, name);
        assert!(
            ids(&entries).contains(&cu.as_str()),
            "{name}: {:?}",
            ids(&entries)
        );
        assert!(
            entries
                .iter()
                .all(|e| e.products_names.contains(&software.to_owned()) || e.os_build.is_none())
        );
        // Never the 23H2 Edition's products.
        assert!(
            state
                .products
                .iter()
                .all(|&p| !cat.product(p).name.contains("23H2 Edition"))
        );
    }
}

#[test]
fn fully_patched_host_misses_nothing() {
    let cat = bundled();
    let (_, rev) = newest_cu(cat, W10_22H2);
    let (_, ev, entries) = run(cat, &device("10.0.19045", Some(rev), W10_22H2, &[]));
    assert!(ids(&entries).is_empty(), "{:?}", ids(&entries));
    // What stays open is the recovery image's: KB5046400 (Safe OS) closes it.
    assert_eq!(
        entries
            .iter()
            .map(|e| (e.id.as_str(), e.kind))
            .collect::<Vec<_>>(),
        vec![("5046400", ServicingKind::SafeOs)]
    );
    let recovery: i64 = entries.iter().map(|e| e.open_cves_closed).sum();
    assert_eq!(ev.open.len() as i64, recovery);
}

#[test]
fn windows_7_security_only_update_counts_for_its_cves() {
    let cat = bundled();
    let win7 = "Windows 7 for x64-based Systems Service Pack 1";
    let (_, ev0, _) = run(cat, &device("6.1.7601", None, win7, &[]));
    // KB4012212: March 2017 security-only update (EternalBlue); its rollup sibling is KB4012215.
    let (_, ev1, entries) = run(cat, &device("6.1.7601", None, win7, &[4_012_212]));
    assert!(
        ev1.open.len() < ev0.open.len(),
        "the security-only update closes CVEs"
    );
    assert!(
        ids(&entries)
            .iter()
            .all(|id| *id != "4012215" && *id != "4012212")
    );
    let eternal_blue = cat
        .vulns()
        .iter()
        .position(|v| v.id.as_str() == "CVE-2017-0144")
        .unwrap() as u32;
    assert!(
        !ev1.open.contains(&eternal_blue),
        "EternalBlue is closed by the security-only update"
    );
    assert!(ev0.open.contains(&eternal_blue));
}

#[test]
fn microsofts_example_on_the_2020_documents() {
    let mar = fixture("cvrfDocument-2020-Mar.at-2020-03-10.c94bea1.xml.gz");
    let aug = fixture("cvrfDocument-2019-Aug.at-2021-01-02.a1a252a.xml.gz");
    let cat = Catalog::compile(&[mar, aug.clone()]);
    let d = device(
        "10.0.18363",
        None,
        "Windows 10 Version 1909 for x64-based Systems",
        &[4_532_693],
    );
    let (_, _, entries) = run(&cat, &d);
    assert_eq!(ids(&entries), vec!["4540673"]);
    let e = &entries[0];
    assert_eq!(e.name, "March 2020 Security Updates");
    assert_eq!(
        e.products_names,
        vec!["windows_10", "edge", "internet_explorer"]
    );
    assert_eq!(e.cve_addressed, 97);

    let revised = fixture("cvrfDocument-2020-Mar.at-2020-04-04.79cc218.xml.gz");
    let cat = Catalog::compile(&[revised, aug]);
    let (_, _, entries) = run(&cat, &d);
    assert_eq!(
        ids(&entries),
        vec!["4551762"],
        "the SMBGhost fix supersedes it"
    );
    assert_eq!(entries[0].supersedes_missing, vec!["4540673"]);
}

#[test]
fn output_is_deterministic_and_ordered() {
    let cat = bundled();
    let d = device(
        "10.0.17763",
        Some(100),
        "Windows 10 Version 1809 for x64-based Systems",
        &[],
    );
    let (_, _, a) = run(cat, &d);
    let (_, _, b) = run(cat, &d);
    assert_eq!(
        serde_json::to_string(&a).unwrap(),
        serde_json::to_string(&b).unwrap()
    );
}
