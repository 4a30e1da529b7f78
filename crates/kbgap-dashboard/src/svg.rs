//! Charts drawn on the server as inline SVG: no script, no chart library, nothing the
//! Content-Security-Policy has to allow. Colours come from the stylesheet's classes.

use std::fmt::Write;

/// Escapes text for SVG (XML) content and attributes.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const WIDTH: f64 = 760.0;
const LABEL: f64 = 190.0;
const BAR: f64 = 22.0;
const GAP: f64 = 8.0;

/// One bar per label, the value written after it (`shown` is the localized number).
pub fn bars(title: &str, items: &[(String, u64, String, &'static str)]) -> String {
    let max = items.iter().map(|i| i.1).max().unwrap_or(0).max(1) as f64;
    let height = items.len() as f64 * (BAR + GAP) + GAP;
    let mut s = open(title, height);
    for (i, (label, value, shown, class)) in items.iter().enumerate() {
        let y = GAP + i as f64 * (BAR + GAP);
        let w = (WIDTH - LABEL - 80.0) * (*value as f64) / max;
        let _ = write!(
            s,
            r#"<text class="axis" x="{lx}" y="{ty}" text-anchor="end">{l}</text><rect class="{class}" x="{LABEL}" y="{y}" width="{w:.1}" height="{BAR}"/><text class="value" x="{vx:.1}" y="{ty}">{v}</text>"#,
            lx = LABEL - 8.0,
            ty = y + BAR * 0.7,
            l = esc(label),
            vx = LABEL + w + 6.0,
            v = esc(shown),
        );
    }
    s.push_str("</svg>");
    s
}

/// One stacked bar per row (its segments' values in `series` order), scaled to the row's total
/// (shares), with a legend of the series.
pub fn stacked(
    title: &str,
    series: &[(String, &'static str)],
    rows: &[(String, Vec<u64>)],
) -> String {
    let legend = 28.0;
    let height = legend + rows.len() as f64 * (BAR + GAP) + GAP;
    let mut s = open(title, height);
    let mut x = LABEL;
    for (name, class) in series {
        let _ = write!(
            s,
            r#"<rect class="{class}" x="{x:.1}" y="4" width="12" height="12"/><text class="axis" x="{tx:.1}" y="14">{n}</text>"#,
            tx = x + 16.0,
            n = esc(name),
        );
        x += 22.0 + 7.5 * name.chars().count() as f64;
    }
    let span = WIDTH - LABEL - 20.0;
    for (i, (label, values)) in rows.iter().enumerate() {
        let y = legend + GAP + i as f64 * (BAR + GAP);
        let total = values.iter().sum::<u64>().max(1) as f64;
        let _ = write!(
            s,
            r#"<text class="axis" x="{lx}" y="{ty:.1}" text-anchor="end">{l}</text>"#,
            lx = LABEL - 8.0,
            ty = y + BAR * 0.7,
            l = esc(label),
        );
        let mut x = LABEL;
        for (v, (name, class)) in values.iter().zip(series) {
            if *v == 0 {
                continue;
            }
            let w = span * (*v as f64) / total;
            let _ = write!(
                s,
                r#"<rect class="{class}" x="{x:.1}" y="{y:.1}" width="{w:.1}" height="{BAR}"><title>{n}: {v}</title></rect>"#,
                n = esc(name),
            );
            x += w;
        }
    }
    s.push_str("</svg>");
    s
}

/// One line per series over the days of `points` (oldest first; a day without a snapshot is
/// simply absent, so the line joins the days that have one), with a legend and the first and
/// last day under the x axis. `points`: (day label, one value per series).
pub fn lines(
    title: &str,
    series: &[(String, &'static str)],
    points: &[(String, Vec<u64>)],
) -> String {
    let (top, plot_h, left) = (28.0, 160.0, 60.0);
    let height = top + plot_h + 30.0;
    let mut s = open(title, height);
    let mut x = left;
    for (name, class) in series {
        let _ = write!(
            s,
            r#"<rect class="{class}" x="{x:.1}" y="4" width="12" height="12"/><text class="axis" x="{tx:.1}" y="14">{n}</text>"#,
            tx = x + 16.0,
            n = esc(name),
        );
        x += 22.0 + 7.5 * name.chars().count() as f64;
    }
    let max = (points.iter().flat_map(|(_, v)| v.iter().copied()))
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let span = WIDTH - left - 20.0;
    let step = span / (points.len().max(2) - 1) as f64;
    let _ = write!(
        s,
        r#"<line class="grid" x1="{left}" y1="{b:.1}" x2="{r:.1}" y2="{b:.1}" stroke="currentColor"/><text class="axis" x="{lx}" y="{ty:.1}" text-anchor="end">{max}</text><text class="axis" x="{lx}" y="{b:.1}" text-anchor="end">0</text>"#,
        b = top + plot_h,
        r = left + span,
        lx = left - 6.0,
        ty = top + 10.0,
        max = max as u64,
    );
    for (i, (_, class)) in series.iter().enumerate() {
        let pts: Vec<String> = (points.iter().enumerate())
            .map(|(j, (_, v))| {
                let y = top + plot_h - plot_h * (v.get(i).copied().unwrap_or(0) as f64) / max;
                format!("{:.1},{y:.1}", left + step * j as f64)
            })
            .collect();
        let _ = write!(
            s,
            r#"<polyline class="line {class}" points="{}"/>"#,
            pts.join(" ")
        );
        if let [(_, v)] = points {
            let y = top + plot_h - plot_h * (v.get(i).copied().unwrap_or(0) as f64) / max;
            let _ = write!(
                s,
                r#"<circle class="{class}" cx="{left}" cy="{y:.1}" r="4"/>"#
            );
        }
    }
    if let (Some((first, _)), Some((last, _))) = (points.first(), points.last()) {
        let _ = write!(
            s,
            r#"<text class="axis" x="{left}" y="{y:.1}">{f}</text><text class="axis" x="{r:.1}" y="{y:.1}" text-anchor="end">{l}</text>"#,
            y = top + plot_h + 20.0,
            r = left + span,
            f = esc(first),
            l = esc(last),
        );
    }
    s.push_str("</svg>");
    s
}

fn open(title: &str, height: f64) -> String {
    format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" viewBox="0 0 {WIDTH} {height:.0}" width="{WIDTH}" height="{height:.0}"><title>{}</title>"#,
        esc(title)
    )
}
