//! OS identification learns from the catalog: a build kbgap's compiled release table does not know
//! is identified from the FixedBuilds of the catalog's OS products (`Catalog::os_products_for_build`
//! behind `osid::identify_with`). Over the real bundled catalog (190 MSRC documents); slow in debug
//! builds, so run with `--release`.

mod common;

use std::sync::OnceLock;

use common::*;
use kbgap_core::catalog::Catalog;
use kbgap_core::product::normalize_name;
use kbgap_core::{
    Architecture, Document, DocumentInfo, InstallationType, KbId, OsVersion, Revision, VendorFix,
    Vulnerability,
};
use kbgap_inventory::osid::{self, OsFacts};
use kbgap_inventory::{ErrorKind, Format, Inventory, OsOverrides, read, read_with};

fn bundled() -> Vec<Document> {
    kbgap_catalog::bundled::read_all()
        .collect::<Result<_, _>>()
        .expect("bundled documents read")
}

fn catalog() -> &'static Catalog {
    static CAT: OnceLock<Catalog> = OnceLock::new();
    CAT.get_or_init(|| Catalog::compile(&bundled()))
}

/// The bundled catalog plus one made-up document for a Windows release newer than kbgap
/// ("Windows 11 Version 27H1", build 28100), shaped like MSRC's: a cumulative update per
/// architecture with FixedBuilds on the new branch.
fn catalog_with_a_new_release() -> &'static Catalog {
    static CAT: OnceLock<Catalog> = OnceLock::new();
    CAT.get_or_init(|| {
        let mut docs = bundled();
        let products = [
            ("99001", "Windows 11 Version 27H1 for x64-based Systems"),
            ("99002", "Windows 11 Version 27H1 for ARM64-based Systems"),
        ];
        docs.push(Document {
            info: DocumentInfo {
                id: "2027-Jan".into(),
                title: "January 2027 Security Updates".into(),
                revision: Revision(vec![1]),
                initial_release: "2027-01-12T08:00:00".into(),
                current_release: "2027-01-12T08:00:00".into(),
            },
            products: products
                .iter()
                .map(|(id, name)| kbgap_core::document::DocProduct {
                    id: id.parse().unwrap(),
                    name: (*name).into(),
                    family: Some("Windows".into()),
                })
                .collect(),
            vulnerabilities: (1..=3)
                .map(|n| Vulnerability {
                    id: format!("CVE-2027-000{n}").parse().unwrap(),
                    title: "Windows Kernel Elevation of Privilege Vulnerability".into(),
                    severities: vec![],
                    vectors: vec![],
                    impacts: vec![],
                    exploit: None,
                    published: None,
                    scores: vec![],
                    fixes: vec![VendorFix {
                        kb: KbId::new(5_200_001).unwrap(),
                        url: None,
                        supersedes: vec![],
                        products: products.iter().map(|(id, _)| id.parse().unwrap()).collect(),
                        fixed_build: Some("10.0.28100.1301".into()),
                        sub_type: Some("Security Update".into()),
                    }],
                })
                .collect(),
            warnings: vec![],
        });
        Catalog::compile(&docs)
    })
}

fn facts(build: u32, it: InstallationType, arch: Architecture) -> OsFacts {
    OsFacts {
        version: OsVersion {
            major: 10,
            minor: 0,
            build,
        },
        installation_type: it,
        architecture: arch,
        service_pack: None,
    }
}

fn normalized(names: &[String]) -> Vec<String> {
    let mut v: Vec<String> = names.iter().map(|n| normalize_name(n)).collect();
    v.sort();
    v
}

/// Every Windows 10/11/Server build of the compiled table, for every installation type and
/// architecture: asked of the catalog alone (as if the table lacked the build), the answer is
/// the table's. This is what a build newer than kbgap gets once a `catalog sync` brings it.
#[test]
fn the_catalog_alone_identifies_every_release_of_the_compiled_table() {
    let cat = catalog();
    let builds = [
        10240, 10586, 14393, 15063, 16299, 17134, 17763, 18362, 18363, 19041, 19042, 19043, 19044,
        19045, 20348, 22000, 22621, 22631, 25398, 26100, 26200, 28000,
    ];
    let (mut same, mut compared) = (0, 0);
    let mut differ = Vec::new();
    for build in builds {
        for it in [
            InstallationType::Client,
            InstallationType::Server,
            InstallationType::ServerCore,
        ] {
            for arch in [Architecture::X86, Architecture::X64, Architecture::Arm64] {
                let f = facts(build, it, arch);
                let Ok(table) = osid::identify(&f) else {
                    continue;
                };
                compared += 1;
                match osid::from_catalog(cat, &f) {
                    Some(c)
                        if normalized(&c.products) == normalized(&table.products)
                            && c.installation_type == table.installation_type =>
                    {
                        same += 1
                    }
                    other => differ.push(format!(
                        "{build} {it} {arch}: table {:?}, catalog {:?}",
                        table.products,
                        other.map(|c| c.products)
                    )),
                }
            }
        }
    }
    assert!(
        differ.is_empty(),
        "{} differ:\n{}",
        differ.len(),
        differ.join("\n")
    );
    assert_eq!(same, compared);
    assert!(compared >= 60, "{compared} combinations compared");
}

#[test]
fn a_release_newer_than_kbgap_is_identified_from_the_catalog() {
    let text =
        String::from_utf8(bytes(corpus_dir(), "11_24H2_x64_enterprise_systeminfo.txt")).unwrap();
    let edited = text.replace("10.0.26100 N/A Build 26100", "10.0.28100 N/A Build 28100");
    assert_ne!(edited, text, "the fixture names build 26100");

    // kbgap's own table does not know 28100 …
    let e = read(edited.as_bytes(), "27h1.txt", Format::Auto).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::UnknownBuild);
    // … nor does the bundled catalog, and the error says both were asked …
    let e = read_with(edited.as_bytes(), "27h1.txt", Format::Auto, Some(catalog())).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::UnknownBuild);
    assert!(
        e.to_string()
            .contains("no OS product of the catalog names it in a FixedBuild"),
        "{e}"
    );
    // … but a catalog that lists the new release identifies it.
    let cat = catalog_with_a_new_release();
    let Ok(Inventory::Device(d)) =
        read_with(edited.as_bytes(), "27h1.txt", Format::Auto, Some(cat))
    else {
        panic!("not identified")
    };
    assert_eq!(
        d.products,
        ["Windows 11 Version 27H1 for x64-based Systems"]
    );
    assert_eq!(d.installation_type, Some(InstallationType::Client));
    assert!(
        d.warnings
            .iter()
            .any(|w| w.contains("newer than kbgap's own release table")),
        "{:?}",
        d.warnings
    );
    // The compiled table stays the first choice: the unedited file is 24H2 with no such warning.
    let Ok(Inventory::Device(d)) = read_with(text.as_bytes(), "24h2.txt", Format::Auto, Some(cat))
    else {
        panic!()
    };
    assert_eq!(
        d.products,
        ["Windows 11 Version 24H2 for x64-based Systems"]
    );
    assert!(d.warnings.iter().all(|w| !w.contains("release table")));
}

#[test]
fn os_facts_given_as_options_learn_from_the_catalog_too() {
    let list = kbgap_inventory::HotfixList::default();
    let o = OsOverrides {
        os_version: Some("10.0.28100".parse().unwrap()),
        installation_type: Some(InstallationType::Client),
        architecture: Some(Architecture::Arm64),
        ..OsOverrides::default()
    };
    let e = kbgap_inventory::device_from_facts(&o, &list, "qfe.txt").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::UnknownBuild);
    let d = kbgap_inventory::device_from_facts_with(
        &o,
        &list,
        "qfe.txt",
        Some(catalog_with_a_new_release()),
    )
    .unwrap();
    assert_eq!(
        d.products,
        ["Windows 11 Version 27H1 for ARM64-based Systems"]
    );
    // A server build the catalog does not list stays unknown.
    let o = OsOverrides {
        installation_type: Some(InstallationType::Server),
        architecture: Some(Architecture::X64),
        ..o
    };
    let e = kbgap_inventory::device_from_facts_with(
        &o,
        &list,
        "qfe.txt",
        Some(catalog_with_a_new_release()),
    )
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::UnknownBuild);
}
