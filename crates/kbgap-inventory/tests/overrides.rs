//! OS facts given as options: Server Core behind systeminfo, hotfix lists plus facts.

mod common;

use common::*;
use kbgap_core::Architecture::X64;
use kbgap_core::InstallationType::{Client, ServerCore};
use kbgap_core::OsVersion;
use kbgap_inventory::{ErrorKind, OsOverrides, apply_overrides, device_from_facts};

#[test]
fn server_core_override_renames_the_product_and_drops_the_assumption() {
    let mut d = device(corpus_dir(), "srv_2022_systeminfo.txt");
    assert_eq!(d.products, ["Windows Server 2022"]);
    let o = OsOverrides {
        installation_type: Some(ServerCore),
        ubr: Some(2227),
        ..OsOverrides::default()
    };
    apply_overrides(&mut d, &o).unwrap();
    assert_eq!(
        d.products,
        ["Windows Server 2022 (Server Core installation)"]
    );
    assert_eq!(d.installation_type, Some(ServerCore));
    assert_eq!(d.ubr, Some(2227));
    assert!(d.warnings.is_empty(), "{:?}", d.warnings);
}

#[test]
fn hotfix_list_plus_os_facts() {
    let list = hotfixes(corpus_dir(), "10_1809_x64_education_en-us_20190306_qfe.txt");
    let o = OsOverrides {
        os_version: Some(OsVersion {
            major: 10,
            minor: 0,
            build: 17763,
        }),
        ubr: Some(316),
        installation_type: Some(Client),
        architecture: Some(X64),
        ..OsOverrides::default()
    };
    let d = device_from_facts(
        &o,
        &list,
        "fixtures/10_1809_x64_education_en-us_20190306_qfe.txt",
    )
    .unwrap();
    assert_os(
        &d,
        "Windows 10 Version 1809 for x64-based Systems",
        "10.0.17763",
        X64,
        Client,
    );
    assert_eq!(
        d.computer_dns_name,
        "10_1809_x64_education_en-us_20190306_qfe"
    );
    assert_eq!(d.installed_kbs, list.kbs);
}

#[test]
fn hotfix_list_without_os_facts_says_what_is_missing() {
    let list = hotfixes(corpus_dir(), "10_1809_x64_pro_en-us_20190307_qfe.txt");
    let e = device_from_facts(&OsOverrides::default(), &list, "qfe.txt").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::MissingFact);
    assert_eq!(
        e.to_string(),
        "qfe.txt: the OS version is unknown: give it as an option, e.g. --os-version 10.0.19045"
    );
}
