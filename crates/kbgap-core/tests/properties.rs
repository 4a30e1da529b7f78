//! Property tests of the engine over real catalog data: random machine states drawn from real
//! products, builds and KBs.

mod common;

use kbgap_core::catalog::Catalog;
use kbgap_core::engine::{Options, evaluate};
use kbgap_core::{Device, KbId, ServicingKind};
use proptest::prelude::*;

fn catalog() -> &'static Catalog {
    common::bundled()
}

/// Real OS products with a known build, and the KBs that fix each.
const OSES: &[(&str, &str)] = &[
    (
        "10.0.19045",
        "Windows 10 Version 22H2 for x64-based Systems",
    ),
    (
        "10.0.19044",
        "Windows 10 Version 21H2 for x64-based Systems",
    ),
    (
        "10.0.17763",
        "Windows 10 Version 1809 for x64-based Systems",
    ),
    (
        "10.0.22631",
        "Windows 11 Version 23H2 for x64-based Systems",
    ),
    (
        "10.0.26100",
        "Windows 11 Version 24H2 for x64-based Systems",
    ),
    ("10.0.20348", "Windows Server 2022"),
    (
        "10.0.17763",
        "Windows Server 2019 (Server Core installation)",
    ),
    ("6.1.7601", "Windows 7 for x64-based Systems Service Pack 1"),
    ("6.3.9600", "Windows Server 2012 R2"),
];

fn kbs_of(cat: &Catalog, product: &str) -> Vec<KbId> {
    let p = cat.products_named(product);
    cat.kbs()
        .iter()
        .filter(|k| k.products.iter().any(|kp| p.contains(&kp.product)))
        .map(|k| k.id)
        .collect()
}

fn state() -> impl Strategy<Value = Device> {
    (
        0..OSES.len(),
        proptest::option::of(0u32..9000),
        proptest::collection::vec(any::<prop::sample::Index>(), 0..12),
    )
        .prop_map(|(os, ubr, picks)| {
            let (ver, name) = OSES[os];
            let kbs = kbs_of(catalog(), name);
            Device {
                computer_dns_name: "prop".into(),
                os_version: Some(ver.parse().unwrap()),
                ubr,
                products: vec![name.into()],
                installed_kbs: picks.iter().map(|i| kbs[i.index(kbs.len())]).collect(),
                ..Device::default()
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// No frontier KB supersedes another frontier KB.
    #[test]
    fn frontier_has_no_superseded_pairs(d in state()) {
        let cat = catalog();
        let st = cat.machine_state(&d).state;
        let ev = evaluate(cat, &st, Options::default());
        for a in &ev.missing {
            let down = cat.supersedes_closure(cat.kb(a.kb).id);
            for b in &ev.missing {
                prop_assert!(a.kb == b.kb || !down.contains(&cat.kb(b.kb).id),
                    "KB{} supersedes KB{}, both on the frontier", cat.kb(a.kb).id, cat.kb(b.kb).id);
            }
        }
    }

    /// Installing every frontier KB (raising the UBR to its FixedBuild) leaves nothing missing.
    #[test]
    fn installing_the_frontier_leaves_nothing_missing(d in state()) {
        let cat = catalog();
        let st = cat.machine_state(&d).state;
        let ev = evaluate(cat, &st, Options::default());
        let mut after = d.clone();
        for m in &ev.missing {
            after.installed_kbs.insert(cat.kb(m.kb).id);
        }
        let st2 = cat.machine_state(&after).state;
        let ev2 = evaluate(cat, &st2, Options::default());
        prop_assert!(ev2.missing.is_empty(), "still missing: {:?}",
            ev2.missing.iter().map(|m| cat.kb(m.kb).id).collect::<Vec<_>>());
    }

    /// At most one cumulative update (or rollup) per OS product branch on the frontier.
    #[test]
    fn at_most_one_cumulative_update_per_branch(d in state()) {
        let cat = catalog();
        let st = cat.machine_state(&d).state;
        let ev = evaluate(cat, &st, Options::default());
        let level: Vec<_> = ev.missing.iter()
            .filter(|m| matches!(m.kind, ServicingKind::CumulativeUpdate | ServicingKind::MonthlyRollup))
            .map(|m| cat.kb(m.kb).id)
            .collect();
        prop_assert!(level.len() <= 1, "several on one branch: {:?}", level);
    }

    /// Every vulnerability MSRC lists for the machine's products is either closed or open, and
    /// every open one is closed by some frontier KB: nothing is dropped.
    #[test]
    fn every_cve_is_accounted_for(d in state()) {
        let cat = catalog();
        let st = cat.machine_state(&d).state;
        let ev = evaluate(cat, &st, Options::default());
        let listed: std::collections::BTreeSet<u32> = st.products.iter()
            .flat_map(|&p| cat.fixes_of(p).iter().map(|f| f.vuln))
            .collect();
        let closed_by_frontier: std::collections::BTreeSet<u32> = ev.missing.iter()
            .flat_map(|m| m.closes.iter().copied())
            .collect();
        for v in &ev.open {
            prop_assert!(listed.contains(v));
            prop_assert!(closed_by_frontier.contains(v),
                "{} is open but no frontier KB closes it", cat.vuln(*v).id);
        }
    }

    /// The answer does not depend on the order facts arrive in: products listed in any order,
    /// KBs reported in any order (and twice).
    #[test]
    fn output_is_independent_of_input_order(d in state()) {
        let cat = catalog();
        let os = d.products[0].clone();
        let component = format!("Internet Explorer 11 on {os}");
        let mut a = d.clone();
        a.products = vec![os.clone(), component.clone()];
        let mut b = d.clone();
        b.products = vec![component, os.clone(), os];
        let mut sa = cat.machine_state(&a).state;
        let sb = cat.machine_state(&b).state;
        prop_assert_eq!(&sa, &sb);
        sa.installed.reverse();
        sa.installed.extend(sb.installed.iter().copied());
        sa.installed.sort_unstable();
        sa.installed.dedup();
        prop_assert_eq!(evaluate(cat, &sa, Options::default()), evaluate(cat, &sb, Options::default()));
    }
}
