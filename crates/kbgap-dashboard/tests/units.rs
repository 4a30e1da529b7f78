//! Unit tests of the dashboard's parts: message files, languages and formats, tables and CSV,
//! charts, cookies, redirects.

use axum::http::HeaderMap;
use axum::http::header::{ACCEPT_LANGUAGE, COOKIE};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use kbgap_dashboard::i18n::*;
use kbgap_dashboard::safe_next;
use kbgap_dashboard::session::*;
use kbgap_dashboard::svg::*;
use kbgap_dashboard::table::*;
use serde_json::Value;

// --- i18n

#[test]
fn every_key_has_a_translation_in_every_language() {
    let all = all_messages();
    let mut keys = std::collections::BTreeSet::new();
    for (lang, m) in &all {
        let m = m.as_ref().unwrap_or_else(|e| panic!("{}: {e}", lang.tag()));
        keys.extend(m.keys().cloned());
    }
    let mut missing = Vec::new();
    for (lang, m) in &all {
        let m = m.as_ref().unwrap();
        for k in &keys {
            if m.get(k).is_none_or(|v| v.trim().is_empty()) {
                missing.push(format!("{}: {k}", lang.tag()));
            }
        }
    }
    assert!(missing.is_empty(), "untranslated keys: {missing:#?}");
    assert!(
        keys.len() > 50,
        "the message files hold the dashboard's texts"
    );
}

#[test]
fn placeholders_agree_between_languages() {
    let all = all_messages();
    let en = all[0].1.as_ref().unwrap();
    let names = |s: &str| -> Vec<String> {
        let mut v: Vec<String> = s
            .split('{')
            .skip(1)
            .filter_map(|p| p.split_once('}'))
            .map(|(n, _)| n.to_owned())
            .collect();
        v.sort();
        v
    };
    for (lang, m) in &all[1..] {
        for (k, v) in m.as_ref().unwrap() {
            assert_eq!(names(v), names(&en[k]), "{}: {k}", lang.tag());
        }
    }
}

#[test]
fn languages_are_negotiated() {
    assert_eq!(
        from_accept_language("de-DE,de;q=0.9,en;q=0.8"),
        Some(Lang::De)
    );
    assert_eq!(
        from_accept_language("fr, zh-CN;q=0.5, en;q=0.4"),
        Some(Lang::ZhCn)
    );
    assert_eq!(from_accept_language("zh-TW, en;q=0.1"), Some(Lang::En));
    assert_eq!(from_accept_language("fr"), None);
    assert_eq!(from_accept_language("en;q=0, de;q=0.2"), Some(Lang::De));
    let mut h = HeaderMap::new();
    h.insert(COOKIE, "a=b; kbgap_lang=zh-CN".parse().unwrap());
    h.insert(ACCEPT_LANGUAGE, "de".parse().unwrap());
    assert_eq!(Lang::negotiate(None, &h), (Lang::ZhCn, false));
    assert_eq!(Lang::negotiate(Some("de"), &h), (Lang::De, true));
    assert_eq!(Lang::negotiate(Some("xx"), &h), (Lang::ZhCn, false));
}

#[test]
fn numbers_and_dates_follow_the_language() {
    let t = chrono::NaiveDate::from_ymd_opt(2026, 12, 2)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc();
    assert_eq!(Lang::En.tr().num(1234567), "1,234,567");
    assert_eq!(Lang::De.tr().num(1234567), "1.234.567");
    assert_eq!(Lang::De.tr().num(999), "999");
    assert_eq!(Lang::De.tr().dec1(7.84), "7,8");
    assert_eq!(Lang::En.tr().pct(0.425), "42.5%");
    assert_eq!(Lang::En.tr().date(t), "2 Dec 2026");
    assert_eq!(Lang::De.tr().date(t), "02.12.2026");
    assert_eq!(Lang::ZhCn.tr().date(t), "2026年12月2日");
    assert_eq!(
        Lang::ZhCn.tr().date_str("2026-12-02T00:00:00"),
        "2026年12月2日"
    );
}

// --- table

#[test]
fn formula_cells_are_defused() {
    assert_eq!(csv_cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
    assert_eq!(csv_cell("+1"), "'+1");
    assert_eq!(csv_cell("-2"), "'-2");
    assert_eq!(csv_cell("@SUM(A1)"), "'@SUM(A1)");
    assert_eq!(csv_cell("KB5034441"), "KB5034441");
    assert_eq!(csv_cell("a,b"), "\"a,b\"");
    assert_eq!(csv_cell("line\nbreak"), "\"line\nbreak\"");
}

#[test]
fn sorting_names_its_table() {
    let mut t = Table::new(
        "kbs",
        vec![Column {
            key: "machines",
            label: "M".into(),
            numeric: true,
        }],
    );
    for n in [3.0, 10.0, 1.0] {
        t.rows.push(Row {
            cells: vec![Cell::num(n, n.to_string())],
            json: Value::Null,
        });
    }
    let order = |t: &Table| {
        t.rows
            .iter()
            .map(|r| r.cells[0].raw.clone())
            .collect::<Vec<_>>()
    };
    t.sort(Some(&Sort {
        key: "other.machines".into(),
        desc: false,
    }));
    assert_eq!(order(&t), ["3", "10", "1"]);
    t.sort(Some(&Sort {
        key: "kbs.machines".into(),
        desc: true,
    }));
    assert_eq!(order(&t), ["10", "3", "1"]);
    t.sort(Some(&Sort {
        key: "kbs.machines".into(),
        desc: false,
    }));
    assert_eq!(order(&t), ["1", "3", "10"]);
    assert_eq!(t.csv(), "machines\r\n1\r\n3\r\n10\r\n");
}

// --- svg

#[test]
fn charts_escape_labels_and_scale_bars() {
    let svg = bars(
        "M<1>",
        &[
            ("a&b".into(), 10, "10".into(), "c1"),
            ("c".into(), 5, "5".into(), "c2"),
        ],
    );
    assert!(svg.contains("<title>M&lt;1&gt;</title>") && svg.contains("a&amp;b"));
    assert!(
        svg.contains(r#"width="490.0""#) && svg.contains(r#"width="245.0""#),
        "{svg}"
    );
    let svg = stacked(
        "t",
        &[("0".into(), "m0"), ("1".into(), "m1")],
        &[("W".into(), vec![1, 3])],
    );
    assert!(
        svg.contains(r#"width="137.5""#) && svg.contains(r#"width="412.5""#),
        "{svg}"
    );
}

// --- session

#[test]
fn cookie_attributes() {
    let c = session_cookie("abc", 600, true);
    assert_eq!(
        c,
        "kbgap_session=abc; Path=/; HttpOnly; SameSite=Strict; Max-Age=600; Secure"
    );
    assert!(!session_cookie("abc", 600, false).contains("Secure"));
    assert!(cleared_cookie(false).contains("Max-Age=0"));
}

#[test]
fn exp_is_read_from_the_payload() {
    let payload = URL_SAFE_NO_PAD.encode(br#"{"exp":1800000000.5,"iss":"x"}"#);
    assert_eq!(token_exp(&format!("h.{payload}.s")), Some(1_800_000_000));
    assert_eq!(token_exp("garbage"), None);
}

// --- lib

#[test]
fn redirects_stay_on_this_server() {
    assert_eq!(safe_next("/machines?os=x"), "/machines?os=x");
    for bad in [
        "//evil.example/",
        "https://evil.example/",
        "/\\evil",
        "",
        "javascript:x",
        "/a\nb",
    ] {
        assert_eq!(safe_next(bad), "/", "{bad:?}");
    }
}
