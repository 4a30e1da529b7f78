//! Parsers for the individual values of a CVRF document (already cleaned by [`crate::text`]).

use chrono::{DateTime, NaiveDate, NaiveDateTime};
use kbgap_core::KbId;

/// The KB of a `Vendor Fix` remediation's `Description`: `5094127` or `KB5094127`.
///
/// Anything else (`Release Notes`, `Click to Run`, CBL-Mariner package names) is not a KB, and
/// such remediations never become missing-KB candidates.
pub(crate) fn kb(description: &str) -> Option<KbId> {
    description.parse().ok()
}

/// The KBs a `Supercedence` value names.
///
/// MSRC writes one KB (`5087544`), several separated by `;`, `,`, spaces or even `<br>`, or
/// bulletin/KB pairs (`MS16-087, 3170455; MS16-106, 3185911`). Every run of six or more digits is a
/// KB; shorter runs (bulletin numbers, versions such as `2.41.0`, the truncated `50185`) are not.
/// Duplicates are dropped, the order of first appearance is kept.
pub(crate) fn supersedes(value: &str) -> Vec<KbId> {
    let mut out: Vec<KbId> = Vec::new();
    for run in value.split(|c: char| !c.is_ascii_digit()) {
        if run.len() < 6 {
            continue;
        }
        if let Ok(kb) = run.parse::<KbId>()
            && !out.contains(&kb)
        {
            out.push(kb);
        }
    }
    out
}

/// A CVSS base score: a finite number from 0 to 10.
pub(crate) fn score(value: &str) -> Option<f32> {
    let s: f32 = value.trim().parse().ok()?;
    (s.is_finite() && (0.0..=10.0).contains(&s)).then_some(s)
}

/// Normalises an MSRC date to `YYYY-MM-DDTHH:MM:SS` in UTC.
///
/// The documents write `2026-06-09T07:00:00`, some `2020-03-10T07:00:00Z`; the updates index
/// writes `…Z`. One format lets the store and the sync compare dates as strings. Fractional
/// seconds are dropped, offsets are converted to UTC, a bare date means midnight.
pub fn normalize_date(value: &str) -> Option<String> {
    const FORMAT: &str = "%Y-%m-%dT%H:%M:%S";
    let v = value.trim();
    if let Ok(dt) = NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M:%S%.f") {
        return Some(dt.format(FORMAT).to_string());
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(v) {
        return Some(dt.naive_utc().format(FORMAT).to_string());
    }
    if let Ok(d) = NaiveDate::parse_from_str(v, "%Y-%m-%d") {
        return Some(d.and_hms_opt(0, 0, 0)?.format(FORMAT).to_string());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kbs(v: &str) -> Vec<u32> {
        supersedes(v).into_iter().map(KbId::get).collect()
    }

    #[test]
    fn parses_kb_descriptions() {
        assert_eq!(kb("5094127").map(KbId::get), Some(5094127));
        assert_eq!(kb("KB5094127").map(KbId::get), Some(5094127));
        assert_eq!(kb("Release Notes"), None);
        assert_eq!(kb("Release Notes 107.0.1418.62"), None);
        assert_eq!(kb(""), None);
        assert_eq!(kb("0"), None);
    }

    #[test]
    fn parses_every_supersedence_shape() {
        assert_eq!(kbs("5087544"), [5087544]);
        assert_eq!(kbs("4471987, 3142037"), [4471987, 3142037]);
        assert_eq!(kbs("5013868; 5018545"), [5013868, 5018545]);
        assert_eq!(kbs("4534251<br><br>4537759"), [4534251, 4537759]);
        assert_eq!(
            kbs("MS16-087, 3170455; MS16-106, 3185911"),
            [3170455, 3185911]
        );
        assert_eq!(kbs("5013868, 50185"), [5013868]);
        assert_eq!(kbs("2.41.0"), Vec::<u32>::new());
        assert_eq!(kbs("None"), Vec::<u32>::new());
        assert_eq!(kbs("890830 890830"), [890830]);
        assert_eq!(kbs("12345678901234"), Vec::<u32>::new());
    }

    #[test]
    fn parses_scores() {
        assert_eq!(score("7.8"), Some(7.8));
        assert_eq!(score("10.0"), Some(10.0));
        assert_eq!(score("NaN"), None);
        assert_eq!(score("11"), None);
        assert_eq!(score(""), None);
    }

    #[test]
    fn normalizes_dates() {
        let n = |s| normalize_date(s);
        assert_eq!(
            n("2026-06-09T07:00:00").as_deref(),
            Some("2026-06-09T07:00:00")
        );
        assert_eq!(
            n("2020-03-10T07:00:00Z").as_deref(),
            Some("2020-03-10T07:00:00")
        );
        assert_eq!(
            n("2020-03-10T07:00:00.123Z").as_deref(),
            Some("2020-03-10T07:00:00")
        );
        assert_eq!(
            n("2020-03-10T09:00:00+02:00").as_deref(),
            Some("2020-03-10T07:00:00")
        );
        assert_eq!(n("2020-03-10").as_deref(), Some("2020-03-10T00:00:00"));
        assert_eq!(n("yesterday"), None);
        assert_eq!(n("2020-13-10T07:00:00"), None);
    }
}
