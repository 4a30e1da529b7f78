//! `/machines` and `/machines/{id}`.

use axum::extract::Path;
use axum::response::Response;
use kbgap_server::auth::perm;
use kbgap_service::queries::{MachineFilter, choices, machine_detail, machine_rows};
use serde_json::json;

use super::Ctx;
use super::cells::{col, count, cvss, date, exposure, machine_columns, machine_row, seg, severity};
use super::deploy::{check, filters, scope, scope_fields, select};
use crate::render::{Fact, Field, PageView};
use crate::table::{Cell, Row, Table};

/// `GET /machines`.
pub async fn list(ctx: Ctx) -> Result<Response, Response> {
    ctx.require::<perm::MachinesRead>()?;
    let filter = MachineFilter {
        scope: scope(&ctx),
        name: ctx.param("q").map(str::to_owned),
        exposure: ctx.param("exposure").map(str::to_owned),
        exploited_only: ctx.flag("exploited"),
    };
    let now = chrono::Utc::now();
    let (rows, picks, total) = ctx
        .fleet
        .view(move |view, cat| {
            let c = choices(cat, view);
            (machine_rows(cat, view, &filter, now), c, view.len())
        })
        .await
        .map_err(|e| ctx.failed(e))?;
    let tr = ctx.tr();
    let mut fields = vec![Field {
        name: "q",
        label: tr.t("filter.name"),
        kind: "text",
        value: ctx.param("q").unwrap_or("").to_owned(),
        checked: false,
        options: Vec::new(),
    }];
    fields.extend(scope_fields(&ctx, &picks.os_versions, &picks.tags));
    fields.push(select(
        &ctx,
        "exposure",
        tr.t("filter.exposure"),
        ["High", "Medium", "Low", "None"]
            .iter()
            .map(|l| {
                (
                    l.to_string(),
                    tr.t(&format!("exposure.{}", l.to_lowercase())),
                )
            })
            .collect(),
    ));
    fields.push(check(&ctx, "exploited", tr.t("filter.exploited_machines")));
    let page = PageView {
        title: tr.t("machines.title"),
        heading: tr.t("machines.heading"),
        facts: vec![
            Fact::new(tr.t("machines.shown"), tr.num(rows.len() as u64)),
            Fact::new(tr.t("machines.total"), tr.num(total as u64)),
        ],
        filters: Some(filters(&ctx, fields)),
        ..PageView::default()
    };
    let mut t = Table::new("machines", machine_columns(tr, &[]));
    t.rows = rows.iter().map(|m| machine_row(tr, m, &[])).collect();
    Ok(ctx.respond(page, vec![t], &["machines.empty"]))
}

/// `GET /machines/{id}`: facts, missing KBs with reasons, open CVEs, installed KBs, evidence.
pub async fn one(ctx: Ctx, Path(id): Path<String>) -> Result<Response, Response> {
    ctx.require::<perm::MachinesRead>()?;
    ctx.require::<perm::MachineMissingKbs>()?;
    let key = id.clone();
    let view = ctx
        .fleet
        .view(move |view, cat| machine_detail(cat, view, &key))
        .await
        .map_err(|e| ctx.failed(e))?;
    let tr = ctx.tr();
    let Some(m) = view else {
        return Err(
            ctx.not_found(&tr.f("error.machine", &[("id", id.chars().take(200).collect())]))
        );
    };
    let unknown = || "–".to_owned();
    let mut facts = vec![
        Fact::new(tr.t("col.os"), m.row.os.clone()),
        Fact::new(
            tr.t("machine.caption"),
            m.os_name.clone().unwrap_or_else(unknown),
        ),
        Fact::new(
            tr.t("col.build"),
            m.row.build.clone().unwrap_or_else(unknown),
        ),
        Fact::new(
            tr.t("machine.version"),
            m.display_version.clone().unwrap_or_else(unknown),
        ),
        Fact::new(
            tr.t("machine.architecture"),
            m.architecture.clone().unwrap_or_else(unknown),
        ),
        Fact::new(
            tr.t("machine.installation"),
            m.installation_type.clone().unwrap_or_else(unknown),
        ),
        Fact::new(tr.t("col.exposure"), exposure(tr, &m.row.exposure).text),
        Fact::new(tr.t("machine.first_seen"), tr.date(m.first_seen)),
        Fact::new(tr.t("col.last_seen"), tr.date(m.row.last_seen)),
        Fact::new(
            tr.t("machine.locale"),
            m.locale.clone().unwrap_or_else(unknown),
        ),
        Fact::new(tr.t("machine.id"), m.row.id.clone()),
        Fact::new(
            tr.t("machine.input_format"),
            (m.input_format)
                .map_or_else(unknown, |f| tr.t(&format!("input_format.{}", f.as_str()))),
        ),
    ];
    if let Some(eos) = &m.row.end_of_support {
        facts.push(Fact::new(tr.t("machine.end_of_support"), eos.clone()));
    }
    let mut notices: Vec<String> = m
        .warnings
        .iter()
        .map(|w| tr.f("machine.warning", &[("text", w.clone())]))
        .collect();
    let mut missing = Table::new(
        "missing",
        vec![
            col(tr, "kb", false),
            col(tr, "kind", false),
            col(tr, "products", false),
            col(tr, "cves", true),
            col(tr, "exploited", true),
            col(tr, "severity", false),
            col(tr, "cvss", true),
            col(tr, "fleet_machines", true),
            col(tr, "reason", false),
        ],
    );
    for e in &m.missing {
        missing.rows.push(Row {
            cells: vec![
                Cell::text(format!("KB{}", e.id.trim_start_matches("KB")))
                    .link(format!("/kbs/{}", seg(&e.id))),
                Cell::text(tr.t(&format!("kind.{}", e.kind.as_str()))),
                Cell::text(e.products_names.join(", ")),
                count(tr, e.open_cves_closed.max(0) as u64),
                count(tr, e.exploited_cves.len() as u64),
                severity(tr, e.max_severity),
                cvss(tr, e.max_cvss),
                count(tr, e.machine_missed_on.max(0) as u64),
                Cell::text(&e.reason),
            ],
            json: json!(e),
        });
    }
    let mut tables = vec![missing];
    let mut empty = vec!["machine.none_missing"];
    if ctx.holds::<perm::MachineVulnerabilitiesRead>() {
        let mut open = Table::new(
            "open",
            vec![
                col(tr, "cve", false),
                col(tr, "title", false),
                col(tr, "severity", false),
                col(tr, "cvss", true),
                col(tr, "exploited_flag", false),
                col(tr, "kev_due", false),
            ],
        );
        for c in &m.open_cves {
            open.rows.push(Row {
                cells: vec![
                    Cell::text(&c.id).link(format!("/cves/{}", seg(&c.id))),
                    Cell::text(&c.title),
                    severity(tr, c.severity),
                    cvss(tr, c.cvss),
                    Cell::text(if c.exploited {
                        tr.t("common.yes")
                    } else {
                        tr.t("common.no")
                    })
                    .class(if c.exploited { "hot" } else { "" }),
                    date(tr, c.kev_due.as_deref()),
                ],
                json: json!(c),
            });
        }
        tables.push(open);
        empty.push("machine.none_open");
    } else {
        notices.push(tr.t("machine.no_vuln_role"));
    }
    let mut installed = Table::new("installed", vec![col(tr, "kb", false)]);
    installed.rows = (m.installed.iter())
        .map(|kb| Row {
            cells: vec![Cell::text(kb).link(format!("/kbs/{}", seg(kb)))],
            json: json!(kb),
        })
        .collect();
    tables.push(installed);
    empty.push("machine.none_installed");
    let mut products = Table::new("products", vec![col(tr, "product", false)]);
    products.rows = (m.products.iter())
        .map(|p| Row {
            cells: vec![Cell::text(p)],
            json: json!(p),
        })
        .collect();
    tables.push(products);
    empty.push("machine.none_products");
    let page = PageView {
        title: m.row.name.clone(),
        heading: m.row.name.clone(),
        facts,
        notices,
        ..PageView::default()
    };
    Ok(ctx.respond(page, tables, &empty))
}
