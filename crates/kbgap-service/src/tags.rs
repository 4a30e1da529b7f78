//! How a machine's tags are matched, the same way everywhere: trimmed and without regard to
//! case, as the API's `$filter=machineTags/any(t: t eq 'X')` compares strings. The CLI's
//! `machines list --tag` and the dashboard's tag filter call this, so they select the same
//! machines as the API.

/// Whether `tags` (a machine's `machineTags`) holds `wanted`.
pub fn carries(tags: &[String], wanted: &str) -> bool {
    let wanted = wanted.trim();
    tags.iter().any(|t| eq_ci(t.trim(), wanted))
}

/// Whether `tags` holds every tag of `wanted` (true for none).
pub fn carries_all(tags: &[String], wanted: &[String]) -> bool {
    wanted.iter().all(|w| carries(tags, w))
}

/// The form two tags share when they match: trimmed and lower-cased in full Unicode.
pub fn key(tag: &str) -> String {
    tag.trim().chars().flat_map(char::to_lowercase).collect()
}

/// Equal without regard to case, in full Unicode (`ÉCOLE` is `école`).
fn eq_ci(a: &str, b: &str) -> bool {
    a.chars()
        .flat_map(char::to_lowercase)
        .eq(b.chars().flat_map(char::to_lowercase))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_match_trimmed_and_in_any_case() {
        let tags = vec!["Finance".to_owned(), "site:Köln".to_owned()];
        assert!(carries(&tags, " finance "));
        assert!(carries(&tags, "SITE:KÖLN"));
        assert!(!carries(&tags, "fin"));
        assert!(carries_all(&tags, &["finance".into(), "site:köln".into()]));
        assert!(!carries_all(&tags, &["finance".into(), "hr".into()]));
        assert!(carries_all(&tags, &[]));
        assert!(!carries(&[], "x"));
        assert_eq!(key(" ÉCOLE "), key("école"));
    }
}
