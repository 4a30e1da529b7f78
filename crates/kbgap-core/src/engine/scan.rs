//! Deciding which (vulnerability, product) pairs are open on a machine, and which KBs close them.

use rustc_hash::FxHashMap;

use super::MachineState;
use super::installed::Installed;
use crate::catalog::{Catalog, KbIx, ProductIx};

/// An open (vulnerability, product) pair: the range of the product's fix rows for that
/// vulnerability, every one of them unsatisfied.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pair {
    pub(crate) product: ProductIx,
    pub(crate) start: u32,
    pub(crate) end: u32,
}

/// Everything found while scanning: open pairs and, per missing KB, the pairs it remediates.
pub(crate) struct Scan {
    pub(crate) installed: Installed,
    pub(crate) pairs: Vec<Pair>,
    /// Missing KBs in first-seen order, with the indexes of their open pairs.
    pub(crate) missing: Vec<(KbIx, Vec<u32>)>,
}

impl Scan {
    /// The vulnerability of an open pair.
    pub(crate) fn vuln_of(&self, cat: &Catalog, pair: u32) -> crate::catalog::VulnIx {
        let p = self.pairs[pair as usize];
        cat.fixes_of(p.product)[p.start as usize].vuln
    }
}

/// Every row MSRC gives for the machine's products counts: a vulnerability is open on a product
/// when none of its rows is satisfied, and each KB of those rows is missing.
pub(crate) fn scan(cat: &Catalog, m: &MachineState) -> Scan {
    let installed = Installed::of(cat, m);
    let mut pairs = Vec::new();
    let mut missing: Vec<(KbIx, Vec<u32>)> = Vec::new();
    let mut slot: FxHashMap<KbIx, usize> = FxHashMap::default();
    for &p in &m.products {
        let fixes = cat.fixes_of(p);
        let pbuild = cat.product(p).facts.build;
        let mut i = 0;
        while i < fixes.len() {
            let v = fixes[i].vuln;
            let mut j = i;
            let mut satisfied = false;
            while j < fixes.len() && fixes[j].vuln == v {
                satisfied |= installed.satisfies(cat, &fixes[j], p, pbuild);
                j += 1;
            }
            if !satisfied {
                let pair = pairs.len() as u32;
                pairs.push(Pair {
                    product: p,
                    start: i as u32,
                    end: j as u32,
                });
                for f in &fixes[i..j] {
                    let s = *slot.entry(f.kb).or_insert_with(|| {
                        missing.push((f.kb, Vec::new()));
                        missing.len() - 1
                    });
                    if missing[s].1.last() != Some(&pair) {
                        missing[s].1.push(pair);
                    }
                }
            }
            i = j;
        }
    }
    Scan {
        installed,
        pairs,
        missing,
    }
}
