//! Cleaning of the text values MSRC documents carry.
//!
//! Some MSRC values contain zero-width spaces (`10.0.19041.5000` followed by seven U+200B), no-break
//! spaces inside titles, tabs and newlines around FixedBuilds, and product names that differ only by
//! a doubled space ("Windows Server 2016  (Server Core installation)"). Matching, comparing and
//! parsing such values goes wrong unless every value is cleaned the same way when it is read.

/// Whether `c` is one of the invisible characters removed from every value: zero-width spaces
/// and joiners, directional marks, word joiners and invisible operators, the byte order mark and
/// the soft hyphen.
pub fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}' | '\u{00AD}')
}

/// Returns `s` with invisible characters removed, every run of whitespace (including no-break
/// spaces and the U+2028/U+2029 line and paragraph separators) turned into one space, and no
/// leading or trailing whitespace.
///
/// Line and paragraph separators become a space rather than disappearing, because they separate
/// words: removing them would glue two words together.
pub fn clean(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    clean_into(s, &mut out);
    out
}

/// [`clean`], appending to `out` (which is not cleared) to reuse its allocation.
pub fn clean_into(s: &str, out: &mut String) {
    if is_already_clean(s) {
        out.push_str(s);
        return;
    }
    let start = out.len();
    let mut pending_space = false;
    for c in s.chars() {
        if is_invisible(c) {
            continue;
        }
        if c.is_whitespace() {
            // `char::is_whitespace` covers U+00A0, U+2028 and U+2029 as well as ASCII whitespace.
            pending_space = out.len() > start;
            continue;
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        out.push(c);
    }
}

/// The common case, checked without allocating: printable ASCII with single inner spaces.
fn is_already_clean(s: &str) -> bool {
    let b = s.as_bytes();
    if b.first() == Some(&b' ') || b.last() == Some(&b' ') {
        return false;
    }
    let mut prev_space = false;
    for &c in b {
        match c {
            b' ' if prev_space => return false,
            b' ' => prev_space = true,
            0x21..=0x7E => prev_space = false,
            _ => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removes_invisible_characters_and_collapses_whitespace() {
        assert_eq!(clean("10.0.19041.5000\u{200B}\u{200B}"), "10.0.19041.5000");
        assert_eq!(clean("\t\n16.0.4200.1"), "16.0.4200.1");
        assert_eq!(
            clean("Windows Server 2016  (Server Core installation)"),
            "Windows Server 2016 (Server Core installation)"
        );
        assert_eq!(
            clean("Remote Desktop Services\u{A0}Remote Code"),
            "Remote Desktop Services Remote Code"
        );
        assert_eq!(clean("a\u{2028}b\u{FEFF}c\u{AD}d\u{2060}"), "a bcd");
        assert_eq!(clean(" \u{200B} "), "");
        assert_eq!(clean("Windows 10"), "Windows 10");
        assert_eq!(clean("Doğukan Karaciğer\u{A0}"), "Doğukan Karaciğer");
    }

    #[test]
    fn appends_without_clearing() {
        let mut s = String::from("x");
        clean_into("  a  b ", &mut s);
        assert_eq!(s, "xa b");
    }
}
