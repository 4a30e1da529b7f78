//! The table for people: one block per machine that fits the terminal's width.
//!
//! At 80 columns a row holds the figures that decide what to deploy first (release, severity,
//! CVSS, CVEs closed, exploited, KEV due date) and the reason goes on a line below it; wider
//! terminals get the reason and then the products as columns. A reason that repeats on three
//! rows or more (with `--all` one sentence fills thousands of rows) is printed once, as a
//! numbered note under the table.

use std::collections::{BTreeSet, HashMap};

use kbgap_core::Severity;
use kbgap_core::report::MissingKbEntry;

use super::ScanResult;
use super::rank::count;
use crate::output::grid::{Cell, Column, Grid};
use crate::output::term::{Style, indented};

/// Where detail lines (reasons, CVE lists) start: under the column after KB.
const DETAIL_INDENT: usize = 11;
/// Where CVE lists start: less indented, so five ids fit a line of 80.
const CVE_INDENT: usize = 4;
/// Narrowest reason column worth having; below it the reason goes on its own line.
const MIN_REASON: usize = 36;
/// The reason's width before products get a column too: the reason says what to do, the
/// products only repeat the OS most of the time.
const WIDE_REASON: usize = 60;
/// How often a reason must repeat before it becomes a note.
const REPEATS: usize = 3;

/// How to render: the width to fit, colour, and whether warnings are wanted.
#[derive(Debug, Clone, Copy)]
pub struct Look {
    pub width: usize,
    pub colour: bool,
    pub quiet: bool,
}

/// One machine's block: heading, warnings, the table and its notes, and the summary line.
pub fn render(r: &ScanResult, look: Look) -> String {
    let mut out = heading(r, look);
    let d = &r.device;
    if let Some(finding) = &d.end_of_support {
        out.push_str(&indented(
            &format!("out of support: {finding}"),
            look.width,
            2,
            4,
        ));
        out.push('\n');
        return out;
    }
    if !r.value.is_empty() {
        let notes = Notes::new(&r.value);
        out.push_str(&grid(&r.value, &notes, look));
        out.push_str(&notes.render(look.width));
        out.push_str(&legend(&r.value, look));
    }
    let line = indented(&summary(r), look.width, 0, 4);
    out.push_str(&Style::Bold.paint(line.trim_end(), look.colour));
    out.push_str("\n\n");
    out
}

fn heading(r: &ScanResult, look: Look) -> String {
    let d = &r.device;
    let build = match (d.os_version, d.ubr) {
        (Some(v), Some(u)) => format!("{v}.{u}"),
        (Some(v), None) => format!("{v} (UBR unknown)"),
        _ => "build unknown".into(),
    };
    let os = (d.products.first().or(d.os_name.as_ref())).map_or("unknown OS", String::as_str);
    let mut out = Style::Bold.paint(&d.computer_dns_name, look.colour);
    out.push('\n');
    let facts = format!(
        "{os}, {build}, {} installed",
        count(d.installed_kbs.len(), "KB")
    );
    out.push_str(&indented(&facts, look.width, 2, 4));
    if !look.quiet {
        for w in &d.warnings {
            out.push_str(&indented(&format!("warning: {w}"), look.width, 2, 4));
        }
    }
    out
}

/// "PC-01: 3 KBs to install, closing 412 open CVEs, 12 exploited". CVEs are counted once however
/// many of the KBs shown close them.
pub fn summary(r: &ScanResult) -> String {
    let name = &r.device.computer_dns_name;
    let exploited: BTreeSet<&str> = (r.value.iter())
        .flat_map(|e| e.exploited_cves.iter().map(String::as_str))
        .collect();
    let what = if r.all { "not satisfied" } else { "to install" };
    let shown = count(r.value.len(), "KB");
    let filter = if r.filter.active() {
        format!(" ({}; {} in all)", r.filter.describe(), r.unfiltered)
    } else {
        String::new()
    };
    if r.value.is_empty() && !r.filter.active() {
        return format!("{name}: nothing missing");
    }
    format!(
        "{name}: {shown} {what}{filter}, closing {}, {} exploited",
        count(r.closing, "open CVE"),
        exploited.len()
    )
}

/// Reasons that repeat, each given a note number in order of first appearance.
struct Notes {
    heads: Vec<(String, usize)>,
    index: HashMap<String, usize>,
}

/// A reason split into the rule (repeated across rows) and what the KB covers (its own).
fn split_reason(reason: &str) -> (&str, Option<&str>) {
    match reason.split_once("; covers ") {
        Some((head, rest)) => (head, Some(rest)),
        None => (reason, None),
    }
}

impl Notes {
    fn new(entries: &[MissingKbEntry]) -> Self {
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for e in entries {
            *seen.entry(split_reason(&e.reason).0).or_default() += 1;
        }
        let mut heads = Vec::new();
        let mut index = HashMap::new();
        for e in entries {
            let head = split_reason(&e.reason).0;
            if seen[head] >= REPEATS && !index.contains_key(head) {
                heads.push((head.to_owned(), seen[head]));
                index.insert(head.to_owned(), heads.len());
            }
        }
        Self { heads, index }
    }
    /// A reason as the table shows it: the note number of a repeated rule, and the rest.
    fn split(&self, reason: &str) -> (Option<usize>, String) {
        let (head, covers) = split_reason(reason);
        match (self.index.get(head), covers) {
            (Some(&n), Some(c)) => (Some(n), format!("covers {c}")),
            (Some(&n), None) => (Some(n), String::new()),
            (None, _) => (None, reason.to_owned()),
        }
    }
    /// The reason in one cell: `[1] covers KB…`.
    fn short(&self, reason: &str) -> String {
        match self.split(reason) {
            (Some(n), rest) => format!("[{n}] {rest}").trim_end().to_owned(),
            (None, rest) => rest,
        }
    }
    fn render(&self, width: usize) -> String {
        let mut out = String::new();
        for (i, (head, n)) in self.heads.iter().enumerate() {
            let marker = format!("[{}] ", i + 1);
            let text = format!("{marker}{head} ({})", count(*n, "KB"));
            out.push_str(&indented(&text, width, 0, marker.len()));
        }
        out
    }
}

/// The cells of one entry, by column title.
fn cells(e: &MissingKbEntry, notes: &Notes) -> Vec<(&'static str, Cell)> {
    let sev_style = match e.max_severity {
        Some(Severity::Critical) => Style::Alarm,
        Some(Severity::Important) => Style::Warn,
        _ => Style::Plain,
    };
    let n = e.exploited_cves.len();
    vec![
        ("KB", Cell::new(format!("KB{}", e.id), Style::Bold)),
        ("RELEASE", release(&e.name).into()),
        (
            "SEVERITY",
            Cell::new(e.max_severity.map_or("-", Severity::as_str), sev_style),
        ),
        (
            "CVSS",
            e.max_cvss.map_or("-".into(), |c| format!("{c:.1}")).into(),
        ),
        ("CVES", e.open_cves_closed.to_string().into()),
        (
            "EXPLOITED",
            Cell::new(
                n.to_string(),
                if n > 0 { Style::Alarm } else { Style::Plain },
            ),
        ),
        (
            "KEV DUE",
            Cell::new(e.kev_due_date.clone().unwrap_or_default(), Style::Alarm),
        ),
        ("PRODUCTS", e.products_names.join(", ").into()),
        ("REASON", notes.short(&e.reason).into()),
        (
            "NOTE",
            notes
                .split(&e.reason)
                .0
                .map_or(String::new(), |n| format!("[{n}]"))
                .into(),
        ),
    ]
}

/// "June 2026 Security Updates" → "Jun 2026": the month is what a person scans for.
fn release(name: &str) -> String {
    let short = name.strip_suffix(" Security Updates").unwrap_or(name);
    match short.split_once(' ') {
        Some((month, rest)) if month.len() > 3 && month.chars().all(char::is_alphabetic) => {
            format!("{} {rest}", &month[..3])
        }
        _ => short.to_owned(),
    }
}

fn column(title: &'static str) -> Column {
    match title {
        "RELEASE" => Column::capped(title, 10),
        "CVSS" | "CVES" | "EXPLOITED" => Column::number(title),
        "PRODUCTS" | "REASON" => Column::flex(title),
        _ => Column::fixed(title),
    }
}

/// The cells of a row under `titles`, in their order.
fn pick(titles: &[&'static str], row: &[(&'static str, Cell)]) -> Vec<Cell> {
    (titles.iter())
        .map(|t| row.iter().find(|(n, _)| n == t).map(|(_, c)| c.clone()))
        .map(Option::unwrap_or_default)
        .collect()
}

/// A grid of the entries' cells under `titles`, to measure.
fn build(titles: &[&'static str], rows: &[Vec<(&'static str, Cell)>]) -> Grid {
    let mut g = Grid::new(titles.iter().map(|t| column(t)).collect());
    for r in rows {
        g.row(pick(titles, r));
    }
    g
}

/// Which columns fit `width`: the figures always; the reason when it gets `MIN_REASON`
/// characters; the products when the reason keeps `WIDE_REASON`.
fn titles(
    entries: &[MissingKbEntry],
    notes: &Notes,
    rows: &[Vec<(&'static str, Cell)>],
    width: usize,
) -> Vec<&'static str> {
    let mut titles = vec!["KB", "RELEASE", "SEVERITY", "CVSS", "CVES", "EXPLOITED"];
    if entries.iter().any(|e| e.kev_due_date.is_some()) {
        titles.push("KEV DUE");
    }
    // Below 80 columns, drop the figures a person needs least until the rest fits.
    let note = if notes.heads.is_empty() { 0 } else { 5 };
    for optional in ["KEV DUE", "RELEASE", "CVSS"] {
        if build(&titles, rows).fixed_width() + note <= width + 2 {
            break;
        }
        titles.retain(|t| *t != optional);
    }
    let left = width.saturating_sub(build(&titles, rows).fixed_width());
    let products = (entries.iter())
        .map(|e| e.products_names.join(", ").len())
        .max()
        .unwrap_or(0)
        .max("PRODUCTS".len());
    if left >= WIDE_REASON + products + 2 {
        titles.push("PRODUCTS");
    }
    if left >= MIN_REASON {
        titles.push("REASON");
    } else if !notes.heads.is_empty() {
        titles.push("NOTE");
    }
    titles
}

fn grid(entries: &[MissingKbEntry], notes: &Notes, look: Look) -> String {
    let rows: Vec<_> = entries.iter().map(|e| cells(e, notes)).collect();
    let titles = titles(entries, notes, &rows, look.width);
    let mut g = Grid::new(titles.iter().map(|t| column(t)).collect());
    for (e, r) in entries.iter().zip(&rows) {
        g.row(pick(&titles, r));
        let rest = notes.split(&e.reason).1;
        if !titles.contains(&"REASON") && !rest.is_empty() {
            g.detail(DETAIL_INDENT, vec![Cell::new(rest, Style::Dim)]);
        }
        if e.cves.is_some() {
            g.detail(CVE_INDENT, cve_tokens(e));
        }
    }
    g.render(look.width, look.colour)
}

/// The CVEs of an entry, exploited ones first and marked: `[KEV]` listed by CISA, `[E]`
/// exploited in the wild by MSRC's word.
fn cve_tokens(e: &MissingKbEntry) -> Vec<Cell> {
    if let Some(details) = &e.cve_details {
        let mut d: Vec<_> = details.iter().collect();
        d.sort_by_key(|c| (!c.kev, !c.exploited));
        return (d.into_iter())
            .map(|c| match (c.kev, c.exploited) {
                (true, _) => Cell::new(format!("{}[KEV]", c.id), Style::Alarm),
                (false, true) => Cell::new(format!("{}[E]", c.id), Style::Alarm),
                _ => c.id.clone().into(),
            })
            .collect();
    }
    (e.cves.iter().flatten())
        .map(|c| c.clone().into())
        .collect()
}

/// What the CVE markers mean, once under a table that shows any.
fn legend(entries: &[MissingKbEntry], look: Look) -> String {
    let marked = (entries.iter())
        .filter_map(|e| e.cve_details.as_ref())
        .flatten()
        .any(|c| c.exploited || c.kev);
    if !marked {
        return String::new();
    }
    indented(
        "[E] exploited in the wild (MSRC); [KEV] in CISA's Known Exploited Vulnerabilities catalog",
        look.width,
        0,
        4,
    )
}
