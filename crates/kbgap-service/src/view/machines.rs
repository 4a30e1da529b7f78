//! The view's stored machines, by id.

use std::sync::Arc;

use kbgap_store::StoredMachine;

/// The packed id a machine is kept under ([`kbgap_core::MachineId::to_bytes`]).
type Key = [u8; 20];

/// Stored machines by id: ordered, so listings page deterministically (by the lowercase hex
/// id, which sorts as the bytes it spells), and persistent, so every snapshot shares the
/// machines it did not change. Keys are the ids' 20 bytes, inline: a change copies one path of
/// nodes for every report, and a node's keys are then copied as bytes, not allocated and freed
/// one string each.
#[derive(Clone, Default)]
pub struct Machines(imbl::OrdMap<Key, Arc<StoredMachine>>);

/// A changed entry between two [`Machines`] (old, new).
pub(crate) type Diff<'a, 'b> = imbl::ordmap::DiffItem<'a, 'b, Key, Arc<StoredMachine>>;

impl Machines {
    /// The machine with this id, in any case; `None` for an unknown id or one that is not 40
    /// hexadecimal characters.
    pub fn get(&self, id: &str) -> Option<&Arc<StoredMachine>> {
        self.0.get(&key(id)?)
    }

    /// The machine kept under this packed id (the name index holds ids packed).
    pub(crate) fn get_packed(&self, id: &Key) -> Option<&Arc<StoredMachine>> {
        self.0.get(id)
    }

    /// Whether a machine with this id (any case) is held.
    pub fn contains_key(&self, id: &str) -> bool {
        self.get(id).is_some()
    }

    /// Each machine with its id, in id order.
    pub fn iter(
        &self,
    ) -> impl DoubleEndedIterator<Item = (&str, &Arc<StoredMachine>)> + ExactSizeIterator {
        self.0.values().map(|m| (m.id.as_str(), m))
    }

    /// The ids, in order.
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &str> + ExactSizeIterator {
        self.0.values().map(|m| m.id.as_str())
    }

    /// The machines, in id order.
    pub fn values(
        &self,
    ) -> impl DoubleEndedIterator<Item = &Arc<StoredMachine>> + ExactSizeIterator {
        self.0.values()
    }

    /// How many machines are held.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether no machine is held.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Keeps `machine` under its id; gives back the one it replaces.
    pub(crate) fn insert(&mut self, machine: Arc<StoredMachine>) -> Option<Arc<StoredMachine>> {
        self.0.insert(machine.id.to_bytes(), machine)
    }

    /// Forgets the machine with this id (any case); gives it back.
    pub(crate) fn remove(&mut self, id: &str) -> Option<Arc<StoredMachine>> {
        self.0.remove(&key(id)?)
    }

    /// What changed from `self` to `newer`, in id order.
    pub(crate) fn diff<'a, 'b>(&'a self, newer: &'b Self) -> impl Iterator<Item = Diff<'a, 'b>> {
        self.0.diff(&newer.0)
    }
}

/// The key of an id given as text (any case).
fn key(id: &str) -> Option<Key> {
    let mut bytes = [0u8; 20];
    hex::decode_to_slice(id, &mut bytes).ok()?;
    Some(bytes)
}

#[cfg(test)]
mod tests {
    use kbgap_core::MachineId;

    use super::*;

    #[test]
    fn packed_keys_sort_like_the_hex_ids() {
        let ids = ["00ff", "0a00", "a000", "ff00", "0f0f"].map(|p| format!("{p:0<40}"));
        let mut by_text = ids.to_vec();
        by_text.sort();
        let mut by_key: Vec<(Key, &String)> = ids.iter().map(|i| (key(i).unwrap(), i)).collect();
        by_key.sort();
        let by_key: Vec<String> = by_key.into_iter().map(|(_, i)| i.clone()).collect();
        assert_eq!(by_key, by_text);
    }

    #[test]
    fn ids_are_found_in_any_case_and_malformed_ones_never() {
        let lower = format!("{:a<40}", "0b");
        assert_eq!(key(&lower), key(&lower.to_ascii_uppercase()));
        assert!(key(&lower).is_some());
        assert_eq!(key(&lower[..38]), None);
        assert_eq!(key(&format!("{:g<40}", "")), None);
        assert_eq!(key(&format!("{lower}00")), None);
    }

    #[test]
    fn the_id_of_every_stored_machine_packs() {
        let id: MachineId = format!("{:c<40}", "").parse().unwrap();
        assert_eq!(key(id.as_str()), Some(id.to_bytes()));
    }
}
