//! Tables: what a page shows in rows, sorted by `?sort=table.column&dir=asc|desc`, and exported
//! as CSV or JSON with exactly the rows the filters select, in the order shown.

use std::cmp::Ordering;

use serde_json::Value;

/// How many rows one HTML page shows; `?page=N` shows the next ones. Exports are not paged.
pub const PAGE_ROWS: usize = 500;

/// A table's column.
#[derive(Debug, Clone)]
pub struct Column {
    /// Stable key: the sort parameter, the CSV header, the JSON field.
    pub key: &'static str,
    /// Heading in the page's language.
    pub label: String,
    /// Right-aligned (numbers).
    pub numeric: bool,
}

/// One cell: what the page shows, what exports carry, and how it sorts.
#[derive(Debug, Clone)]
pub struct Cell {
    /// Shown text (localized numbers and dates).
    pub text: String,
    /// Exported text (plain numbers, ISO dates).
    pub raw: String,
    /// Sort key.
    pub sort: SortKey,
    /// A link, when the cell leads somewhere.
    pub href: Option<String>,
    /// CSS class (severity colours).
    pub class: &'static str,
}

/// How a cell sorts.
#[derive(Debug, Clone, PartialEq, PartialOrd)]
pub enum SortKey {
    /// Numbers (missing values sort as −1).
    Num(f64),
    /// Text, compared case-insensitively.
    Text(String),
}

impl Cell {
    /// A text cell.
    pub fn text(s: impl Into<String>) -> Self {
        let s = s.into();
        Self {
            sort: SortKey::Text(s.to_lowercase()),
            raw: s.clone(),
            text: s,
            href: None,
            class: "",
        }
    }

    /// A number cell, shown as `shown` (localized), exported as `n`.
    pub fn num(n: f64, shown: String) -> Self {
        Self {
            raw: if n.fract() == 0.0 {
                format!("{n:.0}")
            } else {
                format!("{n:.1}")
            },
            text: shown,
            sort: SortKey::Num(n),
            href: None,
            class: "num",
        }
    }

    /// An empty cell that sorts below every number.
    pub fn none() -> Self {
        Self {
            text: "–".to_owned(),
            raw: String::new(),
            sort: SortKey::Num(-1.0),
            href: None,
            class: "",
        }
    }

    /// A cell with a shown text differing from its exported one (dates, enums).
    pub fn shown(text: String, raw: String, sort: SortKey) -> Self {
        Self {
            text,
            raw,
            sort,
            href: None,
            class: "",
        }
    }

    /// The same cell linking to `href`.
    pub fn link(mut self, href: String) -> Self {
        self.href = Some(href);
        self
    }

    /// The same cell with a CSS class.
    pub fn class(mut self, class: &'static str) -> Self {
        self.class = class;
        self
    }
}

/// One row: its cells, and the service's row as JSON for `?format=json`.
#[derive(Debug, Clone)]
pub struct Row {
    /// Cells, one per column.
    pub cells: Vec<Cell>,
    /// The row as exported in JSON.
    pub json: Value,
}

/// A table of a page.
#[derive(Debug, Clone)]
pub struct Table {
    /// Key (`?table=` for exports, the prefix of `?sort=`).
    pub key: &'static str,
    /// Columns.
    pub columns: Vec<Column>,
    /// Rows, in the order shown.
    pub rows: Vec<Row>,
}

/// A `?sort=` choice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sort {
    /// `table.column`.
    pub key: String,
    /// Descending.
    pub desc: bool,
}

impl Table {
    /// An empty table.
    pub fn new(key: &'static str, columns: Vec<Column>) -> Self {
        Self {
            key,
            columns,
            rows: Vec::new(),
        }
    }

    /// Sorts by `sort` when it names one of this table's columns (stable: ties keep the
    /// service's order, which is meaningful: priority, id).
    pub fn sort(&mut self, sort: Option<&Sort>) {
        let Some(s) = sort else { return };
        let Some(col) = (s.key.split_once('.'))
            .filter(|(t, _)| *t == self.key)
            .and_then(|(_, c)| self.columns.iter().position(|x| x.key == c))
        else {
            return;
        };
        self.rows.sort_by(|a, b| {
            let o = a.cells[col]
                .sort
                .partial_cmp(&b.cells[col].sort)
                .unwrap_or(Ordering::Equal);
            if s.desc { o.reverse() } else { o }
        });
    }

    /// The rows as CSV (RFC 4180, CRLF), with a header of column keys.
    pub fn csv(&self) -> String {
        let mut out = String::new();
        let header: Vec<String> = self.columns.iter().map(|c| csv_cell(c.key)).collect();
        out.push_str(&header.join(","));
        out.push_str("\r\n");
        for r in &self.rows {
            let cells: Vec<String> = r.cells.iter().map(|c| csv_cell(&c.raw)).collect();
            out.push_str(&cells.join(","));
            out.push_str("\r\n");
        }
        out
    }

    /// The rows as a JSON array of the service's rows.
    pub fn json(&self) -> Value {
        Value::Array(self.rows.iter().map(|r| r.json.clone()).collect())
    }
}

/// One CSV cell: a cell a spreadsheet would read as a formula (starting with `=`, `+`, `-`,
/// `@`, a tab or a carriage return) gets a leading `'`; a cell with a comma, quote or line
/// break is quoted.
pub fn csv_cell(s: &str) -> String {
    let guarded = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_owned()
    };
    if guarded.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", guarded.replace('"', "\"\""))
    } else {
        guarded
    }
}
