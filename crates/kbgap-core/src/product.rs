//! Facts read from an MSRC product name, and the Defender-style software name of a product.
//!
//! MSRC names products in prose ("Internet Explorer 11 on Windows 10 Version 1909 for x64-based
//! Systems"); the engine needs facts: which Windows build a product runs on (to pick the FixedBuild
//! on the machine's own branch), its architecture, whether it is a Server Core installation, and
//! for "X on <OS>" products, which OS product they belong to. Names are matched only after
//! [`normalize_name`], because MSRC spells the same product with different spacing and case.

use serde::{Deserialize, Serialize};

use crate::kinds::Architecture;

/// What a product name says about the product.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ProductFacts {
    /// The family: "Windows 10", "Windows Server 2022", "Internet Explorer 11", ".NET Framework" …
    pub family: String,
    /// The release within the family when named ("22H2", "1909", "R2"), else `None`.
    pub version: Option<String>,
    /// The Windows build number the product runs on (19045 for Windows 10 22H2), when known.
    pub build: Option<u32>,
    /// The architecture, when the name gives one.
    pub architecture: Option<Architecture>,
    /// Whether the product is a Server Core installation.
    pub server_core: bool,
    /// For "X on <OS>" products, the OS product's full name (normalised).
    pub on_os: Option<String>,
    /// Whether the product is a Windows operating system itself.
    pub is_os: bool,
}

/// Lowercases, removes invisible characters and collapses whitespace, so that "Windows Server 2016
/// (Server Core installation)" with one or two spaces, or "Version" vs "version", are one product.
pub fn normalize_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut space = false;
    for c in name.chars() {
        if matches!(c, '\u{200B}'..='\u{200F}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}' | '\u{00AD}')
        {
            continue;
        }
        if c.is_whitespace() {
            space = !out.is_empty();
            continue;
        }
        if space {
            out.push(' ');
            space = false;
        }
        out.extend(c.to_lowercase());
    }
    out
}

/// The build number of a Windows release, from its family and version as MSRC names them.
fn windows_build(family: &str, version: Option<&str>) -> Option<u32> {
    let v = version.unwrap_or("");
    let b = match (family, v) {
        ("windows 10", "") | ("windows 10", "1507") => 10240,
        ("windows 10", "1511") => 10586,
        ("windows 10" | "windows server", "1607") | ("windows server 2016", _) => 14393,
        ("windows 10", "1703") => 15063,
        ("windows 10" | "windows server", "1709") => 16299,
        ("windows 10" | "windows server", "1803") => 17134,
        ("windows 10" | "windows server", "1809") | ("windows server 2019", _) => 17763,
        ("windows 10" | "windows server", "1903") => 18362,
        ("windows 10" | "windows server", "1909") => 18363,
        ("windows 10" | "windows server", "2004") => 19041,
        ("windows 10" | "windows server", "20h2") => 19042,
        ("windows 10", "21h1") => 19043,
        ("windows 10", "21h2") => 19044,
        ("windows 10", "22h2") => 19045,
        ("windows 11", "" | "21h2") => 22000,
        ("windows 11", "22h2") => 22621,
        ("windows 11", "23h2") => 22631,
        ("windows 11", "24h2") => 26100,
        ("windows 11", "25h2") => 26200,
        ("windows 11", "26h1") => 28000,
        ("windows server 2022", "23h2") => 25398,
        ("windows server 2022", _) => 20348,
        ("windows server 2025", _) => 26100,
        ("windows 7" | "windows server 2008", "r2") => 7601,
        ("windows 7", _) => 7601,
        ("windows 8.1" | "windows rt 8.1", _) | ("windows server 2012", "r2") => 9600,
        ("windows server 2012", _) => 9200,
        ("windows vista" | "windows server 2008", _) => 6002,
        _ => return None,
    };
    Some(b)
}

fn architecture_of(lower: &str) -> Option<Architecture> {
    if lower.contains("x64-based")
        || lower.contains("x64 edition")
        || lower.contains("64-bit edition")
    {
        Some(Architecture::X64)
    } else if lower.contains("32-bit") {
        Some(Architecture::X86)
    } else if lower.contains("arm64") || lower.contains("for arm systems") {
        Some(Architecture::Arm64)
    } else if lower.contains("itanium") {
        Some(Architecture::Ia64)
    } else {
        None
    }
}

/// Splits "<family> [version]" off the start of a Windows OS name (already normalised).
fn windows_family(os: &str) -> Option<(&'static str, Option<String>)> {
    const FAMILIES: &[&str] = &[
        "windows server 2022, 23h2 edition",
        "windows server 2025",
        "windows server 2022",
        "windows server 2019",
        "windows server 2016",
        "windows server 2012 r2",
        "windows server 2012",
        "windows server 2008 r2",
        "windows server 2008",
        "windows server, version",
        "windows 11",
        "windows 10",
        "windows 8.1",
        "windows rt 8.1",
        "windows 7",
        "windows vista",
    ];
    let word = |s: &str| s.split([' ', ',', '(']).next().unwrap_or("").to_owned();
    let Some(fam) = FAMILIES.iter().find(|f| os.starts_with(**f)) else {
        // A Windows Server release newer than this list ("Windows Server 2028"): an OS whose
        // build comes from its FixedBuilds (`Catalog::os_products_for_build`).
        let year = word(os.strip_prefix("windows server ")?);
        let is_year =
            year.len() == 4 && year.starts_with("20") && year.bytes().all(|b| b.is_ascii_digit());
        return is_year.then_some(("windows server", Some(year)));
    };
    let rest = os[fam.len()..].trim_start();
    let (family, version) = match *fam {
        "windows server 2022, 23h2 edition" => ("windows server 2022", Some("23h2".to_owned())),
        "windows server 2012 r2" => ("windows server 2012", Some("r2".to_owned())),
        "windows server 2008 r2" => ("windows server 2008", Some("r2".to_owned())),
        "windows server, version" => ("windows server", Some(word(rest))),
        "windows 10" | "windows 11" => {
            let v = rest.strip_prefix("version ").map(word);
            (
                if *fam == "windows 10" {
                    "windows 10"
                } else {
                    "windows 11"
                },
                v,
            )
        }
        f => (f, None),
    };
    Some((family, version))
}

/// Reads the facts out of an MSRC full product name.
pub fn parse_facts(name: &str) -> ProductFacts {
    let lower = normalize_name(name);
    let (subject, on_os) = match lower.split_once(" on ") {
        Some((s, os)) if os.starts_with("windows") => (s.to_owned(), Some(os.to_owned())),
        _ => (lower.clone(), None),
    };
    let os_part = on_os.as_deref().unwrap_or(&subject);
    let win = windows_family(os_part);
    let hlk =
        os_part.contains(" hlk") || os_part.contains("hololens") || os_part.contains("mobile");
    let (family, version, is_os) = match (&on_os, &win) {
        (None, Some((f, v))) if !hlk => ((*f).to_owned(), v.clone(), true),
        _ => (component_family(&subject), None, false),
    };
    let build = match &win {
        Some((f, v)) if !hlk => windows_build(f, v.as_deref()),
        _ => None,
    };
    ProductFacts {
        family,
        version,
        build,
        architecture: architecture_of(os_part),
        server_core: os_part.contains("server core"),
        on_os,
        is_os,
    }
}

/// A component's family: its name without trailing architecture or edition qualifiers.
fn component_family(subject: &str) -> String {
    subject
        .split(" for ")
        .next()
        .unwrap_or(subject)
        .trim_end_matches([' ', ','])
        .to_owned()
}

/// The Defender-style software name of a product (`windows_10`, `edge`, `.net_framework` …):
/// the product half of a software id `microsoft-_-<name>`.
pub fn software_name(name: &str) -> String {
    let lower = normalize_name(name);
    let facts = parse_facts(name);
    if facts.is_os {
        return match (facts.family.as_str(), facts.version.as_deref()) {
            ("windows server 2012" | "windows server 2008", Some("r2")) => {
                format!("{}_r2", facts.family.replace(' ', "_"))
            }
            ("windows server", _) => "windows_server".to_owned(),
            (f, _) => f.replace(' ', "_"),
        };
    }
    let subject = lower.split(" on ").next().unwrap_or(&lower);
    let fixed: &[(&str, &str)] = &[
        ("internet explorer", "internet_explorer"),
        ("microsoft edge", "edge"),
        ("microsoft .net framework", ".net_framework"),
        (".net framework", ".net_framework"),
        ("asp.net core", "asp.net_core"),
        (".net core", ".net_core"),
        (".net ", ".net"),
        ("adobe flash player", "flash_player"),
    ];
    if let Some((_, n)) = fixed.iter().find(|(p, _)| subject.starts_with(p)) {
        return (*n).to_owned();
    }
    generic_software_name(subject)
}

/// "Microsoft Office 2019 for 64-bit editions" → `office`; "Microsoft Excel 2016 (32-bit
/// edition)" → `excel`: drop the vendor prefix, parenthesised and "for …" qualifiers, and words with
/// digits, then join with underscores.
fn generic_software_name(subject: &str) -> String {
    let base = subject.split(" for ").next().unwrap_or(subject);
    let base = base.split(" (").next().unwrap_or(base);
    let base = base.strip_prefix("microsoft ").unwrap_or(base);
    let words: Vec<&str> = base
        .split([' ', ','])
        .filter(|w| !w.is_empty() && !w.chars().any(|c| c.is_ascii_digit()))
        .collect();
    if words.is_empty() {
        base.replace(' ', "_")
    } else {
        words.join("_")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_products_have_builds_and_architectures() {
        let f = parse_facts("Windows 10 Version 22H2 for x64-based Systems");
        assert_eq!(
            (f.build, f.architecture, f.is_os),
            (Some(19045), Some(Architecture::X64), true)
        );
        let f = parse_facts("Windows 11 version 21H2 for ARM64-based Systems");
        assert_eq!(
            (f.build, f.architecture),
            (Some(22000), Some(Architecture::Arm64))
        );
        let f = parse_facts("Windows Server 2022, 23H2 Edition (Server Core installation)");
        assert_eq!((f.build, f.server_core), (Some(25398), true));
        let f = parse_facts("Windows Server 2022 (Server Core installation)");
        assert_eq!((f.build, f.server_core), (Some(20348), true));
        assert_eq!(
            parse_facts("Windows 7 for 32-bit Systems Service Pack 1").build,
            Some(7601)
        );
        assert_eq!(parse_facts("Windows Server 2012 R2").build, Some(9600));
        assert_eq!(
            parse_facts("Windows Server, version 1909 (Server Core installation)").build,
            Some(18363)
        );
        assert!(!parse_facts("Windows 10 HLK Version 22H2").is_os);
        // Releases newer than kbgap are still operating systems, with the build left to the
        // catalog's FixedBuilds.
        let f = parse_facts("Windows Server 2028 (Server Core installation)");
        assert_eq!(
            (f.is_os, f.build, f.server_core, f.family.as_str()),
            (true, None, true, "windows server")
        );
        let f = parse_facts("Windows 11 Version 27H1 for ARM64-based Systems");
        assert_eq!(
            (f.is_os, f.build, f.architecture),
            (true, None, Some(Architecture::Arm64))
        );
        assert!(!parse_facts("Windows Server Update Services 3.0 SP2").is_os);
    }

    #[test]
    fn components_name_their_os() {
        let f =
            parse_facts("Internet Explorer 11 on Windows 10 Version 1909 for x64-based Systems");
        assert!(!f.is_os);
        assert_eq!(
            f.on_os.as_deref(),
            Some("windows 10 version 1909 for x64-based systems")
        );
        assert_eq!(f.build, Some(18363));
        assert_eq!(f.family, "internet explorer 11");
    }

    #[test]
    fn software_names_follow_defender() {
        assert_eq!(
            software_name("Windows 10 Version 1909 for x64-based Systems"),
            "windows_10"
        );
        assert_eq!(
            software_name("Windows Server 2019  (Server Core installation)"),
            "windows_server_2019"
        );
        assert_eq!(
            software_name("Windows Server 2012 R2"),
            "windows_server_2012_r2"
        );
        assert_eq!(
            software_name(
                "Microsoft Edge (EdgeHTML-based) on Windows 10 Version 1909 for x64-based Systems"
            ),
            "edge"
        );
        assert_eq!(
            software_name("Internet Explorer 11 on Windows 7 for x64-based Systems Service Pack 1"),
            "internet_explorer"
        );
        assert_eq!(
            software_name(
                "Microsoft .NET Framework 3.5 AND 4.8.1 on Windows 11 Version 23H2 for x64-based Systems"
            ),
            ".net_framework"
        );
        assert_eq!(
            software_name("Microsoft Office 2019 for 64-bit editions"),
            "office"
        );
    }

    #[test]
    fn normalisation_merges_spelling_variants() {
        assert_eq!(
            normalize_name("Windows Server 2016  (Server Core installation)"),
            normalize_name("Windows Server 2016 (Server Core\u{200B} installation) ")
        );
    }
}
