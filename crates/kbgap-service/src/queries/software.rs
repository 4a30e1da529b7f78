//! Software counts over the active fleet (`GET /api/Software`; Defender's 30-day rule,
//! [`crate::FleetView::activity`]).

use std::collections::{BTreeMap, BTreeSet};

use kbgap_core::catalog::{Catalog, ProductIx, VulnIx};
use kbgap_core::engine::fleet::Group;

use crate::FleetView;

/// Installed and exposed machine counts of one software, and its open CVEs over the fleet.
#[derive(Debug, Clone, Default)]
pub struct SoftwareCounts {
    /// Machines with a product of the software.
    pub installed: u64,
    /// Of those, machines missing a KB for one of its products.
    pub exposed: u64,
    /// Distinct CVEs open on some machine, closed by a missing KB for one of its products.
    pub weaknesses: u64,
    /// One of them is publicly disclosed or exploited.
    pub public_exploit: bool,
    /// The highest CVSS v3 base score among them.
    pub max_cvss: Option<f32>,
    /// Machines assessed in the fleet (for `impactScore`).
    pub fleet: u64,
}

/// Distinct software names of a machine's applicable products.
pub fn machine_software(cat: &Catalog, products: &[ProductIx]) -> BTreeSet<String> {
    products
        .iter()
        .map(|&p| cat.product(p).software.clone())
        .collect()
}

/// Per software name over the active fleet: how many machines have it and are exposed, and the
/// CVEs open on it. Each state group is read once, however many machines share it.
pub fn software_counts(cat: &Catalog, view: &FleetView) -> BTreeMap<String, SoftwareCounts> {
    let members: Vec<(u64, &Group)> = view.fleet.counted_groups().map(|g| (g.count, g)).collect();
    let fleet: u64 = members.iter().map(|(n, _)| n).sum();
    let mut out: BTreeMap<String, SoftwareCounts> = BTreeMap::new();
    // Per software: the open CVEs, and the products they are open on.
    let mut open: BTreeMap<String, (BTreeSet<VulnIx>, BTreeSet<ProductIx>)> = BTreeMap::new();
    for &(n, group) in &members {
        let mut exposed: BTreeSet<&str> = BTreeSet::new();
        for m in &group.evaluation.missing {
            for &p in &m.products {
                let name = cat.product(p).software.as_str();
                exposed.insert(name);
                let (cves, products) = open.entry(name.to_owned()).or_default();
                cves.extend(m.closes.iter().filter(|&&v| cat.vuln(v).id.is_cve()));
                products.insert(p);
            }
        }
        for name in machine_software(cat, &group.state.products) {
            let is_exposed = exposed.contains(name.as_str());
            let c = out.entry(name).or_default();
            c.installed += n;
            if is_exposed {
                c.exposed += n;
            }
        }
    }
    for (name, c) in &mut out {
        c.fleet = fleet;
        let Some((cves, products)) = open.get(name) else {
            continue;
        };
        let products: Vec<ProductIx> = products.iter().copied().collect();
        c.weaknesses = cves.len() as u64;
        c.public_exploit = cves.iter().any(|&v| cat.vuln(v).public_exploit());
        c.max_cvss = (cves.iter())
            .filter_map(|&v| cat.vuln_risk(v, &products).cvss)
            .reduce(f32::max);
    }
    out
}
