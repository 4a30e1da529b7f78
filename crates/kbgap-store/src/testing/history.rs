//! The fleet history part of the contract: one snapshot per UTC day, the latest recording of a
//! day wins whatever order the writes come in, ranges are inclusive and ordered. Also that a
//! machine's tags are stored with it and come back.

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};

use super::story::windows;
use crate::{ExposureCounts, FleetSnapshot, Store};

fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
}

fn snapshot(d: u32, at: DateTime<Utc>, active: u64) -> FleetSnapshot {
    FleetSnapshot {
        day: day(d),
        recorded_at: at,
        assessed: active + 3,
        active,
        missing_any: active / 2,
        missing_exploited: active / 4,
        exposure: ExposureCounts {
            none: 1,
            low: 2,
            medium: 3,
            high: active.saturating_sub(6),
        },
        on_newest_update: active / 3,
    }
}

pub(super) async fn history_story(s: &dyn Store) {
    assert!(
        s.fleet_snapshots(day(1), day(30)).await.unwrap().is_empty(),
        "no snapshots on a fresh store"
    );
    // Sub-microsecond parts are dropped by both backends; these have none.
    let t = DateTime::from_timestamp(1_795_000_000, 250_000_000).unwrap();
    let first = snapshot(2, t, 100);
    assert!(s.put_fleet_snapshot(&first).await.unwrap());
    assert_eq!(
        s.fleet_snapshots(day(2), day(2)).await.unwrap(),
        std::slice::from_ref(&first)
    );

    // The same day again, recorded later: replaced (idempotent per day, latest wins).
    let later = snapshot(2, t + TimeDelta::hours(5), 120);
    assert!(s.put_fleet_snapshot(&later).await.unwrap());
    assert!(
        s.put_fleet_snapshot(&later).await.unwrap(),
        "re-recording is harmless"
    );
    // An older recording of that day arriving late (another server) changes nothing.
    let stale = snapshot(2, t + TimeDelta::hours(1), 90);
    assert!(!s.put_fleet_snapshot(&stale).await.unwrap());
    assert_eq!(
        s.fleet_snapshots(day(1), day(3)).await.unwrap(),
        std::slice::from_ref(&later)
    );

    // Other days, stored out of order, come back oldest first; both ends are included.
    let d5 = snapshot(5, t + TimeDelta::days(3), 130);
    let d3 = snapshot(3, t + TimeDelta::days(1), 125);
    let d9 = snapshot(9, t + TimeDelta::days(7), u64::from(u32::MAX) * 4);
    for snap in [&d5, &d3, &d9] {
        assert!(s.put_fleet_snapshot(snap).await.unwrap());
    }
    assert_eq!(
        s.fleet_snapshots(day(2), day(5)).await.unwrap(),
        [later.clone(), d3.clone(), d5.clone()]
    );
    assert_eq!(s.fleet_snapshots(day(4), day(30)).await.unwrap(), [d5, d9]);
    assert!(s.fleet_snapshots(day(6), day(8)).await.unwrap().is_empty());
    assert!(
        s.fleet_snapshots(day(5), day(2)).await.unwrap().is_empty(),
        "a reversed range is empty"
    );
    // A count no fleet reaches is refused naming the field, and nothing is stored.
    let mut huge = snapshot(20, t, 1);
    huge.missing_any = u64::MAX;
    let e = s.put_fleet_snapshot(&huge).await.unwrap_err().to_string();
    assert!(e.contains("missing_any"), "{e}");
    assert!(
        s.fleet_snapshots(day(20), day(20))
            .await
            .unwrap()
            .is_empty()
    );
}

/// Tags ride with the stored machine: stored, read back by id and in the list, replaced by
/// the next report's.
pub(super) async fn tags_story(s: &dyn Store) {
    let now = DateTime::from_timestamp(1_795_000_000, 0).unwrap();
    let mut d = windows("tagged-1", 19045);
    d.machine_tags = vec!["site:Berlin".into(), "Finance".into()];
    let stored = s.upsert_machine(d.clone(), now).await.unwrap();
    assert_eq!(stored.device.machine_tags, d.machine_tags);
    let read = s.machine("TAGGED-1").await.unwrap().unwrap();
    assert_eq!(read.device.machine_tags, ["site:Berlin", "Finance"]);
    let listed = s.machines().await.unwrap();
    let m = listed.iter().find(|m| m.id == stored.id).unwrap();
    assert_eq!(m.device.machine_tags, d.machine_tags);
    d.machine_tags = vec!["hr".into()];
    s.upsert_machine(d, now + TimeDelta::hours(1))
        .await
        .unwrap();
    let read = s.machine(stored.id.as_str()).await.unwrap().unwrap();
    assert_eq!(read.device.machine_tags, ["hr"], "the latest report's tags");
    s.delete_machine(&stored.id).await.unwrap();
}
