//! The frontier: of all missing KBs, the ones to install.
//!
//! A missing KB is left out when another missing KB does all its work: installing the other closes
//! every open pair the first one would close. Supersedence gives this directly (the newer KB
//! satisfies the older), a newer cumulative update on the machine's branch gives it through the
//! FixedBuild, and a monthly rollup gives it over a security-only update of an older month. What
//! remains is one cumulative update per branch plus independent updates (.NET, standalone fixes).

use rustc_hash::FxHashSet;

use super::bits::Bits;
use super::scan::Scan;
use crate::catalog::{Catalog, KbIx, ProductIx, VulnIx};
use crate::ids::KbId;

/// A chosen KB and what installing it does.
pub(crate) struct Chosen {
    pub(crate) kb: KbIx,
    /// Open vulnerabilities it closes, sorted.
    pub(crate) closes: Vec<VulnIx>,
    /// The products those vulnerabilities are open on, sorted: a cumulative update closes
    /// EdgeHTML's pairs through the older updates it contains, without rows of its own there.
    pub(crate) closes_on: Vec<ProductIx>,
    /// Missing KBs it makes unnecessary, sorted.
    pub(crate) replaced: Vec<KbId>,
}

/// What installing one KB would do.
struct Install {
    kb: KbIx,
    /// Open pairs it closes.
    closes: Bits,
}

/// Every missing KB (`--all`), each with what it closes.
pub(crate) fn everything(cat: &Catalog, scan: &Scan) -> Vec<Chosen> {
    let all: Vec<KbIx> = scan.missing.iter().map(|(k, _)| *k).collect();
    let installs: Vec<Install> = all.iter().map(|&k| simulate(cat, scan, k)).collect();
    installs.iter().map(|i| chosen(cat, scan, i)).collect()
}

/// The frontier.
pub(crate) fn frontier(cat: &Catalog, scan: &Scan) -> Vec<Chosen> {
    let candidates = prune_superseded(cat, scan);
    let installs: Vec<Install> = candidates.iter().map(|&k| simulate(cat, scan, k)).collect();
    let mut keep = vec![true; installs.len()];
    for (i, a) in installs.iter().enumerate() {
        for (j, b) in installs.iter().enumerate() {
            if i != j && keep[j] && covered(&a.closes, &b.closes, scan.pairs.len()) {
                let equal = covered(&b.closes, &a.closes, scan.pairs.len());
                if !equal || preferred(cat, b.kb, a.kb) {
                    keep[i] = false;
                    break;
                }
            }
        }
    }
    installs
        .iter()
        .zip(keep)
        .filter(|(_, k)| *k)
        .map(|(i, _)| chosen(cat, scan, i))
        .collect()
}

/// Drops missing KBs that another missing KB supersedes (directly or transitively), and
/// cumulative updates older than the newest missing one on the machine's branch.
fn prune_superseded(cat: &Catalog, scan: &Scan) -> Vec<KbIx> {
    let missing: Vec<KbIx> = scan.missing.iter().map(|(k, _)| *k).collect();
    let mut is_missing = Bits::new(cat.kbs().len());
    for &k in &missing {
        is_missing.set(k);
    }
    let newest_cu = missing
        .iter()
        .filter_map(|&k| scan.installed.cumulative(cat, k))
        .max();
    let mut dominated = Bits::new(cat.kbs().len());
    for &k in &missing {
        if let Some(top) = newest_cu
            && scan.installed.cumulative(cat, k).is_some_and(|r| r < top)
        {
            dominated.set(k);
        }
        // Missing KBs are absent, and so is every KB on a path down to one (present is closed
        // downward), so the walk below `k` may stop at present KBs.
        let mut down = FxHashSet::default();
        scan.installed.absent_below(cat, cat.kb(k).id, &mut down);
        for id in down {
            let Some(x) = cat.kb_ix(id) else { continue };
            if x != k && is_missing.get(x) {
                // A supersedence cycle in the data: keep the preferred one of the two.
                let mut back = FxHashSet::default();
                cat.graph().extend_down(id, &mut back);
                if !back.contains(&cat.kb(k).id) || preferred(cat, k, x) {
                    dominated.set(x);
                }
            }
        }
    }
    missing.into_iter().filter(|&k| !dominated.get(k)).collect()
}

/// What installing `kb` would close: it and everything it supersedes become present, and the
/// effective UBR rises to the newest cumulative update among them (and with it every cumulative
/// update up to that revision is present). Starts from what is present now, which only grows.
fn simulate(cat: &Catalog, scan: &Scan, kb: KbIx) -> Install {
    let before = &scan.installed;
    let mut ids = FxHashSet::default();
    before.absent_below(cat, cat.kb(kb).id, &mut ids);
    // Present KBs are at or below the effective UBR already: only new ones can raise it.
    let mut ubr = before.effective_ubr;
    for &id in &ids {
        if let Some(rev) = cat.kb_ix(id).and_then(|ix| before.cumulative(cat, ix)) {
            ubr = Some(ubr.map_or(rev, |u| u.max(rev)));
        }
    }
    if let Some(new) = ubr.filter(|&u| Some(u) != before.effective_ubr) {
        let old = before.effective_ubr;
        for &os in &before.os {
            for (rev, cu) in before.raising(cat, os) {
                if rev <= new && old.is_none_or(|o| rev > o) {
                    before.absent_below(cat, cat.kb(cu).id, &mut ids);
                }
            }
        }
    }
    let mut after = before.clone();
    after.effective_ubr = ubr;
    for id in ids {
        if let Some(ix) = cat.kb_ix(id) {
            after.present.set(ix);
        }
    }
    after.level = after.level_of(cat);
    let mut closes = Bits::new(scan.pairs.len());
    for (i, p) in scan.pairs.iter().enumerate() {
        let fixes = &cat.fixes_of(p.product)[p.start as usize..p.end as usize];
        let pbuild = cat.product(p.product).facts.build;
        if fixes
            .iter()
            .any(|f| after.satisfies(cat, f, p.product, pbuild))
        {
            closes.set(i as u32);
        }
    }
    Install { kb, closes }
}

/// Whether every pair set in `a` is also set in `b`.
fn covered(a: &Bits, b: &Bits, len: usize) -> bool {
    (0..len as u32).all(|i| !a.get(i) || b.get(i))
}

/// Between two KBs doing the same work, prefer the newer release, then the higher number.
fn preferred(cat: &Catalog, a: KbIx, b: KbIx) -> bool {
    let (ka, kb) = (cat.kb(a), cat.kb(b));
    (&ka.release_date, ka.id) > (&kb.release_date, kb.id)
}

fn chosen(cat: &Catalog, scan: &Scan, install: &Install) -> Chosen {
    let closed = || (0..scan.pairs.len() as u32).filter(|&i| install.closes.get(i));
    let mut vulns: Vec<VulnIx> = closed().map(|i| scan.vuln_of(cat, i)).collect();
    vulns.sort_unstable();
    vulns.dedup();
    let mut on: Vec<ProductIx> = closed().map(|i| scan.pairs[i as usize].product).collect();
    on.sort_unstable();
    on.dedup();
    let mut replaced: Vec<KbId> = scan
        .missing
        .iter()
        .filter(|(k, pairs)| *k != install.kb && pairs.iter().all(|&p| install.closes.get(p)))
        .map(|(k, _)| cat.kb(*k).id)
        .collect();
    replaced.sort_unstable();
    Chosen {
        kb: install.kb,
        closes: vulns,
        closes_on: on,
        replaced,
    }
}
