//! `kbgap machines list`: the stored machines with when each was last seen and whether it still
//! counts (Defender's 30-day rule, [`kbgap_store::lifecycle::activity`]). The table is also what
//! `delete` and `purge` print, so every command shows machines the same way. `--tag` narrows
//! the list to machines carrying the tags (the report's `machineTags`, compared as the API's
//! `$filter=machineTags/any(t: t eq 'X')` compares: trimmed, without regard to case).

use std::io::Write;

use anyhow::{Context as _, Result};
use chrono::{DateTime, SecondsFormat, Utc};
use kbgap_store::StoredMachine;
use kbgap_store::lifecycle::{Activity, INACTIVE_AFTER, activity};
use serde::Serialize;

use crate::cli::{ListFormat, Which};
use crate::context::Context;
use crate::output::count;
use crate::output::grid::{Cell, Column, Grid};
use crate::output::term::{self, Style};

/// The TAGS column wraps beyond this many characters.
const TAGS_WIDTH: usize = 24;
/// Shortened ids keep this many hex digits (as `git log --oneline` does): enough to tell a
/// fleet's machines apart by eye, not to type (`delete` takes the name or the whole id).
const SHORT_ID: usize = 10;
/// The name column is given at least this much before ids are shortened to make room.
const MIN_NAME: usize = 12;

/// A stored machine as listed at one instant.
#[derive(Debug)]
pub struct Listed<'a> {
    /// The machine.
    pub machine: &'a StoredMachine,
    /// Active or inactive at `now`.
    pub activity: Activity,
    /// Whole days since it was last seen (0 for a clock ahead).
    pub days: i64,
}

impl<'a> Listed<'a> {
    /// `machine` as seen at `now`.
    pub fn new(machine: &'a StoredMachine, now: DateTime<Utc>) -> Self {
        Self {
            machine,
            activity: activity(machine.last_seen, now),
            days: (now - machine.last_seen).num_days().max(0),
        }
    }

    /// `active`, `inactive`, `end of support`, or `inactive, end of support`.
    fn status(&self) -> &'static str {
        let eos = self.machine.device.end_of_support.is_some();
        match (self.activity, eos) {
            (Activity::Active, false) => "active",
            (Activity::Active, true) => "end of support",
            (Activity::Inactive, false) => "inactive",
            (Activity::Inactive, true) => "inactive, end of support",
        }
    }

    /// Whether the machine carries every tag of `tags` ([`kbgap_service::tags`]: trimmed,
    /// without regard to case).
    pub fn has_tags(&self, tags: &[String]) -> bool {
        kbgap_service::tags::carries_all(&self.machine.device.machine_tags, tags)
    }

    /// `10.0.19045.5371`, `10.0.19045` when the UBR is unknown.
    fn build(&self) -> String {
        let d = &self.machine.device;
        match (d.os_version, d.ubr) {
            (Some(v), Some(u)) => format!("{v}.{u}"),
            (Some(v), None) => v.to_string(),
            (None, _) => "unknown".into(),
        }
    }
}

/// Machines of `all` that `which` selects at `now` and that carry every tag of `tags`, ordered
/// by computer name.
pub fn select<'a>(
    all: &'a [StoredMachine],
    which: Which,
    tags: &[String],
    now: DateTime<Utc>,
) -> Vec<Listed<'a>> {
    let mut out: Vec<Listed<'a>> = (all.iter())
        .map(|m| Listed::new(m, now))
        .filter(|l| match which {
            Which::Active => l.activity == Activity::Active,
            Which::Inactive => l.activity == Activity::Inactive,
            Which::All => true,
        })
        .filter(|l| l.has_tags(tags))
        .collect();
    out.sort_by_cached_key(|l| l.machine.device.computer_dns_name.to_lowercase());
    out
}

/// Lists the machines `which` selects, with every tag of `tags`, in `format`.
pub async fn run(ctx: &Context, format: ListFormat, which: Which, tags: &[String]) -> Result<()> {
    let store = ctx.open_store().await?;
    let all = store.machines().await.context("reading machines")?;
    let now = Utc::now();
    let shown = select(&all, which, tags, now);
    let mut out = std::io::stdout().lock();
    match format {
        ListFormat::Table => {
            if !shown.is_empty() {
                write!(out, "{}", table(&shown, term::width(), term::colour()))?;
            }
            let width = term::width();
            write!(
                out,
                "{}",
                term::indented(&summary(&all, &shown, which, tags, now), width, 0, 4)
            )?;
        }
        ListFormat::Json => {
            let value: Vec<Json<'_>> = shown.iter().map(Json::from).collect();
            serde_json::to_writer_pretty(&mut out, &Page { value })?;
            writeln!(out)?;
        }
        ListFormat::Csv => write_csv(&mut out, &shown)?,
    }
    Ok(())
}

/// The machines as a grid no wider than `width`: whole ids when they fit beside a readable
/// name, else shortened, with a line saying so.
pub fn table(rows: &[Listed<'_>], width: usize, colour: bool) -> String {
    let full = grid(rows, None, true);
    if full.fixed_width() + MIN_NAME <= width {
        return full.render(width, colour);
    }
    let mut notes =
        vec!["ids shortened to fit: --format json gives them whole; delete takes names too"];
    let mut short = grid(rows, Some(SHORT_ID), true);
    if short.fixed_width() + MIN_NAME > width {
        // Too narrow for tags beside a readable name: they stay in JSON and CSV.
        short = grid(rows, Some(SHORT_ID), false);
        notes.push("tags left out to fit: --format json or a wider terminal shows them");
    }
    let mut out = short.render(width, colour);
    for note in notes {
        out.push_str(&term::indented(note, width, 0, 4));
    }
    out
}

fn grid(rows: &[Listed<'_>], short: Option<usize>, tags: bool) -> Grid {
    let mut columns = vec![
        Column::fixed("ID"),
        Column::flex("COMPUTER"),
        Column::fixed("OS BUILD"),
        Column::fixed("LAST SEEN"),
        Column::number("DAYS"),
        Column::capped("STATUS", "end of support".len()),
    ];
    if tags {
        columns.push(Column::capped("TAGS", TAGS_WIDTH));
    }
    let mut g = Grid::new(columns);
    for l in rows {
        let id = l.machine.id.as_str();
        let id = match short {
            Some(n) if id.len() > n => format!("{}…", &id[..n]),
            _ => id.to_owned(),
        };
        let style = match l.activity {
            Activity::Active => Style::Plain,
            Activity::Inactive => Style::Dim,
        };
        let status = match (l.activity, l.machine.device.end_of_support.is_some()) {
            (_, true) => Style::Warn,
            (Activity::Inactive, false) => Style::Dim,
            (Activity::Active, false) => Style::Plain,
        };
        let mut cells = vec![
            Cell::new(id, style),
            Cell::new(l.machine.device.computer_dns_name.clone(), Style::Bold),
            Cell::new(l.build(), style),
            Cell::new(l.machine.last_seen.format("%Y-%m-%d").to_string(), style),
            Cell::new(l.days.to_string(), style),
            Cell::new(l.status(), status),
        ];
        if tags {
            cells.push(Cell::new(l.machine.device.machine_tags.join(", "), style));
        }
        g.row(cells);
    }
    g
}

/// What was shown and what was left out: `2 active machines; 1 inactive not shown (…)`, and
/// with `tags`, that only machines carrying them were counted.
pub fn summary(
    all: &[StoredMachine],
    shown: &[Listed<'_>],
    which: Which,
    tags: &[String],
    now: DateTime<Utc>,
) -> String {
    if all.is_empty() {
        return "no machines stored; `kbgap machines import` adds them".into();
    }
    if !tags.is_empty() {
        let tagged: Vec<StoredMachine> = (all.iter())
            .filter(|m| Listed::new(m, now).has_tags(tags))
            .cloned()
            .collect();
        let quoted: Vec<String> = tags.iter().map(|t| format!("{:?}", t.trim())).collect();
        let of = if quoted.len() == 1 { "tag" } else { "tags" };
        if tagged.is_empty() {
            return format!(
                "no machine carries the {of} {} (of {} stored)",
                quoted.join(", "),
                count(all.len(), "machine")
            );
        }
        let rest = summary(&tagged, shown, which, &[], now);
        return format!("{rest}; with the {of} {}", quoted.join(", "));
    }
    let inactive = (all.iter())
        .filter(|m| activity(m.last_seen, now) == Activity::Inactive)
        .count();
    let active = all.len() - inactive;
    let days = INACTIVE_AFTER.num_days();
    match which {
        Which::All => format!(
            "{}: {active} active, {inactive} inactive (not seen for over {days} days)",
            count(shown.len(), "machine")
        ),
        Which::Active if inactive == 0 => count(shown.len(), "active machine"),
        Which::Active => format!(
            "{}; {inactive} inactive not shown (not seen for over {days} days: --inactive or --all lists them)",
            count(shown.len(), "active machine")
        ),
        Which::Inactive => format!(
            "{} (not seen for over {days} days); {active} active not shown",
            count(shown.len(), "inactive machine")
        ),
    }
}

/// The JSON answer, shaped like Defender's `GET /api/machines` collection.
#[derive(Debug, Serialize)]
struct Page<'a> {
    value: Vec<Json<'a>>,
}

/// One machine in JSON, with Defender's field names (`healthStatus`: `Active` or `Inactive`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Json<'a> {
    id: &'a str,
    computer_dns_name: &'a str,
    os_version: Option<String>,
    os_build: Option<u32>,
    ubr: Option<u32>,
    first_seen: String,
    last_seen: String,
    last_seen_days: i64,
    health_status: &'static str,
    end_of_support: Option<&'a str>,
    machine_tags: &'a [String],
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

impl<'a> From<&Listed<'a>> for Json<'a> {
    fn from(l: &Listed<'a>) -> Self {
        let (m, d) = (l.machine, &l.machine.device);
        Self {
            id: m.id.as_str(),
            computer_dns_name: &d.computer_dns_name,
            os_version: d.os_version.map(|v| v.to_string()),
            os_build: d.os_version.map(|v| v.build),
            ubr: d.ubr,
            first_seen: rfc3339(m.first_seen),
            last_seen: rfc3339(m.last_seen),
            last_seen_days: l.days,
            health_status: l.activity.health_status(),
            end_of_support: d.end_of_support.as_deref(),
            machine_tags: &d.machine_tags,
        }
    }
}

/// CSV with the JSON's fields, in the same order.
fn write_csv(out: &mut impl Write, rows: &[Listed<'_>]) -> Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record([
        "id",
        "computerDnsName",
        "osVersion",
        "osBuild",
        "ubr",
        "firstSeen",
        "lastSeen",
        "lastSeenDays",
        "healthStatus",
        "endOfSupport",
        "machineTags",
    ])?;
    let opt = |v: Option<u32>| v.map(|v| v.to_string()).unwrap_or_default();
    for l in rows {
        let j = Json::from(l);
        w.write_record([
            j.id,
            j.computer_dns_name,
            j.os_version.as_deref().unwrap_or(""),
            &opt(j.os_build),
            &opt(j.ubr),
            &j.first_seen,
            &j.last_seen,
            &j.last_seen_days.to_string(),
            j.health_status,
            j.end_of_support.unwrap_or(""),
            &j.machine_tags.join("; "),
        ])?;
    }
    w.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;
    use kbgap_core::Device;
    use kbgap_core::machine::OsVersion;

    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_780_000_000, 0).unwrap()
    }

    fn machine(name: &str, days: i64, eos: bool) -> StoredMachine {
        let id = kbgap_store::machines::derived_id(name);
        StoredMachine {
            device: Device {
                id: Some(id.clone()),
                computer_dns_name: name.into(),
                os_version: Some(OsVersion {
                    major: 10,
                    minor: 0,
                    build: 19045,
                }),
                ubr: Some(5371),
                end_of_support: eos.then(|| "Windows 10 is out of support".into()),
                ..Device::default()
            },
            id,
            first_seen: now() - TimeDelta::days(days),
            last_seen: now() - TimeDelta::days(days),
        }
    }

    fn fleet() -> Vec<StoredMachine> {
        let mut pc = machine("PC-01", 1, false);
        pc.device.machine_tags = vec!["Finance".into(), "site:Berlin".into()];
        let mut old = machine("ws-old", 40, false);
        old.device.machine_tags = vec!["finance".into()];
        vec![old, pc, machine("srv-eos", 3, true)]
    }

    #[test]
    fn tags_narrow_the_list_without_regard_to_case() {
        let all = fleet();
        let finance = [" FINANCE".to_owned()];
        let names = |rows: &[Listed<'_>]| -> Vec<String> {
            (rows.iter())
                .map(|l| l.machine.device.computer_dns_name.clone())
                .collect()
        };
        let shown = select(&all, Which::Active, &finance, now());
        assert_eq!(names(&shown), ["PC-01"]);
        let s = summary(&all, &shown, Which::Active, &finance, now());
        assert_eq!(
            s,
            "1 active machine; 1 inactive not shown (not seen for over 30 days: --inactive or --all lists them); with the tag \"FINANCE\""
        );
        assert_eq!(
            names(&select(&all, Which::All, &finance, now())),
            ["PC-01", "ws-old"]
        );
        let both = ["finance".to_owned(), "SITE:berlin".to_owned()];
        assert_eq!(names(&select(&all, Which::All, &both, now())), ["PC-01"]);
        let none = ["hr".to_owned()];
        assert!(select(&all, Which::All, &none, now()).is_empty());
        let s = summary(&all, &[], Which::All, &none, now());
        assert_eq!(
            s,
            "no machine carries the tag \"hr\" (of 3 machines stored)"
        );
        let out = table(&select(&all, Which::All, &[], now()), 140, false);
        assert!(out.contains("TAGS"), "{out}");
        assert!(out.contains("Finance, site:Berlin"), "{out}");
        let j = serde_json::to_value(Json::from(&shown[0])).unwrap();
        assert_eq!(
            j["machineTags"],
            serde_json::json!(["Finance", "site:Berlin"])
        );
    }

    #[test]
    fn the_default_hides_inactive_machines_and_says_so() {
        let all = fleet();
        let shown = select(&all, Which::Active, &[], now());
        let names: Vec<&str> = (shown.iter())
            .map(|l| l.machine.device.computer_dns_name.as_str())
            .collect();
        assert_eq!(names, ["PC-01", "srv-eos"]);
        let s = summary(&all, &shown, Which::Active, &[], now());
        assert!(
            s.starts_with("2 active machines; 1 inactive not shown"),
            "{s}"
        );
        let inactive = select(&all, Which::Inactive, &[], now());
        assert_eq!(inactive.len(), 1);
        assert!(
            summary(&all, &inactive, Which::Inactive, &[], now())
                .starts_with("1 inactive machine ")
        );
        assert_eq!(select(&all, Which::All, &[], now()).len(), 3);
    }

    #[test]
    fn the_table_fits_80_columns_with_short_ids() {
        let all = fleet();
        let out = table(&select(&all, Which::All, &[], now()), 80, false);
        assert!(out.lines().all(|l| l.chars().count() <= 80), "{out}");
        assert!(out.contains("ids shortened"), "{out}");
        assert!(out.contains("inactive"), "{out}");
        assert!(out.contains("end of support"), "{out}");
        assert!(out.contains("10.0.19045.5371"), "{out}");
        let wide = table(&select(&all, Which::All, &[], now()), 140, false);
        assert!(
            wide.contains(all[0].id.as_str()),
            "whole ids when they fit: {wide}"
        );
        assert!(!wide.contains("shortened"), "{wide}");
    }

    #[test]
    fn json_carries_defenders_health_status() {
        let all = fleet();
        let rows = select(&all, Which::All, &[], now());
        let j = serde_json::to_value(Json::from(&rows[2])).unwrap();
        assert_eq!(j["computerDnsName"], "ws-old");
        assert_eq!(j["healthStatus"], "Inactive");
        assert_eq!(j["lastSeenDays"], 40);
    }
}
