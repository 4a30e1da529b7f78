//! From a [`Device`] (what the inventory read) to a [`MachineState`] (catalog products).

use crate::catalog::{Catalog, ProductIx};
use crate::engine::MachineState;
use crate::machine::{Device, InstalledSoftware};
use crate::product::normalize_name;

/// A machine state and what could not be matched.
#[derive(Debug, Clone)]
pub struct Resolution {
    /// The state the engine evaluates.
    pub state: MachineState,
    /// Products or software the catalog does not know, in plain words.
    pub warnings: Vec<String>,
}

impl Catalog {
    /// Resolves a device's product names and software to catalog products.
    ///
    /// Names are matched exactly after normalisation, never by substring ("Windows Server 2022"
    /// must not match "Windows Server 2022, 23H2 Edition"). The components that ship inside an OS
    /// (IE 11, EdgeHTML) come with it; .NET Framework products come from the software inventory,
    /// matched by exact release (4.8 is not 4.8.1).
    pub fn machine_state(&self, device: &Device) -> Resolution {
        let mut warnings = Vec::new();
        let mut os_products = Vec::new();
        let mut products = Vec::new();
        for name in &device.products {
            let found = self.products_named(name);
            if found.is_empty() {
                warnings.push(format!(
                    "product {name:?} is not in the catalog; nothing is known to fix it"
                ));
            }
            for &p in found {
                if self.product(p).facts.is_os {
                    os_products.push(p);
                    products.extend_from_slice(self.components_of(p));
                }
                products.push(p);
            }
        }
        os_products.sort_unstable();
        os_products.dedup();
        let dotnet = dotnet_versions(&device.software);
        for &os in &os_products {
            products.extend(
                self.hosted_on(os)
                    .iter()
                    .copied()
                    .filter(|&p| self.dotnet_applies(p, &dotnet)),
            );
        }
        for sw in &device.software {
            products.extend_from_slice(self.products_named(&sw.name));
        }
        products.sort_unstable();
        products.dedup();
        let mut installed: Vec<_> = device.installed_kbs.iter().copied().collect();
        installed.dedup();
        let state = MachineState {
            branch: device.branch(),
            ubr: device.ubr,
            products,
            os_products,
            installed,
            hotpatch: device.hotpatch,
            winre: device.winre_version,
        };
        Resolution { state, warnings }
    }

    fn dotnet_applies(&self, product: ProductIx, installed: &[String]) -> bool {
        let p = &self.product(product);
        let Some(rest) = p.normalized.strip_prefix("microsoft .net framework ") else {
            return false;
        };
        let subject = rest.split(" on ").next().unwrap_or(rest);
        let tokens: Vec<&str> = subject
            .split([' ', '/'])
            .filter(|t| is_version(t))
            .collect();
        let has4 = tokens.iter().any(|t| t.starts_with("4."));
        tokens
            .iter()
            .any(|t| (!has4 || t.starts_with("4.")) && installed.iter().any(|v| v == t))
    }
}

fn is_version(t: &str) -> bool {
    t.contains('.') && t.bytes().all(|b| b.is_ascii_digit() || b == b'.')
}

/// The .NET Framework releases a software inventory shows ("Microsoft .NET Framework 4.8.1" →
/// `4.8.1`); SDKs, targeting and language packs are not the runtime.
fn dotnet_versions(software: &[InstalledSoftware]) -> Vec<String> {
    let mut out = Vec::new();
    for s in software {
        let n = normalize_name(&s.name);
        let Some(rest) = n.strip_prefix("microsoft .net framework ") else {
            continue;
        };
        if ["pack", "sdk", "targeting", "language", "multi-targeting"]
            .iter()
            .any(|w| rest.contains(w))
        {
            continue;
        }
        if let Some(v) = rest.split(' ').next().filter(|v| is_version(v)) {
            out.push(v.to_owned());
            // "4.8.0" and "4.8" name the same release.
            if let Some(short) = v.strip_suffix(".0").filter(|s| s.contains('.')) {
                out.push(short.to_owned());
            }
        }
    }
    out
}
