//! `/`: deploy first — one row per KB missing anywhere, ranked by what installing it closes.

use std::collections::BTreeSet;

use axum::response::Response;
use kbgap_core::Severity;
use kbgap_server::auth::perm;
use kbgap_service::queries::{DeployFilter, DeployRow, Scope, choices, deploy_first};
use serde_json::json;

use super::Ctx;
use super::cells::{col, count, cvss, date, seg, severity};
use crate::render::{Choice, Fact, Field, Filters, PageView};
use crate::table::{Cell, Row, Table};

/// The scope filters shared by the fleet pages: OS version and last-seen window.
pub fn scope(ctx: &Ctx) -> Scope {
    Scope {
        os_version: ctx.param("os").map(str::to_owned),
        seen_within_days: ctx.number("seen"),
        tag: ctx.param("tag").map(str::to_owned),
    }
}

/// The scope's filter fields (`os` and `tag` choices from the fleet).
pub fn scope_fields(
    ctx: &Ctx,
    os_choices: &BTreeSet<String>,
    tag_choices: &BTreeSet<String>,
) -> Vec<Field> {
    let tr = ctx.tr();
    vec![
        select(
            ctx,
            "os",
            tr.t("filter.os"),
            os_choices.iter().map(|o| (o.clone(), o.clone())).collect(),
        ),
        Field {
            name: "seen",
            label: tr.t("filter.seen"),
            kind: "number",
            value: ctx.param("seen").unwrap_or("").to_owned(),
            checked: false,
            options: Vec::new(),
        },
        select(
            ctx,
            "tag",
            tr.t("filter.tag"),
            tag_choices.iter().map(|t| (t.clone(), t.clone())).collect(),
        ),
    ]
}

/// A select field with an "all" choice first.
pub fn select(
    ctx: &Ctx,
    name: &'static str,
    label: String,
    choices: Vec<(String, String)>,
) -> Field {
    let current = ctx.param(name).unwrap_or("");
    let mut options = vec![Choice {
        value: String::new(),
        label: ctx.tr().t("filter.all"),
        selected: current.is_empty(),
    }];
    options.extend(choices.into_iter().map(|(value, label)| Choice {
        selected: value.eq_ignore_ascii_case(current),
        value,
        label,
    }));
    Field {
        name,
        label,
        kind: "select",
        value: current.to_owned(),
        checked: false,
        options,
    }
}

/// A checkbox field.
pub fn check(ctx: &Ctx, name: &'static str, label: String) -> Field {
    Field {
        name,
        label,
        kind: "check",
        value: String::new(),
        checked: ctx.flag(name),
        options: Vec::new(),
    }
}

/// The filter form around `fields`.
pub fn filters(ctx: &Ctx, fields: Vec<Field>) -> Filters {
    let tr = ctx.tr();
    Filters {
        action: ctx.path.clone(),
        label: tr.t("filter.label"),
        fields,
        hidden: ctx.kept(),
        apply: tr.t("filter.apply"),
        reset: tr.t("filter.reset"),
        reset_href: ctx.path.clone(),
    }
}

fn deploy_filter(ctx: &Ctx) -> DeployFilter {
    DeployFilter {
        scope: scope(ctx),
        family: ctx.param("family").map(str::to_owned),
        exploited_only: ctx.flag("exploited"),
        min_severity: ctx.param("severity").and_then(Severity::from_msrc),
    }
}

/// `GET /`.
pub async fn page(ctx: Ctx) -> Result<Response, Response> {
    ctx.require::<perm::SoftwareMissingKbs>()?;
    let filter = deploy_filter(&ctx);
    let now = chrono::Utc::now();
    let (rows, families, oses, tags) = ctx
        .fleet
        .view(move |view, cat| {
            let c = choices(cat, view);
            (
                deploy_first(cat, view, &filter, now),
                c.families,
                c.os_versions,
                c.tags,
            )
        })
        .await
        .map_err(|e| ctx.failed(e))?;
    let tr = ctx.tr();
    let machines_total: u64 = rows.iter().map(|r| r.machines).sum();
    let exploited = rows.iter().filter(|r| !r.exploited.is_empty()).count() as u64;
    let mut fields = vec![select(
        &ctx,
        "family",
        tr.t("filter.family"),
        families.into_iter().map(|f| (f.clone(), f)).collect(),
    )];
    fields.extend(scope_fields(&ctx, &oses, &tags));
    fields.push(select(
        &ctx,
        "severity",
        tr.t("filter.severity"),
        ["Critical", "Important", "Moderate", "Low"]
            .iter()
            .map(|s| {
                (
                    s.to_string(),
                    tr.t(&format!("severity.{}", s.to_lowercase())),
                )
            })
            .collect(),
    ));
    fields.push(check(&ctx, "exploited", tr.t("filter.exploited")));
    let page = PageView {
        title: tr.t("deploy.title"),
        heading: tr.t("deploy.heading"),
        lead: Some(tr.t("deploy.lead")),
        facts: vec![
            Fact::new(tr.t("deploy.kbs"), tr.num(rows.len() as u64)),
            Fact::new(tr.t("deploy.exploited_kbs"), tr.num(exploited)),
            Fact::new(tr.t("deploy.gaps"), tr.num(machines_total)),
        ],
        filters: Some(filters(&ctx, fields)),
        ..PageView::default()
    };
    let table = kb_table(&ctx, &rows);
    Ok(ctx.respond(page, vec![table], &["deploy.empty"]))
}

fn kb_table(ctx: &Ctx, rows: &[DeployRow]) -> Table {
    let tr = ctx.tr();
    let mut t = Table::new(
        "kbs",
        vec![
            col(tr, "kb", false),
            col(tr, "kind", false),
            col(tr, "released", false),
            col(tr, "products", false),
            col(tr, "machines", true),
            col(tr, "cves", true),
            col(tr, "exploited", true),
            col(tr, "kev", true),
            col(tr, "kev_due", false),
            col(tr, "severity", false),
            col(tr, "cvss", true),
            col(tr, "covers", true),
        ],
    );
    // The machine list behind a KB keeps the page's machine scope.
    let scope_q: String = {
        let mut s = form_urlencoded::Serializer::new(String::new());
        for k in ["os", "seen"] {
            if let Some(v) = ctx.param(k) {
                s.append_pair(k, v);
            }
        }
        s.finish()
    };
    for r in rows {
        let kb_href = format!("/kbs/{}", seg(&r.kb));
        let machines_href = if scope_q.is_empty() {
            format!("{kb_href}#h-machines")
        } else {
            format!("{kb_href}?{scope_q}#h-machines")
        };
        let exploited = Cell::num(r.exploited.len() as f64, tr.num(r.exploited.len() as u64));
        let exploited = if r.exploited.is_empty() {
            exploited
        } else {
            exploited.class("num hot")
        };
        let mut kev = count(tr, r.kev.len() as u64);
        kev.raw = r.kev.join(" ");
        let mut exploited = exploited;
        exploited.raw = r.exploited.join(" ");
        t.rows.push(Row {
            cells: vec![
                Cell::text(&r.kb).link(kb_href.clone()),
                Cell::shown(
                    tr.t(&format!("kind.{}", r.kind.as_str())),
                    r.kind.as_str().to_owned(),
                    crate::table::SortKey::Text(r.kind.as_str().to_owned()),
                ),
                date(tr, Some(&r.released)),
                Cell::text(r.products.join(", ")),
                count(tr, r.machines).link(machines_href),
                count(tr, r.cves),
                exploited,
                kev,
                date(tr, r.kev_due.as_deref()),
                severity(tr, r.max_severity),
                cvss(tr, r.max_cvss),
                count(tr, r.covers_older),
            ],
            json: json!(r),
        });
    }
    t
}
