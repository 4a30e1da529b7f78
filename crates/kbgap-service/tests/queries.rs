//! The fleet queries on the real corpus: every systeminfo fixture MSRC covers, evaluated with
//! the bundled catalog, in a real SQLite store. Each fleet-wide number is checked against the
//! machines' own evaluations, so the group aggregation cannot drift from them.
//! Run with `--release` (the catalog compiles from the bundled documents).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;

use chrono::{Duration, Utc};
use kbgap_core::catalog::Catalog;
use kbgap_core::{Device, Severity};
use kbgap_inventory::{Format, Inventory};
use kbgap_service::FleetService;
use kbgap_service::queries::{
    DeployFilter, MachineFilter, Scope, cve_detail, deploy_first, deploy_first_groups,
    ingest_health, kb_detail, machine_detail, machine_rows, posture,
};
use kbgap_store::Store;

fn catalog() -> Arc<Catalog> {
    let docs: Vec<_> = kbgap_catalog::bundled::read_all()
        .collect::<Result<_, _>>()
        .expect("bundled documents read");
    let mut cat = Catalog::compile(&docs);
    cat.apply_kev(&kbgap_catalog::kev::bundled().expect("bundled KEV"));
    Arc::new(cat)
}

/// Every systeminfo fixture that reads as a machine (end-of-support ones included).
fn devices() -> Vec<Device> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/systeminfo");
    let mut files: Vec<PathBuf> = (std::fs::read_dir(&dir).unwrap())
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    files.sort();
    let mut out: Vec<Device> = (files.iter())
        .filter_map(|p| {
            match kbgap_inventory::read(&std::fs::read(p).unwrap(), "t", Format::Auto) {
                Ok(Inventory::Device(d)) => Some(d),
                _ => None,
            }
        })
        .collect();
    // Every third machine carries a site tag, spelt two ways (tags match without case).
    for (i, d) in out.iter_mut().enumerate() {
        if i % 3 == 0 {
            let tag = if i % 2 == 0 {
                "site:Berlin"
            } else {
                "SITE:berlin"
            };
            d.machine_tags = vec![tag.to_owned()];
        }
    }
    out
}

async fn fleet() -> (tempfile::TempDir, Arc<FleetService>) {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(
        kbgap_store_sqlite::SqliteStore::open(&dir.path().join("kbgap.db"))
            .await
            .unwrap(),
    );
    let fleet = Arc::new(FleetService::load(store, catalog()).await.unwrap());
    fleet.ingest(devices()).await.unwrap();
    (dir, fleet)
}

#[tokio::test(flavor = "multi_thread")]
async fn fleet_queries_agree_with_each_machines_evaluation() {
    let (_dir, fleet) = fleet().await;
    let view = fleet.read();
    let cat = view.catalog().clone();
    let now = Utc::now();
    assert!(
        view.len() >= 15,
        "the corpus loads: {} machines",
        view.len()
    );

    // Per KB, the machines whose own answer lists it.
    let mut per_kb: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut per_os: BTreeMap<String, u64> = BTreeMap::new();
    for m in view.machines.values() {
        let d = machine_detail(&cat, &view, m.id.as_str()).expect("every machine has a detail");
        *per_os.entry(d.row.os.clone()).or_default() += 1;
        assert_eq!(d.row.missing_kbs as usize, d.missing.len());
        for e in &d.missing {
            per_kb
                .entry(format!("KB{}", e.id))
                .or_default()
                .insert(m.id.to_string());
        }
    }
    let rows = deploy_first(&cat, &view, &DeployFilter::default(), now);
    assert!(!rows.is_empty());
    let shown: BTreeMap<String, u64> = rows.iter().map(|r| (r.kb.clone(), r.machines)).collect();
    let expected: BTreeMap<String, u64> = per_kb
        .iter()
        .map(|(k, v)| (k.clone(), v.len() as u64))
        .collect();
    assert_eq!(
        shown, expected,
        "one row per missing KB, counting its machines"
    );
    assert_eq!(
        deploy_first_groups(&cat, &view.fleet, &DeployFilter::default()),
        rows,
        "the bare-fleet form gives the same rows"
    );
    // Ranked: exploited first.
    let firsts: Vec<usize> = rows.iter().map(|r| r.exploited.len()).collect();
    assert!(firsts.windows(2).all(|w| w[0] >= w[1]), "{firsts:?}");

    // Each KB's machine list is exactly its machines.
    for r in rows.iter().take(10) {
        let kb = r.kb.parse().unwrap();
        let detail = kb_detail(&cat, &view, kb, &Scope::default(), now).unwrap();
        let ids: BTreeSet<String> = detail.machines.iter().map(|m| m.row.id.clone()).collect();
        assert_eq!(ids, per_kb[&r.kb], "{}", r.kb);
        assert!(detail.machines.iter().all(|m| !m.reason.is_empty()));
    }

    // Filters narrow, and narrow correctly.
    let (os, n) = per_os.iter().max_by_key(|(_, n)| **n).unwrap();
    let scoped = DeployFilter {
        scope: Scope {
            os_version: Some(os.to_uppercase()),
            ..Scope::default()
        },
        ..DeployFilter::default()
    };
    let os_rows = deploy_first(&cat, &view, &scoped, now);
    assert!(
        os_rows
            .iter()
            .all(|r| r.machines <= *n && r.machines <= shown[&r.kb])
    );
    assert!(
        os_rows.len() < rows.len(),
        "one OS version misses fewer KBs than the fleet"
    );
    let exploited = DeployFilter {
        exploited_only: true,
        ..DeployFilter::default()
    };
    let ex = deploy_first(&cat, &view, &exploited, now);
    assert!(!ex.is_empty() && ex.iter().all(|r| !r.exploited.is_empty()));
    assert_eq!(
        ex.len(),
        rows.iter().filter(|r| !r.exploited.is_empty()).count()
    );
    let critical = DeployFilter {
        min_severity: Some(Severity::Critical),
        ..DeployFilter::default()
    };
    assert!(
        deploy_first(&cat, &view, &critical, now)
            .iter()
            .all(|r| r.max_severity == Some(Severity::Critical))
    );
    let dotnet = DeployFilter {
        family: Some(".net framework".into()),
        ..DeployFilter::default()
    };
    for r in deploy_first(&cat, &view, &dotnet, now) {
        assert!(r.products.iter().any(|p| p.contains("net")), "{r:?}");
    }
    // Nobody was seen within the last day of a time 60 days from now.
    let later = now + Duration::days(60);
    let recent = DeployFilter {
        scope: Scope {
            seen_within_days: Some(1),
            ..Scope::default()
        },
        ..DeployFilter::default()
    };
    assert!(deploy_first(&cat, &view, &recent, later).is_empty());
    assert_eq!(deploy_first(&cat, &view, &recent, now), rows);

    // The tag filter counts exactly the tagged machines that miss each KB.
    let tagged: BTreeSet<String> = (view.machines.values())
        .filter(|m| !m.device.machine_tags.is_empty())
        .map(|m| m.id.to_string())
        .collect();
    assert!(tagged.len() >= 5 && tagged.len() < view.len());
    let by_tag = DeployFilter {
        scope: Scope {
            tag: Some(" Site:Berlin ".into()),
            ..Scope::default()
        },
        ..DeployFilter::default()
    };
    let tag_rows: BTreeMap<String, u64> = (deploy_first(&cat, &view, &by_tag, now).iter())
        .map(|r| (r.kb.clone(), r.machines))
        .collect();
    let tag_expected: BTreeMap<String, u64> = (per_kb.iter())
        .map(|(k, v)| (k.clone(), v.intersection(&tagged).count() as u64))
        .filter(|(_, n)| *n > 0)
        .collect();
    assert_eq!(
        tag_rows, tag_expected,
        "the tag filter narrows to tagged machines"
    );
    let nobody = DeployFilter {
        scope: Scope {
            tag: Some("site:Paris".into()),
            ..Scope::default()
        },
        ..DeployFilter::default()
    };
    assert!(deploy_first(&cat, &view, &nobody, now).is_empty());

    // Machine rows.
    let all = machine_rows(&cat, &view, &MachineFilter::default(), now);
    assert_eq!(all.len(), view.len());
    let high = MachineFilter {
        exposure: Some("high".into()),
        ..MachineFilter::default()
    };
    assert!(
        machine_rows(&cat, &view, &high, now)
            .iter()
            .all(|m| m.exposure == "High")
    );
    let named = MachineFilter {
        name: Some(all[0].name.to_uppercase()),
        ..MachineFilter::default()
    };
    assert!(
        machine_rows(&cat, &view, &named, now)
            .iter()
            .any(|m| m.id == all[0].id)
    );

    // Posture adds up to the fleet.
    let p = posture(&cat, &view, &Scope::default(), now);
    assert_eq!(p.assessed as usize, view.len());
    assert_eq!(p.per_os.iter().map(|o| o.machines).sum::<u64>(), p.assessed);
    assert_eq!(
        p.by_exposure.iter().map(|(_, n)| n).sum::<u64>(),
        p.assessed
    );
    for o in &p.per_os {
        assert_eq!(
            o.months_behind.values().sum::<u64>(),
            o.machines,
            "{}",
            o.os
        );
        assert_eq!(
            o.current,
            o.months_behind.get(&Some(0)).copied().unwrap_or(0)
        );
    }
    let with_exploited = all.iter().filter(|m| m.exploited_cves > 0).count() as u64;
    assert_eq!(p.missing_exploited, with_exploited);

    // A CVE's exposed machines are the machines with it open.
    let top = rows.iter().find(|r| !r.exploited.is_empty()).unwrap();
    let cve = cve_detail(&cat, &view, &top.exploited[0].to_lowercase()).unwrap();
    assert!(cve.cve.exploited && !cve.fixes.is_empty());
    assert!(cve.fixes.iter().any(|f| f.kb == top.kb) || cve.machines.len() as u64 >= 1);
    for m in &cve.machines {
        let d = machine_detail(&cat, &view, &m.id).unwrap();
        assert!(d.open_cves.iter().any(|c| c.id == cve.cve.id));
    }
    assert!(cve_detail(&cat, &view, "CVE-1999-0000").is_none());

    // Ingest health: the end-of-support machines, and everyone stale 60 days from now.
    let h = ingest_health(&cat, &view, Vec::new(), now);
    assert!(h.stale.is_empty());
    let eos = view
        .machines
        .values()
        .filter(|m| m.device.end_of_support.is_some())
        .count();
    assert_eq!(h.end_of_support.len(), eos);
    assert!(eos > 0, "the corpus has XP-era machines");
    assert_eq!(
        ingest_health(&cat, &view, Vec::new(), later).stale.len(),
        view.len()
    );
}

/// The tag choices, read off the view's index, against a walk over its machines.
fn walked_tags(view: &kbgap_service::FleetView) -> BTreeSet<String> {
    (view.machines.values())
        .flat_map(|m| {
            m.device
                .machine_tags
                .iter()
                .map(|t| t.trim().to_lowercase())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn tag_choices_follow_reports_and_deletes() {
    let (_dir, fleet) = fleet().await;
    let offered = |fleet: &FleetService| {
        let view = fleet.read();
        let tags = kbgap_service::queries::choices(view.catalog(), &view).tags;
        let keys: BTreeSet<String> = tags.iter().map(|t| t.to_lowercase()).collect();
        assert_eq!(keys.len(), tags.len(), "one spelling per tag: {tags:?}");
        assert_eq!(keys, walked_tags(&view));
        keys
    };
    assert_eq!(offered(&fleet), BTreeSet::from(["site:berlin".to_owned()]));

    // Every tagged machine reports again with another tag (one keeps the old one too).
    let view = fleet.read();
    let tagged: Vec<_> = (view.machines.values())
        .filter(|m| !m.device.machine_tags.is_empty())
        .map(|m| m.device.clone())
        .collect();
    drop(view);
    let mut again = tagged.clone();
    for (i, d) in again.iter_mut().enumerate() {
        d.machine_tags = if i == 0 {
            vec![
                "site:berlin".into(),
                "Ring:Pilot".into(),
                "ring:pilot".into(),
            ]
        } else {
            vec!["ring:PILOT".into()]
        };
    }
    fleet.ingest(again).await.unwrap();
    assert_eq!(
        offered(&fleet),
        BTreeSet::from(["ring:pilot".to_owned(), "site:berlin".to_owned()])
    );

    // Deleting the one machine still carrying the site tag takes the tag out of the choices.
    let first = fleet
        .read()
        .find(&tagged[0].computer_dns_name)
        .unwrap()
        .id
        .clone();
    fleet.store().delete_machines(&[first]).await.unwrap();
    fleet.catch_up().await.unwrap();
    assert_eq!(offered(&fleet), BTreeSet::from(["ring:pilot".to_owned()]));
}

#[test]
fn refusals_keep_the_newest_within_capacity() {
    use kbgap_service::refusals::Refusals;
    let r = Refusals::default();
    for i in 0..Refusals::CAPACITY + 5 {
        r.record(400, "app", &format!("bad {i}"));
    }
    let recent = r.recent();
    assert_eq!(recent.len(), Refusals::CAPACITY);
    assert_eq!(recent[0].reason, format!("bad {}", Refusals::CAPACITY + 4));
    assert_eq!(recent.last().unwrap().reason, "bad 5");
    r.record(413, &"x".repeat(300), &"y".repeat(900));
    let newest = &r.recent()[0];
    assert_eq!((newest.caller.len(), newest.reason.len()), (100, 500));
}
