//! Deciding which (vulnerability, product) pairs are open on a machine, and which KBs are missing.

use rustc_hash::{FxHashMap, FxHashSet};

use super::bits::Bits;
use super::{Evaluation, MachineState, MissingKb, Options, Reason, frontier};
use crate::catalog::{Catalog, Fix, KbIx, ProductIx, VulnIx};
use crate::ids::KbId;

/// An open (vulnerability, product) pair: the range of the product's fix rows for that
/// vulnerability, every one of them unsatisfied.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pair {
    pub(crate) product: ProductIx,
    pub(crate) start: u32,
    pub(crate) end: u32,
}

/// What the machine has, in the form the checks need.
pub(crate) struct Installed {
    /// KBs satisfied by presence: installed, or transitively superseded by an installed KB.
    pub(crate) present: Bits,
    /// The effective UBR.
    pub(crate) effective_ubr: Option<u32>,
    /// The machine's build number, when known.
    pub(crate) build: Option<u32>,
    /// The machine's OS products on its own build: where cumulative revisions are read.
    pub(crate) os: Vec<ProductIx>,
}

impl Installed {
    /// Marks present every cumulative update at or below the effective UBR (a machine at that
    /// revision has them, whatever its KB list says) and everything they transitively supersede,
    /// which reaches the older updates that carry no FixedBuild. Newest first: the newest
    /// update's closure usually holds all older ones, which are then skipped.
    fn mark_cumulative_present(&mut self, cat: &Catalog) {
        let Some(ubr) = self.effective_ubr else {
            return;
        };
        for &os in &self.os {
            for &(rev, kb) in cat.cumulative_of(os).iter().rev() {
                // `present` is closed downward, so a present KB's closure is in it already.
                if rev <= ubr && !self.present.get(kb) {
                    self.present.union(cat.down_bits(kb));
                }
            }
        }
    }

    /// Marks into `out` the KBs reachable downward (older) from `start`, `start` included, that
    /// are not present. `present` is closed downward (whatever a present KB supersedes is
    /// present too), so the walk stops at the first present KB: installing one more update
    /// costs its new part, not the years of history below it.
    pub(crate) fn absent_below(&self, cat: &Catalog, start: KbId, out: &mut FxHashSet<KbId>) {
        let present = |k: KbId| cat.kb_ix(k).is_some_and(|ix| self.present.get(ix));
        if present(start) || !out.insert(start) {
            return;
        }
        let mut stack = vec![start];
        while let Some(k) = stack.pop() {
            for &older in cat.graph().supersedes(k) {
                if !present(older) && out.insert(older) {
                    stack.push(older);
                }
            }
        }
    }

    /// The revision `kb` brings the machine to, when it is a cumulative update of its OS.
    pub(crate) fn cumulative(&self, cat: &Catalog, kb: KbIx) -> Option<u32> {
        self.os
            .iter()
            .filter_map(|&p| cat.cumulative_revision(kb, p))
            .max()
    }

    /// Whether a fix row is satisfied on a product whose own build is `product_build`.
    #[inline]
    pub(crate) fn satisfies(&self, fix: &Fix, product_build: Option<u32>) -> bool {
        if self.present.get(fix.kb) {
            return true;
        }
        match (self.effective_ubr, fix.native_revision) {
            (Some(ubr), Some(rev)) => {
                self.build.is_some() && product_build == self.build && ubr >= rev.get()
            }
            _ => false,
        }
    }
}

/// Everything found while scanning: open pairs and, per missing KB, the pairs it remediates.
pub(crate) struct Scan {
    pub(crate) installed: Installed,
    pub(crate) pairs: Vec<Pair>,
    /// Missing KBs in first-seen order, with the indexes of their open pairs.
    pub(crate) missing: Vec<(KbIx, Vec<u32>)>,
}

/// Evaluates one machine: its missing KBs (the frontier unless `opts.all`), with their CVEs.
pub fn evaluate(cat: &Catalog, m: &MachineState, opts: Options) -> Evaluation {
    let scan = scan(cat, m);
    let mut open: Vec<VulnIx> = scan
        .pairs
        .iter()
        .map(|p| cat.applicable_fixes(p.product)[p.start as usize].vuln)
        .collect();
    open.sort_unstable();
    open.dedup();
    let chosen = if opts.all {
        frontier::everything(cat, m, &scan)
    } else {
        frontier::frontier(cat, m, &scan)
    };
    let mut missing: Vec<MissingKb> = chosen
        .into_iter()
        .map(|(kb, closes, replaced)| describe(cat, m, &scan, kb, closes, replaced))
        .collect();
    missing.sort_by(|a, b| {
        let (ka, kb) = (cat.kb(a.kb), cat.kb(b.kb));
        kb.release_date
            .cmp(&ka.release_date)
            .then(ka.id.cmp(&kb.id))
    });
    Evaluation {
        effective_ubr: scan.installed.effective_ubr,
        missing,
        open,
    }
}

/// The machine's installed state: presence closure and effective UBR.
pub(crate) fn installed_state(cat: &Catalog, m: &MachineState) -> Installed {
    let build = m.branch.map(|b| b.build);
    let os: Vec<ProductIx> = m
        .os_products
        .iter()
        .copied()
        .filter(|&p| build.is_some() && cat.product(p).facts.build == build)
        .collect();
    let mut installed = Installed {
        present: Bits::new(cat.kbs().len()),
        effective_ubr: m.ubr,
        build,
        os,
    };
    // Installed KBs and everything they supersede, newest number first so that an older KB
    // already covered by a newer one's closure is skipped.
    for &k in m.installed.iter().rev() {
        match cat.kb_ix(k) {
            Some(ix) if installed.present.get(ix) => {}
            Some(ix) => installed.present.union(cat.down_bits(ix)),
            None => {
                // Not a Vendor Fix here, but it may supersede some: the walk reaches every
                // catalog KB below it.
                let mut down = FxHashSet::default();
                cat.graph().extend_down(k, &mut down);
                for ix in down.into_iter().filter_map(|id| cat.kb_ix(id)) {
                    installed.present.set(ix);
                }
            }
        }
    }
    installed.effective_ubr = (installed.os.iter())
        .filter_map(|&os| {
            (cat.cumulative_of(os).iter().rev())
                .find(|&&(_, kb)| installed.present.get(kb))
                .map(|&(rev, _)| rev)
        })
        .chain(m.ubr)
        .max();
    installed.mark_cumulative_present(cat);
    installed
}

pub(crate) fn scan(cat: &Catalog, m: &MachineState) -> Scan {
    let installed = installed_state(cat, m);
    let mut pairs = Vec::new();
    let mut missing: Vec<(KbIx, Vec<u32>)> = Vec::new();
    let mut slot: FxHashMap<KbIx, usize> = FxHashMap::default();
    for &p in &m.products {
        let fixes = cat.applicable_fixes(p);
        let pbuild = cat.product(p).facts.build;
        let mut i = 0;
        while i < fixes.len() {
            let v = fixes[i].vuln;
            let mut j = i;
            let mut satisfied = false;
            while j < fixes.len() && fixes[j].vuln == v {
                satisfied |= installed.satisfies(&fixes[j], pbuild);
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

/// Fills in what the API reports for one missing KB.
fn describe(
    cat: &Catalog,
    m: &MachineState,
    scan: &Scan,
    kb: KbIx,
    closes: Vec<VulnIx>,
    replaced: Vec<KbId>,
) -> MissingKb {
    let entry = cat.kb(kb);
    let mut products = Vec::new();
    let mut fixes = Vec::new();
    let mut max_severity = None;
    let mut max_open_severity = None;
    let mut fixed_rev: Option<u32> = None;
    for kp in &entry.products {
        if m.products.binary_search(&kp.product).is_err() {
            continue;
        }
        products.push(kp.product);
        let pbuild = cat.product(kp.product).facts.build;
        if pbuild.is_some() && pbuild == scan.installed.build {
            fixed_rev = fixed_rev.max(kp.native_revision);
        }
        for f in cat.kb_fixes(kb, kp.product) {
            fixes.push(f.vuln);
            max_severity = max_severity.max(f.severity);
            if closes.binary_search(&f.vuln).is_ok() {
                max_open_severity = max_open_severity.max(f.severity);
            }
        }
    }
    fixes.sort_unstable();
    fixes.dedup();
    let reason = match (m.branch, scan.installed.effective_ubr, fixed_rev) {
        (Some(branch), Some(ubr), Some(rev)) if ubr < rev => Reason::BelowFixedBuild {
            machine: branch.at(ubr),
            fixed: branch.at(rev),
        },
        _ => Reason::NotInstalled,
    };
    let os_build = products
        .iter()
        .any(|p| m.os_products.binary_search(p).is_ok())
        .then(|| m.branch.map(|b| b.build))
        .flatten();
    MissingKb {
        kb,
        products,
        fixes,
        closes,
        supersedes_missing: replaced,
        reason,
        max_severity: max_open_severity.or(max_severity),
        os_build,
    }
}
