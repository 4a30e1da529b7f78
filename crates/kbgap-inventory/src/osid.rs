//! OS identification: from the facts a machine reports (NT version, build number, installation
//! type, architecture, service pack) to the exact MSRC full product name of its OS.
//!
//! Why a table and not string matching: MSRC names are irregular ("Windows 11 version 21H2" with a
//! lowercase v, "Windows 8.1 for x64-based systems" with a lowercase s, Server 2022 vs "Server 2022,
//! 23H2 Edition", Server 2025 sharing build 26100 with Windows 11 24H2), and matching by substring
//! or display version is the classic source of wrong answers (engine.md §2). The build number and
//! installation type decide; every name below is spelled as in the newest MSRC document listing it.

use kbgap_core::catalog::Catalog;
use kbgap_core::{Architecture, InstallationType, OsVersion};

/// What identification needs to know about a machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OsFacts {
    /// `major.minor.build`.
    pub version: OsVersion,
    /// Client, Server or Server Core.
    pub installation_type: InstallationType,
    /// CPU architecture of the OS.
    pub architecture: Architecture,
    /// Service pack level, when the source gives one (only used to describe old releases).
    pub service_pack: Option<u32>,
}

/// The result of identification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identified {
    /// The release in plain words ("Windows 10 Version 22H2", "Windows Server 2019").
    pub release: String,
    /// The exact MSRC full product names of the OS.
    pub products: Vec<String>,
    /// The installation type the products are for: Server Core when the release exists only as
    /// Server Core (semi-annual servers, Server 2022 23H2), the given type otherwise.
    pub installation_type: InstallationType,
    /// Things the user should know (a core-only release, a release whose support has ended).
    pub warnings: Vec<String>,
    /// Why MSRC covers this release no more, in plain words (Windows XP, Server 2003, Vista and
    /// Server 2008 before Service Pack 2 …); `products` is then empty. `None` for covered releases.
    pub end_of_support: Option<String>,
}

/// Why the facts name no MSRC product.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentifyError {
    /// A build number kbgap does not know: a newer, preview or mistyped release.
    #[error(
        "build {version} is not a Windows release kbgap knows{} (a newer or preview build, or a \
         typo?); refusing to guess its MSRC product",
        if *.catalog_checked { ", and no OS product of the catalog names it in a FixedBuild" } else { "" }
    )]
    UnknownBuild {
        /// The unknown version.
        version: OsVersion,
        /// Whether the catalog's FixedBuilds were searched too.
        catalog_checked: bool,
    },
    /// A known release without an MSRC product for this architecture or installation type.
    #[error("{release}: {detail}")]
    NoProduct {
        /// The release in plain words.
        release: String,
        /// What does not exist.
        detail: String,
    },
}

/// One release: its build, plain name, and MSRC product per architecture.
struct Release {
    major: u16,
    minor: u16,
    builds: &'static [u32],
    name: &'static str,
    /// `(architecture, full installation product, Server Core product)`.
    products: &'static [(Architecture, Option<&'static str>, Option<&'static str>)],
    /// Support ended before recent documents: said in a warning.
    note: Option<&'static str>,
}

use Architecture::{Arm64, Ia64, X64, X86};

macro_rules! client {
    ($b:expr, $name:expr, [$(($a:expr, $p:expr)),* $(,)?]) => {
        Release { major: 10, minor: 0, builds: &[$b], name: $name, products: &[$(($a, Some($p), None)),*], note: None }
    };
}

macro_rules! server {
    ($b:expr, $name:expr, $full:expr, $core:expr) => {
        Release {
            major: 10,
            minor: 0,
            builds: &[$b],
            name: $name,
            products: &[(X64, $full, Some($core))],
            note: None,
        }
    };
}

/// Windows 10 and 11 client releases, Windows 7 SP1, 8.1 and Vista SP2.
#[rustfmt::skip]
static CLIENTS: &[Release] = &[
    client!(10240, "Windows 10 Version 1507", [(X86, "Windows 10 for 32-bit Systems"), (X64, "Windows 10 for x64-based Systems")]),
    client!(10586, "Windows 10 Version 1511", [(X86, "Windows 10 Version 1511 for 32-bit Systems"), (X64, "Windows 10 Version 1511 for x64-based Systems")]),
    client!(14393, "Windows 10 Version 1607", [(X86, "Windows 10 Version 1607 for 32-bit Systems"), (X64, "Windows 10 Version 1607 for x64-based Systems")]),
    client!(15063, "Windows 10 Version 1703", [(X86, "Windows 10 Version 1703 for 32-bit Systems"), (X64, "Windows 10 Version 1703 for x64-based Systems")]),
    client!(16299, "Windows 10 Version 1709", [(X86, "Windows 10 Version 1709 for 32-bit Systems"), (X64, "Windows 10 Version 1709 for x64-based Systems"), (Arm64, "Windows 10 Version 1709 for ARM64-based Systems")]),
    client!(17134, "Windows 10 Version 1803", [(X86, "Windows 10 Version 1803 for 32-bit Systems"), (X64, "Windows 10 Version 1803 for x64-based Systems"), (Arm64, "Windows 10 Version 1803 for ARM64-based Systems")]),
    client!(17763, "Windows 10 Version 1809", [(X86, "Windows 10 Version 1809 for 32-bit Systems"), (X64, "Windows 10 Version 1809 for x64-based Systems"), (Arm64, "Windows 10 Version 1809 for ARM64-based Systems")]),
    client!(18362, "Windows 10 Version 1903", [(X86, "Windows 10 Version 1903 for 32-bit Systems"), (X64, "Windows 10 Version 1903 for x64-based Systems"), (Arm64, "Windows 10 Version 1903 for ARM64-based Systems")]),
    client!(18363, "Windows 10 Version 1909", [(X86, "Windows 10 Version 1909 for 32-bit Systems"), (X64, "Windows 10 Version 1909 for x64-based Systems"), (Arm64, "Windows 10 Version 1909 for ARM64-based Systems")]),
    client!(19041, "Windows 10 Version 2004", [(X86, "Windows 10 Version 2004 for 32-bit Systems"), (X64, "Windows 10 Version 2004 for x64-based Systems"), (Arm64, "Windows 10 Version 2004 for ARM64-based Systems")]),
    client!(19042, "Windows 10 Version 20H2", [(X86, "Windows 10 Version 20H2 for 32-bit Systems"), (X64, "Windows 10 Version 20H2 for x64-based Systems"), (Arm64, "Windows 10 Version 20H2 for ARM64-based Systems")]),
    client!(19043, "Windows 10 Version 21H1", [(X86, "Windows 10 Version 21H1 for 32-bit Systems"), (X64, "Windows 10 Version 21H1 for x64-based Systems"), (Arm64, "Windows 10 Version 21H1 for ARM64-based Systems")]),
    client!(19044, "Windows 10 Version 21H2", [(X86, "Windows 10 Version 21H2 for 32-bit Systems"), (X64, "Windows 10 Version 21H2 for x64-based Systems"), (Arm64, "Windows 10 Version 21H2 for ARM64-based Systems")]),
    client!(19045, "Windows 10 Version 22H2", [(X86, "Windows 10 Version 22H2 for 32-bit Systems"), (X64, "Windows 10 Version 22H2 for x64-based Systems"), (Arm64, "Windows 10 Version 22H2 for ARM64-based Systems")]),
    client!(22000, "Windows 11 Version 21H2", [(X64, "Windows 11 version 21H2 for x64-based Systems"), (Arm64, "Windows 11 version 21H2 for ARM64-based Systems")]),
    client!(22621, "Windows 11 Version 22H2", [(X64, "Windows 11 Version 22H2 for x64-based Systems"), (Arm64, "Windows 11 Version 22H2 for ARM64-based Systems")]),
    client!(22631, "Windows 11 Version 23H2", [(X64, "Windows 11 Version 23H2 for x64-based Systems"), (Arm64, "Windows 11 Version 23H2 for ARM64-based Systems")]),
    client!(26100, "Windows 11 Version 24H2", [(X64, "Windows 11 Version 24H2 for x64-based Systems"), (Arm64, "Windows 11 Version 24H2 for ARM64-based Systems")]),
    client!(26200, "Windows 11 Version 25H2", [(X64, "Windows 11 Version 25H2 for x64-based Systems"), (Arm64, "Windows 11 Version 25H2 for ARM64-based Systems")]),
    client!(28000, "Windows 11 Version 26H1", [(X64, "Windows 11 version 26H1 for x64-based Systems"), (Arm64, "Windows 11 Version 26H1 for ARM64-based Systems")]),
    Release {
        major: 6, minor: 0, builds: &[6002, 6003], name: "Windows Vista Service Pack 2",
        products: &[(X86, Some("Windows Vista Service Pack 2"), None), (X64, Some("Windows Vista x64 Edition Service Pack 2"), None)],
        note: Some("Windows Vista left support in April 2017: MSRC documents list no update for it after that month"),
    },
    Release {
        major: 6, minor: 1, builds: &[7601], name: "Windows 7 Service Pack 1",
        products: &[(X86, Some("Windows 7 for 32-bit Systems Service Pack 1"), None), (X64, Some("Windows 7 for x64-based Systems Service Pack 1"), None)],
        note: Some("Windows 7 left support in January 2023 (extended security updates): MSRC documents list no update for it after that month"),
    },
    Release {
        major: 6, minor: 3, builds: &[9600], name: "Windows 8.1",
        products: &[(X86, Some("Windows 8.1 for 32-bit systems"), None), (X64, Some("Windows 8.1 for x64-based systems"), None)],
        note: Some("Windows 8.1 left support in January 2023: MSRC documents list no update for it after that month"),
    },
];

/// Windows Server releases. A `None` full product means the release shipped only as Server Core.
#[rustfmt::skip]
static SERVERS: &[Release] = &[
    server!(14393, "Windows Server 2016", Some("Windows Server 2016"), "Windows Server 2016 (Server Core installation)"),
    server!(16299, "Windows Server, version 1709", None, "Windows Server, version 1709  (Server Core Installation)"),
    server!(17134, "Windows Server, version 1803", None, "Windows Server, version 1803  (Server Core Installation)"),
    server!(17763, "Windows Server 2019", Some("Windows Server 2019"), "Windows Server 2019 (Server Core installation)"),
    server!(18362, "Windows Server, version 1903", None, "Windows Server, version 1903 (Server Core installation)"),
    server!(18363, "Windows Server, version 1909", None, "Windows Server, version 1909 (Server Core installation)"),
    server!(19041, "Windows Server, version 2004", None, "Windows Server, version 2004 (Server Core installation)"),
    server!(19042, "Windows Server, version 20H2", None, "Windows Server, version 20H2 (Server Core Installation)"),
    server!(20348, "Windows Server 2022", Some("Windows Server 2022"), "Windows Server 2022 (Server Core installation)"),
    server!(25398, "Windows Server 2022, 23H2 Edition", None, "Windows Server 2022, 23H2 Edition (Server Core installation)"),
    server!(26100, "Windows Server 2025", Some("Windows Server 2025"), "Windows Server 2025 (Server Core installation)"),
    Release {
        major: 6, minor: 0, builds: &[6002, 6003], name: "Windows Server 2008 Service Pack 2",
        products: &[
            (X86, Some("Windows Server 2008 for 32-bit Systems Service Pack 2"), Some("Windows Server 2008 for 32-bit Systems Service Pack 2 (Server Core installation)")),
            (X64, Some("Windows Server 2008 for x64-based Systems Service Pack 2"), Some("Windows Server 2008 for x64-based Systems Service Pack 2 (Server Core installation)")),
            (Ia64, Some("Windows Server 2008 for Itanium-Based Systems Service Pack 2"), None),
        ],
        note: None,
    },
    Release {
        major: 6, minor: 1, builds: &[7601], name: "Windows Server 2008 R2 Service Pack 1",
        products: &[
            (X64, Some("Windows Server 2008 R2 for x64-based Systems Service Pack 1"), Some("Windows Server 2008 R2 for x64-based Systems Service Pack 1 (Server Core installation)")),
            (Ia64, Some("Windows Server 2008 R2 for Itanium-Based Systems Service Pack 1"), None),
        ],
        note: None,
    },
    Release {
        major: 6, minor: 2, builds: &[9200], name: "Windows Server 2012",
        products: &[(X64, Some("Windows Server 2012"), Some("Windows Server 2012 (Server Core installation)"))],
        note: None,
    },
    Release {
        major: 6, minor: 3, builds: &[9600], name: "Windows Server 2012 R2",
        products: &[(X64, Some("Windows Server 2012 R2"), Some("Windows Server 2012 R2 (Server Core installation)"))],
        note: None,
    },
];

/// Identifies the MSRC product of an OS from its facts, with kbgap's compiled release table only.
///
/// Never guesses: an unknown build, an architecture the release was not built for, or a client
/// build on a server (and the reverse) is an error that says so. A release outside MSRC's
/// coverage (XP, Server 2003 …) is identified with no product and the reason in
/// [`Identified::end_of_support`].
pub fn identify(facts: &OsFacts) -> Result<Identified, IdentifyError> {
    identify_with(facts, None)
}

/// [`identify`], and for a `10.0` build the compiled table does not know, the OS products whose
/// FixedBuilds in `catalog` name it ([`Catalog::os_products_for_build`]): a catalog that lists a
/// Windows release newer than kbgap identifies it. The compiled table stays the first choice.
pub fn identify_with(
    facts: &OsFacts,
    catalog: Option<&Catalog>,
) -> Result<Identified, IdentifyError> {
    let v = facts.version;
    if let Some(eos) = out_of_coverage(facts) {
        return Ok(eos);
    }
    let server = facts.installation_type.is_server();
    let (own, other) = if server {
        (SERVERS, CLIENTS)
    } else {
        (CLIENTS, SERVERS)
    };
    match find(own, v) {
        Some(release) => pick(release, facts),
        None => match find(other, v) {
            Some(r) => Err(IdentifyError::NoProduct {
                release: r.name.to_owned(),
                detail: format!(
                    "build {v} is {} release, but the installation type is {}",
                    if server { "a client" } else { "a server" },
                    facts.installation_type
                ),
            }),
            None => match catalog {
                Some(cat) if v.major == 10 && v.minor == 0 => {
                    from_catalog(cat, facts).ok_or(IdentifyError::UnknownBuild {
                        version: v,
                        catalog_checked: true,
                    })
                }
                _ => Err(IdentifyError::UnknownBuild {
                    version: v,
                    catalog_checked: false,
                }),
            },
        },
    }
}

/// Identification from the catalog's FixedBuilds alone (what [`identify_with`] falls back to).
///
/// A server reported as a full installation whose release exists only as Server Core (and the
/// reverse) gets the product that exists, with a warning, as the compiled table does.
pub fn from_catalog(cat: &Catalog, facts: &OsFacts) -> Option<Identified> {
    let v = facts.version;
    if v.major != 10 || v.minor != 0 {
        return None;
    }
    let arch = Some(facts.architecture);
    let ask = |it| cat.os_products_for_build(v.build, Some(it), arch);
    let asked = facts.installation_type;
    let mut products = ask(asked);
    let mut installation_type = asked;
    let mut warnings = Vec::new();
    let swap = match asked {
        InstallationType::Server => Some(InstallationType::ServerCore),
        InstallationType::ServerCore => Some(InstallationType::Server),
        InstallationType::Client => None,
    };
    if let (true, Some(other)) = (products.is_empty(), swap) {
        products = ask(other);
        installation_type = other;
        if !products.is_empty() {
            warnings.push(format!(
                "build {v} has no {asked} product in MSRC's catalog: reported as {other}"
            ));
        }
    }
    if products.is_empty() {
        return None;
    }
    let release = release_of(&products[0]);
    warnings.push(format!(
        "build {v} is newer than kbgap's own release table: identified from the catalog, whose \
         FixedBuilds name it for {}",
        products.join(", ")
    ));
    Some(Identified {
        release,
        products,
        installation_type,
        warnings,
        end_of_support: None,
    })
}

/// "Windows 11 Version 27H1 for x64-based Systems" → "Windows 11 Version 27H1";
/// "Windows Server 2028 (Server Core installation)" → "Windows Server 2028".
fn release_of(product: &str) -> String {
    let end = [" for ", " ("]
        .iter()
        .filter_map(|m| product.find(m))
        .min()
        .unwrap_or(product.len());
    product[..end].trim().to_owned()
}

fn find(table: &'static [Release], v: OsVersion) -> Option<&'static Release> {
    table
        .iter()
        .find(|r| r.major == v.major && r.minor == v.minor && r.builds.contains(&v.build))
}

/// Chooses the product of a release for the machine's architecture and installation type.
fn pick(release: &Release, facts: &OsFacts) -> Result<Identified, IdentifyError> {
    let arch = facts.architecture;
    let no_product = |detail: String| IdentifyError::NoProduct {
        release: release.name.to_owned(),
        detail,
    };
    let Some(&(_, full, core)) = release.products.iter().find(|(a, _, _)| *a == arch) else {
        let known: Vec<&str> = release
            .products
            .iter()
            .map(|(a, _, _)| a.as_str())
            .collect();
        return Err(no_product(format!(
            "MSRC lists no {arch} edition of it (only {})",
            known.join(", ")
        )));
    };
    let mut warnings: Vec<String> = release.note.iter().map(|n| (*n).to_owned()).collect();
    let (product, installation_type) = match (facts.installation_type, full, core) {
        (InstallationType::ServerCore, _, Some(core)) => (core, InstallationType::ServerCore),
        (InstallationType::ServerCore, Some(full), None) => {
            warnings.push(format!(
                "{} has no Server Core product in MSRC's catalog: reported as a full installation",
                release.name
            ));
            (full, InstallationType::Server)
        }
        (InstallationType::Server, None, Some(core)) => {
            warnings.push(format!(
                "{} ships only as a Server Core installation: reported as Server Core",
                release.name
            ));
            (core, InstallationType::ServerCore)
        }
        (it, Some(full), _) => (full, it),
        (_, None, _) => return Err(no_product(format!("MSRC lists no {arch} product for it"))),
    };
    Ok(Identified {
        release: release.name.to_owned(),
        products: vec![product.to_owned()],
        installation_type,
        warnings,
        end_of_support: None,
    })
}

/// Recognises releases outside MSRC's coverage, so they are accepted with a plain reason instead
/// of an "unknown build": an unpatchable machine is exactly what an admin must see.
fn out_of_coverage(facts: &OsFacts) -> Option<Identified> {
    let v = facts.version;
    let server = facts.installation_type.is_server();
    let sp = facts
        .service_pack
        .filter(|n| *n > 0)
        .map(|n| format!(" Service Pack {n}"))
        .unwrap_or_default();
    let (release, reason, advice): (String, &'static str, &'static str) =
        match (v.major, v.minor, v.build) {
            (1..=4, _, _) => (
                format!("Windows NT {}.{}", v.major, v.minor),
                NO_DOCS,
                UPGRADE,
            ),
            (5, 0, _) => (
                format!("Windows 2000{sp}"),
                "Microsoft ended its support in July 2010, and MSRC's security-update documents \
                 (from 2016) cover no release this old",
                UPGRADE,
            ),
            (5, 1, _) => (
                format!("Windows XP{sp}"),
                "Microsoft ended its support in April 2014, and MSRC's security-update documents \
                 (from 2016) cover no XP release",
                UPGRADE,
            ),
            (5, 2, _) if server => (
                format!("Windows Server 2003{sp}"),
                "Microsoft ended its support in July 2015, before MSRC's security-update documents \
                 start (2016)",
                UPGRADE,
            ),
            (5, 2, _) => (
                format!("Windows XP Professional x64 Edition{sp}"),
                "Microsoft ended its support in April 2014, and MSRC's security-update documents \
                 (from 2016) cover no XP release",
                UPGRADE,
            ),
            (6, 0, 6000 | 6001) if server => (
                "Windows Server 2008 without Service Pack 2".to_owned(),
                "MSRC lists Windows Server 2008 only with Service Pack 2 (build 6002/6003)",
                "install Service Pack 2, or better, upgrade it to a supported Windows release",
            ),
            (6, 0, 6000 | 6001) => (
                format!(
                    "Windows Vista{}",
                    if v.build == 6001 {
                        " Service Pack 1"
                    } else {
                        ""
                    }
                ),
                "MSRC lists Windows Vista only with Service Pack 2 (build 6002), and Microsoft \
                 ended Vista's support in April 2017",
                UPGRADE,
            ),
            (6, 1, 7600) if server => (
                "Windows Server 2008 R2 without Service Pack 1".to_owned(),
                "MSRC lists Windows Server 2008 R2 only with Service Pack 1 (build 7601)",
                "install Service Pack 1, or better, upgrade it to a supported Windows release",
            ),
            (6, 1, 7600) => (
                "Windows 7 without Service Pack 1".to_owned(),
                "MSRC lists Windows 7 only with Service Pack 1 (build 7601)",
                "install Service Pack 1, or better, upgrade it to a supported Windows release",
            ),
            (6, 2, 9200) if !server => (
                "Windows 8".to_owned(),
                "Microsoft ended its support in January 2016, before MSRC's security-update \
                 documents start; MSRC lists Windows 8.1 only",
                UPGRADE,
            ),
            _ => return None,
        };
    Some(Identified {
        end_of_support: Some(format!(
            "{release} ({v}) is out of support: {reason}. No security update is listed for it, so \
             kbgap cannot tell what it misses; {advice}."
        )),
        release,
        products: Vec::new(),
        installation_type: facts.installation_type,
        warnings: Vec::new(),
    })
}

const NO_DOCS: &str =
    "MSRC's security-update documents start in 2016 and cover no release this old";

const UPGRADE: &str = "upgrade it to a supported Windows release";

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(build: u32, it: InstallationType, arch: Architecture) -> OsFacts {
        let (major, minor) = match build {
            6000..=6003 => (6, 0),
            7600 | 7601 => (6, 1),
            9200 => (6, 2),
            9600 => (6, 3),
            2600 => (5, 1),
            3790 => (5, 2),
            _ => (10, 0),
        };
        OsFacts {
            version: OsVersion {
                major,
                minor,
                build,
            },
            installation_type: it,
            architecture: arch,
            service_pack: None,
        }
    }

    fn product(build: u32, it: InstallationType, arch: Architecture) -> String {
        identify(&facts(build, it, arch))
            .unwrap()
            .products
            .join(" | ")
    }

    use InstallationType::{Client, Server, ServerCore};

    #[test]
    fn server_2022_is_not_its_23h2_edition() {
        assert_eq!(product(20348, Server, X64), "Windows Server 2022");
        assert_eq!(
            product(20348, ServerCore, X64),
            "Windows Server 2022 (Server Core installation)"
        );
        assert_eq!(
            product(25398, ServerCore, X64),
            "Windows Server 2022, 23H2 Edition (Server Core installation)"
        );
        let id = identify(&facts(25398, Server, X64)).unwrap();
        assert_eq!(
            id.installation_type, ServerCore,
            "23H2 Edition ships only as Server Core"
        );
        assert!(id.warnings[0].contains("only as a Server Core"));
    }

    #[test]
    fn build_26100_is_24h2_on_a_client_and_2025_on_a_server() {
        assert_eq!(
            product(26100, Client, X64),
            "Windows 11 Version 24H2 for x64-based Systems"
        );
        assert_eq!(
            product(26100, Client, Arm64),
            "Windows 11 Version 24H2 for ARM64-based Systems"
        );
        assert_eq!(product(26100, Server, X64), "Windows Server 2025");
        assert_eq!(
            product(26100, ServerCore, X64),
            "Windows Server 2025 (Server Core installation)"
        );
    }

    #[test]
    fn server_core_variants() {
        assert_eq!(
            product(17763, ServerCore, X64),
            "Windows Server 2019 (Server Core installation)"
        );
        assert_eq!(
            product(14393, ServerCore, X64),
            "Windows Server 2016 (Server Core installation)"
        );
        assert_eq!(
            product(9600, ServerCore, X64),
            "Windows Server 2012 R2 (Server Core installation)"
        );
        assert_eq!(
            product(9200, ServerCore, X64),
            "Windows Server 2012 (Server Core installation)"
        );
        assert_eq!(
            product(7601, ServerCore, X64),
            "Windows Server 2008 R2 for x64-based Systems Service Pack 1 (Server Core installation)"
        );
        assert_eq!(
            product(6003, ServerCore, X86),
            "Windows Server 2008 for 32-bit Systems Service Pack 2 (Server Core installation)"
        );
        assert_eq!(
            product(18363, ServerCore, X64),
            "Windows Server, version 1909 (Server Core installation)"
        );
        assert_eq!(
            product(16299, ServerCore, X64),
            "Windows Server, version 1709  (Server Core Installation)"
        );
        // Itanium has no Server Core: the full product, with a warning.
        let id = identify(&facts(7601, ServerCore, Ia64)).unwrap();
        assert_eq!(
            id.products,
            ["Windows Server 2008 R2 for Itanium-Based Systems Service Pack 1"]
        );
        assert_eq!(id.warnings.len(), 1);
    }

    #[test]
    fn windows_7_8_1_and_vista() {
        assert_eq!(
            product(7601, Client, X86),
            "Windows 7 for 32-bit Systems Service Pack 1"
        );
        assert_eq!(
            product(7601, Client, X64),
            "Windows 7 for x64-based Systems Service Pack 1"
        );
        assert_eq!(
            product(7601, Server, X64),
            "Windows Server 2008 R2 for x64-based Systems Service Pack 1"
        );
        assert_eq!(
            product(9600, Client, X64),
            "Windows 8.1 for x64-based systems"
        );
        assert_eq!(product(9600, Server, X64), "Windows Server 2012 R2");
        assert_eq!(
            product(6002, Client, X64),
            "Windows Vista x64 Edition Service Pack 2"
        );
        assert_eq!(
            product(6003, Server, Ia64),
            "Windows Server 2008 for Itanium-Based Systems Service Pack 2"
        );
    }

    #[test]
    fn windows_10_and_11_spellings() {
        assert_eq!(
            product(10240, Client, X64),
            "Windows 10 for x64-based Systems"
        );
        assert_eq!(
            product(19045, Client, X86),
            "Windows 10 Version 22H2 for 32-bit Systems"
        );
        assert_eq!(
            product(22000, Client, X64),
            "Windows 11 version 21H2 for x64-based Systems"
        );
        assert_eq!(
            product(28000, Client, X64),
            "Windows 11 version 26H1 for x64-based Systems"
        );
        assert_eq!(
            product(14393, Client, X64),
            "Windows 10 Version 1607 for x64-based Systems"
        );
        assert_eq!(product(14393, Server, X64), "Windows Server 2016");
    }

    #[test]
    fn refuses_to_guess() {
        let e = identify(&facts(19999, Client, X64)).unwrap_err();
        assert!(matches!(e, IdentifyError::UnknownBuild { .. }));
        assert!(e.to_string().contains("10.0.19999"), "{e}");
        let e = identify(&facts(26100, Client, X86)).unwrap_err();
        assert!(e.to_string().contains("no x86 edition"), "{e}");
        let e = identify(&facts(20348, Client, X64)).unwrap_err();
        assert!(e.to_string().contains("a server release"), "{e}");
        let e = identify(&facts(19045, Server, X64)).unwrap_err();
        assert!(e.to_string().contains("a client release"), "{e}");
    }

    #[test]
    fn old_releases_are_accepted_as_end_of_support_in_plain_words() {
        let mut f = facts(2600, Client, X86);
        f.service_pack = Some(3);
        let id = identify(&f).unwrap();
        assert_eq!(id.release, "Windows XP Service Pack 3");
        assert!(id.products.is_empty());
        assert_eq!(
            id.end_of_support.as_deref(),
            Some(
                "Windows XP Service Pack 3 (5.1.2600) is out of support: Microsoft ended its support in \
                 April 2014, and MSRC's security-update documents (from 2016) cover no XP release. No \
                 security update is listed for it, so kbgap cannot tell what it misses; upgrade it to a \
                 supported Windows release."
            )
        );
        for (b, it, release) in [
            (3790, Server, "Windows Server 2003"),
            (3790, Client, "Windows XP Professional x64 Edition"),
            (6001, Server, "Windows Server 2008 without Service Pack 2"),
            (6000, Client, "Windows Vista"),
            (6001, Client, "Windows Vista Service Pack 1"),
            (7600, Client, "Windows 7 without Service Pack 1"),
            (
                7600,
                Server,
                "Windows Server 2008 R2 without Service Pack 1",
            ),
            (9200, Client, "Windows 8"),
        ] {
            let id = identify(&facts(b, it, X64)).unwrap();
            assert_eq!(id.release, release);
            assert!(id.products.is_empty(), "{b} {it}");
            assert_eq!(id.installation_type, it);
            let why = id.end_of_support.unwrap();
            assert!(why.starts_with(&format!("{release} (")), "{why}");
            assert!(why.contains("is out of support"), "{why}");
        }
        // Covered releases carry no end-of-support note, even old ones still in MSRC's documents.
        for (b, it) in [
            (6002, Client),
            (6003, Server),
            (7601, Client),
            (9600, Client),
        ] {
            assert_eq!(identify(&facts(b, it, X64)).unwrap().end_of_support, None);
        }
    }

    #[test]
    fn release_names_from_product_names() {
        assert_eq!(
            release_of("Windows 11 Version 27H1 for x64-based Systems"),
            "Windows 11 Version 27H1"
        );
        assert_eq!(
            release_of("Windows Server 2028 (Server Core installation)"),
            "Windows Server 2028"
        );
        assert_eq!(release_of("Windows Server 2028"), "Windows Server 2028");
    }
}
