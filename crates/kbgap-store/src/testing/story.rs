//! The contract every backend must meet, as one story run against a fresh, empty store.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use kbgap_core::document::DocProduct;
use kbgap_core::machine::OsVersion;
use kbgap_core::{
    Device, Document, DocumentInfo, MachineId, Revision, Severity, VendorFix, Vulnerability,
};

use super::synth;
use crate::machines::derived_id;
use crate::{ImportOutcome, Store, StoreError};

/// Runs the whole contract against `store`, which must be empty. Panics on the first broken
/// promise, naming it.
pub async fn store_story(store: Arc<dyn Store>) {
    let s = store.as_ref();
    assert!(!s.backend_name().is_empty());
    assert!(!s.describe().is_empty());
    s.health().await.expect("health on a fresh store");
    catalog_story(s).await;
    kev_story(s).await;
    machine_story(s).await;
    super::lifecycle::lifecycle_story(s).await;
    super::history::tags_story(s).await;
    super::history::history_story(s).await;
    super::changes::changes_story(s).await;
}

/// The KEV catalog: none at first; the newest release stays; a replacement bumps the generation.
async fn kev_story(s: &dyn Store) {
    use crate::kev::KevOutcome;
    use kbgap_core::{Kev, KevEntry};
    assert_eq!(
        s.kev().await.unwrap(),
        None,
        "no KEV catalog on a fresh store"
    );
    let kev = |version: &str, released: &str| Kev {
        catalog_version: version.into(),
        date_released: released.into(),
        entries: vec![KevEntry {
            cve: "CVE-2025-29824".parse().unwrap(),
            date_added: "2025-04-08".into(),
            due_date: "2025-04-29".into(),
            ransomware: true,
            name: format!("CLFS ({version})"),
        }],
    };
    let g = s.catalog_generation().await.unwrap();
    let first = kev("2025.08.25", "2025-08-25T17:04:19");
    assert_eq!(s.put_kev(&first).await.unwrap(), KevOutcome::Stored);
    assert_eq!(s.kev().await.unwrap().as_ref(), Some(&first));
    assert_eq!(s.catalog_generation().await.unwrap(), g + 1);
    assert_eq!(s.put_kev(&first).await.unwrap(), KevOutcome::Unchanged);
    let older = kev("2025.07.01", "2025-07-01T00:00:00");
    assert!(matches!(
        s.put_kev(&older).await.unwrap(),
        KevOutcome::Older { stored_version, .. } if stored_version == "2025.08.25"
    ));
    assert_eq!(
        s.kev().await.unwrap().as_ref(),
        Some(&first),
        "an older release never replaces"
    );
    assert_eq!(s.catalog_generation().await.unwrap(), g + 1);
    let newer = kev("2025.08.26", "2025-08-26T09:00:00");
    assert_eq!(s.put_kev(&newer).await.unwrap(), KevOutcome::Stored);
    assert_eq!(s.kev().await.unwrap().as_ref(), Some(&newer));
    assert_eq!(s.catalog_generation().await.unwrap(), g + 2);
}

/// A small document whose vulnerability title carries `marker`, so a test can tell which
/// revision is stored.
fn doc(id: &str, revision: &[u32], current: &str, marker: &str) -> Document {
    let product: kbgap_core::ProductId = "11929".parse().unwrap();
    Document {
        info: DocumentInfo {
            id: id.into(),
            title: format!("{id} Security Updates"),
            revision: Revision(revision.to_vec()),
            initial_release: "2020-03-10T07:00:00".into(),
            current_release: current.into(),
        },
        products: vec![DocProduct {
            id: product.clone(),
            name: "Windows 10 Version 1909 for x64-based Systems".into(),
            family: Some("Windows".into()),
        }],
        vulnerabilities: vec![Vulnerability {
            id: "CVE-2020-0796".parse().unwrap(),
            title: format!("SMBv3 ({marker})"),
            severities: vec![(product.clone(), Severity::Critical)],
            vectors: vec![],
            impacts: vec![],
            exploit: None,
            published: None,
            scores: vec![(product.clone(), 10.0)],
            fixes: vec![VendorFix {
                kb: "4551762".parse().unwrap(),
                url: Some(
                    "https://catalog.update.microsoft.com/v7/site/Search.aspx?q=KB4551762".into(),
                ),
                supersedes: vec!["4540673".parse().unwrap()],
                products: vec![product],
                fixed_build: Some("10.0.18363.720".into()),
                sub_type: Some("Security Update".into()),
            }],
        }],
        warnings: vec![],
    }
}

fn marker_of(docs: &[Document], id: &str) -> String {
    let d = docs
        .iter()
        .find(|d| d.info.id == id)
        .unwrap_or_else(|| panic!("document {id} not stored"));
    d.vulnerabilities[0].title.clone()
}

async fn catalog_story(s: &dyn Store) {
    assert!(
        s.catalog_infos().await.unwrap().is_empty(),
        "a fresh store has no documents"
    );
    assert!(s.catalog_documents().await.unwrap().is_empty());
    let g0 = s.catalog_generation().await.unwrap();

    // Inserted, and read back exactly.
    let mar1 = doc("2020-Mar", &[1], "2020-03-10T07:00:00", "mar r1");
    let apr = doc("2020-Apr", &[2], "2020-04-14T07:00:00", "apr r2");
    let out = s
        .import_documents(vec![mar1.clone(), apr.clone()])
        .await
        .unwrap();
    assert_eq!(
        out,
        vec![
            ImportOutcome::Inserted(mar1.info.clone()),
            ImportOutcome::Inserted(apr.info.clone())
        ]
    );
    let g1 = s.catalog_generation().await.unwrap();
    assert!(g1 > g0, "an import that inserts bumps the generation");
    assert_eq!(
        s.catalog_infos().await.unwrap(),
        vec![apr.info.clone(), mar1.info.clone()],
        "infos ordered by id"
    );
    assert_eq!(
        s.catalog_documents().await.unwrap(),
        vec![apr.clone(), mar1.clone()],
        "documents round-trip"
    );

    // Re-importing is idempotent and does not bump the generation.
    let out = s
        .import_documents(vec![mar1.clone(), apr.clone()])
        .await
        .unwrap();
    assert_eq!(
        out,
        vec![
            ImportOutcome::Unchanged(mar1.info.clone()),
            ImportOutcome::Unchanged(apr.info.clone())
        ]
    );
    assert_eq!(
        s.catalog_generation().await.unwrap(),
        g1,
        "nothing changed, same generation"
    );

    // A newer revision replaces; an older one is refused and says so.
    let mar2 = doc("2020-Mar", &[2], "2020-03-12T07:00:00", "mar r2");
    let out = s.import_documents(vec![mar2.clone()]).await.unwrap();
    assert_eq!(
        out,
        vec![ImportOutcome::Replaced {
            old: mar1.info.clone(),
            new: mar2.info.clone()
        }]
    );
    let g2 = s.catalog_generation().await.unwrap();
    assert!(g2 > g1);
    assert_eq!(
        marker_of(&s.catalog_documents().await.unwrap(), "2020-Mar"),
        "SMBv3 (mar r2)"
    );
    let out = s.import_documents(vec![mar1.clone()]).await.unwrap();
    assert_eq!(
        out,
        vec![ImportOutcome::KeptNewer {
            stored: mar2.info.clone(),
            offered: mar1.info.clone()
        }]
    );
    assert_eq!(
        s.catalog_generation().await.unwrap(),
        g2,
        "keeping the newer changes nothing"
    );
    assert_eq!(
        marker_of(&s.catalog_documents().await.unwrap(), "2020-Mar"),
        "SMBv3 (mar r2)"
    );

    // Same revision number: the later current release date wins.
    let mar2_later = doc(
        "2020-Mar",
        &[2, 0],
        "2020-03-20T07:00:00",
        "mar r2 reissued",
    );
    let out = s
        .import_documents(vec![mar2_later.clone(), mar2.clone()])
        .await
        .unwrap();
    assert_eq!(
        out,
        vec![
            ImportOutcome::Replaced {
                old: mar2.info.clone(),
                new: mar2_later.info.clone()
            },
            ImportOutcome::KeptNewer {
                stored: mar2_later.info.clone(),
                offered: mar2.info.clone()
            },
        ],
        "two revisions in one batch act as if imported one after the other"
    );
    assert_eq!(
        marker_of(&s.catalog_documents().await.unwrap(), "2020-Mar"),
        "SMBv3 (mar r2 reissued)"
    );

    // Older then newer in one batch: the newer is what stays.
    let may1 = doc("2020-May", &[1], "2020-05-12T07:00:00", "may r1");
    let may3 = doc("2020-May", &[3], "2020-05-30T07:00:00", "may r3");
    let out = s
        .import_documents(vec![may1.clone(), may3.clone()])
        .await
        .unwrap();
    assert_eq!(
        out,
        vec![
            ImportOutcome::Inserted(may1.info.clone()),
            ImportOutcome::Replaced {
                old: may1.info,
                new: may3.info.clone()
            }
        ]
    );
    assert_eq!(
        marker_of(&s.catalog_documents().await.unwrap(), "2020-May"),
        "SMBv3 (may r3)"
    );

    // A failed batch writes nothing and leaves the generation alone.
    let g = s.catalog_generation().await.unwrap();
    let jun = doc("2020-Jun", &[1], "2020-06-09T07:00:00", "jun");
    let nameless = doc("", &[1], "2020-06-09T07:00:00", "bad");
    let err = s.import_documents(vec![jun, nameless]).await.unwrap_err();
    assert!(
        matches!(err, StoreError::Invalid(_)),
        "a document without id is invalid input: {err}"
    );
    let ids: Vec<String> = s
        .catalog_infos()
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.id)
        .collect();
    assert_eq!(
        ids,
        ["2020-Apr", "2020-Mar", "2020-May"],
        "nothing of the failed batch is stored"
    );
    assert_eq!(s.catalog_generation().await.unwrap(), g);

    // A realistic document round-trips through the payload codec and the database.
    let big = synth::document(synth::DocProfile::BUNDLED_AVERAGE, 3);
    let out = s.import_documents(vec![big.clone()]).await.unwrap();
    assert!(matches!(&out[..], [ImportOutcome::Inserted(_)]));
    let docs = s.catalog_documents().await.unwrap();
    assert_eq!(docs.iter().find(|d| d.info.id == big.info.id), Some(&big));
    assert_eq!(s.catalog_infos().await.unwrap().len(), 4);
}

pub(super) fn windows(name: &str, build: u32) -> Device {
    Device {
        computer_dns_name: name.into(),
        os_name: Some("Microsoft Windows 10 Enterprise".into()),
        os_version: Some(OsVersion {
            major: 10,
            minor: 0,
            build,
        }),
        products: vec!["Windows 10 Version 22H2 for x64-based Systems".into()],
        installed_kbs: ["5034441".parse().unwrap(), "5034122".parse().unwrap()]
            .into_iter()
            .collect(),
        ..Device::default()
    }
}

fn with_id(mut d: Device, id: &MachineId) -> Device {
    d.id = Some(id.clone());
    d
}

async fn machine_story(s: &dyn Store) {
    let generation = s.catalog_generation().await.unwrap();
    assert_eq!(s.machine_count().await.unwrap(), 0);
    assert!(s.machines().await.unwrap().is_empty());
    // Sub-microsecond parts are dropped: what is returned equals what is read back.
    let t1: DateTime<Utc> = DateTime::from_timestamp(1_767_225_600, 123_456_789).unwrap();
    let t2 = t1 + TimeDelta::hours(1);
    let t3 = t2 + TimeDelta::hours(1);

    // By name (id assigned, deterministic) and by id.
    let srv_id: MachineId = "2339ad14a01bd0299afb93dfa2550136057bff96".parse().unwrap();
    let stored = s
        .upsert_machines(
            vec![
                windows("PC-01", 19045),
                with_id(windows("srv-02", 17763), &srv_id),
            ],
            t1,
        )
        .await
        .unwrap();
    assert_eq!(stored.len(), 2);
    let pc_id = derived_id("pc-01");
    assert_eq!(
        stored[0].id, pc_id,
        "an id-less machine gets SHA-1 of its lowercase name"
    );
    assert_eq!(
        stored[0].device.id.as_ref(),
        Some(&pc_id),
        "the stored device carries its id"
    );
    assert_eq!(stored[1].id, srv_id);
    assert_eq!(
        stored[0].first_seen, stored[0].last_seen,
        "a new machine is first and last seen now"
    );
    assert_eq!(
        stored[0].first_seen.timestamp_subsec_nanos(),
        123_456_000,
        "kept to the microsecond"
    );
    assert_eq!(
        s.machine("pc-01").await.unwrap().as_ref(),
        Some(&stored[0]),
        "read back equals returned"
    );
    assert_eq!(
        s.machine(srv_id.as_str()).await.unwrap().as_ref(),
        Some(&stored[1])
    );

    // Reported again, differently spelt: updated, never duplicated; last_seen moves.
    let again = s
        .upsert_machine(windows(" pc-01 ", 22631), t2)
        .await
        .unwrap();
    assert_eq!(again.id, pc_id);
    assert_eq!(again.first_seen, stored[0].first_seen, "first_seen stays");
    assert_eq!(
        again.last_seen,
        crate::machines::store_time(t2),
        "last_seen moves to now"
    );
    assert_eq!(
        again.device.os_version.map(|v| v.build),
        Some(22631),
        "the new report replaces the old"
    );
    assert_eq!(s.machine_count().await.unwrap(), 2);
    assert_eq!(s.machine("PC-01").await.unwrap(), Some(again.clone()));

    // Lookups: id in any case, name in any case; unknowns are None.
    assert!(
        s.machine(&srv_id.as_str().to_uppercase())
            .await
            .unwrap()
            .is_some()
    );
    assert!(s.machine("SRV-02").await.unwrap().is_some());
    assert!(s.machine("nobody").await.unwrap().is_none());
    assert!(s.machine(&"0".repeat(40)).await.unwrap().is_none());
    assert!(s.machine("").await.unwrap().is_none());

    // Renamed by id; an id-less report of the new name finds the same machine.
    s.upsert_machine(with_id(windows("srv-02b", 17763), &srv_id), t2)
        .await
        .unwrap();
    assert!(
        s.machine("srv-02").await.unwrap().is_none(),
        "the old name is free"
    );
    let by_name = s
        .upsert_machine(windows("SRV-02B", 20348), t3)
        .await
        .unwrap();
    assert_eq!(
        by_name.id, srv_id,
        "a name known under an id resolves to that id"
    );
    assert_eq!(s.machine_count().await.unwrap(), 2);

    // The id wins over a name held by another machine, which goes.
    let other = s.upsert_machine(windows("ws-03", 19045), t1).await.unwrap();
    let won = s
        .upsert_machine(with_id(windows("WS-03", 19045), &srv_id), t3)
        .await
        .unwrap();
    assert_eq!(won.id, srv_id);
    assert!(
        s.machine(other.id.as_str()).await.unwrap().is_none(),
        "the displaced machine is gone"
    );
    assert_eq!(
        s.machine("ws-03").await.unwrap().map(|m| m.id),
        Some(srv_id.clone())
    );
    assert_eq!(s.machine_count().await.unwrap(), 2);

    // A new id for a machine known by name: it takes over, keeping first_seen.
    let real_id: MachineId = "1e5bc9d7e413ddd7902c2932e418702b84d0cc07".parse().unwrap();
    let taken = s
        .upsert_machine(with_id(windows("pc-01", 22631), &real_id), t3)
        .await
        .unwrap();
    assert_eq!(taken.first_seen, stored[0].first_seen);
    assert!(s.machine(pc_id.as_str()).await.unwrap().is_none());
    assert_eq!(s.machine_count().await.unwrap(), 2);

    // Duplicates within one batch: one machine, the last report stays.
    let out = s
        .upsert_machines(vec![windows("dup", 19044), windows("DUP", 19045)], t2)
        .await
        .unwrap();
    assert_eq!(out[0].id, out[1].id);
    let dup = s.machine("dup").await.unwrap().unwrap();
    assert_eq!(dup.device.os_version.map(|v| v.build), Some(19045));
    assert_eq!(s.machine_count().await.unwrap(), 3);

    // A failed batch stores nothing.
    let count = s.machine_count().await.unwrap();
    let err = s
        .upsert_machines(vec![windows("fresh", 19045), windows("  ", 19045)], t3)
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Invalid(_)),
        "a report without a name is invalid input: {err}"
    );
    assert!(
        s.machine("fresh").await.unwrap().is_none(),
        "nothing of the failed batch is stored"
    );
    assert_eq!(s.machine_count().await.unwrap(), count);

    // A full inventory round-trips.
    let full = synth::device(100_000);
    let kept = s.upsert_machine(full.clone(), t1).await.unwrap();
    let mut expected = full;
    expected.id = Some(kept.id.clone());
    assert_eq!(
        s.machine(&kept.id.to_string())
            .await
            .unwrap()
            .map(|m| m.device),
        Some(expected)
    );

    // machines(): all, ordered by id.
    let all = s.machines().await.unwrap();
    assert_eq!(all.len() as u64, s.machine_count().await.unwrap());
    assert!(
        all.windows(2).all(|w| w[0].id < w[1].id),
        "machines are ordered by id"
    );
    // each_machine(): the same machines, in the same order, streamed.
    let mut streamed = Vec::new();
    s.each_machine(&mut |m| streamed.push(m)).await.unwrap();
    assert!(all.len() > 1, "the story stores several machines");
    assert_eq!(streamed, all);

    // Delete: gone, and a second delete is NotFound.
    s.delete_machine(&dup.id).await.unwrap();
    assert!(s.machine("dup").await.unwrap().is_none());
    assert!(matches!(
        s.delete_machine(&dup.id).await,
        Err(StoreError::NotFound(_))
    ));

    // A fleet batch: 1,000 new machines, then the same again updates them all.
    let before = s.machine_count().await.unwrap();
    let fleet: Vec<Device> = (0..1000).map(synth::device).collect();
    let first = s.upsert_machines(fleet.clone(), t1).await.unwrap();
    assert_eq!(s.machine_count().await.unwrap(), before + 1000);
    let second = s.upsert_machines(fleet, t2).await.unwrap();
    assert_eq!(
        s.machine_count().await.unwrap(),
        before + 1000,
        "re-reporting a fleet adds nothing"
    );
    assert!(
        first
            .iter()
            .zip(&second)
            .all(|(a, b)| a.id == b.id && a.first_seen == b.first_seen)
    );

    assert_eq!(
        s.catalog_generation().await.unwrap(),
        generation,
        "machines never touch the catalog generation"
    );
    s.health().await.unwrap();
}
