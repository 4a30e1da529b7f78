//! The supersedence graph: directed, built over every product and document.
//!
//! MSRC lists `Supercedence` per product, so a chain that crosses Windows versions (KB5094127 →
//! 5087544 → 5082200, where the middle KB is listed only under 21H2) breaks if it is read per
//! product. Here every edge counts for every product, and closures follow edges in one direction
//! only: an installed older KB is never "connected" to a newer fix.

use rustc_hash::{FxHashMap, FxHashSet};

use crate::ids::KbId;

/// Direct edges both ways; closures are computed on demand.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct Graph {
    supersedes: FxHashMap<KbId, Vec<KbId>>,
    superseded_by: FxHashMap<KbId, Vec<KbId>>,
}

impl Graph {
    /// Builds the graph from (newer, older) edges; duplicates and self-loops are dropped.
    pub(crate) fn from_edges(edges: impl IntoIterator<Item = (KbId, KbId)>) -> Self {
        let mut g = Graph::default();
        for (newer, older) in edges {
            if newer == older {
                continue;
            }
            g.supersedes.entry(newer).or_default().push(older);
            g.superseded_by.entry(older).or_default().push(newer);
        }
        for v in g
            .supersedes
            .values_mut()
            .chain(g.superseded_by.values_mut())
        {
            v.sort_unstable();
            v.dedup();
        }
        g
    }

    /// KBs `kb` directly supersedes.
    pub(crate) fn supersedes(&self, kb: KbId) -> &[KbId] {
        self.supersedes.get(&kb).map_or(&[], Vec::as_slice)
    }

    /// Every KB that transitively supersedes `kb`, sorted (cycles in the data are tolerated).
    pub(crate) fn superseded_by_closure(&self, kb: KbId) -> Vec<KbId> {
        Self::closure(kb, &self.superseded_by)
    }

    /// Every KB that `kb` transitively supersedes, sorted.
    pub(crate) fn supersedes_closure(&self, kb: KbId) -> Vec<KbId> {
        Self::closure(kb, &self.supersedes)
    }

    /// Marks into `out` every KB reachable downward (older) from `start`, including `start`.
    pub(crate) fn extend_down(&self, start: KbId, out: &mut FxHashSet<KbId>) {
        if !out.insert(start) {
            return;
        }
        let mut stack = vec![start];
        while let Some(k) = stack.pop() {
            for &older in self.supersedes(k) {
                if out.insert(older) {
                    stack.push(older);
                }
            }
        }
    }

    fn closure(kb: KbId, edges: &FxHashMap<KbId, Vec<KbId>>) -> Vec<KbId> {
        let mut seen = FxHashSet::default();
        let mut stack = vec![kb];
        while let Some(k) = stack.pop() {
            for &next in edges.get(&k).map_or(&[][..], Vec::as_slice) {
                if next != kb && seen.insert(next) {
                    stack.push(next);
                }
            }
        }
        let mut out: Vec<KbId> = seen.into_iter().collect();
        out.sort_unstable();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kb(n: u32) -> KbId {
        KbId::new(n).unwrap()
    }

    #[test]
    fn closures_are_directed_and_transitive() {
        let g = Graph::from_edges([(kb(3), kb(2)), (kb(2), kb(1)), (kb(9), kb(1))]);
        assert_eq!(g.superseded_by_closure(kb(1)), vec![kb(2), kb(3), kb(9)]);
        assert_eq!(g.supersedes_closure(kb(3)), vec![kb(1), kb(2)]);
        assert!(
            g.supersedes_closure(kb(1)).is_empty(),
            "older KBs reach nothing newer"
        );
        assert_eq!(
            g.superseded_by_closure(kb(2)),
            vec![kb(3)],
            "9 supersedes 1 but not 2"
        );
    }

    #[test]
    fn cycles_terminate() {
        let g = Graph::from_edges([(kb(1), kb(2)), (kb(2), kb(1))]);
        assert_eq!(g.superseded_by_closure(kb(1)), vec![kb(2)]);
    }
}
