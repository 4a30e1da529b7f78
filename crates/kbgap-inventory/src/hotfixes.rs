//! Hotfix lists: `wmic qfe` (any column set, table, `list` or CSV output), PowerShell's
//! `Get-HotFix` (table, list or CSV), and Windows Update history lists (`KB4100347: 2018-10 Update
//! for …`, one update title per line).
//!
//! They carry KBs but no OS: `kbgap scan` combines them with a systeminfo file or with OS facts
//! given as options. Columns are found from the header, never by position alone, because wmic
//! prints whatever columns were asked for.

use std::collections::BTreeSet;

use kbgap_core::KbId;

use crate::error::InventoryError;

/// KBs read from a hotfix list (no OS facts).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HotfixList {
    /// The KBs, sorted, without duplicates.
    pub kbs: BTreeSet<KbId>,
    /// What the reader noticed (rows without a KB number …).
    pub warnings: Vec<String>,
}

/// A KB number from an entry: `KB4486553`, `kb4486553`, `KB893803v2 - Update`, `Q147222` (the
/// Knowledge Base's pre-2003 spelling of the same numbers), or bare digits (`943729`, as wmic
/// lists some Vista updates). `File 1`, GUIDs and words are not KBs.
pub fn kb_token(entry: &str) -> Option<KbId> {
    let t = entry.trim().trim_start_matches(['(', '"', '\'']);
    let (rest, prefixed) = match strip_prefix_ci(t, "kb").or_else(|| strip_prefix_ci(t, "q")) {
        Some(r) => (r, true),
        None => (t, false),
    };
    let digits_len = rest.bytes().take_while(u8::is_ascii_digit).count();
    if digits_len == 0 || digits_len > 9 || (!prefixed && digits_len < 4) {
        return None;
    }
    let after = &rest[digits_len..];
    let ok_end = after.is_empty()
        || after.starts_with(|c: char| !c.is_alphanumeric())
        || (prefixed && after.starts_with(['v', 'V']));
    if !ok_end || (!prefixed && !after.trim().is_empty() && !after.starts_with([',', ';'])) {
        return None;
    }
    rest[..digits_len].parse().ok().and_then(KbId::new)
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// The first `KB<digits>` anywhere in a line, as a word of its own ("… - KB2267602 (Version …)",
/// "… (KB4487017)"), never inside a URL (`?kbid=2830477`).
pub(crate) fn kb_in_text(line: &str) -> Option<KbId> {
    let bytes = line.as_bytes();
    (0..bytes.len().saturating_sub(2)).find_map(|i| {
        let starts_word = i == 0 || !bytes[i - 1].is_ascii_alphanumeric() && bytes[i - 1] != b'=';
        let is_kb =
            bytes[i].eq_ignore_ascii_case(&b'k') && bytes[i + 1].eq_ignore_ascii_case(&b'b');
        let digit = bytes.get(i + 2).is_some_and(u8::is_ascii_digit);
        (starts_word && is_kb && digit)
            .then(|| line.get(i..).and_then(kb_token))
            .flatten()
    })
}

/// Lines of text, whatever the line ending (wmic on XP writes `\r\r\n`).
fn lines(text: &str) -> impl Iterator<Item = &str> {
    text.split(['\n', '\r']).filter(|l| !l.trim().is_empty())
}

/// wmic's first-run banner, printed before the header on XP.
const WMIC_BANNER: &str = "Please wait while WMIC is being installed.";

/// Whether text looks like a hotfix list (used by format detection).
pub(crate) fn looks_like(text: &str) -> bool {
    let head: Vec<&str> = lines(text).take(20).collect();
    if head
        .iter()
        .take(5)
        .any(|l| l.to_ascii_lowercase().contains("hotfixid"))
    {
        return true;
    }
    let with_kb = head.iter().filter(|l| kb_in_text(l).is_some()).count();
    !head.is_empty() && with_kb * 2 >= head.len()
}

/// Reads a hotfix list.
pub fn read(text: &str, file: &str) -> Result<HotfixList, InventoryError> {
    let all: Vec<&str> = lines(text)
        .map(|l| l.strip_prefix(WMIC_BANNER).unwrap_or(l))
        .collect();
    let header = all
        .iter()
        .take(5)
        .position(|l| l.to_ascii_lowercase().contains("hotfixid"));
    let (ids, rows) = match header {
        Some(h) if is_key_value(all[h]) => key_value(&all),
        Some(h) if all[h].contains(',') => csv(&all[h..]),
        Some(h) => table(&all[h..]),
        None => history(&all),
    };
    if rows == 0 && ids.is_empty() {
        return Err(InventoryError::UnknownFormat {
            file: file.to_owned(),
        });
    }
    let mut list = HotfixList {
        kbs: ids.iter().filter_map(|(_, kb)| *kb).collect(),
        warnings: Vec::new(),
    };
    let other: Vec<&str> = ids
        .iter()
        .filter(|(_, kb)| kb.is_none())
        .map(|(s, _)| s.as_str())
        .collect();
    if !other.is_empty() {
        let mut shown: Vec<&str> = other.clone();
        shown.sort_unstable();
        shown.dedup();
        let shown: Vec<String> = shown.iter().take(3).map(|s| format!("{s:?}")).collect();
        list.warnings.push(format!(
            "{} entries carry no KB number and were ignored: {}",
            other.len(),
            shown.join(", ")
        ));
    }
    if list.kbs.is_empty() {
        list.warnings.push("the list holds no KB number".to_owned());
    }
    Ok(list)
}

/// Parsed entries: the raw id text and its KB, if any; plus the number of data rows.
type Entries = (Vec<(String, Option<KbId>)>, usize);

fn is_key_value(line: &str) -> bool {
    let l = line.trim_start().to_ascii_lowercase();
    l.strip_prefix("hotfixid")
        .is_some_and(|r| r.trim_start().starts_with([':', '=']))
}

/// `wmic qfe list full` (`HotFixID=KB…`) and `Get-HotFix | Format-List` (`HotFixID : KB…`).
fn key_value(all: &[&str]) -> Entries {
    let ids: Vec<(String, Option<KbId>)> = all
        .iter()
        .filter(|l| is_key_value(l))
        .filter_map(|l| l.split_once([':', '=']).map(|(_, v)| v.trim()))
        .filter(|v| !v.is_empty())
        .map(|v| (v.to_owned(), kb_token(v)))
        .collect();
    let n = ids.len();
    (ids, n)
}

/// `wmic qfe get … /format:csv` and `Get-HotFix | Export-Csv`.
fn csv(rows: &[&str]) -> Entries {
    let cells = |l: &str| -> Vec<String> {
        l.split(',')
            .map(|c| c.trim().trim_matches('"').to_owned())
            .collect()
    };
    let header = cells(rows[0]);
    let Some(col) = header
        .iter()
        .position(|h| h.eq_ignore_ascii_case("hotfixid"))
    else {
        return (Vec::new(), 0);
    };
    let ids: Vec<(String, Option<KbId>)> = rows[1..]
        .iter()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| cells(l).get(col).cloned())
        .filter(|v| !v.is_empty())
        .map(|v| {
            let kb = kb_token(&v);
            (v, kb)
        })
        .collect();
    let n = ids.len();
    (ids, n)
}

/// Column-aligned tables (`wmic qfe`, `Get-HotFix`): the HotFixID column spans from its header
/// to the next header. XP puts the KB in another column ("File 1" as HotFixID): then the row's
/// first `KB…` word is taken.
fn table(rows: &[&str]) -> Entries {
    let header: Vec<char> = rows[0].chars().collect();
    let lower = rows[0].to_ascii_lowercase();
    let Some(byte_start) = lower.find("hotfixid") else {
        return (Vec::new(), 0);
    };
    let start = rows[0][..byte_start].chars().count();
    let end = (start + 8..header.len())
        .find(|&i| header[i - 1] == ' ' && header[i] != ' ')
        .unwrap_or(usize::MAX);
    let mut ids = Vec::new();
    let mut n = 0;
    for row in rows[1..]
        .iter()
        .filter(|r| !r.trim_start().starts_with("---"))
    {
        n += 1;
        let cell: String = row
            .chars()
            .skip(start)
            .take(end.saturating_sub(start))
            .collect();
        let cell = cell.trim();
        let kb = kb_token(cell).or_else(|| kb_in_text(row));
        if !cell.is_empty() || kb.is_some() {
            ids.push((
                if cell.is_empty() {
                    row.trim().to_owned()
                } else {
                    cell.to_owned()
                },
                kb,
            ));
        }
    }
    (ids, n)
}

/// Windows Update history lists: one update per line, its KB at the start (`KB4100347: …`) or in
/// the title (`… (KB4100347)`).
fn history(all: &[&str]) -> Entries {
    let ids: Vec<(String, Option<KbId>)> = all
        .iter()
        .map(|l| (l.trim().to_owned(), kb_in_text(l)))
        .collect();
    let with_kb = ids.iter().filter(|(_, kb)| kb.is_some()).count();
    if with_kb * 2 < ids.len() {
        return (Vec::new(), 0);
    }
    let n = ids.len();
    (ids, n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kb(s: &str) -> Option<u32> {
        kb_token(s).map(KbId::get)
    }

    #[test]
    fn kb_tokens() {
        assert_eq!(kb("KB4486553"), Some(4486553));
        assert_eq!(kb("kb4486553"), Some(4486553));
        assert_eq!(kb("KB893803v2 - Update"), Some(893803));
        assert_eq!(kb("Q147222"), Some(147222));
        assert_eq!(kb("943729"), Some(943729));
        assert_eq!(kb("File 1"), None);
        assert_eq!(kb("{7A068575-C5DB-43D9-BE20-3895D0C69B17}"), None);
        assert_eq!(kb("1 Hotfix(s) Installed."), None);
        assert_eq!(kb("KB"), None);
        assert_eq!(kb("Quality"), None);
    }

    #[test]
    fn kbs_inside_titles() {
        let t = |s| kb_in_text(s).map(KbId::get);
        assert_eq!(
            t("Security Intelligence Update - KB2267602 (Version 1.373.144.0)"),
            Some(2267602)
        );
        assert_eq!(
            t("2022-08 Cumulative Update for Windows 11 (KB5016629)"),
            Some(5016629)
        );
        assert_eq!(t("http://support.microsoft.com/?kbid=2830477"), None);
    }

    #[test]
    fn get_hotfix_table_and_list() {
        let table = "\r\nSource        Description      HotFixID      InstalledBy          InstalledOn\r\n\
                     ------        -----------      --------      -----------          -----------\r\n\
                     DESKTOP-1     Update           KB5034466     NT AUTHORITY\\SYSTEM  1/10/2024 12:00:00 AM\r\n\
                     DESKTOP-1     Security Update  KB5034441                          1/12/2024 12:00:00 AM\r\n";
        let l = read(table, "t").unwrap();
        assert_eq!(
            l.kbs.iter().map(|k| k.get()).collect::<Vec<_>>(),
            [5034441, 5034466]
        );
        let list = "Source      : DESKTOP-1\r\nDescription : Update\r\nHotFixID    : KB5034466\r\n\r\nHotFixID    : KB5034441\r\n";
        assert_eq!(read(list, "l").unwrap().kbs.len(), 2);
        let csv = "Node,Caption,Description,HotFixID,InstalledOn\r\nPC,http://support.microsoft.com/?kbid=5034466,Update,KB5034466,1/10/2024\r\n";
        assert_eq!(read(csv, "c").unwrap().kbs.len(), 1);
    }
}
