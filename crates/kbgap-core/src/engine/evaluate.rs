//! One machine's answer: the frontier of missing KBs, each with what it closes and why.

use super::scan::{Scan, scan};
use super::{Evaluation, MachineState, MissingKb, Options, Reason, frontier};
use crate::build::Build;
use crate::catalog::{Catalog, KbIx, ProductIx, VulnIx};
use crate::kinds::ServicingKind;

/// Evaluates one machine: its missing KBs (the frontier unless `opts.all`), with their CVEs.
pub fn evaluate(cat: &Catalog, m: &MachineState, opts: Options) -> Evaluation {
    let scan = scan(cat, m);
    let mut open: Vec<VulnIx> = (0..scan.pairs.len() as u32)
        .map(|i| scan.vuln_of(cat, i))
        .collect();
    open.sort_unstable();
    open.dedup();
    let chosen = if opts.all {
        frontier::everything(cat, &scan)
    } else {
        frontier::frontier(cat, &scan)
    };
    let mut missing: Vec<MissingKb> = chosen
        .into_iter()
        .map(|c| describe(cat, m, &scan, c))
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

/// The kind of `kb` on the machine: on its OS product when the KB fixes that, else the first
/// kind among the machine's products it fixes.
fn kind_on_machine(
    cat: &Catalog,
    m: &MachineState,
    products: &[ProductIx],
    kb: KbIx,
) -> ServicingKind {
    let on = |p: &ProductIx| cat.kind_on(kb, *p);
    (products
        .iter()
        .filter(|p| m.os_products.binary_search(p).is_ok()))
    .find_map(on)
    .or_else(|| products.iter().filter_map(on).min())
    .unwrap_or(ServicingKind::Standalone)
}

/// Fills in what the API reports for one missing KB.
fn describe(cat: &Catalog, m: &MachineState, scan: &Scan, chosen: frontier::Chosen) -> MissingKb {
    let frontier::Chosen {
        kb,
        closes,
        closes_on,
        replaced,
    } = chosen;
    let entry = cat.kb(kb);
    let mut products = Vec::new();
    let mut fixes = Vec::new();
    let mut max_severity = None;
    let mut max_open_severity = None;
    let mut fixed_rev: Option<u32> = None;
    let mut other: Option<Build> = None;
    let mut any_fixed: Option<Build> = None;
    for kp in &entry.products {
        if m.products.binary_search(&kp.product).is_err() {
            continue;
        }
        products.push(kp.product);
        let pbuild = cat.product(kp.product).facts.build;
        if pbuild.is_some() && pbuild == scan.installed.build && kp.kind.build_decides() {
            fixed_rev = fixed_rev.max(kp.native_revision);
        }
        any_fixed = any_fixed.or(kp.fixed_builds.last().copied());
        if kp.native_revision.is_none() {
            other = other.or(kp.fixed_builds.last().copied());
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
    let kind = kind_on_machine(cat, m, &products, kb);
    // It also serves the products whose open pairs it closes through what it contains.
    products.extend(closes_on);
    products.sort_unstable();
    products.dedup();
    let reason = reason(m, scan, kind, fixed_rev, other, any_fixed);
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
        kind,
        max_severity: max_open_severity.or(max_severity),
        os_build,
    }
}

/// The rule that decided a missing KB.
fn reason(
    m: &MachineState,
    scan: &Scan,
    kind: ServicingKind,
    fixed_rev: Option<u32>,
    other: Option<Build>,
    any_fixed: Option<Build>,
) -> Reason {
    let below = match (m.branch, scan.installed.effective_ubr, fixed_rev) {
        (Some(branch), Some(ubr), Some(rev)) if ubr < rev => Some((branch.at(ubr), branch.at(rev))),
        _ => None,
    };
    match kind {
        ServicingKind::CumulativeUpdate
        | ServicingKind::Hotpatch
        | ServicingKind::MonthlyRollup => Reason::NewestOnLine {
            kind,
            branch: m.branch,
            machine: below.map(|b| b.0),
            fixed: below.map(|b| b.1),
            other: other.filter(|_| fixed_rev.is_none()),
        },
        ServicingKind::SafeOs => Reason::SafeOs {
            fixed: any_fixed,
            winre: m.winre,
        },
        ServicingKind::SecureBootDbx => Reason::SecureBoot,
        ServicingKind::ServicingStack => Reason::ServicingStack,
        _ => match (below, other) {
            (Some((machine, fixed)), _) => Reason::BelowFixedBuild { machine, fixed },
            (None, Some(fixed)) if fixed_rev.is_none() => Reason::OtherBranch { fixed },
            _ => Reason::NotInstalled { kind },
        },
    }
}
