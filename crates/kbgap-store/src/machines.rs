//! Which stored machine a report updates: the identity rules, decided without I/O so that both
//! backends apply exactly the same ones.
//!
//! A machine is identified by its id when the report carries one, otherwise by its computer
//! name, compared case-insensitively (trimmed and lowercased: the *name key*). A machine first
//! known only by name gets a deterministic id, [`derived_id`], so the same fleet imported into
//! two stores gets the same ids. Names are unique among stored machines; when a report's id
//! names one machine and its name another, the id wins (see [`plan_upsert`]).

use std::collections::HashMap;

use chrono::{DateTime, SubsecRound, Utc};
use kbgap_core::{Device, MachineId};
use sha1::{Digest, Sha1};

use crate::codec::encode_device;
use crate::{StoreError, StoredMachine};

/// Longest accepted computer name: a DNS name is at most 253 characters; this leaves room for
/// odd inventories while keeping the unique index small.
const MAX_NAME_LEN: usize = 1024;

/// The case-insensitive identity of a computer name: trimmed and lowercased.
pub fn name_key(name: &str) -> String {
    name.trim().to_lowercase()
}

/// The id given to a machine reported without one: the SHA-1 of its name key, in hex.
pub fn derived_id(name_key: &str) -> MachineId {
    MachineId::from_bytes(Sha1::digest(name_key.as_bytes()).into())
}

/// Timestamps are kept to the microsecond, PostgreSQL's precision, so what `upsert_machines`
/// returns equals what a later read gives on either backend.
pub fn store_time(t: DateTime<Utc>) -> DateTime<Utc> {
    t.trunc_subsecs(6)
}

/// An id read from a database column, checked.
pub fn stored_id(raw: &str) -> Result<MachineId, StoreError> {
    raw.parse()
        .map_err(|e| StoreError::corrupt(format!("machine {raw:?}"), e))
}

/// How to look a machine up from a user's `id_or_name`: by id when it reads as one (40 hex
/// digits, any case), and by name key otherwise or if no machine has that id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lookup {
    /// The id, when `id_or_name` is 40 hex digits.
    pub id: Option<MachineId>,
    /// The name key.
    pub name_key: String,
}

impl Lookup {
    /// Parses a user's `id_or_name`.
    pub fn parse(id_or_name: &str) -> Self {
        let name_key = name_key(id_or_name);
        Self {
            id: name_key.parse().ok(),
            name_key,
        }
    }
}

/// A stored machine's identity, as [`plan_upsert`] needs it.
#[derive(Debug, Clone)]
pub struct ExistingMachine {
    /// Its id.
    pub id: MachineId,
    /// Its name key.
    pub name_key: String,
    /// When it was first seen.
    pub first_seen: DateTime<Utc>,
}

/// The keys a backend must look up before [`plan_upsert`]: stored machines whose id is in
/// `ids` or whose name key is in `name_keys`.
#[derive(Debug, Clone, Default)]
pub struct LookupKeys {
    /// Report ids and the derived ids of id-less reports.
    pub ids: Vec<String>,
    /// Every report's name key.
    pub name_keys: Vec<String>,
}

/// The keys to look up for a batch of reports.
pub fn lookup_keys(devices: &[Device]) -> LookupKeys {
    let mut keys = LookupKeys::default();
    for d in devices {
        let key = name_key(&d.computer_dns_name);
        let id = d.id.clone().unwrap_or_else(|| derived_id(&key));
        keys.ids.push(id.as_str().to_owned());
        keys.name_keys.push(key);
    }
    for v in [&mut keys.ids, &mut keys.name_keys] {
        v.sort_unstable();
        v.dedup();
    }
    keys
}

/// One machine row to write: insert, or update every column but `first_seen` if the id exists.
#[derive(Debug, Clone)]
pub struct MachineRow {
    /// The machine as it will be stored.
    pub machine: StoredMachine,
    /// Its name key (unique column).
    pub name_key: String,
    /// `machine.device` as JSON.
    pub device_json: String,
    /// Indexed copy of `device.os_name`.
    pub os_name: Option<String>,
    /// Indexed copy of `device.os_version` (`10.0.19045`).
    pub os_version: Option<String>,
}

/// The writes of one upsert batch. Apply `delete` first, then `rows` in order: that order
/// never breaks the uniqueness of name keys along the way.
#[derive(Debug, Clone)]
pub struct UpsertPlan {
    /// Machines displaced by a report whose id won their name.
    pub delete: Vec<MachineId>,
    /// The final state of each written machine, one per id, in order of first write.
    pub rows: Vec<MachineRow>,
    /// What to answer: one stored machine per report, in report order.
    pub stored: Vec<StoredMachine>,
}

/// Decides a batch of reports, in order, against `existing` (the stored machines matching
/// [`lookup_keys`]).
///
/// For each report, with `key` its name key:
/// 1. its id is the report's id; else the id of the machine already named `key`; else
///    [`derived_id`]`(key)`;
/// 2. if another machine holds `key`, the id wins: that machine is deleted (names are unique),
///    and a machine new to the store inherits its `first_seen`, because the same computer name
///    means the same computer until an id says otherwise;
/// 3. the machine with that id is written with the report, `last_seen = now`, and `first_seen`
///    kept (or `now` for a new machine).
///
/// Reports later in the batch see the effect of earlier ones, so a batch is the same as its
/// reports sent one at a time. Fails with [`StoreError::Invalid`], before anything is written,
/// if a report has no computer name.
pub fn plan_upsert(
    devices: Vec<Device>,
    existing: Vec<ExistingMachine>,
    now: DateTime<Utc>,
) -> Result<UpsertPlan, StoreError> {
    let now = store_time(now);
    let mut by_id: HashMap<MachineId, (String, DateTime<Utc>)> =
        HashMap::with_capacity(existing.len());
    let mut by_name: HashMap<String, MachineId> = HashMap::with_capacity(existing.len());
    for m in existing {
        by_name.insert(m.name_key.clone(), m.id.clone());
        by_id.insert(m.id, (m.name_key, m.first_seen));
    }
    let mut rows: Vec<Option<MachineRow>> = Vec::with_capacity(devices.len());
    let mut slot: HashMap<MachineId, usize> = HashMap::with_capacity(devices.len());
    let mut delete: Vec<MachineId> = Vec::new();
    let mut stored = Vec::with_capacity(devices.len());

    for (n, mut device) in devices.into_iter().enumerate() {
        let key = name_key(&device.computer_dns_name);
        if key.is_empty() {
            return Err(StoreError::Invalid(format!(
                "machine report #{} has no computer name",
                n + 1
            )));
        }
        if key.len() > MAX_NAME_LEN {
            return Err(StoreError::Invalid(format!(
                "machine report #{}: computer name longer than {MAX_NAME_LEN} bytes",
                n + 1
            )));
        }
        let id = match (&device.id, by_name.get(&key)) {
            (Some(id), _) | (None, Some(id)) => id.clone(),
            (None, None) => derived_id(&key),
        };

        let mut inherited_first_seen = None;
        if let Some(holder) = by_name.get(&key).filter(|holder| **holder != id).cloned() {
            by_name.remove(&key);
            if let Some((_, first_seen)) = by_id.remove(&holder) {
                inherited_first_seen = Some(first_seen);
            }
            if let Some(i) = slot.remove(&holder) {
                rows[i] = None;
            }
            delete.push(holder);
        }

        let first_seen = match by_id.get(&id) {
            Some((old_key, first_seen)) => {
                if *old_key != key {
                    by_name.remove(old_key);
                }
                *first_seen
            }
            None => inherited_first_seen.unwrap_or(now),
        };
        by_id.insert(id.clone(), (key.clone(), first_seen));
        by_name.insert(key.clone(), id.clone());

        device.id = Some(id.clone());
        let row = MachineRow {
            device_json: encode_device(&device)?,
            os_name: device.os_name.clone(),
            os_version: device.os_version.map(|v| v.to_string()),
            name_key: key,
            machine: StoredMachine {
                id: id.clone(),
                device,
                first_seen,
                last_seen: now,
            },
        };
        stored.push(row.machine.clone());
        match slot.get(&id) {
            Some(&i) => rows[i] = Some(row),
            None => {
                slot.insert(id, rows.len());
                rows.push(Some(row));
            }
        }
    }
    delete.sort_unstable();
    delete.dedup();
    Ok(UpsertPlan {
        delete,
        rows: rows.into_iter().flatten().collect(),
        stored,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device(id: Option<&MachineId>, name: &str) -> Device {
        Device {
            id: id.cloned(),
            computer_dns_name: name.into(),
            ..Device::default()
        }
    }

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + s, 0).unwrap()
    }

    #[test]
    fn derived_ids_are_sha1_of_the_name_key() {
        // echo -n pc-01 | sha1sum
        assert_eq!(
            derived_id(&name_key(" PC-01 ")).as_str(),
            "d7ad76da502726c0cc504deefcbf9b1764f91ae7"
        );
        assert_ne!(derived_id("pc-01"), derived_id("pc-02"));
    }

    #[test]
    fn the_id_wins_and_the_displaced_name_holder_goes() {
        let a = derived_id("a");
        let b = derived_id("b");
        let existing = vec![
            ExistingMachine {
                id: a.clone(),
                name_key: "a".into(),
                first_seen: t(0),
            },
            ExistingMachine {
                id: b.clone(),
                name_key: "b".into(),
                first_seen: t(1),
            },
        ];
        let plan = plan_upsert(vec![device(Some(&a), "B")], existing, t(10)).unwrap();
        assert_eq!(plan.delete, vec![b]);
        assert_eq!(plan.rows.len(), 1);
        assert_eq!(plan.rows[0].name_key, "b");
        assert_eq!(
            plan.stored[0].first_seen,
            t(0),
            "A keeps its own first_seen"
        );
    }

    #[test]
    fn a_new_id_for_a_known_name_inherits_first_seen() {
        let old = derived_id("pc");
        let new = MachineId::from_bytes([7; 20]);
        let existing = vec![ExistingMachine {
            id: old.clone(),
            name_key: "pc".into(),
            first_seen: t(0),
        }];
        let plan = plan_upsert(vec![device(Some(&new), "PC")], existing, t(10)).unwrap();
        assert_eq!(plan.delete, vec![old]);
        assert_eq!(plan.stored[0].id, new);
        assert_eq!(plan.stored[0].first_seen, t(0));
        assert_eq!(plan.stored[0].last_seen, t(10));
    }

    #[test]
    fn a_swap_of_names_within_a_batch_keeps_names_unique() {
        let a = derived_id("x");
        let b = derived_id("y");
        let existing = vec![
            ExistingMachine {
                id: a.clone(),
                name_key: "x".into(),
                first_seen: t(0),
            },
            ExistingMachine {
                id: b.clone(),
                name_key: "y".into(),
                first_seen: t(0),
            },
        ];
        let plan = plan_upsert(
            vec![
                device(Some(&a), "y"),
                device(Some(&b), "x"),
                device(None, "x"),
            ],
            existing,
            t(5),
        )
        .unwrap();
        let names: Vec<_> = plan
            .rows
            .iter()
            .map(|r| (r.machine.id.clone(), r.name_key.clone()))
            .collect();
        assert_eq!(names, vec![(a, "y".into()), (b.clone(), "x".into())]);
        assert_eq!(plan.stored[2].id, b, "an id-less report of x now means b");
    }

    #[test]
    fn reports_without_a_name_are_refused() {
        let err =
            plan_upsert(vec![device(None, "ok"), device(None, "  ")], vec![], t(0)).unwrap_err();
        assert!(matches!(err, StoreError::Invalid(m) if m.contains("#2")));
    }

    #[test]
    fn lookups_read_ids_in_any_case() {
        let l = Lookup::parse("2339AD14A01BD0299AFB93DFA2550136057BFF96");
        assert_eq!(
            l.id.unwrap().as_str(),
            "2339ad14a01bd0299afb93dfa2550136057bff96"
        );
        assert_eq!(
            Lookup::parse(" Host-1 "),
            Lookup {
                id: None,
                name_key: "host-1".into()
            }
        );
    }
}
