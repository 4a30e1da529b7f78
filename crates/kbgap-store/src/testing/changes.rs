//! The change-sequence part of the contract: every write to machines moves the counter, a read
//! after a point gives what changed since (latest states and tombstones), a caller's own commit
//! can be left out, a reader from the future gets everything, and the shared signing key is
//! written once. Runs last, on a store that already holds machines, touching only its own.

use chrono::{DateTime, Utc};

use super::story::windows;
use crate::Store;
use crate::changes::Skip;

pub(super) async fn changes_story(s: &dyn Store) {
    let t: DateTime<Utc> = DateTime::from_timestamp(1_767_225_600, 0).unwrap(); // 2026-01-01
    let s0 = s.machine_seq().await.unwrap();
    let commit = s
        .upsert_machines_tracked(vec![windows("seq-a", 19045), windows("seq-b", 22631)], t)
        .await
        .unwrap();
    assert_eq!(commit.before, s0, "nobody else wrote in between");
    assert!(commit.seq > s0, "a commit moves the counter");
    assert_eq!(s.machine_seq().await.unwrap(), commit.seq);
    let [a, b] = [&commit.machines[0], &commit.machines[1]];

    let ch = s.machine_changes(s0, None).await.unwrap();
    assert!(!ch.full && ch.deleted.is_empty());
    assert_eq!(ch.seq, commit.seq);
    let ids: Vec<_> = ch.changed.iter().map(|(_, m)| m.id.clone()).collect();
    assert_eq!(ids.len(), 2, "{ids:?}");
    assert!(ids.contains(&a.id) && ids.contains(&b.id));
    assert!(ch.changed.iter().all(|(n, _)| *n > s0 && *n <= commit.seq));
    let stored_a = ch.changed.iter().find(|(_, m)| m.id == a.id).unwrap();
    assert_eq!(
        &stored_a.1, a,
        "the latest stored state, as the commit gave it"
    );

    let skip = Skip {
        after: commit.before,
        through: commit.seq,
    };
    let ch = s.machine_changes(s0, Some(skip)).await.unwrap();
    assert!(ch.is_empty(), "the caller's own commit is left out: {ch:?}");
    assert_eq!(ch.seq, commit.seq);
    assert!(
        s.machine_changes(commit.seq, None)
            .await
            .unwrap()
            .is_empty()
    );

    // A delete leaves a tombstone; storing the machine again shows it deleted, then changed.
    assert_eq!(
        s.delete_machines(std::slice::from_ref(&a.id))
            .await
            .unwrap(),
        1
    );
    let ch = s.machine_changes(commit.seq, None).await.unwrap();
    assert!(ch.changed.is_empty(), "{ch:?}");
    assert_eq!(ch.deleted.len(), 1);
    assert_eq!(ch.deleted[0].1, a.id);
    let deleted_at = ch.deleted[0].0;
    assert!(deleted_at > commit.seq && ch.seq >= deleted_at);
    s.delete_machine(&b.id).await.unwrap();
    let again = s.upsert_machine(windows("seq-a", 19045), t).await.unwrap();
    let ch = s.machine_changes(commit.seq, None).await.unwrap();
    let deleted: Vec<_> = ch.deleted.iter().map(|(_, id)| id.clone()).collect();
    assert_eq!(
        deleted,
        vec![a.id.clone(), b.id.clone()],
        "in deletion order"
    );
    assert_eq!(ch.changed.len(), 1);
    assert_eq!(ch.changed[0].1, again);
    assert!(
        ch.changed[0].0 > ch.deleted[1].0,
        "stored after its deletion"
    );
    assert_eq!(ch.seq, s.machine_seq().await.unwrap());

    // A reader ahead of the counter (a store restored from a backup) gets everything.
    let ch = s.machine_changes(ch.seq + 1_000, None).await.unwrap();
    assert!(ch.full && ch.deleted.is_empty());
    assert_eq!(ch.changed.len() as u64, s.machine_count().await.unwrap());
    let seqs: Vec<i64> = ch.changed.iter().map(|(n, _)| *n).collect();
    assert!(seqs.is_sorted(), "ordered by change number");

    // The shared signing key: the first offer is kept, later ones get it back.
    assert_eq!(s.shared_signing_key("first").await.unwrap(), "first");
    assert_eq!(s.shared_signing_key("second").await.unwrap(), "first");
}
