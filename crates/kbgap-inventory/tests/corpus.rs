//! The real corpus: every file gives a machine, a hotfix list or a precise reason; and one file
//! per language and per encoding is pinned field by field.

mod common;

use common::*;
use kbgap_core::Architecture::{X64, X86};
use kbgap_core::InstallationType::{Client, Server};
use kbgap_inventory::{ErrorKind, Inventory, decode};

/// What each corpus file must give.
#[derive(Debug, PartialEq)]
enum Expect {
    Device,
    /// A machine whose OS MSRC covers no more: no products, the reason in `end_of_support`.
    EndOfSupport,
    Hotfixes,
    Error(ErrorKind),
}

fn expected(name: &str) -> Expect {
    let old_os = [
        "xp_",
        "srv_2003",
        "srv_2008_rtm",
        "vista_x64_sp0",
        "vista_x64_sp1",
    ];
    if name == "10_1803_x64_proforworkstations_en-us_B_20190306_qfe.txt" {
        // A byte-order mark and one blank line: wmic found no hotfix.
        Expect::Error(ErrorKind::Empty)
    } else if name.contains("_qfe") || name.contains("_updates") {
        Expect::Hotfixes
    } else if old_os.iter().any(|p| name.starts_with(p)) {
        Expect::EndOfSupport
    } else {
        Expect::Device
    }
}

#[test]
fn every_corpus_file_gives_a_machine_a_hotfix_list_or_a_precise_reason() {
    let mut names: Vec<String> = std::fs::read_dir(corpus_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "LICENSE.txt")
        .collect();
    names.sort();
    assert_eq!(names.len(), 55);
    let mut tally = [0usize; 4];
    for name in &names {
        let got = match read_file(corpus_dir(), name) {
            Ok(Inventory::Device(d)) if d.end_of_support.is_some() => {
                assert!(
                    d.products.is_empty() && d.os_version.is_some(),
                    "{name}: {d:?}"
                );
                Expect::EndOfSupport
            }
            Ok(Inventory::Device(d)) => {
                assert!(
                    !d.products.is_empty() && d.os_version.is_some(),
                    "{name}: {d:?}"
                );
                assert_eq!(
                    d.input_format,
                    Some(kbgap_core::InputFormat::Systeminfo),
                    "{name}"
                );
                Expect::Device
            }
            Ok(Inventory::Hotfixes(l)) => {
                assert!(!l.kbs.is_empty(), "{name}: no KB");
                Expect::Hotfixes
            }
            Err(e) => {
                assert!(e.to_string().starts_with(name.as_str()), "{e}");
                Expect::Error(e.kind())
            }
        };
        tally[match got {
            Expect::Device => 0,
            Expect::EndOfSupport => 1,
            Expect::Hotfixes => 2,
            Expect::Error(_) => 3,
        }] += 1;
        assert_eq!(got, expected(name), "{name}");
    }
    assert_eq!(
        tally,
        [24, 13, 17, 1],
        "devices, end-of-support devices, hotfix lists, errors"
    );
}

#[test]
fn xp_and_server_2003_are_accepted_as_end_of_support_in_plain_words() {
    let d = device(corpus_dir(), "xp_sp3_x86_professional_en-us_systeminfo.txt");
    assert_eq!(
        d.end_of_support.as_deref(),
        Some(
            "Windows XP Service Pack 3 (5.1.2600) is out of support: Microsoft ended its support in April \
             2014, and MSRC's security-update documents (from 2016) cover no XP release. No security \
             update is listed for it, so kbgap cannot tell what it misses; upgrade it to a supported \
             Windows release."
        )
    );
    assert!(d.products.is_empty());
    assert_eq!(
        d.os_version.map(|v| v.to_string()).as_deref(),
        Some("5.1.2600")
    );
    assert_eq!(d.service_pack, Some(3));
    assert_eq!(d.architecture, Some(X86));
    assert_eq!(d.installation_type, Some(Client));
    assert!(!d.installed_kbs.is_empty(), "the hotfixes are still read");
    let d = device(
        corpus_dir(),
        "srv_2003r2_sp2_x86_standard_en-us_systeminfo.txt",
    );
    let why = d.end_of_support.unwrap();
    assert!(
        why.starts_with("Windows Server 2003 Service Pack 2 (5.2.3790) is out of support"),
        "{why}"
    );
    assert!(
        d.warnings.iter().all(|w| !w.contains("Server Core")),
        "no Server Core advice for an unsupported server: {:?}",
        d.warnings
    );
    for (name, release) in [
        (
            "vista_x64_sp1_systeminfo.txt",
            "Windows Vista Service Pack 1 (6.0.6001)",
        ),
        (
            "srv_2008_rtm_x64_standard_en-us_systeminfo.txt",
            "Windows Server 2008 without Service Pack 2 (6.0.6001)",
        ),
    ] {
        let why = device(corpus_dir(), name).end_of_support.unwrap();
        assert!(why.starts_with(release), "{name}: {why}");
    }
}

#[test]
fn english_ascii_windows_10_22h2() {
    let name = "10_22H2_x64_enterprise_en-us_systeminfo.txt";
    assert_eq!(
        decode(&bytes(corpus_dir(), name)).unwrap().encoding,
        "ASCII"
    );
    let d = device(corpus_dir(), name);
    assert_os(
        &d,
        "Windows 10 Version 22H2 for x64-based Systems",
        "10.0.19045",
        X64,
        Client,
    );
    assert_eq!(d.computer_dns_name, "DESKTOP-92B51CV");
    assert_eq!(
        d.os_name.as_deref(),
        Some("Microsoft Windows 10 Enterprise")
    );
    assert_eq!(d.ubr, None, "systeminfo has no UBR");
    assert_eq!(kbs(&d), [5022502]);
    assert_eq!(d.locale.as_deref(), Some("zh-cn;Chinese (China)"));
    assert!(d.warnings.is_empty(), "{:?}", d.warnings);
}

#[test]
fn english_utf16le_with_bom_from_powershell() {
    let name = "10_1803_x64_proforworkstations_en-us_A_20190305_systeminfo.txt";
    assert_eq!(
        decode(&bytes(corpus_dir(), name)).unwrap().encoding,
        "UTF-16LE"
    );
    let d = device(corpus_dir(), name);
    assert_os(
        &d,
        "Windows 10 Version 1803 for x64-based Systems",
        "10.0.17134",
        X64,
        Client,
    );
    assert_eq!(d.computer_dns_name, "DESKTOP-OOF6NB5");
    assert_eq!(kbs(&d), sorted(vec![4462930, 4485449, 4487038, 4487017]));
}

#[test]
fn english_oem_code_page_with_no_break_space_digit_groups() {
    let name = "10_1809_x64_pro_en-us_20190307_systeminfo.txt";
    // 0xFF groups the digits ("32\u{a0}503 MB"): a no-break space in the OEM code pages, "ÿ" in windows-1252.
    assert_eq!(
        decode(&bytes(corpus_dir(), name)).unwrap().encoding,
        "cp850"
    );
    let d = device(corpus_dir(), name);
    assert_os(
        &d,
        "Windows 10 Version 1809 for x64-based Systems",
        "10.0.17763",
        X64,
        Client,
    );
    assert_eq!(
        kbs(&d),
        sorted(vec![4486553, 4470788, 4480056, 4487038, 4482887])
    );
}

#[test]
fn spanish_cp850() {
    let name = "10_1809_x64_education_es_systeminfo.txt";
    assert_eq!(
        decode(&bytes(corpus_dir(), name)).unwrap().encoding,
        "cp850"
    );
    let d = device(corpus_dir(), name);
    assert_os(
        &d,
        "Windows 10 Version 1809 for x64-based Systems",
        "10.0.17763",
        X64,
        Client,
    );
    assert_eq!(d.locale.as_deref(), Some("es;Español (internacional)"));
    let expected = vec![
        4486553, 4465477, 4465664, 4469041, 4470502, 4470788, 4480056, 4487038, 4482887,
    ];
    assert_eq!(kbs(&d), sorted(expected));
}

#[test]
fn french_cp850_lf_from_cmd() {
    let name = "7_sp1_x64_enterprise_fr_systeminfo_cmd.txt";
    assert_eq!(
        decode(&bytes(corpus_dir(), name)).unwrap().encoding,
        "cp850"
    );
    let d = device(corpus_dir(), name);
    assert_os(
        &d,
        "Windows 7 for x64-based Systems Service Pack 1",
        "6.1.7601",
        X64,
        Client,
    );
    assert_eq!(d.service_pack, Some(1));
    assert_eq!(d.computer_dns_name, "WIN-IDKKFN87EL8");
    assert_eq!(
        d.os_name.as_deref(),
        Some("Microsoft Windows 7 Entreprise N")
    );
    assert_eq!(d.locale.as_deref(), Some("fr;Français (France)"));
    let k = kbs(&d);
    assert_eq!(k.len(), 73);
    assert_eq!(k[..4], [976902, 2491683, 2506014, 2506928]);
    assert_eq!(k.last(), Some(&4493472));
}

#[test]
fn dutch_locale_x86() {
    let d = device(corpus_dir(), "10_1803_x86_enterprise_nl_systeminfo.txt");
    assert_os(
        &d,
        "Windows 10 Version 1803 for 32-bit Systems",
        "10.0.17134",
        X86,
        Client,
    );
    assert_eq!(d.locale.as_deref(), Some("nl;Nederlands (Nederland)"));
    assert_eq!(kbs(&d), sorted(vec![4230204, 4456655, 4457146, 4457128]));
}

#[test]
fn windows_7_lists_stop_at_245_and_say_so() {
    let d = device(corpus_dir(), "7_sp1_x64_enterprise_en-us_B_systeminfo.txt");
    assert_eq!(d.installed_kbs.len(), 245);
    assert!(
        d.warnings[0].starts_with(
            "hotfix list incomplete: line 33 says 271 hotfixes are installed but only 245"
        ),
        "{:?}",
        d.warnings
    );
    // The qfe list of the same machine has them all; merged, the warning goes.
    let qfe = hotfixes(corpus_dir(), "7_sp1_x64_enterprise_en-us_B_qfe.txt");
    assert_eq!(qfe.kbs.len(), 271);
    let mut merged = d.clone();
    kbgap_inventory::merge_hotfixes(&mut merged, &qfe);
    assert_eq!(merged.installed_kbs.len(), 271);
    assert!(
        !merged
            .warnings
            .iter()
            .any(|w| w.starts_with("hotfix list incomplete"))
    );
}

#[test]
fn windows_11_and_server_2022() {
    let d = device(corpus_dir(), "11_21H2_x64_enterprise_systeminfo.txt");
    assert_os(
        &d,
        "Windows 11 version 21H2 for x64-based Systems",
        "10.0.22000",
        X64,
        Client,
    );
    assert_eq!(kbs(&d), sorted(vec![5004342, 5007040, 5005635, 5005703]));
    let d = device(corpus_dir(), "11_24H2_x64_enterprise_systeminfo.txt");
    assert_os(
        &d,
        "Windows 11 Version 24H2 for x64-based Systems",
        "10.0.26100",
        X64,
        Client,
    );
    assert_eq!(kbs(&d), [5037589, 5037783, 5039449]);
    let d = device(corpus_dir(), "srv_2022_systeminfo.txt");
    assert_os(&d, "Windows Server 2022", "10.0.20348", X64, Server);
    assert_eq!(kbs(&d), [5004330, 5005039, 5005552]);
    assert!(
        d.warnings
            .iter()
            .any(|w| w.contains("cannot tell Server Core from a full installation"))
    );
}

#[test]
fn hotfix_lists_of_every_kind() {
    // wmic qfe, UTF-16LE with BOM, brief columns.
    let l = hotfixes(corpus_dir(), "10_1809_x64_pro_en-us_20190307_qfe.txt");
    let got: Vec<u32> = l.kbs.iter().map(|k| k.get()).collect();
    assert_eq!(
        got,
        sorted(vec![4486553, 4470788, 4480056, 4487038, 4482887])
    );
    // wmic qfe on XP: an ASCII banner, then UTF-16LE without BOM.
    assert_eq!(
        decode(&bytes(corpus_dir(), "xp_sp2_x64_qfe.txt"))
            .unwrap()
            .encoding,
        "ASCII + UTF-16LE"
    );
    assert_eq!(hotfixes(corpus_dir(), "xp_sp2_x64_qfe.txt").kbs.len(), 150);
    // Windows Update history, ASCII and UTF-16LE.
    let l = hotfixes(
        corpus_dir(),
        "10_1803_x64_proforworkstations_en-us_B_20190306_updates.txt",
    );
    assert_eq!(l.kbs.len(), 5);
    assert_eq!(
        hotfixes(
            corpus_dir(),
            "10_1803_x64_proforworkstations_en-us_A_20190305_updates.txt"
        )
        .kbs
        .len(),
        2
    );
    // Vista: bare digits count, GUIDs do not.
    let l = hotfixes(corpus_dir(), "vista_x64_sp1_qfe.txt");
    assert!(l.kbs.iter().any(|k| k.get() == 943729));
    assert!(l.warnings[0].contains("{7A068575-C5DB-43D9-BE20-3895D0C69B17}"));
}
