//! The dashboard in a real headless Chromium (Debian's `chromium` + `chromium-driver`), driven
//! over WebDriver: sign in, open every page without console errors, filter and see rows narrow,
//! export CSV and compare it with the API's getmissingkbs, switch language, and reach a filter
//! and the sign-out button by keyboard alone. Writes a 1280×800 screenshot of every page to
//! `docs/screenshots/`. Skips (saying why) only when no Chromium is installed.
//! Run with `--release` (the catalog compiles from the bundled documents).

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;

use common::webdriver::{Browser, find_browser, png_size};
use common::{READ_ALL, Server};
use serde_json::Value;

const TAB: &str = "\u{E004}";
const ENTER: &str = "\u{E007}";

fn shots() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Screenshots the page as `name.png` after checking the console stayed clean.
async fn visit(b: &Browser, base: &str, path: &str, name: &str) {
    b.goto(&format!("{base}{path}")).await;
    assert_clean(b, path).await;
    let png = b.screenshot().await;
    assert_eq!(png_size(&png), (1280, 800), "{name}");
    std::fs::write(shots().join(format!("{name}.png")), png).unwrap();
}

async fn assert_clean(b: &Browser, what: &str) {
    let errors: Vec<Value> = (b.console().await.into_iter())
        .filter(|e| e["level"] == "SEVERE")
        .collect();
    assert!(errors.is_empty(), "console on {what}: {errors:#?}");
}

async fn rows(b: &Browser, table: &str) -> usize {
    b.find_all(&format!("#t-{table} tbody tr")).await.len()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_dashboard_in_a_real_browser() {
    let (chrome, driver) = match find_browser() {
        Ok(found) => found,
        Err(why) => {
            println!("skipping the browser test: {why}");
            return;
        }
    };
    let s = Server::start().await;
    let b = Browser::start(&chrome, &driver).await;
    let base = s.base.clone();

    // Sign in through the form.
    visit(&b, &base, "/", "signin").await;
    assert!(b.url().await.contains("/signin?next=%2F"));
    let field = b.find("#token").await;
    b.type_into(&field, &s.token(READ_ALL)).await;
    b.click(&b.find("#signin").await).await;
    let home = format!("{base}/");
    b.wait_url_where(|u| u == home, &home).await;
    assert_clean(&b, "sign-in").await;

    // Every page, with real data from the corpus.
    visit(&b, &base, "/", "deploy-first").await;
    let kb_link = b.find("#t-kbs tbody tr td a").await;
    let kb = b.text(&kb_link).await;
    assert!(kb.starts_with("KB"), "{kb}");
    visit(&b, &base, "/posture", "posture").await;
    assert!(!b.find_all("figure.chart svg").await.is_empty());
    visit(&b, &base, "/machines", "machines").await;
    // The machine page of the machine missing the most KBs (the column sorts).
    b.goto(&format!(
        "{base}/machines?sort=machines.missing_kbs&dir=desc"
    ))
    .await;
    let first = b.find("#t-machines tbody tr td a").await;
    let machine_href = b.attr(&first, "href").await.unwrap();
    let machine_path = machine_href.trim_start_matches(&base).to_owned();
    visit(&b, &base, &machine_path, "machine").await;
    visit(&b, &base, &format!("/kbs/{kb}"), "kb").await;
    let cve: Value = s
        .page(
            "/?format=json&exploited=1",
            &b.cookie("kbgap_session").await.unwrap(),
        )
        .await
        .json()
        .await
        .unwrap();
    let cve = cve[0]["exploited"][0].as_str().unwrap().to_owned();
    visit(&b, &base, &format!("/cves/{cve}"), "cve").await;
    visit(&b, &base, "/health", "ingest-health").await;

    // A filter narrows the rows: pick an OS version in the machine list's form.
    b.goto(&format!("{base}/machines")).await;
    let all = rows(&b, "machines").await;
    let options = b.find_all("#f-os option").await;
    assert!(options.len() > 2, "several OS versions in the corpus");
    b.click(&options[1]).await;
    b.click(&b.find("#apply").await).await;
    b.wait_url("os=").await;
    let narrowed = rows(&b, "machines").await;
    assert!(narrowed > 0 && narrowed < all, "{narrowed} of {all}");
    b.goto(&format!("{base}/")).await;
    let kbs = rows(&b, "kbs").await;
    b.click(&b.find("#f-exploited").await).await;
    b.click(&b.find("#apply").await).await;
    b.wait_url("exploited=1").await;
    let exploited = rows(&b, "kbs").await;
    assert!(exploited > 0 && exploited < kbs, "{exploited} of {kbs}");
    assert_clean(&b, "filters").await;

    // The CSV export of deploy first agrees with the API's getmissingkbs for every machine.
    b.goto(&format!("{base}/")).await;
    let csv_link = b.find(".exports a").await;
    let href = b.attr(&csv_link, "href").await.unwrap();
    assert!(href.contains("format=csv"));
    let session = b.cookie("kbgap_session").await.expect("session cookie");
    let path = href.trim_start_matches(&base);
    let csv = common::parse_csv(&s.page(path, &session).await.text().await.unwrap());
    let col = |name: &str| csv[0].iter().position(|c| c == name).unwrap();
    let (kb_col, machines_col) = (col("kb"), col("machines"));
    let exported: BTreeMap<String, u64> = (csv[1..].iter())
        .map(|cells| (cells[kb_col].clone(), cells[machines_col].parse().unwrap()))
        .collect();
    let machines = s.api("/api/machines", READ_ALL).await;
    let mut from_api: BTreeMap<String, u64> = BTreeMap::new();
    for m in machines["value"].as_array().unwrap() {
        let id = m["id"].as_str().unwrap();
        let missing = s
            .api(&format!("/api/machines/{id}/getmissingkbs"), READ_ALL)
            .await;
        for e in missing["value"].as_array().unwrap() {
            let kb = format!("KB{}", e["id"].as_str().unwrap().trim_start_matches("KB"));
            *from_api.entry(kb.clone()).or_default() += 1;
            assert_eq!(
                e["machineMissedOn"].as_u64(),
                exported.get(&kb).copied(),
                "{kb}: the API's fleet count"
            );
        }
    }
    assert_eq!(
        exported, from_api,
        "CSV machines per KB = machines whose getmissingkbs lists it"
    );

    // Switch language: German, remembered on the next page; then Chinese.
    b.goto(&format!("{base}/")).await;
    b.click(&b.find("a[hreflang=de]").await).await;
    b.wait_url("lang=de").await;
    assert_eq!(
        b.attr(&b.find("html").await, "lang").await.as_deref(),
        Some("de")
    );
    assert_eq!(b.text(&b.find("h1").await).await, "Zuerst verteilen");
    b.goto(&format!("{base}/machines")).await;
    assert_eq!(
        b.attr(&b.find("html").await, "lang").await.as_deref(),
        Some("de")
    );
    let png = b.screenshot().await;
    std::fs::write(shots().join("machines-de.png"), png).unwrap();
    visit(&b, &base, "/posture?lang=zh-CN", "posture-zh-CN").await;
    assert_eq!(
        b.attr(&b.find("html").await, "lang").await.as_deref(),
        Some("zh-CN")
    );
    b.goto(&format!("{base}/?lang=en")).await;

    // Keyboard alone: Tab reaches a filter field and the sign-out button; Enter signs out.
    b.goto(&format!("{base}/machines")).await;
    let (signout, filter) = (b.find("#signout").await, b.find("#f-q").await);
    let (mut saw_filter, mut saw_signout) = (false, false);
    for _ in 0..40 {
        b.press(TAB).await;
        let active = b.active().await;
        saw_filter |= active == filter;
        if active == signout {
            saw_signout = true;
        }
        if saw_filter && saw_signout {
            break;
        }
    }
    assert!(
        saw_filter && saw_signout,
        "filter reached: {saw_filter}, sign-out reached: {saw_signout}"
    );
    // From a fresh load, Tab to the sign-out button and press Enter.
    b.goto(&format!("{base}/machines")).await;
    let signout = b.find("#signout").await;
    for _ in 0..40 {
        b.press(TAB).await;
        if b.active().await == signout {
            break;
        }
    }
    assert_eq!(b.active().await, signout);
    b.press(ENTER).await;
    b.wait_url("/signin").await;
    assert!(b.cookie("kbgap_session").await.is_none_or(|v| v.is_empty()));
    b.quit().await;
}
