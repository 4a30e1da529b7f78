//! The servicing model: what kind of update each KB is on each product, and which updates
//! contain which, whatever MSRC's `Supercedence` says (`shared/spec/engine.md` §5).
//!
//! MSRC's rows are not enough on their own: Supercedence chains break (at out-of-band updates
//! that are no Vendor Fix anywhere, and at the newest cumulative update, which usually lists
//! nothing), and Safe OS / Secure Boot updates carry OS-like FixedBuilds. So each (KB, product)
//! gets a [`ServicingKind`] — from the SubType where MSRC gives a telling one, from a short table
//! of exceptions where the data cannot tell, and otherwise from the product's servicing era —
//! and each line of updates that Windows services cumulatively becomes a chain of edges, newest
//! to oldest, added to the supersedence graph.

use rustc_hash::{FxHashMap, FxHashSet};

use super::{CompileWarning, Kb, KbIx, Product, ProductIx};
use crate::ids::KbId;
use crate::kinds::{Chain, ServicingKind};

/// KBs whose kind the data cannot tell: MSRC calls them "Security Update" and gives them OS-like
/// FixedBuilds. Any KB that supersedes one of these (by MSRC's Supercedence) is of the same kind.
const EXCEPTIONS: &[(u32, ServicingKind, &str)] = &[
    (
        3172729,
        ServicingKind::SecureBootDbx,
        "MS16-100 Secure Boot update (2016-Aug): a standalone change to the boot policy",
    ),
    (
        4535680,
        ServicingKind::SecureBootDbx,
        "Secure Boot DBX update (2020-Feb); not part of any cumulative update",
    ),
    (
        5012170,
        ServicingKind::SecureBootDbx,
        "Secure Boot DBX update (2022-Aug); its FixedBuilds look like cumulative-update builds",
    ),
    (
        5042320,
        ServicingKind::SafeOs,
        "Safe OS dynamic update for Windows 10 21H2/22H2 (2024-Aug, WinRE 10.0.19041.3920)",
    ),
    (
        5042321,
        ServicingKind::SafeOs,
        "Safe OS dynamic update for Windows 11 21H2 (2024-Aug)",
    ),
    (
        5042322,
        ServicingKind::SafeOs,
        "Safe OS dynamic update for Server 2022 (2024-Aug); revision below the July LCU",
    ),
    (
        5046398,
        ServicingKind::SafeOs,
        "Safe OS dynamic update for Windows 11 21H2 (2024-Oct)",
    ),
    (
        5046399,
        ServicingKind::SafeOs,
        "Safe OS dynamic update for Server 2022 (2024-Oct), FixedBuild 10.0.20348.2751",
    ),
    (
        5046400,
        ServicingKind::SafeOs,
        "Safe OS dynamic update for Windows 10 21H2/22H2 (2024-Oct), WinRE 10.0.19041.5000",
    ),
];

/// What classification produces.
pub(super) struct Servicing {
    /// Kind of each (KB, product) the KB fixes.
    pub(super) kinds: FxHashMap<(KbIx, ProductIx), ServicingKind>,
    /// (newer, older) edges of the chains, to add to the supersedence graph.
    pub(super) edges: Vec<(KbId, KbId)>,
    /// MSRC Supercedence edges that run against a chain (an older update "superseding" a newer
    /// one on the same line, as when a hotpatch names its month's cumulative update): with the
    /// chain they would make a cycle through the whole line, so they are dropped.
    pub(super) contradicted: FxHashSet<(KbId, KbId)>,
    /// (KB, OS product) pairs whose FixedBuild revision is from another line: decided by
    /// presence.
    pub(super) foreign_revisions: Vec<(KbIx, ProductIx)>,
    /// Per OS product, the updates that set its servicing level, oldest first: cumulative
    /// updates and hotpatches (Windows 10/11, Server 2016+), else monthly rollups.
    pub(super) lines: FxHashMap<ProductIx, Vec<KbIx>>,
    /// Data that looks wrong and was worked around.
    pub(super) warnings: Vec<CompileWarning>,
}

/// What classification reads.
pub(super) struct Input<'a> {
    pub(super) products: &'a [Product],
    pub(super) kbs: &'a [Kb],
    pub(super) kb_by_id: &'a FxHashMap<KbId, KbIx>,
    /// MSRC's SubTypes per (KB, product), lower-cased without spaces.
    pub(super) subtypes: &'a FxHashMap<(KbIx, ProductIx), Vec<String>>,
    /// Distinct vulnerabilities per (KB, product).
    pub(super) vulns: &'a FxHashMap<(KbIx, ProductIx), u32>,
    /// MSRC's (newer, older) Supercedence edges.
    pub(super) msrc_edges: &'a [(KbId, KbId)],
}

/// The kind MSRC's SubType names, when it names one ("Security Update" names none).
fn from_subtype(sub: &str) -> Option<ServicingKind> {
    use ServicingKind as K;
    Some(match sub {
        "monthlyrollup" | "viaprocessorsmonthlyrollup" => K::MonthlyRollup,
        "securityonly" | "viaprocessorssecurityonly" => K::SecurityOnly,
        "previewrollup" => K::PreviewRollup,
        "iecumulative" => K::IeCumulative,
        "servicingstackupdate" => K::ServicingStack,
        "setupdu" => K::SetupDynamicUpdate,
        "standalone" | "standalonesecurityupdate" => K::Standalone,
        s if s.contains("hotpatch") => K::Hotpatch,
        _ => return None,
    })
}

/// Normalises a SubType for [`from_subtype`].
pub(super) fn subtype_key(raw: &str) -> String {
    raw.chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Windows 10/11 and Server 2016 and later are serviced by monthly cumulative updates; earlier
/// Windows by rollups. A hosted product ("X on <OS>") follows its OS.
fn lcu_era(products: &[Product], p: ProductIx) -> bool {
    let prod = &products[p as usize];
    let nt10 = |q: &Product| q.facts.build.is_some_and(|b| b >= 10240);
    if prod.facts.is_os {
        nt10(prod)
    } else {
        prod.on_os.iter().any(|&o| nt10(&products[o as usize]))
    }
}

fn is_dotnet(p: &Product) -> bool {
    p.normalized.starts_with("microsoft .net framework")
}

/// Classifies every (KB, product) and builds the chains.
pub(super) fn classify(input: &Input<'_>) -> Servicing {
    let exceptions = propagated_exceptions(input);
    let mut kinds = FxHashMap::default();
    // OS products first: components decide by their OS's kind of the same KB.
    for pass in [true, false] {
        for (kix, kb) in input.kbs.iter().enumerate() {
            let kix = kix as KbIx;
            for kp in &kb.products {
                let p = &input.products[kp.product as usize];
                if p.facts.is_os != pass {
                    continue;
                }
                let kind = exceptions
                    .get(&kb.id)
                    .copied()
                    .unwrap_or_else(|| kind_of(input, &kinds, kix, kp.product));
                kinds.insert((kix, kp.product), kind);
            }
        }
    }
    let mut out = Servicing {
        kinds,
        edges: Vec::new(),
        contradicted: FxHashSet::default(),
        foreign_revisions: Vec::new(),
        lines: FxHashMap::default(),
        warnings: Vec::new(),
    };
    chains(input, &mut out);
    out
}

/// Most vulnerabilities a Safe OS or Secure Boot update fixes on one product (they fix one to
/// five; a cumulative update fixes dozens): a KB above it is never taken for one, whatever it
/// supersedes.
const MAX_RECOVERY_VULNS: u32 = 8;

/// The exceptions table, extended to every KB that supersedes an entry (newer Safe OS and DBX
/// updates name their predecessors).
fn propagated_exceptions(input: &Input<'_>) -> FxHashMap<KbId, ServicingKind> {
    let mut kinds: FxHashMap<KbId, ServicingKind> = EXCEPTIONS
        .iter()
        .filter_map(|&(n, k, _)| Some((KbId::new(n)?, k)))
        .collect();
    let small = |kb: KbIx| {
        (input.kbs[kb as usize].products.iter()).all(|kp| {
            input.vulns.get(&(kb, kp.product)).copied().unwrap_or(0) <= MAX_RECOVERY_VULNS
        })
    };
    loop {
        let mut grew = false;
        for &(newer, older) in input.msrc_edges {
            if let (Some(&k), false) = (kinds.get(&older), kinds.contains_key(&newer))
                && input.kb_by_id.get(&newer).is_some_and(|&ix| small(ix))
            {
                kinds.insert(newer, k);
                grew = true;
            }
        }
        if !grew {
            return kinds;
        }
    }
}

fn kind_of(
    input: &Input<'_>,
    decided: &FxHashMap<(KbIx, ProductIx), ServicingKind>,
    kb: KbIx,
    product: ProductIx,
) -> ServicingKind {
    use ServicingKind as K;
    let p = &input.products[product as usize];
    let named = (input.subtypes.get(&(kb, product)).into_iter().flatten())
        .filter_map(|s| from_subtype(s))
        .min();
    let lcu = lcu_era(input.products, product);
    if is_dotnet(p) {
        return match named {
            Some(k @ (K::MonthlyRollup | K::SecurityOnly | K::PreviewRollup)) => k,
            _ => K::DotNet,
        };
    }
    match named {
        // Windows 10 and later have no rollups: such a row is MSRC listing another OS's KB
        // (a Server 2008 R2 rollup under Windows 11 22H2 ARM64).
        Some(K::MonthlyRollup | K::SecurityOnly | K::PreviewRollup) if lcu => {
            return K::Standalone;
        }
        Some(k) => return k,
        None => {}
    }
    if p.facts.is_os {
        // A KB MSRC lists with FixedBuilds of another branch only (Windows 10's update under
        // Windows 11 21H2, a 22631 build under 22H2) is not on this product's line: it may not
        // even install here, so it must never stand in for the line's own updates.
        // (A KB with no native FixedBuild anywhere is the product's own with a typo in its
        // build: KB5022836 lists 10.0.22621.1574 for Windows 11 21H2.)
        let kps = &input.kbs[kb as usize].products;
        let here = kps.iter().find(|kp| kp.product == product);
        let elsewhere = kps.iter().any(|o| {
            o.product != product
                && o.native_revision.is_some()
                && input.products[o.product as usize].facts.is_os
        });
        let foreign = elsewhere
            && here.is_some_and(|kp| kp.native_revision.is_none() && !kp.fixed_builds.is_empty());
        return if lcu && !foreign {
            K::CumulativeUpdate
        } else {
            K::Standalone
        };
    }
    // A component (IE 11, EdgeHTML on Windows 10) takes the kind its OS gives the same KB.
    p.on_os
        .iter()
        .filter_map(|&os| decided.get(&(kb, os)).copied())
        .min()
        .unwrap_or(K::Standalone)
}

fn chains(input: &Input<'_>, out: &mut Servicing) {
    let mut members: FxHashMap<(ProductIx, Chain), Vec<KbIx>> = FxHashMap::default();
    let mut security_only: FxHashMap<ProductIx, Vec<KbIx>> = FxHashMap::default();
    for (&(kb, p), &kind) in &out.kinds {
        if kind == ServicingKind::SecurityOnly {
            security_only.entry(p).or_default().push(kb);
        }
        let Some(chain) = kind.chain() else { continue };
        // .NET updates before Windows 10 are separate per component and month; only their
        // rollups are cumulative.
        if chain == Chain::DotNet && !lcu_era(input.products, p) {
            continue;
        }
        members.entry((p, chain)).or_default().push(kb);
    }
    let mut keys: Vec<(ProductIx, Chain)> = members.keys().copied().collect();
    keys.sort_unstable();
    for (p, chain) in keys {
        let mut list = members.remove(&(p, chain)).unwrap_or_default();
        if chain == Chain::Os {
            let ordered = order_os_line(input, p, list);
            list = ordered.line;
            out.warnings.extend(ordered.warnings);
            out.foreign_revisions
                .extend(ordered.foreign.into_iter().map(|k| (k, p)));
            // Out-of-band and same-month updates of an OS are cumulative too: one line.
            let ids: Vec<KbId> = list.iter().map(|&k| input.kbs[k as usize].id).collect();
            out.edges.extend(ids.windows(2).map(|w| (w[1], w[0])));
        } else {
            list.sort_by_key(|&k| (input.kbs[k as usize].release_date.as_str(), k));
            link_by_date(input, &list, &mut out.edges);
        }
        out.contradicted.extend(against_line(input, &list));
        if chain == Chain::Rollup
            && let Some(so) = security_only.get(&p)
        {
            rollup_covers_security_only(input, &list, so, &mut out.edges);
        }
        let product = &input.products[p as usize];
        let sets_level = match chain {
            Chain::Os => true,
            Chain::Rollup => !lcu_era(input.products, p),
            _ => false,
        };
        if product.facts.is_os && sets_level {
            out.lines.entry(p).or_default().extend(list);
        }
    }
}

/// MSRC edges (newer, older) whose "newer" comes before "older" on a chain, or on the same
/// date of a chain ordered by date.
fn against_line(input: &Input<'_>, list: &[KbIx]) -> Vec<(KbId, KbId)> {
    let position: FxHashMap<KbId, usize> = (list.iter().enumerate())
        .map(|(i, &k)| (input.kbs[k as usize].id, i))
        .collect();
    (input.msrc_edges.iter().copied())
        .filter(|(newer, older)| {
            matches!((position.get(newer), position.get(older)), (Some(n), Some(o)) if n < o)
        })
        .collect()
}

/// Links each update to every update of the previous release date on the same line: two
/// updates of one date (a .NET 3.5 and a 4.8 update) contain neither each other.
fn link_by_date(input: &Input<'_>, list: &[KbIx], edges: &mut Vec<(KbId, KbId)>) {
    let date = |k: KbIx| input.kbs[k as usize].release_date.as_str();
    let id = |k: KbIx| input.kbs[k as usize].id;
    let groups: Vec<&[KbIx]> = list.chunk_by(|a, b| date(*a) == date(*b)).collect();
    for w in groups.windows(2) {
        for &newer in w[1] {
            edges.extend(w[0].iter().map(|&older| (id(newer), id(older))));
        }
    }
}

/// A monthly rollup contains the same month's security-only update (and, through the rollup
/// chain, every earlier month's).
fn rollup_covers_security_only(
    input: &Input<'_>,
    rollups: &[KbIx],
    security_only: &[KbIx],
    edges: &mut Vec<(KbId, KbId)>,
) {
    let month = |k: KbIx| input.kbs[k as usize].release_date.get(..7).unwrap_or("");
    for &r in rollups {
        for &s in security_only.iter().filter(|&&s| month(s) == month(r)) {
            edges.push((input.kbs[r as usize].id, input.kbs[s as usize].id));
        }
    }
}

/// Per release month, the update that fixes most of the product's vulnerabilities: the month's
/// cumulative update, which goes first among updates of one date.
fn month_tops(input: &Input<'_>, p: ProductIx, list: &[KbIx]) -> FxHashSet<KbIx> {
    let mut best: FxHashMap<&str, (u32, KbIx)> = FxHashMap::default();
    for &kb in list {
        let month = input.kbs[kb as usize].release_date.get(..7).unwrap_or("");
        let n = input.vulns.get(&(kb, p)).copied().unwrap_or(0);
        let e = best.entry(month).or_insert((n, kb));
        if n > e.0 {
            *e = (n, kb);
        }
    }
    best.into_values().map(|(_, kb)| kb).collect()
}

/// An OS product's line in order, and what ordering it found.
struct OrderedLine {
    line: Vec<KbIx>,
    /// Updates whose revision on this product is from another line.
    foreign: Vec<KbIx>,
    warnings: Vec<CompileWarning>,
}

/// Orders an OS product's cumulative updates and hotpatches oldest first. FixedBuild
/// revisions on the product's branch order the updates that have one (they rise with every
/// update, while a KB's date comes from the document that lists it most, which can be an old
/// document revised years later: KB5014701, June 2022, sits in the 2021-Jun document); updates
/// without one go by release date, the month's main update before its out-of-band companions.
fn order_os_line(input: &Input<'_>, p: ProductIx, list: Vec<KbIx>) -> OrderedLine {
    let top = month_tops(input, p, &list);
    let kb = |k: KbIx| &input.kbs[k as usize];
    let rev = |k: KbIx| {
        (kb(k).products.iter().find(|kp| kp.product == p)).and_then(|kp| kp.native_revision)
    };
    let (mut with_rev, mut without): (Vec<KbIx>, Vec<KbIx>) =
        list.into_iter().partition(|&k| rev(k).is_some());
    with_rev.sort_by_key(|&k| (rev(k), kb(k).release_date.as_str(), kb(k).id));
    let mut warnings = Vec::new();
    // A revision below those of updates released before it is from another line (Server 2025
    // lists client builds of 26100 after moving to its own revision range): it says nothing
    // about this product's build, so the update is placed by date and decided by presence.
    let mut foreign = Vec::new();
    let mut earliest_after: Option<&str> = None;
    for &k in with_rev.iter().rev() {
        let own = kb(k).release_date.as_str();
        match earliest_after {
            Some(after) if own > after => foreign.push(k),
            _ => earliest_after = Some(earliest_after.map_or(own, |a| a.min(own))),
        }
    }
    for &k in &foreign {
        warnings.push(CompileWarning {
            document: kb(k).released_in.clone(),
            message: format!(
                "KB{}: FixedBuild revision {} for {} is below updates released before it; \
                 decided by presence, not by build",
                kb(k).id,
                rev(k).unwrap_or(0),
                input.products[p as usize].name
            ),
        });
    }
    with_rev.retain(|k| !foreign.contains(k));
    without.extend(foreign.iter().copied());
    // Updates of one date are ordered the same way on every product (a hotpatch before the
    // cumulative update, then by the highest revision anywhere, the main update first), so
    // that sibling products never chain one pair both ways.
    let tie = |k: KbIx| {
        let kps = &kb(k).products;
        let hot = kps.iter().any(|kp| kp.kind == ServicingKind::Hotpatch);
        let max_rev = kps.iter().filter_map(|kp| kp.native_revision).max();
        (!hot, max_rev, !top.contains(&k), kb(k).id)
    };
    let mut keyed: Vec<(&str, _, KbIx)> = Vec::new();
    let mut line_date = "";
    for &k in &with_rev {
        let own = kb(k).release_date.as_str();
        if own < line_date {
            warnings.push(CompileWarning {
                document: kb(k).released_in.clone(),
                message: format!(
                    "KB{}: dated {} by its document, but its FixedBuild revision {} for {} \
                     follows updates released up to {}; placed by its build",
                    kb(k).id,
                    own.get(..10).unwrap_or(own),
                    rev(k).unwrap_or(0),
                    input.products[p as usize].name,
                    line_date.get(..10).unwrap_or(line_date),
                ),
            });
        }
        line_date = line_date.max(own);
        keyed.push((line_date, tie(k), k));
    }
    keyed.extend(
        without
            .into_iter()
            .map(|k| (kb(k).release_date.as_str(), tie(k), k)),
    );
    keyed.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    OrderedLine {
        line: keyed.into_iter().map(|e| e.2).collect(),
        foreign,
        warnings,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subtypes_name_their_kinds() {
        let k = |s: &str| from_subtype(&subtype_key(s));
        assert_eq!(k("Monthly Rollup"), Some(ServicingKind::MonthlyRollup));
        assert_eq!(k("Security Hotpatch Update"), Some(ServicingKind::Hotpatch));
        assert_eq!(k("SecurityHotpatchUpdate"), Some(ServicingKind::Hotpatch));
        assert_eq!(k("AzureHotpatch"), Some(ServicingKind::Hotpatch));
        assert_eq!(
            k("ServicingStackUpdate"),
            Some(ServicingKind::ServicingStack)
        );
        assert_eq!(
            k("Servicing Stack Update"),
            Some(ServicingKind::ServicingStack)
        );
        assert_eq!(k("Setup DU"), Some(ServicingKind::SetupDynamicUpdate));
        assert_eq!(k("Security Update"), None);
    }

    #[test]
    fn every_exception_is_a_kind_the_data_cannot_tell() {
        for &(kb, kind, why) in EXCEPTIONS {
            assert!(KbId::new(kb).is_some());
            assert!(!kind.build_decides(), "KB{kb}: {why}");
            assert!(!why.is_empty());
        }
    }
}
