//! Languages and encodings the real corpus lacks: German (cp850, windows-1252, UTF-8), Italian
//! (cp850), Russian (cp866), Simplified Chinese (GBK, UTF-16LE without BOM), and English labels
//! with a Spanish (Argentina) locale missing its host-name line. The files are synthetic captures
//! built from real labels (see tests/fixtures/README.md).

mod common;

use common::*;
use kbgap_core::Architecture::{Arm64, X64};
use kbgap_core::InstallationType::{Client, Server};
use kbgap_inventory::{Format, Inventory, decode, read};

fn encoding(name: &str) -> &'static str {
    decode(&bytes(local_dir(), name)).unwrap().encoding
}

#[test]
fn german_cp850() {
    let name = "de_7_sp1_x64_cp850_systeminfo.txt";
    assert_eq!(encoding(name), "cp850");
    let d = device(local_dir(), name);
    assert_os(
        &d,
        "Windows 7 for x64-based Systems Service Pack 1",
        "6.1.7601",
        X64,
        Client,
    );
    assert_eq!(d.computer_dns_name, "OLI7-PC");
    assert_eq!(d.locale.as_deref(), Some("de;Deutsch (Deutschland)"));
    assert_eq!(
        kbs(&d),
        [968211, 2670838, 2841134, 2849696, 2849697, 3127220]
    );
}

#[test]
fn german_windows_1252_member_server() {
    let name = "de_srv2019_x64_cp1252_systeminfo.txt";
    assert_eq!(encoding(name), "windows-1252");
    let d = device(local_dir(), name);
    assert_os(&d, "Windows Server 2019", "10.0.17763", X64, Server);
    assert_eq!(kbs(&d), [4512577, 4512578, 4514366]);
}

#[test]
fn german_utf8_lf_arm64() {
    let name = "de_11_23H2_arm64_utf8_systeminfo.txt";
    assert_eq!(encoding(name), "UTF-8");
    let d = device(local_dir(), name);
    assert_os(
        &d,
        "Windows 11 Version 23H2 for ARM64-based Systems",
        "10.0.22631",
        Arm64,
        Client,
    );
    assert_eq!(kbs(&d), [5034441, 5034467, 5034765]);
}

#[test]
fn italian_cp850() {
    let name = "it_10_1803_x64_cp850_systeminfo.txt";
    assert_eq!(encoding(name), "cp850");
    let d = device(local_dir(), name);
    assert_os(
        &d,
        "Windows 10 Version 1803 for x64-based Systems",
        "10.0.17134",
        X64,
        Client,
    );
    assert_eq!(d.locale.as_deref(), Some("it;Italiano (Italia)"));
    let k = kbs(&d);
    assert_eq!((k.len(), k[0], k[9]), (10, 4100347, 4487038));
}

#[test]
fn russian_cp866_domain_controller() {
    let name = "ru_srv2012r2_x64_cp866_systeminfo.txt";
    assert_eq!(encoding(name), "cp866");
    let d = device(local_dir(), name);
    assert_os(&d, "Windows Server 2012 R2", "6.3.9600", X64, Server);
    assert_eq!(
        d.os_name.as_deref(),
        Some("Майкрософт Windows Server 2012 R2 Standard")
    );
    assert_eq!(d.locale.as_deref(), Some("ru;Русский"));
    assert_eq!(
        kbs(&d),
        [
            2919355, 2919442, 2937220, 2938772, 2939471, 2949621, 2999226
        ]
    );
}

#[test]
fn chinese_gbk_and_utf16le_without_bom() {
    for (name, enc) in [
        ("zh-cn_10_1809_x64_gbk_systeminfo.txt", "GBK"),
        ("zh-cn_10_1809_x64_utf16le-nobom_systeminfo.txt", "UTF-16LE"),
    ] {
        assert_eq!(encoding(name), enc);
        let d = device(local_dir(), name);
        assert_os(
            &d,
            "Windows 10 Version 1809 for x64-based Systems",
            "10.0.17763",
            X64,
            Client,
        );
        assert_eq!(d.computer_dns_name, "DESKTOP-0CQH3P2");
        assert_eq!(
            d.os_name.as_deref(),
            Some("Microsoft Windows 10 企业版 LTSC")
        );
        assert_eq!(d.locale.as_deref(), Some("zh-cn;中文(中国)"));
        assert_eq!(kbs(&d), [4464455, 4470788]);
    }
}

/// es-AR capture from wesng's false-positive set: English labels, Spanish (Argentina) locale,
/// and the host-name line missing at the top.
#[test]
fn spanish_argentina_without_host_name_line() {
    let text = "OS Name:                   Microsoft Windows 10 Enterprise\r\n\
                OS Version:                10.0.17134 N/A Build 17134\r\n\
                OS Manufacturer:           Microsoft Corporation\r\n\
                OS Configuration:          Member Workstation\r\n\
                OS Build Type:             Multiprocessor Free\r\n\
                Registered Owner:          Usuario de Windows\r\n\
                Registered Organization:   \r\n\
                Product ID:                00329-10180-00000-AA626\r\n\
                Original Install Date:     5/24/2018, 9:07:00 AM\r\n\
                System Boot Time:          3/7/2019, 7:54:07 AM\r\n\
                System Manufacturer:       Dell Inc.\r\n\
                System Model:              OptiPlex 3040\r\n\
                System Type:               x64-based PC\r\n\
                Processor(s):              1 Processor(s) Installed.\r\n\
                BIOS Version:              Dell Inc. 1.6.1, 12/6/2017\r\n\
                Windows Directory:         C:\\WINDOWS\r\n\
                System Directory:          C:\\WINDOWS\\system32\r\n\
                Boot Device:               \\Device\\HarddiskVolume1\r\n\
                System Locale:             es-ar;Spanish (Argentina)\r\n\
                Input Locale:              es-mx;Spanish (Mexico)\r\n\
                Time Zone:                 (UTC-03:00) City of Buenos Aires\r\n\
                Total Physical Memory:     8,093 MB\r\n\
                Available Physical Memory: 4,626 MB\r\n\
                Virtual Memory: Max Size:  9,373 MB\r\n\
                Virtual Memory: Available: 4,836 MB\r\n\
                Virtual Memory: In Use:    4,537 MB\r\n\
                Page File Location(s):     C:\\pagefile.sys\r\n\
                Hotfix(s):                 3 Hotfix(s) Installed.\r\n";
    let hotfix_lines = "                           [01]: KB4456655\r\n                           [02]: KB4465663\r\n                           [03]: KB4487029\r\n";
    let all = format!("{text}{hotfix_lines}");
    let Ok(Inventory::Device(d)) = read(all.as_bytes(), "es-ar.txt", Format::Auto) else {
        panic!()
    };
    assert_os(
        &d,
        "Windows 10 Version 1803 for x64-based Systems",
        "10.0.17134",
        X64,
        Client,
    );
    assert_eq!(d.computer_dns_name, "");
    assert_eq!(d.locale.as_deref(), Some("es-ar;Spanish (Argentina)"));
    assert_eq!(kbs(&d), [4456655, 4465663, 4487029]);
}
