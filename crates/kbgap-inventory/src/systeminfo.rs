//! `systeminfo` output, in any language.
//!
//! Fields are found by structure first and labels second. systeminfo's line order is fixed from XP
//! to Windows 11 (host name, OS name, OS version, manufacturer, configuration, …, hotfixes,
//! network cards), its values are aligned in one column, and the OS version line has a shape no
//! other field has (`10.0.17763 N/D Compilación 17763`). So the reader locates the OS version line
//! by its shape, the other fields by their label when it is a known translation and by their
//! position after the OS version line otherwise, and checks each value's shape.

use std::collections::{BTreeSet, HashMap};

use kbgap_core::catalog::Catalog;
use kbgap_core::{Architecture, Device, InstallationType, KbId, OsVersion};

use crate::error::InventoryError;
use crate::hotfixes::kb_token;
use crate::labels::{self, Label};
use crate::osid::{self, OsFacts};

/// One `Label: value` line and the indented lines under it.
#[derive(Debug, Clone)]
pub(crate) struct Field<'a> {
    /// 1-based line number.
    pub line: usize,
    /// The label, without the colon.
    pub label: &'a str,
    /// The value, trimmed.
    pub value: &'a str,
    /// Indented continuation lines: (line number, trimmed text).
    pub items: Vec<(usize, &'a str)>,
}

/// Splits systeminfo text into fields.
pub(crate) fn fields(text: &str) -> Vec<Field<'_>> {
    let lines: Vec<&str> = text.split('\n').map(|l| l.trim_end_matches('\r')).collect();
    let column = value_column(&lines);
    let mut out: Vec<Field<'_>> = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let trimmed = line.trim();
        if trimmed.is_empty() {
            continue;
        }
        if line.starts_with(char::is_whitespace) {
            if let Some(f) = out.last_mut() {
                f.items.push((i + 1, trimmed));
            }
            continue;
        }
        if let Some((label, value)) = split_field(line, column) {
            out.push(Field {
                line: i + 1,
                label,
                value,
                items: Vec::new(),
            });
        }
    }
    out
}

/// East Asian wide characters take two columns: systeminfo aligns values by display width.
fn width(c: char) -> usize {
    let wide = matches!(c, '\u{1100}'..='\u{115f}' | '\u{2e80}'..='\u{a4cf}' | '\u{ac00}'..='\u{d7a3}'
        | '\u{f900}'..='\u{faff}' | '\u{fe30}'..='\u{fe4f}' | '\u{ff00}'..='\u{ff60}' | '\u{ffe0}'..='\u{ffe6}');
    if wide { 2 } else { 1 }
}

/// The display column where the value after the first `:` and its padding starts.
fn first_value_column(line: &str) -> Option<usize> {
    let colon = line.find(':')?;
    let after = &line[colon + 1..];
    let pad = after.len() - after.trim_start_matches([' ', '\u{a0}']).len();
    if pad == 0 || pad == after.len() {
        return None;
    }
    Some(line[..colon].chars().map(width).sum::<usize>() + 1 + pad)
}

/// The column most values start at: labels that contain a colon themselves ("Virtual Memory:
/// Max Size:") and values that contain one ("VM Monitor Mode Extensions: Yes") are outvoted.
fn value_column(lines: &[&str]) -> Option<usize> {
    let mut votes: HashMap<usize, usize> = HashMap::new();
    for line in lines
        .iter()
        .filter(|l| !l.starts_with(char::is_whitespace))
        .take(60)
    {
        if let Some(c) = first_value_column(line) {
            *votes.entry(c).or_default() += 1;
        }
    }
    votes
        .into_iter()
        .max_by_key(|(col, n)| (*n, usize::MAX - col))
        .map(|(col, _)| col)
}

/// Splits a field line at the value column when it lines up, at the first colon otherwise.
fn split_field(line: &str, column: Option<usize>) -> Option<(&str, &str)> {
    if let Some(col) = column {
        let mut w = 0;
        for (i, c) in line.char_indices() {
            if w == col {
                let (label, value) = line.split_at(i);
                let label = label.trim_end();
                if label.ends_with([':', '：']) && !label.trim().is_empty() {
                    return Some((label.trim_end_matches([':', '：']).trim(), value.trim()));
                }
                break;
            }
            w += width(c);
        }
    }
    let (label, value) = line.split_once(':')?;
    (!label.trim().is_empty()).then(|| (label.trim(), value.trim()))
}

/// Parses the OS version value: `<major.minor.build> <words…> <build>`, where the words are
/// "N/A Build", "Service Pack 1 Build", "N/D Compilación", "Н/Д построение", "暂缺 Build" ….
/// Returns the version, the service pack (a number among the words) and the trailing build.
pub(crate) fn parse_version_line(value: &str) -> Option<(OsVersion, Option<u32>, u32)> {
    let words: Vec<&str> = value.split_whitespace().collect();
    if words.len() < 2 {
        return None;
    }
    let version: OsVersion = words[0].parse().ok()?;
    let last = words[words.len() - 1];
    if !last.bytes().all(|b| b.is_ascii_digit()) || last.len() > 9 {
        return None;
    }
    let trailing: u32 = last.parse().ok()?;
    let middle = &words[1..words.len() - 1];
    let sp = middle.iter().find_map(|w| w.parse::<u32>().ok());
    Some((version, sp, trailing))
}

/// Parses a System Type value: `x64-based PC`, `X86-based PC`, `ARM64-based PC`, `Itanium
/// (TM)-based System`.
pub(crate) fn parse_system_type(value: &str) -> Option<Architecture> {
    let v = value.trim().to_ascii_lowercase();
    let head = v.split(['-', ' ']).next().unwrap_or("");
    match head {
        "x64" | "amd64" => Some(Architecture::X64),
        "x86" => Some(Architecture::X86),
        "arm64" => Some(Architecture::Arm64),
        "ia64" | "itanium" => Some(Architecture::Ia64),
        _ => None,
    }
}

/// Where each field kbgap reads sits in the field list.
struct Located {
    at: [Option<usize>; 7],
}

impl Located {
    fn get(&self, l: Label) -> Option<usize> {
        self.at[Label::ALL.iter().position(|x| *x == l).unwrap_or(0)]
    }
}

/// Finds the fields: known labels first, then the OS version line by shape, then the rest by
/// their fixed position after it (checked against the value's shape where it has one).
fn locate(fields: &[Field<'_>]) -> Located {
    let mut at = [None; 7];
    for (i, f) in fields.iter().enumerate() {
        if let Some(l) = labels::classify(f.label) {
            let slot = &mut at[Label::ALL.iter().position(|x| *x == l).unwrap_or(0)];
            slot.get_or_insert(i);
        }
    }
    let version_ok = |i: usize| parse_version_line(fields[i].value).is_some();
    if !at[2].is_some_and(version_ok) {
        at[2] = (0..fields.len().min(6)).find(|&i| version_ok(i));
    }
    if let Some(v) = at[2] {
        for (slot, l) in at.iter_mut().zip(Label::ALL) {
            let pos = v
                .checked_add_signed(l.offset_from_version())
                .filter(|p| *p < fields.len());
            if slot.is_none() {
                *slot = pos.filter(|p| fits(l, &fields[*p]));
            }
        }
    }
    if at[4].is_none() {
        at[4] = fields
            .iter()
            .position(|f| parse_system_type(f.value).is_some());
    }
    Located { at }
}

/// Whether a field found by position has a value of the right shape for its label.
fn fits(l: Label, f: &Field<'_>) -> bool {
    match l {
        Label::SystemType => parse_system_type(f.value).is_some(),
        Label::Hotfixes => f.value.bytes().any(|b| b.is_ascii_digit()) || f.items.is_empty(),
        _ => true,
    }
}

/// Whether text looks like systeminfo output (used by format detection).
pub(crate) fn looks_like(text: &str) -> bool {
    if labels::label_hits(text) >= 2 {
        return true;
    }
    let fields = fields(text);
    fields.len() >= 3
        && fields
            .iter()
            .take(4)
            .any(|f| parse_version_line(f.value).is_some())
}

/// Reads systeminfo text into a machine state; `catalog` identifies builds newer than kbgap.
pub fn read(text: &str, file: &str, catalog: Option<&Catalog>) -> Result<Device, InventoryError> {
    let fields = fields(text);
    let loc = locate(&fields);
    let v = loc
        .get(Label::OsVersion)
        .ok_or_else(|| truncated(text, &fields, file, Label::OsVersion))?;
    let need = |l: Label| loc.get(l).ok_or_else(|| missing(text, &fields, file, v, l));
    let (arch, hotfixes) = (need(Label::SystemType)?, need(Label::Hotfixes)?);
    let value = |l: Label| loc.get(l).map(|i| fields[i].value);
    let mut device = Device {
        computer_dns_name: value(Label::HostName).unwrap_or_default().to_owned(),
        os_name: value(Label::OsName).map(|n| n.replace('\u{a0}', " ").trim().to_owned()),
        architecture: Some(architecture(file, &fields[arch])?),
        locale: value(Label::SystemLocale)
            .filter(|s| !s.is_empty())
            .map(str::to_owned),
        ..Device::default()
    };
    os_version(&mut device, file, &fields[v])?;
    let (kbs, mut warnings) = hotfix_section(&fields[hotfixes]);
    device.installed_kbs = kbs;
    device.warnings.append(&mut warnings);
    let config = loc.get(Label::OsConfiguration).map(|i| &fields[i]);
    let it = installation_type(config, device.os_name.as_deref(), &mut device.warnings);
    identify(&mut device, it, file, fields[v].line, catalog)?;
    Ok(device)
}

/// The OS version and service pack from the OS Version field.
fn os_version(device: &mut Device, file: &str, f: &Field<'_>) -> Result<(), InventoryError> {
    let Some((version, service_pack, trailing)) = parse_version_line(f.value) else {
        let expected = "not a version line (expected e.g. 10.0.19045 N/A Build 19045)";
        return Err(field_error(file, f, "OS Version", expected));
    };
    if trailing != version.build {
        device.warnings.push(format!(
            "line {}: the OS version says build {} but ends with build {trailing}; used {}",
            f.line, version.build, version.build
        ));
    }
    device.os_version = Some(version);
    device.service_pack = service_pack;
    Ok(())
}

/// The architecture from the System Type field.
fn architecture(file: &str, f: &Field<'_>) -> Result<Architecture, InventoryError> {
    parse_system_type(f.value).ok_or_else(|| {
        let message = format!(
            "unknown system type {:?} (expected x64-, X86-, ARM64- or Itanium-based PC)",
            f.value
        );
        field_error(file, f, "System Type", &message)
    })
}

/// Client or Server from the OS configuration ("Standalone Workstation", "Member Server" …).
fn installation_type(
    config: Option<&Field<'_>>,
    os_name: Option<&str>,
    warnings: &mut Vec<String>,
) -> InstallationType {
    if let Some(server) = config.and_then(|f| labels::configuration_is_server(f.value)) {
        return if server {
            InstallationType::Server
        } else {
            InstallationType::Client
        };
    }
    // The caption keeps the word "Server" in every language; used only when the configuration
    // line is missing or worded in a language kbgap does not know.
    let server = os_name.is_some_and(|n| n.contains("Server"));
    let it = if server {
        InstallationType::Server
    } else {
        InstallationType::Client
    };
    let what = config.map_or_else(
        || "is missing".to_owned(),
        |f| format!("({:?}, line {}) is not understood", f.value, f.line),
    );
    warnings.push(format!(
        "the OS Configuration field {what}: assumed {it} from the OS name"
    ));
    it
}

/// Names the OS products and records what systeminfo could not tell.
fn identify(
    device: &mut Device,
    it: InstallationType,
    file: &str,
    line: usize,
    catalog: Option<&Catalog>,
) -> Result<(), InventoryError> {
    let facts = OsFacts {
        version: device.os_version.unwrap_or(OsVersion {
            major: 0,
            minor: 0,
            build: 0,
        }),
        installation_type: it,
        architecture: device.architecture.unwrap_or(Architecture::X64),
        service_pack: device.service_pack,
    };
    let id = osid::identify_with(&facts, catalog).map_err(|error| InventoryError::Os {
        file: file.to_owned(),
        location: format!("line {line} (OS Version)"),
        error,
    })?;
    if id.installation_type == InstallationType::Server && id.end_of_support.is_none() {
        device.warnings.push(format!(
            "systeminfo cannot tell Server Core from a full installation: assumed a full installation ({}); \
             give the installation type \"Server Core\" if this machine is Server Core",
            id.release
        ));
    }
    device.installation_type = Some(id.installation_type);
    device.products = id.products;
    device.end_of_support = id.end_of_support;
    device.warnings.extend(id.warnings);
    Ok(())
}

/// Reads the hotfix section: the count line and its `[01]: KB…` entries.
pub(crate) fn hotfix_section(field: &Field<'_>) -> (BTreeSet<KbId>, Vec<String>) {
    let count: Option<usize> = field
        .value
        .split(|c: char| !c.is_ascii_digit())
        .find(|s| !s.is_empty())
        .and_then(|s| s.parse().ok());
    let mut kbs = BTreeSet::new();
    let mut listed = 0usize;
    let mut other: Vec<&str> = Vec::new();
    for (_, item) in &field.items {
        let Some(entry) = item
            .strip_prefix('[')
            .and_then(|r| r.split_once(']'))
            .map(|(_, r)| r.trim_start_matches([' ', ':']).trim())
        else {
            continue;
        };
        if entry.is_empty() {
            continue; // systeminfo's own cut-off marker: "[246]" with nothing after it
        }
        listed += 1;
        match kb_token(entry) {
            Some(kb) => drop(kbs.insert(kb)),
            None => other.push(entry),
        }
    }
    let mut warnings = Vec::new();
    if let Some(n) = count.filter(|n| *n > listed) {
        warnings.push(format!(
            "hotfix list incomplete: line {} says {n} hotfixes are installed but only {listed} are listed; \
             combine this file with a `wmic qfe` or `Get-HotFix` list to read the rest",
            field.line
        ));
    }
    if !other.is_empty() {
        warnings.push(non_kb_warning(&other));
    }
    (kbs, warnings)
}

fn non_kb_warning(other: &[&str]) -> String {
    let mut distinct: Vec<&str> = other.to_vec();
    distinct.sort_unstable();
    distinct.dedup();
    let shown: Vec<String> = distinct.iter().take(3).map(|s| format!("{s:?}")).collect();
    let more = if distinct.len() > 3 { ", …" } else { "" };
    format!(
        "{} hotfix entries are not KB numbers and were ignored: {}{more}",
        other.len(),
        shown.join(", ")
    )
}

fn field_error(file: &str, f: &Field<'_>, name: &str, message: &str) -> InventoryError {
    InventoryError::Field {
        file: file.to_owned(),
        line: f.line,
        field: name.to_owned(),
        message: message.to_owned(),
    }
}

/// The error for a field that is not there: truncation when the file ends before the field's
/// position, otherwise a field that could not be recognised.
fn missing(
    text: &str,
    fields: &[Field<'_>],
    file: &str,
    version: usize,
    l: Label,
) -> InventoryError {
    let expected = version.saturating_add_signed(l.offset_from_version());
    if expected >= fields.len() {
        return truncated(text, fields, file, l);
    }
    let f = &fields[expected];
    field_error(
        file,
        f,
        l.english(),
        &format!(
            "expected the {} field here, found {:?}: {:?}",
            l.english(),
            f.label,
            f.value
        ),
    )
}

fn truncated(text: &str, fields: &[Field<'_>], file: &str, l: Label) -> InventoryError {
    let line = text
        .split('\n')
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .last()
        .map_or(0, |(i, _)| i + 1);
    let after = fields
        .last()
        .map(|f| format!(" (after {:?})", f.label))
        .unwrap_or_default();
    InventoryError::Truncated {
        file: file.to_owned(),
        line,
        after,
        missing: l.english(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_lines_in_many_languages() {
        let v = |s| parse_version_line(s).map(|(v, sp, b)| (v.to_string(), sp, b));
        assert_eq!(
            v("10.0.19045 N/A Build 19045"),
            Some(("10.0.19045".into(), None, 19045))
        );
        assert_eq!(
            v("6.1.7601 Service Pack 1 Build 7601"),
            Some(("6.1.7601".into(), Some(1), 7601))
        );
        assert_eq!(
            v("10.0.17763 N/D Compilación 17763"),
            Some(("10.0.17763".into(), None, 17763))
        );
        assert_eq!(
            v("6.3.9600 Н/Д построение 9600"),
            Some(("6.3.9600".into(), None, 9600))
        );
        assert_eq!(
            v("5.1.2600 Build 2600"),
            Some(("5.1.2600".into(), None, 2600))
        );
        assert_eq!(v("Microsoft Corporation"), None);
        assert_eq!(v("10.0.19045"), None);
    }

    #[test]
    fn value_column_handles_wide_characters_and_colons_in_labels() {
        let text = "主机名:           PC\r\nOS 名称:          Microsoft Windows 10\r\n虚拟内存: 最大值: 3,199 MB\r\n";
        let f = fields(text);
        assert_eq!((f[0].label, f[0].value), ("主机名", "PC"));
        assert_eq!((f[2].label, f[2].value), ("虚拟内存: 最大值", "3,199 MB"));
    }

    #[test]
    fn system_types() {
        assert_eq!(parse_system_type("x64-based PC"), Some(Architecture::X64));
        assert_eq!(parse_system_type("X86-based PC"), Some(Architecture::X86));
        assert_eq!(
            parse_system_type("ARM64-based PC"),
            Some(Architecture::Arm64)
        );
        assert_eq!(
            parse_system_type("Itanium (TM) -based System"),
            Some(Architecture::Ia64)
        );
        assert_eq!(parse_system_type("sparc"), None);
    }
}
