//! The machine lifecycle part of the contract: deleting a list of machines all or nothing, and
//! purging the ones not seen since a time. Runs after the machine story, on a store that already
//! holds machines, so it only ever touches machines it stored itself (all seen in 2020, years
//! before any other machine of the story).

use chrono::{DateTime, TimeDelta, Utc};
use kbgap_core::MachineId;

use super::story::windows;
use crate::lifecycle::{Activity, activity, inactive_before};
use crate::{Store, StoreError};

pub(super) async fn lifecycle_story(s: &dyn Store) {
    let t0: DateTime<Utc> = DateTime::from_timestamp(1_577_836_800, 250_000).unwrap(); // 2020-01-01
    let hour = TimeDelta::hours(1);
    let old1 = s.upsert_machine(windows("old-1", 19045), t0).await.unwrap();
    let old2 = s
        .upsert_machine(windows("old-2", 19045), t0 + hour)
        .await
        .unwrap();
    let recent_at = t0 + TimeDelta::days(40);
    let recent = s
        .upsert_machine(windows("recent", 22631), recent_at)
        .await
        .unwrap();
    let count = s.machine_count().await.unwrap();

    // Delete: an empty list is a no-op; one unknown id deletes nothing and is named.
    assert_eq!(s.delete_machines(&[]).await.unwrap(), 0);
    let unknown: MachineId = "f".repeat(40).parse().unwrap();
    let err = s
        .delete_machines(&[old1.id.clone(), unknown.clone()])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err}");
    let text = err.to_string();
    assert!(
        text.contains(unknown.as_str()),
        "names the unknown id: {text}"
    );
    assert!(!text.contains(old1.id.as_str()), "only the unknown: {text}");
    assert!(
        s.machine(old1.id.as_str()).await.unwrap().is_some(),
        "all or nothing: the known machine stays"
    );
    assert_eq!(s.machine_count().await.unwrap(), count);

    // The same id twice is one machine deleted.
    let n = s
        .delete_machines(&[recent.id.clone(), recent.id.clone()])
        .await
        .unwrap();
    assert_eq!(n, 1);
    assert!(s.machine("recent").await.unwrap().is_none());
    let recent = s
        .upsert_machine(windows("recent", 22631), recent_at)
        .await
        .unwrap();

    // Purge: strictly older than the cut-off, nothing else, ids back ordered.
    assert!(s.purge_machines(t0 - hour).await.unwrap().is_empty());
    assert_eq!(
        s.purge_machines(t0 + hour).await.unwrap(),
        vec![old1.id.clone()],
        "old-2, seen exactly at the cut-off, stays"
    );
    assert!(s.machine("old-1").await.unwrap().is_none());
    assert!(s.machine("old-2").await.unwrap().is_some());

    // With Defender's cut-off, the purge takes exactly the inactive machines.
    let now = recent_at + TimeDelta::days(1);
    assert_eq!(activity(old2.last_seen, now), Activity::Inactive);
    assert_eq!(activity(recent.last_seen, now), Activity::Active);
    assert_eq!(
        s.purge_machines(inactive_before(now)).await.unwrap(),
        vec![old2.id.clone()]
    );
    assert_eq!(s.machine_count().await.unwrap(), count - 2);
    assert!(s.machine("recent").await.unwrap().is_some());

    // Leave the store as the story found it.
    assert_eq!(s.delete_machines(&[recent.id]).await.unwrap(), 1);
    assert_eq!(s.machine_count().await.unwrap(), count - 3);
}
