//! Cells shared by the pages: severity, CVSS, dates, machines.

use chrono::{DateTime, Utc};
use kbgap_core::Severity;
use kbgap_service::queries::MachineRow;
use serde_json::json;

use crate::i18n::Tr;
use crate::table::{Cell, Column, Row, SortKey};

/// Percent-encodes a path segment.
pub fn seg(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

/// A severity, localized and coloured; sorts by rank.
pub fn severity(tr: &Tr, s: Option<Severity>) -> Cell {
    let Some(s) = s else { return Cell::none() };
    let (class, rank) = match s {
        Severity::Critical => ("sev sev-critical", 4.0),
        Severity::Important => ("sev sev-important", 3.0),
        Severity::Moderate => ("sev sev-moderate", 2.0),
        Severity::Low => ("sev sev-low", 1.0),
    };
    let raw = s.to_string();
    Cell::shown(
        tr.t(&format!("severity.{}", raw.to_lowercase())),
        raw,
        SortKey::Num(rank),
    )
    .class(class)
}

/// A CVSS score with one decimal.
pub fn cvss(tr: &Tr, c: Option<f32>) -> Cell {
    match c {
        Some(c) => {
            let c = (f64::from(c) * 10.0).round() / 10.0;
            Cell::num(c, tr.dec1(c))
        }
        None => Cell::none(),
    }
}

/// A count.
pub fn count(tr: &Tr, n: u64) -> Cell {
    Cell::num(n as f64, tr.num(n))
}

/// A time, shown as a localized date, exported as RFC 3339.
pub fn time(tr: &Tr, t: DateTime<Utc>) -> Cell {
    Cell::shown(
        tr.date(t),
        t.to_rfc3339(),
        SortKey::Num(t.timestamp() as f64),
    )
}

/// A `YYYY-MM-DD` date, shown localized.
pub fn date(tr: &Tr, d: Option<&str>) -> Cell {
    match d {
        Some(d) => Cell::shown(tr.date_str(d), d.to_owned(), SortKey::Text(d.to_owned())),
        None => Cell::none(),
    }
}

/// An exposure level, localized and coloured.
pub fn exposure(tr: &Tr, level: &str) -> Cell {
    let class = match level {
        "High" => "sev sev-critical",
        "Medium" => "sev sev-important",
        "Low" => "sev sev-low",
        _ => "",
    };
    let rank = ["None", "Low", "Medium", "High"]
        .iter()
        .position(|l| *l == level)
        .unwrap_or(0);
    Cell::shown(
        tr.t(&format!("exposure.{}", level.to_lowercase())),
        level.to_owned(),
        SortKey::Num(rank as f64),
    )
    .class(class)
}

/// A column.
pub fn col(tr: &Tr, key: &'static str, numeric: bool) -> Column {
    Column {
        key,
        label: tr.t(&format!("col.{key}")),
        numeric,
    }
}

/// The machine-table columns (plus `extra` at the end).
pub fn machine_columns(tr: &Tr, extra: &[&'static str]) -> Vec<Column> {
    let mut cols = vec![
        col(tr, "name", false),
        col(tr, "os", false),
        col(tr, "build", false),
        col(tr, "last_seen", false),
        col(tr, "missing_kbs", true),
        col(tr, "open_cves", true),
        col(tr, "exploited", true),
        col(tr, "exposure", false),
    ];
    cols.extend(extra.iter().map(|k| col(tr, k, false)));
    cols
}

/// A machine's row (plus `extra` text cells and JSON fields).
pub fn machine_row(tr: &Tr, m: &MachineRow, extra: &[(&str, String)]) -> Row {
    let mut cells = vec![
        Cell::text(&m.name).link(format!("/machines/{}", m.id)),
        Cell::text(&m.os),
        m.build.as_deref().map_or_else(Cell::none, Cell::text),
        time(tr, m.last_seen),
        count(tr, m.missing_kbs),
        count(tr, m.open_cves),
        count(tr, m.exploited_cves),
        exposure(tr, &m.exposure),
    ];
    let mut json = json!(m);
    for (k, v) in extra {
        cells.push(Cell::text(v.clone()));
        json[*k] = json!(v);
    }
    Row { cells, json }
}
