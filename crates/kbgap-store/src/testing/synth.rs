//! Synthetic documents and machine reports, deterministic and sized like the real ones, for
//! benches and bulk tests (the CVRF reader lives in another crate, and benches should not
//! depend on it).

use std::collections::BTreeSet;

use kbgap_core::document::DocProduct;
use kbgap_core::machine::OsVersion;
use kbgap_core::{
    Architecture, Device, Document, DocumentInfo, InstallationType, InstalledSoftware, KbId,
    ProductId, Revision, Severity, VendorFix, VulnId, Vulnerability,
};

/// The shape of a synthetic document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DocProfile {
    /// Products in the product tree.
    pub products: usize,
    /// Vulnerabilities.
    pub vulnerabilities: usize,
    /// Vendor fixes per vulnerability.
    pub fixes_per_vulnerability: usize,
    /// Products per vendor fix.
    pub products_per_fix: usize,
    /// Severity entries per vulnerability.
    pub severities_per_vulnerability: usize,
    /// CVSS score entries per vulnerability.
    pub scores_per_vulnerability: usize,
}

impl DocProfile {
    /// The average of the 190 bundled MSRC documents (measured over all of them: 255 products,
    /// 138 vulnerabilities, 3.96 KB fixes per vulnerability with 2.17 products each, 9.2
    /// severity and 8.3 score entries per vulnerability). 190 of these weigh what the bundled
    /// catalog weighs.
    pub const BUNDLED_AVERAGE: Self = Self {
        products: 255,
        vulnerabilities: 138,
        fixes_per_vulnerability: 4,
        products_per_fix: 2,
        severities_per_vulnerability: 9,
        scores_per_vulnerability: 8,
    };

    /// A deliberately heavy document, about nine times the bundled average (close to the
    /// largest real one, 2026-May, in vulnerabilities): 1,200 vulnerabilities, 8 fixes of 6
    /// products each, 3,000 products.
    pub const HEAVY: Self = Self {
        products: 3000,
        vulnerabilities: 1200,
        fixes_per_vulnerability: 8,
        products_per_fix: 6,
        severities_per_vulnerability: 48,
        scores_per_vulnerability: 48,
    };
}

/// A small deterministic generator (SplitMix64): benches must see the same data every run.
struct Mix(u64);

impl Mix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn product_id(n: usize) -> ProductId {
    let text = if n.is_multiple_of(5) {
        format!("{}-{}", 10000 + n, 17000 + n)
    } else {
        (10000 + n).to_string()
    };
    text.parse()
        .unwrap_or_else(|_| unreachable!("digits and a dash are a valid product id"))
}

fn kb(n: u64) -> KbId {
    KbId::new(5_000_000 + (n % 999_999) as u32).unwrap_or_else(|| unreachable!("never zero"))
}

/// Document number `index` of a synthetic catalog (ids `S0000`, `S0001`, …), revision 1.
pub fn document(profile: DocProfile, index: usize) -> Document {
    let mut rng = Mix(index as u64 * 7919 + 1);
    let products: Vec<DocProduct> = (0..profile.products)
        .map(|p| DocProduct {
            id: product_id(p),
            name: format!(
                "Windows 10 Version {} for x64-based Systems (synthetic {p})",
                1500 + p % 700
            ),
            family: Some(if p % 7 == 0 { "ESU" } else { "Windows" }.into()),
        })
        .collect();
    let pick = |rng: &mut Mix| products[rng.below(products.len())].id.clone();
    let vulnerabilities = (0..profile.vulnerabilities)
        .map(|v| {
            let id: VulnId = format!("CVE-20{:02}-{:05}", 16 + index % 11, 20000 + v)
                .parse()
                .unwrap_or_else(|_| unreachable!("well-formed CVE id"));
            let fixes = (0..profile.fixes_per_vulnerability)
                .map(|_| {
                    let number = kb(rng.next());
                    VendorFix {
                        kb: number,
                        url: Some(number.catalog_url()),
                        supersedes: vec![kb(rng.next())],
                        products: (0..profile.products_per_fix)
                            .map(|_| pick(&mut rng))
                            .collect(),
                        fixed_build: Some(format!(
                            "10.0.{}.{}",
                            19041 + rng.below(5),
                            1000 + rng.below(6000)
                        )),
                        sub_type: Some("Security Update".into()),
                    }
                })
                .collect();
            Vulnerability {
                id,
                title: format!(
                    "Windows Synthetic Component Remote Code Execution Vulnerability {v}"
                ),
                severities: (0..profile.severities_per_vulnerability)
                    .map(|_| {
                        (
                            pick(&mut rng),
                            if rng.below(4) == 0 {
                                Severity::Critical
                            } else {
                                Severity::Important
                            },
                        )
                    })
                    .collect(),
                vectors: vec![],
                impacts: vec![],
                exploit: None,
                published: None,
                scores: (0..profile.scores_per_vulnerability)
                    .map(|_| (pick(&mut rng), 5.0 + (rng.below(50) as f32) / 10.0))
                    .collect(),
                fixes,
            }
        })
        .collect();
    Document {
        info: DocumentInfo {
            id: format!("S{index:04}"),
            title: format!("Synthetic {index} Security Updates"),
            revision: Revision(vec![1]),
            initial_release: "2020-01-14T08:00:00".into(),
            current_release: "2020-01-14T08:00:00".into(),
        },
        products,
        vulnerabilities,
        warnings: vec![],
    }
}

/// A machine report like an inventory reader produces: a Windows 10 22H2 workstation named
/// `host-NNNNNN`, without id, with 25 installed KBs and 40 installed programs (about 3 KB of
/// JSON).
pub fn device(index: usize) -> Device {
    let mut rng = Mix(index as u64 + 17);
    Device {
        id: None,
        computer_dns_name: format!("HOST-{index:06}"),
        os_name: Some("Microsoft Windows 10 Enterprise".into()),
        os_version: Some(OsVersion {
            major: 10,
            minor: 0,
            build: 19045,
        }),
        ubr: Some(3000 + (index % 3000) as u32),
        service_pack: None,
        architecture: Some(Architecture::X64),
        installation_type: Some(InstallationType::Client),
        display_version: Some("22H2".into()),
        products: vec!["Windows 10 Version 22H2 for x64-based Systems".into()],
        installed_kbs: (0..25).map(|_| kb(rng.next())).collect::<BTreeSet<_>>(),
        software: (0..40)
            .map(|s| InstalledSoftware {
                vendor: "Microsoft Corporation".into(),
                name: format!("Synthetic Program {s}"),
                version: Some(format!("{}.{}.{}", s % 9, rng.below(100), rng.below(10000))),
            })
            .collect(),
        locale: Some("en-us;English (United States)".into()),
        last_seen: None,
        warnings: vec![],
        ..Device::default()
    }
}
