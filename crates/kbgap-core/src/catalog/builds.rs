//! Which OS products a Windows build belongs to, learned from the catalog itself: a product whose
//! FixedBuilds name `10.0.<build>` runs that build. OS identification (`kbgap-inventory`'s `osid`)
//! asks this only for builds its compiled release table does not know, so a `catalog sync` that
//! brings a new Windows release teaches kbgap that release without a rebuild.

use rustc_hash::FxHashMap;

use super::{Catalog, ProductIx};
use crate::kinds::{Architecture, InstallationType};

/// Products one machine cannot run together: (server, Server Core, architecture).
type GroupKey = (bool, bool, Option<Architecture>);

impl Catalog {
    /// The full names of the OS products that run build `10.0.<build>` and fit the installation
    /// type and architecture (`None`: any), sorted, without duplicates.
    ///
    /// A product runs build B when its name tells B (`Windows 10 Version 22H2` → 19045), or, for a
    /// name kbgap cannot read a build from (a release newer than kbgap), when B is the build most
    /// of its KBs give FixedBuilds for. A product whose name tells another build never runs B,
    /// whatever its FixedBuilds say: MSRC lists FixedBuilds of sibling branches under one product
    /// (the 23H2 build under 22H2, the 19041 WinRE base under 21H2).
    ///
    /// Products are matched on their facts only: Server Core installations for Server Core,
    /// server products otherwise for servers, non-server Windows for clients; a product whose
    /// name gives no architecture ("Windows Server 2025") is x64, the only architecture MSRC
    /// leaves unnamed.
    pub fn os_products_for_build(
        &self,
        build: u32,
        installation_type: Option<InstallationType>,
        architecture: Option<Architecture>,
    ) -> Vec<String> {
        let fits = |p: ProductIx| {
            let f = &self.product(p).facts;
            let server = f.family.starts_with("windows server");
            let type_fits = match installation_type {
                None => true,
                Some(InstallationType::Client) => !server,
                Some(InstallationType::Server) => server && !f.server_core,
                Some(InstallationType::ServerCore) => server && f.server_core,
            };
            let arch_fits =
                architecture.is_none_or(|a| f.architecture.unwrap_or(Architecture::X64) == a);
            f.is_os && f.on_os.is_none() && type_fits && arch_fits
        };
        // Candidates: products that fit, unless their name tells another build.
        let mut counts: FxHashMap<ProductIx, FxHashMap<u32, u32>> = FxHashMap::default();
        for (ix, p) in self.products().iter().enumerate() {
            let ix = ix as ProductIx;
            if fits(ix) && p.facts.build.is_none_or(|b| b == build) {
                counts.insert(ix, FxHashMap::default());
            }
        }
        // Per candidate and build, the KBs whose FixedBuilds name that build.
        for kb in self.kbs() {
            for kp in &kb.products {
                let Some(per_build) = counts.get_mut(&kp.product) else {
                    continue;
                };
                let mut builds: Vec<u32> = (kp.fixed_builds.iter())
                    .filter(|b| b.major == 10 && b.minor == 0)
                    .map(|b| b.build)
                    .collect();
                builds.dedup();
                for b in builds {
                    *per_build.entry(b).or_default() += 1;
                }
            }
        }
        // A product runs the build its name tells, else the build most of its KBs name (a tie
        // goes to the newer build). Among the products that run it, one machine runs one per
        // installation type and architecture: the one MSRC lists most (a stray duplicate such as
        // "Windows 11 Version 26H1 for x64-based Systems - extra", listed for one KB, is not it).
        let mut best: FxHashMap<GroupKey, (u32, Vec<ProductIx>)> = FxHashMap::default();
        for (ix, per_build) in counts {
            let f = &self.product(ix).facts;
            let runs = match f.build {
                Some(_) => true,
                None => {
                    let main = per_build.iter().max_by_key(|&(b, n)| (*n, *b));
                    main.is_some_and(|(b, _)| *b == build)
                }
            };
            if !runs {
                continue;
            }
            let n = per_build.get(&build).copied().unwrap_or(0);
            let key = (
                f.family.starts_with("windows server"),
                f.server_core,
                f.architecture,
            );
            let slot = best.entry(key).or_insert((n, Vec::new()));
            if n > slot.0 {
                *slot = (n, Vec::new());
            }
            if n == slot.0 {
                slot.1.push(ix);
            }
        }
        let mut names: Vec<String> = best
            .into_values()
            .flat_map(|(_, ixs)| ixs)
            .map(|ix| self.product(ix).name.clone())
            .collect();
        names.sort();
        names.dedup_by(|a, b| {
            crate::product::normalize_name(a) == crate::product::normalize_name(b)
        });
        names
    }
}

#[cfg(test)]
mod tests {
    use crate::catalog::Catalog;
    use crate::document::{DocProduct, Document, DocumentInfo, Revision, VendorFix, Vulnerability};
    use crate::ids::{KbId, ProductId, VulnId};
    use crate::kinds::{Architecture, InstallationType};

    /// A document with one CVE fixed by one KB per `(product id, name, FixedBuild)` (a product
    /// named twice gets two KBs).
    fn doc(products: &[(&str, &str, &str)]) -> Document {
        Document {
            info: DocumentInfo {
                id: "2027-Jan".into(),
                title: "January 2027 Security Updates".into(),
                revision: Revision(vec![1]),
                initial_release: "2027-01-12T08:00:00".into(),
                current_release: "2027-01-12T08:00:00".into(),
            },
            products: {
                let mut seen = Vec::new();
                for (id, name, _) in products {
                    if !seen.iter().any(|p: &DocProduct| p.id.as_str() == *id) {
                        seen.push(DocProduct {
                            id: id.parse::<ProductId>().unwrap(),
                            name: (*name).into(),
                            family: Some("Windows".into()),
                        });
                    }
                }
                seen
            },
            vulnerabilities: vec![Vulnerability {
                id: "CVE-2027-0001".parse::<VulnId>().unwrap(),
                title: "Windows Kernel Elevation of Privilege Vulnerability".into(),
                severities: vec![],
                vectors: vec![],
                impacts: vec![],
                exploit: None,
                published: None,
                scores: vec![],
                fixes: products
                    .iter()
                    .enumerate()
                    .map(|(i, (id, _, build))| VendorFix {
                        kb: KbId::new(5_100_000 + i as u32).unwrap(),
                        url: None,
                        supersedes: vec![],
                        products: vec![id.parse::<ProductId>().unwrap()],
                        fixed_build: Some((*build).into()),
                        sub_type: Some("Security Update".into()),
                    })
                    .collect(),
            }],
            warnings: vec![],
        }
    }

    fn catalog() -> Catalog {
        Catalog::compile(&[doc(&[
            (
                "20001",
                "Windows 11 Version 27H1 for x64-based Systems",
                "10.0.28100.1200",
            ),
            (
                "20001",
                "Windows 11 Version 27H1 for x64-based Systems",
                "10.0.28100.1302",
            ),
            (
                "20002",
                "Windows 11 Version 27H1 for ARM64-based Systems",
                "10.0.28100.1200",
            ),
            ("20003", "Windows Server 2028", "10.0.28100.1200"),
            (
                "20004",
                "Windows Server 2028 (Server Core installation)",
                "10.0.28100.1200",
            ),
            // A stray duplicate listed for fewer KBs than the real product: not identified.
            (
                "20005",
                "Windows 11 Version 27H1 for x64-based Systems - extra",
                "10.0.28100.1200",
            ),
            // A known release whose row names a sibling branch: never identifies that branch.
            (
                "12345",
                "Windows 11 Version 25H2 for x64-based Systems",
                "10.0.28100.1200",
            ),
        ])])
    }

    use Architecture::{Arm64, X64, X86};
    use InstallationType::{Client, Server, ServerCore};

    #[test]
    fn a_release_newer_than_kbgap_is_found_by_its_fixed_builds() {
        let cat = catalog();
        let ask = |it, arch| cat.os_products_for_build(28100, it, arch);
        assert_eq!(
            ask(Some(Client), Some(X64)),
            ["Windows 11 Version 27H1 for x64-based Systems"]
        );
        assert_eq!(
            ask(Some(Client), Some(Arm64)),
            ["Windows 11 Version 27H1 for ARM64-based Systems"]
        );
        assert!(ask(Some(Client), Some(X86)).is_empty());
        assert_eq!(ask(Some(Server), Some(X64)), ["Windows Server 2028"]);
        assert_eq!(
            ask(Some(ServerCore), Some(X64)),
            ["Windows Server 2028 (Server Core installation)"]
        );
        assert!(ask(Some(Server), Some(Arm64)).is_empty());
        assert_eq!(ask(None, None).len(), 4, "{:?}", ask(None, None));
    }

    #[test]
    fn a_product_whose_name_tells_its_build_is_found_by_that_build_only() {
        let cat = catalog();
        assert_eq!(
            cat.os_products_for_build(26200, Some(Client), Some(X64)),
            ["Windows 11 Version 25H2 for x64-based Systems"]
        );
        assert!(cat.os_products_for_build(27000, None, None).is_empty());
    }
}
