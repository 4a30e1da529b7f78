//! `/kbs/{id}` (what `kbgap kb` shows, plus the machines missing it) and `/cves/{id}`.

use axum::extract::Path;
use axum::response::Response;
use kbgap_core::KbId;
use kbgap_server::auth::perm;
use kbgap_service::queries::{cve_detail, kb_detail};
use serde_json::json;

use super::Ctx;
use super::cells::{col, count, cvss, machine_columns, machine_row, seg, severity};
use super::deploy::scope;
use crate::render::{Fact, PageView};
use crate::table::{Cell, Row, Table};

/// `GET /kbs/{id}`.
pub async fn kb(ctx: Ctx, Path(id): Path<String>) -> Result<Response, Response> {
    ctx.require::<perm::SoftwareMissingKbs>()?;
    let tr = ctx.tr();
    let not_found = || ctx.not_found(&tr.f("error.kb", &[("id", id.chars().take(40).collect())]));
    let Ok(kb) = id.parse::<KbId>() else {
        return Err(not_found());
    };
    let scope = scope(&ctx);
    let now = chrono::Utc::now();
    let view = ctx
        .fleet
        .view(move |view, cat| kb_detail(cat, view, kb, &scope, now))
        .await
        .map_err(|e| ctx.failed(e))?;
    let Some(v) = view else {
        return Err(not_found());
    };
    let r = &v.report;
    let link_list = |ids: &[String]| {
        if ids.is_empty() {
            "–".to_owned()
        } else {
            ids.join(", ")
        }
    };
    let mut facts = vec![
        Fact::new(tr.t("col.released"), tr.date_str(&r.release_date)),
        Fact::new(tr.t("kb.cves"), tr.num(r.cve_addressed as u64)),
        Fact::new(tr.t("kb.machines_missing"), tr.num(v.machines.len() as u64)),
        Fact::new(tr.t("kb.documents"), r.documents.join(", ")),
        Fact::new(tr.t("kb.supersedes"), link_list(&r.supersedes)),
        Fact::new(tr.t("kb.superseded_by"), link_list(&r.superseded_by)),
    ];
    facts.push(Fact {
        label: tr.t("kb.catalog"),
        value: r.url.clone(),
        href: Some(r.url.clone()),
    });
    let mut products = Table::new(
        "products",
        vec![
            col(tr, "product", false),
            col(tr, "software", false),
            col(tr, "kind", false),
            col(tr, "fixed_build", false),
            col(tr, "cves", true),
        ],
    );
    for p in &r.products {
        products.rows.push(Row {
            cells: vec![
                Cell::text(&p.name),
                Cell::text(&p.software),
                Cell::text(tr.t(&format!("kind.{}", p.kind.as_str()))),
                p.fixed_build.as_deref().map_or_else(Cell::none, Cell::text),
                count(tr, p.cves.len() as u64),
            ],
            json: json!(p),
        });
    }
    let mut machines = Table::new("machines", machine_columns(tr, &["reason"]));
    machines.rows = (v.machines.iter())
        .map(|m| machine_row(tr, &m.row, &[("reason", m.reason.clone())]))
        .collect();
    let id = if r.id.starts_with("KB") {
        r.id.clone()
    } else {
        format!("KB{}", r.id)
    };
    let page = PageView {
        title: id.clone(),
        heading: format!("{id} — {}", r.name),
        facts,
        ..PageView::default()
    };
    Ok(ctx.respond(
        page,
        vec![machines, products],
        &["kb.none_missing", "table.empty"],
    ))
}

/// `GET /cves/{id}`.
pub async fn cve(ctx: Ctx, Path(id): Path<String>) -> Result<Response, Response> {
    ctx.require::<perm::VulnerabilitiesRead>()?;
    let key = id.clone();
    let view = ctx
        .fleet
        .view(move |view, cat| cve_detail(cat, view, &key))
        .await
        .map_err(|e| ctx.failed(e))?;
    let tr = ctx.tr();
    let Some(v) = view else {
        return Err(ctx.not_found(&tr.f("error.cve", &[("id", id.chars().take(40).collect())])));
    };
    let yes_no = |b: bool| {
        if b {
            tr.t("common.yes")
        } else {
            tr.t("common.no")
        }
    };
    let c = &v.cve;
    let mut facts = vec![
        Fact::new(tr.t("col.severity"), severity(tr, c.severity).text),
        Fact::new(tr.t("col.cvss"), cvss(tr, c.cvss).text),
        Fact::new(
            tr.t("cve.vector"),
            v.vector.clone().unwrap_or_else(|| "–".into()),
        ),
        Fact::new(tr.t("cve.exploited"), yes_no(c.exploited)),
        Fact::new(tr.t("cve.disclosed"), yes_no(v.publicly_disclosed)),
        Fact::new(
            tr.t("cve.assessment"),
            v.assessment.clone().unwrap_or_else(|| "–".into()),
        ),
        Fact::new(
            tr.t("cve.published"),
            v.published
                .as_deref()
                .map_or_else(|| "–".into(), |d| tr.date_str(d)),
        ),
        Fact::new(tr.t("cve.machines"), tr.num(v.machines.len() as u64)),
    ];
    if let Some(name) = &v.kev_name {
        facts.push(Fact::new(tr.t("cve.kev"), name.clone()));
        facts.push(Fact::new(
            tr.t("col.kev_due"),
            c.kev_due
                .as_deref()
                .map_or_else(|| "–".into(), |d| tr.date_str(d)),
        ));
        facts.push(Fact::new(tr.t("cve.ransomware"), yes_no(v.ransomware)));
    }
    let mut fixes = Table::new(
        "fixes",
        vec![
            col(tr, "product", false),
            col(tr, "kb", false),
            col(tr, "severity", false),
            col(tr, "cvss", true),
        ],
    );
    for f in &v.fixes {
        fixes.rows.push(Row {
            cells: vec![
                Cell::text(&f.product),
                Cell::text(&f.kb).link(format!("/kbs/{}", seg(&f.kb))),
                severity(tr, f.severity),
                cvss(tr, f.cvss),
            ],
            json: json!(f),
        });
    }
    let mut machines = Table::new("machines", machine_columns(tr, &[]));
    machines.rows = v.machines.iter().map(|m| machine_row(tr, m, &[])).collect();
    let page = PageView {
        title: c.id.clone(),
        heading: format!("{} — {}", c.id, c.title),
        facts,
        ..PageView::default()
    };
    Ok(ctx.respond(
        page,
        vec![machines, fixes],
        &["cve.none_exposed", "table.empty"],
    ))
}
