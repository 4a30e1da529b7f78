//! `kbgap token list`: the recorded tokens, whether each still works, and the id to revoke it.

use std::io::Write;

use anyhow::{Context as _, Result};
use chrono::{DateTime, SecondsFormat, Utc};
use kbgap_store::tokens::IssuedToken;
use serde::Serialize;

use crate::cli::ListFormat;
use crate::context::Context;
use crate::output::count;
use crate::output::grid::{Cell, Column, Grid};
use crate::output::term::{self, Style};

/// Shortened jtis keep this many hex digits: `kbgap token revoke` takes such a prefix.
const SHORT_JTI: usize = 12;
/// The roles column is given at least this much before jtis are shortened to make room.
const MIN_ROLES: usize = 16;

/// Whether a token works at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Active,
    Revoked,
    Expired,
}

impl Status {
    fn of(t: &IssuedToken, now: DateTime<Utc>) -> Self {
        match (t.revoked_at, t.expires_at <= now) {
            (Some(_), _) => Self::Revoked,
            (None, true) => Self::Expired,
            (None, false) => Self::Active,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Revoked => "revoked",
            Self::Expired => "expired",
        }
    }
}

/// Lists the recorded tokens in `format`; expired ones (revoked or not) only with `all`.
pub async fn run(ctx: &Context, format: ListFormat, all: bool) -> Result<()> {
    let store = ctx.open_store().await?;
    let tokens = store
        .issued_tokens()
        .await
        .context("reading issued tokens")?;
    let now = Utc::now();
    let shown: Vec<(&IssuedToken, Status)> = (tokens.iter())
        .map(|t| (t, Status::of(t, now)))
        .filter(|(t, _)| all || t.expires_at > now)
        .collect();
    let mut out = std::io::stdout().lock();
    match format {
        ListFormat::Table => {
            let width = term::width();
            if !shown.is_empty() {
                write!(out, "{}", table(&shown, width, term::colour()))?;
            }
            let hidden = tokens.len() - shown.len();
            write!(
                out,
                "{}",
                term::indented(&summary(&shown, hidden), width, 0, 4)
            )?;
        }
        ListFormat::Json => {
            let value: Vec<Json<'_>> = shown.iter().map(|(t, s)| Json::new(t, *s)).collect();
            serde_json::to_writer_pretty(&mut out, &Page { value })?;
            writeln!(out)?;
        }
        ListFormat::Csv => write_csv(&mut out, &shown)?,
    }
    Ok(())
}

/// `3 tokens: 2 active, 1 revoked; 4 expired not shown (--all lists them)`.
fn summary(shown: &[(&IssuedToken, Status)], hidden: usize) -> String {
    let n = |s: Status| shown.iter().filter(|(_, x)| *x == s).count();
    let mut text = if shown.is_empty() {
        "no tokens to show; `kbgap token --roles …` issues one".to_owned()
    } else {
        let mut parts = vec![format!("{} active", n(Status::Active))];
        if n(Status::Revoked) > 0 {
            parts.push(format!("{} revoked", n(Status::Revoked)));
        }
        if n(Status::Expired) > 0 {
            parts.push(format!("{} expired", n(Status::Expired)));
        }
        format!("{}: {}", count(shown.len(), "token"), parts.join(", "))
    };
    if hidden > 0 {
        text.push_str(&format!("; {hidden} expired not shown (--all lists them)"));
    }
    text
}

/// The tokens as a grid no wider than `width`: whole jtis when they fit, else shortened.
fn table(rows: &[(&IssuedToken, Status)], width: usize, colour: bool) -> String {
    let full = grid(rows, None);
    if full.fixed_width() + MIN_ROLES <= width {
        return full.render(width, colour);
    }
    grid(rows, Some(SHORT_JTI)).render(width, colour)
}

fn grid(rows: &[(&IssuedToken, Status)], short: Option<usize>) -> Grid {
    let mut g = Grid::new(vec![
        Column::fixed("JTI"),
        Column::capped("APP", 12),
        Column::flex("ROLES"),
        Column::fixed("ISSUED"),
        Column::fixed("EXPIRES"),
        Column::fixed("STATUS"),
    ]);
    for (t, status) in rows {
        let jti = match short {
            Some(n) if t.jti.len() > n => t.jti[..n].to_owned(),
            _ => t.jti.clone(),
        };
        let mut roles = t.roles.join(" ");
        if let Some(m) = &t.machine {
            roles.push_str(&format!(" (for {m})"));
        }
        let style = match status {
            Status::Active => Style::Plain,
            Status::Revoked | Status::Expired => Style::Dim,
        };
        let day = |t: DateTime<Utc>| t.format("%Y-%m-%d").to_string();
        g.row(vec![
            Cell::new(jti, Style::Bold),
            Cell::new(t.subject.clone(), style),
            Cell::new(roles, style),
            Cell::new(day(t.issued_at), style),
            Cell::new(day(t.expires_at), style),
            Cell::new(status.name(), style),
        ]);
    }
    g
}

#[derive(Debug, Serialize)]
struct Page<'a> {
    value: Vec<Json<'a>>,
}

/// One token in JSON.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Json<'a> {
    jti: &'a str,
    subject: &'a str,
    roles: &'a [String],
    machine: Option<&'a str>,
    issued_at: String,
    expires_at: String,
    revoked_at: Option<String>,
    status: &'static str,
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

impl<'a> Json<'a> {
    fn new(t: &'a IssuedToken, status: Status) -> Self {
        Self {
            jti: &t.jti,
            subject: &t.subject,
            roles: &t.roles,
            machine: t.machine.as_deref(),
            issued_at: rfc3339(t.issued_at),
            expires_at: rfc3339(t.expires_at),
            revoked_at: t.revoked_at.map(rfc3339),
            status: status.name(),
        }
    }
}

/// CSV with the JSON's fields, in the same order (roles space-separated).
fn write_csv(out: &mut impl Write, rows: &[(&IssuedToken, Status)]) -> Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record([
        "jti",
        "subject",
        "roles",
        "machine",
        "issuedAt",
        "expiresAt",
        "revokedAt",
        "status",
    ])?;
    for (t, s) in rows {
        let j = Json::new(t, *s);
        w.write_record([
            j.jti,
            j.subject,
            &t.roles.join(" "),
            j.machine.unwrap_or(""),
            &j.issued_at,
            &j.expires_at,
            j.revoked_at.as_deref().unwrap_or(""),
            j.status,
        ])?;
    }
    w.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(jti: &str, revoked: bool) -> IssuedToken {
        let now = Utc::now();
        IssuedToken {
            jti: jti.into(),
            subject: "kbgap-cli".into(),
            roles: vec!["Machine.Read.All".into(), "Software.Read.All".into()],
            machine: None,
            issued_at: now,
            expires_at: now + chrono::Duration::hours(8),
            revoked_at: revoked.then_some(now),
        }
    }

    #[test]
    fn fits_80_columns_with_shortened_jtis() {
        let a = rec(&"ab".repeat(16), false);
        let b = rec(&"cd".repeat(16), true);
        let now = Utc::now();
        let rows = [(&a, Status::of(&a, now)), (&b, Status::of(&b, now))];
        let text = table(&rows, 80, false);
        assert!(text.lines().all(|l| l.chars().count() <= 80), "{text}");
        assert!(text.contains(&"ab".repeat(6)) && !text.contains(&"ab".repeat(16)));
        assert!(text.contains("revoked"));
        let wide = table(&rows, 160, false);
        assert!(wide.contains(&"ab".repeat(16)), "{wide}");
        assert_eq!(
            summary(&rows, 2),
            "2 tokens: 1 active, 1 revoked; 2 expired not shown (--all lists them)"
        );
    }
}
