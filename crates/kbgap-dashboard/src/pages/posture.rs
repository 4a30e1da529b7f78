//! `/posture`: how current and how exposed the fleet is, per OS version.

use axum::response::Response;
use kbgap_server::auth::perm;
use kbgap_service::queries::{OsPosture, choices, posture};
use kbgap_store::FleetSnapshot;
use serde_json::json;

use super::Ctx;
use super::cells::{col, count};
use super::deploy::{filters, scope, scope_fields};
use crate::i18n::Tr;
use crate::render::{Fact, PageView};
use crate::svg;
use crate::table::{Cell, Row, Table};

/// Months-behind buckets of the histogram: (lowest months, highest months, CSS class).
const BUCKETS: [(u32, u32, &str); 6] = [
    (0, 0, "m0"),
    (1, 1, "m1"),
    (2, 2, "m2"),
    (3, 5, "m3"),
    (6, 11, "m4"),
    (12, u32::MAX, "m5"),
];

fn bucket_name(tr: &Tr, (lo, hi, _): (u32, u32, &str)) -> String {
    match (lo, hi) {
        (0, 0) => tr.t("posture.current"),
        (lo, u32::MAX) => tr.f("posture.months_plus", &[("n", lo.to_string())]),
        (lo, hi) if lo == hi => tr.f("posture.months", &[("n", lo.to_string())]),
        (lo, hi) => tr.f(
            "posture.months_range",
            &[("from", lo.to_string()), ("to", hi.to_string())],
        ),
    }
}

fn buckets(p: &OsPosture) -> Vec<u64> {
    let mut out: Vec<u64> = BUCKETS
        .iter()
        .map(|&(lo, hi, _)| {
            (p.months_behind.iter())
                .filter(|(m, _)| m.is_some_and(|m| m >= lo && m <= hi))
                .map(|(_, n)| n)
                .sum()
        })
        .collect();
    out.push(p.months_behind.get(&None).copied().unwrap_or(0));
    out
}

/// `GET /posture`.
pub async fn page(ctx: Ctx) -> Result<Response, Response> {
    ctx.require::<perm::MachinesRead>()?;
    let scope = scope(&ctx);
    let now = chrono::Utc::now();
    let (p, picks) = ctx
        .fleet
        .view(move |view, cat| (posture(cat, view, &scope, now), choices(cat, view)))
        .await
        .map_err(|e| ctx.failed(e))?;
    // The trend is a chart over stored days; a store error leaves it out, not the page.
    let history = match kbgap_service::history::trend(&ctx.fleet, TREND_DAYS).await {
        Ok(h) => h,
        Err(e) => {
            tracing::warn!("reading the fleet's daily snapshots failed: {e}");
            Vec::new()
        }
    };
    let tr = ctx.tr();
    let share = p.missing_exploited as f64 / p.assessed.max(1) as f64;
    let current: u64 = p.per_os.iter().map(|o| o.current).sum();
    let days = |d: Option<i64>| {
        d.map_or_else(
            || "–".to_owned(),
            |d| tr.f("posture.days", &[("n", tr.num(d.max(0) as u64))]),
        )
    };
    let mut notices = Vec::new();
    if p.catalog.as_ref().is_some_and(|c| c.stale) {
        notices.push(tr.t("posture.stale"));
    }
    let facts = vec![
        Fact::new(tr.t("posture.assessed"), tr.num(p.assessed)),
        Fact::new(
            tr.t("posture.on_newest"),
            format!(
                "{} ({})",
                tr.num(current),
                tr.pct(current as f64 / p.assessed.max(1) as f64)
            ),
        ),
        Fact {
            label: tr.t("posture.missing_exploited"),
            value: format!("{} ({})", tr.num(p.missing_exploited), tr.pct(share)),
            href: Some("/machines?exploited=1".to_owned()),
        },
        Fact::new(tr.t("posture.states"), tr.num(p.states)),
        Fact::new(tr.t("posture.catalog_age"), days(p.catalog_age_days)),
        Fact::new(
            tr.t("posture.kev_age"),
            match &p.kev_version {
                Some(v) => format!("{} ({v})", days(p.kev_age_days)),
                None => "–".to_owned(),
            },
        ),
    ];
    let mut series: Vec<(String, &'static str)> =
        BUCKETS.iter().map(|&b| (bucket_name(tr, b), b.2)).collect();
    series.push((tr.t("posture.unknown"), "mu"));
    let hist_rows: Vec<(String, Vec<u64>)> = p
        .per_os
        .iter()
        .map(|o| (o.os.clone(), buckets(o)))
        .collect();
    let exposure_items: Vec<(String, u64, String, &'static str)> = (p.by_exposure.iter())
        .map(|(level, n)| {
            let class = match level.as_str() {
                "High" => "e3",
                "Medium" => "e2",
                "Low" => "e1",
                _ => "e0",
            };
            (
                tr.t(&format!("exposure.{}", level.to_lowercase())),
                *n,
                tr.num(*n),
                class,
            )
        })
        .collect();
    let (trend_chart, trend_table) = trend(tr, &history);
    let charts = vec![
        (
            tr.t("posture.chart_behind"),
            svg::stacked(&tr.t("posture.chart_behind"), &series, &hist_rows),
        ),
        (
            tr.t("posture.chart_exposure"),
            svg::bars(&tr.t("posture.chart_exposure"), &exposure_items),
        ),
        (tr.t("posture.chart_trend"), trend_chart),
    ];
    let mut cols = vec![
        col(tr, "os", false),
        col(tr, "machines", true),
        col(tr, "current", true),
        col(tr, "share", true),
    ];
    let bucket_keys: [&'static str; 7] = ["b0", "b1", "b2", "b3", "b4", "b5", "bu"];
    for (k, (name, _)) in bucket_keys.iter().zip(&series) {
        cols.push(crate::table::Column {
            key: k,
            label: name.clone(),
            numeric: true,
        });
    }
    let mut t = Table::new("os", cols);
    for o in &p.per_os {
        let share = o.current_share();
        let mut cells = vec![
            Cell::text(&o.os).link(format!(
                "/machines?os={}",
                form_urlencoded::byte_serialize(o.os.as_bytes()).collect::<String>()
            )),
            count(tr, o.machines),
            count(tr, o.current),
            Cell::num((share * 1000.0).round() / 1000.0, tr.pct(share)),
        ];
        let b = buckets(o);
        cells.extend(b.iter().map(|&n| count(tr, n)));
        let mut j = json!(o);
        j["monthsBehind"] = json!(
            bucket_keys
                .iter()
                .zip(&b)
                .map(|(k, n)| (k.to_string(), *n))
                .collect::<std::collections::BTreeMap<_, _>>()
        );
        t.rows.push(Row { cells, json: j });
    }
    let mut e = Table::new(
        "exposure",
        vec![col(tr, "exposure", false), col(tr, "machines", true)],
    );
    for (level, n) in &p.by_exposure {
        e.rows.push(Row {
            cells: vec![
                super::cells::exposure(tr, level).link(format!("/machines?exposure={level}")),
                count(tr, *n),
            ],
            json: json!({ "exposure": level, "machines": n }),
        });
    }
    let page = PageView {
        title: tr.t("posture.title"),
        heading: tr.t("posture.heading"),
        lead: Some(tr.t("posture.lead")),
        notices,
        facts,
        filters: Some(filters(
            &ctx,
            scope_fields(&ctx, &picks.os_versions, &picks.tags),
        )),
        charts,
        ..PageView::default()
    };
    Ok(ctx.respond(
        page,
        vec![t, e, trend_table],
        &["posture.empty", "posture.empty", "posture.no_trend"],
    ))
}

/// Days of daily snapshots the trend shows.
const TREND_DAYS: u32 = 90;

/// The trend over the stored daily snapshots: active machines, on the newest cumulative
/// update, missing an exploited fix — as a line chart and as a table (exportable).
fn trend(tr: &Tr, history: &[FleetSnapshot]) -> (String, Table) {
    let series = [
        (tr.t("posture.active"), "mu"),
        (tr.t("posture.on_newest"), "m0"),
        (tr.t("posture.missing_exploited"), "e3"),
    ];
    let values = |h: &FleetSnapshot| vec![h.active, h.on_newest_update, h.missing_exploited];
    let points: Vec<(String, Vec<u64>)> = (history.iter())
        .map(|h| (tr.date_str(&h.day.to_string()), values(h)))
        .collect();
    let chart = svg::lines(&tr.t("posture.chart_trend"), &series, &points);
    let mut t = Table::new(
        "trend",
        vec![
            col(tr, "day", false),
            col(tr, "active", true),
            col(tr, "current", true),
            col(tr, "missing_exploited", true),
        ],
    );
    for h in history.iter().rev() {
        t.rows.push(Row {
            cells: vec![
                Cell::text(tr.date_str(&h.day.to_string())),
                count(tr, h.active),
                count(tr, h.on_newest_update),
                count(tr, h.missing_exploited),
            ],
            json: json!({
                "day": h.day.to_string(),
                "assessed": h.assessed,
                "active": h.active,
                "missingAny": h.missing_any,
                "onNewestUpdate": h.on_newest_update,
                "missingExploited": h.missing_exploited,
            }),
        });
    }
    (chart, t)
}
