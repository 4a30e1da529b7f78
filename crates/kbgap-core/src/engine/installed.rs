//! What a machine has: the KBs present (installed, contained in an installed update, or at or
//! below its build) and how far its servicing level reaches.

use rustc_hash::FxHashSet;

use super::MachineState;
use super::bits::Bits;
use crate::build::Build;
use crate::catalog::{Catalog, Fix, KbIx, ProductIx};
use crate::ids::KbId;
use crate::kinds::ServicingKind;

/// What the machine has, in the form the checks need.
#[derive(Clone)]
pub(crate) struct Installed {
    /// KBs satisfied by presence: installed, or transitively superseded by an installed KB.
    pub(crate) present: Bits,
    /// The effective UBR: raised only by cumulative updates (and hotpatches when enrolled).
    pub(crate) effective_ubr: Option<u32>,
    /// The machine's build number, when known.
    pub(crate) build: Option<u32>,
    /// The machine's OS products on its own build: where cumulative revisions are read.
    pub(crate) os: Vec<ProductIx>,
    /// Enrolled in hotpatching.
    pub(crate) hotpatch: bool,
    /// The WinRE image version, when reported.
    pub(crate) winre: Option<Build>,
    /// The newest present update that sets the OS's servicing level (cumulative update or
    /// rollup): a servicing stack update released before it is in place.
    pub(crate) level: Option<KbIx>,
}

impl Installed {
    /// The machine's installed state: presence closure, effective UBR and servicing level.
    pub(crate) fn of(cat: &Catalog, m: &MachineState) -> Installed {
        let build = m.branch.map(|b| b.build);
        let os: Vec<ProductIx> = (m.os_products.iter().copied())
            .filter(|&p| build.is_some() && cat.product(p).facts.build == build)
            .collect();
        let mut installed = Installed {
            present: Bits::new(cat.kbs().len()),
            effective_ubr: m.ubr,
            build,
            os,
            hotpatch: m.hotpatch,
            winre: m.winre,
            level: None,
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
        let from_kbs = (installed.os.iter())
            .flat_map(|&os| installed.raising(cat, os))
            .filter(|&(_, kb)| installed.present.get(kb))
            .map(|(rev, _)| rev)
            .max();
        installed.effective_ubr = from_kbs.into_iter().chain(m.ubr).max();
        installed.mark_level_present(cat, installed.effective_ubr);
        installed.level = installed.level_of(cat);
        installed
    }

    /// The updates that raise the build of OS product `os` on this machine, as (revision, KB):
    /// cumulative updates, and hotpatches when the machine is enrolled.
    pub(crate) fn raising<'c>(
        &self,
        cat: &'c Catalog,
        os: ProductIx,
    ) -> impl Iterator<Item = (u32, KbIx)> + 'c {
        let hot = if self.hotpatch {
            cat.hotpatches_of(os)
        } else {
            &[]
        };
        cat.cumulative_of(os).iter().chain(hot).copied()
    }

    /// Marks present every build-raising update at or below `ubr` (a machine at that revision has
    /// them, whatever its KB list says) and everything they contain, which reaches the older
    /// updates that carry no FixedBuild. `present` is closed downward, so a present KB's
    /// closure is in it already.
    pub(crate) fn mark_level_present(&mut self, cat: &Catalog, ubr: Option<u32>) {
        let Some(ubr) = ubr else { return };
        for i in 0..self.os.len() {
            let mut at_or_below: Vec<(u32, KbIx)> = (self.raising(cat, self.os[i]))
                .filter(|&(r, _)| r <= ubr)
                .collect();
            at_or_below.sort_unstable();
            for &(_, kb) in at_or_below.iter().rev() {
                if !self.present.get(kb) {
                    self.present.union(cat.down_bits(kb));
                }
            }
        }
    }

    /// The newest present update on the machine's servicing line.
    pub(crate) fn level_of(&self, cat: &Catalog) -> Option<KbIx> {
        (self.os.iter())
            .filter_map(|&os| {
                (cat.servicing_line(os).iter().rev())
                    .find(|&&kb| self.present.get(kb))
                    .copied()
            })
            .max_by_key(|&kb| (&cat.kb(kb).release_date, kb))
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

    /// The revision `kb` brings the machine to, when it raises the build of its OS.
    pub(crate) fn cumulative(&self, cat: &Catalog, kb: KbIx) -> Option<u32> {
        let hot = |p| {
            self.hotpatch
                .then(|| cat.hotpatch_revision(kb, p))
                .flatten()
        };
        (self.os.iter())
            .filter_map(|&p| cat.cumulative_revision(kb, p).or_else(|| hot(p)))
            .max()
    }

    /// Whether a fix row of `product` (whose own build is `product_build`) is satisfied.
    #[inline]
    pub(crate) fn satisfies(
        &self,
        cat: &Catalog,
        fix: &Fix,
        product: ProductIx,
        product_build: Option<u32>,
    ) -> bool {
        if self.present.get(fix.kb) {
            return true;
        }
        match fix.kind {
            ServicingKind::SetupDynamicUpdate => true,
            ServicingKind::ServicingStack => self
                .level
                .is_some_and(|level| cat.kb(level).release_date > cat.kb(fix.kb).release_date),
            ServicingKind::SafeOs => self.winre_has(cat, fix.kb, product),
            _ => match (self.effective_ubr, fix.native_revision) {
                (Some(ubr), Some(rev)) => {
                    self.build.is_some() && product_build == self.build && ubr >= rev.get()
                }
                _ => false,
            },
        }
    }

    /// Whether the reported WinRE image is at or above a Safe OS update's FixedBuild.
    fn winre_has(&self, cat: &Catalog, kb: KbIx, product: ProductIx) -> bool {
        let Some(winre) = self.winre else {
            return false;
        };
        let products = &cat.kb(kb).products;
        (products
            .binary_search_by_key(&product, |kp| kp.product)
            .ok())
        .is_some_and(|i| {
            products[i]
                .fixed_builds
                .iter()
                .any(|b| b.branch() == winre.branch() && winre.revision >= b.revision)
        })
    }
}
