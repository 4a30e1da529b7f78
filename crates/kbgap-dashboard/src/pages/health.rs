//! `/health`: ingest health — silent machines, end-of-support machines, refused reports.

use axum::response::Response;
use kbgap_server::auth::perm;
use kbgap_service::queries::ingest_health;
use serde_json::json;

use super::Ctx;
use super::cells::{col, machine_columns, machine_row, time};
use crate::render::{Fact, PageView};
use crate::table::{Cell, Row, Table};

/// `GET /health`.
pub async fn page(ctx: Ctx) -> Result<Response, Response> {
    ctx.require::<perm::MachinesRead>()?;
    let refused = ctx.fleet.refusals().recent();
    let now = chrono::Utc::now();
    let h = ctx
        .fleet
        .view(move |view, cat| ingest_health(cat, view, refused, now))
        .await
        .map_err(|e| ctx.failed(e))?;
    let tr = ctx.tr();
    let mut stale = Table::new("stale", machine_columns(tr, &[]));
    stale.rows = h.stale.iter().map(|m| machine_row(tr, m, &[])).collect();
    let mut eos = Table::new("eos", machine_columns(tr, &["end_of_support"]));
    eos.rows = (h.end_of_support.iter())
        .map(|m| {
            machine_row(
                tr,
                m,
                &[(
                    "endOfSupportNote",
                    m.end_of_support.clone().unwrap_or_default(),
                )],
            )
        })
        .collect();
    let mut refused = Table::new(
        "refused",
        vec![
            col(tr, "at", false),
            col(tr, "status", true),
            col(tr, "caller", false),
            col(tr, "reason", false),
        ],
    );
    for r in &h.refused {
        refused.rows.push(Row {
            cells: vec![
                time(tr, r.at),
                Cell::num(f64::from(r.status), r.status.to_string()),
                Cell::text(&r.caller),
                Cell::text(&r.reason),
            ],
            json: json!(r),
        });
    }
    let page = PageView {
        title: tr.t("health.title"),
        heading: tr.t("health.heading"),
        lead: Some(tr.t("health.lead")),
        facts: vec![
            Fact::new(tr.t("health.stale"), tr.num(h.stale.len() as u64)),
            Fact::new(tr.t("health.eos"), tr.num(h.end_of_support.len() as u64)),
            Fact::new(tr.t("health.refused"), tr.num(h.refused.len() as u64)),
        ],
        ..PageView::default()
    };
    Ok(ctx.respond(
        page,
        vec![stale, eos, refused],
        &[
            "health.none_stale",
            "health.none_eos",
            "health.none_refused",
        ],
    ))
}
