//! Which document revision wins: the import rules, decided without I/O so that both backends
//! apply exactly the same ones.

use std::collections::HashMap;

use kbgap_core::{Document, DocumentInfo};

use crate::codec::PAYLOAD_FORMAT;
use crate::{ImportOutcome, StoreError};

/// What a backend has stored under one document id.
#[derive(Debug, Clone)]
pub struct StoredInfo {
    /// The stored revision's identity.
    pub info: DocumentInfo,
    /// The payload format it was written with ([`crate::codec::PAYLOAD_FORMAT`]).
    pub format: i32,
}

/// What importing `offered` does when `stored` is what the store holds under its id.
///
/// - nothing stored → [`ImportOutcome::Inserted`];
/// - the offered revision is newer ([`DocumentInfo::newer_than`]: current release date, then
///   revision number) → [`ImportOutcome::Replaced`];
/// - the stored one is newer → [`ImportOutcome::KeptNewer`];
/// - same revision and release date → [`ImportOutcome::Unchanged`], unless the stored payload
///   was written in an older format, which this build cannot read: then it is
///   [`ImportOutcome::Replaced`] so that re-importing repairs the catalog.
pub fn decide(stored: Option<&StoredInfo>, offered: &DocumentInfo) -> ImportOutcome {
    let Some(stored) = stored else {
        return ImportOutcome::Inserted(offered.clone());
    };
    let (old, new) = (stored.info.clone(), offered.clone());
    if stored.info.newer_than(offered) {
        ImportOutcome::KeptNewer {
            stored: old,
            offered: new,
        }
    } else if offered.newer_than(&stored.info) || stored.format != PAYLOAD_FORMAT {
        ImportOutcome::Replaced { old, new }
    } else {
        ImportOutcome::Unchanged(new)
    }
}

/// The effect of one import batch.
#[derive(Debug)]
pub struct ImportPlan {
    /// One outcome per offered document, in order.
    pub outcomes: Vec<ImportOutcome>,
    /// Which of the offered documents to write (insert or replace by id), as indices into the
    /// batch: the last winning revision of each id, once per id, in order of first write.
    pub writes: Vec<usize>,
}

impl ImportPlan {
    /// Whether the batch changes the catalog (and so bumps its generation).
    pub fn changes_anything(&self) -> bool {
        !self.writes.is_empty()
    }
}

/// The ids a backend must look up before [`plan_import`].
pub fn ids_of(docs: &[Document]) -> Vec<String> {
    let mut ids: Vec<String> = docs.iter().map(|d| d.info.id.clone()).collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// Decides a whole batch, in order, as if each document were imported after the previous one:
/// `stored` holds what the store has under the batch's ids.
///
/// Fails with [`StoreError::Invalid`], before anything is written, if a document has no id.
pub fn plan_import(
    mut stored: HashMap<String, StoredInfo>,
    docs: &[Document],
) -> Result<ImportPlan, StoreError> {
    let mut outcomes = Vec::with_capacity(docs.len());
    let mut writes: Vec<usize> = Vec::new();
    let mut write_slot: HashMap<&str, usize> = HashMap::new();
    for (n, doc) in docs.iter().enumerate() {
        let id = doc.info.id.as_str();
        if id.trim().is_empty() || id.trim() != id {
            return Err(StoreError::Invalid(format!(
                "document #{} ({:?}) has an empty or padded id",
                n + 1,
                doc.info.title
            )));
        }
        let outcome = decide(stored.get(id), &doc.info);
        if outcome.changed() {
            stored.insert(
                id.to_owned(),
                StoredInfo {
                    info: doc.info.clone(),
                    format: PAYLOAD_FORMAT,
                },
            );
            match write_slot.get(id) {
                Some(&slot) => writes[slot] = n,
                None => {
                    write_slot.insert(id, writes.len());
                    writes.push(n);
                }
            }
        }
        outcomes.push(outcome);
    }
    Ok(ImportPlan { outcomes, writes })
}

#[cfg(test)]
mod tests {
    use super::*;
    use kbgap_core::Revision;

    fn info(rev: &[u32], current: &str) -> DocumentInfo {
        DocumentInfo {
            id: "2020-Mar".into(),
            title: "March 2020 Security Updates".into(),
            revision: Revision(rev.to_vec()),
            initial_release: "2020-03-10T07:00:00".into(),
            current_release: current.into(),
        }
    }

    fn stored(i: DocumentInfo) -> StoredInfo {
        StoredInfo {
            info: i,
            format: PAYLOAD_FORMAT,
        }
    }

    #[test]
    fn release_date_then_revision_decide() {
        let r1 = info(&[1], "2020-03-10T07:00:00");
        let r2 = info(&[2], "2020-03-10T07:00:00");
        // A higher revision number with an older release date: MSRC renumbers across years.
        let r7_older_date = info(&[7], "2020-03-01T00:00:00");
        let r2_later = info(&[2], "2020-04-01T00:00:00");
        assert!(matches!(decide(None, &r1), ImportOutcome::Inserted(_)));
        assert!(matches!(
            decide(Some(&stored(r1.clone())), &r2),
            ImportOutcome::Replaced { .. }
        ));
        assert!(matches!(
            decide(Some(&stored(r2.clone())), &r1),
            ImportOutcome::KeptNewer { .. }
        ));
        assert!(matches!(
            decide(Some(&stored(r2.clone())), &r2),
            ImportOutcome::Unchanged(_)
        ));
        assert!(matches!(
            decide(Some(&stored(r1.clone())), &r7_older_date),
            ImportOutcome::KeptNewer { .. }
        ));
        assert!(matches!(
            decide(Some(&stored(r7_older_date)), &r1),
            ImportOutcome::Replaced { .. }
        ));
        assert!(matches!(
            decide(Some(&stored(r2.clone())), &r2_later),
            ImportOutcome::Replaced { .. }
        ));
        assert!(matches!(
            decide(Some(&stored(r2_later)), &r2),
            ImportOutcome::KeptNewer { .. }
        ));
        let stale = StoredInfo {
            info: r1.clone(),
            format: PAYLOAD_FORMAT - 1,
        };
        assert!(matches!(
            decide(Some(&stale), &r1),
            ImportOutcome::Replaced { .. }
        ));
    }
}
