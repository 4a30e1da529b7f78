//! Languages: English, German and Simplified Chinese, from message files compiled into the
//! binary (`locales/*.toml`: one table per page, `key = "text"`, `{name}` placeholders).
//!
//! The language is `?lang=` when given (then remembered in a cookie), else the cookie, else the
//! best match in `Accept-Language`, else English. Numbers and dates follow the language's
//! conventions (1,234.5 / 1.234,5; 2 Dec 2026 / 02.12.2026 / 2026年12月2日).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use axum::http::HeaderMap;
use axum::http::header::{ACCEPT_LANGUAGE, COOKIE};
use chrono::{DateTime, Datelike, Utc};

/// The cookie remembering a `?lang=` choice.
pub const LANG_COOKIE: &str = "kbgap_lang";

/// A language the dashboard speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lang {
    /// English.
    En,
    /// German.
    De,
    /// Simplified Chinese.
    ZhCn,
}

/// The message files, by language.
const FILES: [(Lang, &str); 3] = [
    (Lang::En, include_str!("../locales/en.toml")),
    (Lang::De, include_str!("../locales/de.toml")),
    (Lang::ZhCn, include_str!("../locales/zh-CN.toml")),
];

impl Lang {
    /// Every language, English (the fallback) first.
    pub const ALL: [Lang; 3] = [Lang::En, Lang::De, Lang::ZhCn];

    /// The BCP 47 tag (`<html lang>`, `?lang=`).
    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::De => "de",
            Lang::ZhCn => "zh-CN",
        }
    }

    /// The language's own name, for the switcher.
    pub fn native_name(self) -> &'static str {
        match self {
            Lang::En => "English",
            Lang::De => "Deutsch",
            Lang::ZhCn => "简体中文",
        }
    }

    /// A tag as given in `?lang=`, a cookie or `Accept-Language` (any case; `de-AT` is German,
    /// `zh`, `zh-Hans` and `zh-SG` are Simplified Chinese, `zh-TW` is not).
    pub fn parse(tag: &str) -> Option<Lang> {
        let tag = tag.trim().to_ascii_lowercase().replace('_', "-");
        let primary = tag.split('-').next().unwrap_or("");
        match primary {
            "en" => Some(Lang::En),
            "de" => Some(Lang::De),
            "zh" => {
                let rest = &tag[2..];
                let traditional = ["-tw", "-hk", "-mo", "-hant"]
                    .iter()
                    .any(|t| rest.starts_with(t));
                (!traditional).then_some(Lang::ZhCn)
            }
            _ => None,
        }
    }

    /// The request's language (see the module documentation) and whether it came from
    /// `?lang=` (so the answer should remember it).
    pub fn negotiate(query_lang: Option<&str>, headers: &HeaderMap) -> (Lang, bool) {
        if let Some(l) = query_lang.and_then(Lang::parse) {
            return (l, true);
        }
        if let Some(l) = cookie(headers, LANG_COOKIE).and_then(|v| Lang::parse(&v)) {
            return (l, false);
        }
        let accept = (headers.get(ACCEPT_LANGUAGE))
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        (from_accept_language(accept).unwrap_or(Lang::En), false)
    }

    /// This language's messages.
    pub fn tr(self) -> &'static Tr {
        let all = catalogs();
        &all[Lang::ALL.iter().position(|&l| l == self).unwrap_or(0)]
    }
}

/// The best language of an `Accept-Language` value, by q-value then order.
pub fn from_accept_language(value: &str) -> Option<Lang> {
    let mut best: Option<(f32, usize, Lang)> = None;
    for (i, item) in value.split(',').enumerate() {
        let mut parts = item.split(';');
        let tag = parts.next().unwrap_or("").trim();
        let q = parts
            .find_map(|p| p.trim().strip_prefix("q="))
            .and_then(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        if q <= 0.0 {
            continue;
        }
        if let Some(l) = Lang::parse(tag)
            && best.is_none_or(|(bq, bi, _)| q > bq || (q == bq && i < bi))
        {
            best = Some((q, i, l));
        }
    }
    best.map(|(_, _, l)| l)
}

/// A cookie's value from the request's `Cookie` headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    (headers.get_all(COOKIE).iter())
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().to_owned())
}

/// One language's messages and formats.
#[derive(Debug)]
pub struct Tr {
    lang: Lang,
    messages: BTreeMap<String, String>,
}

fn catalogs() -> &'static [Tr; 3] {
    static ALL: OnceLock<[Tr; 3]> = OnceLock::new();
    ALL.get_or_init(|| {
        FILES.map(|(lang, text)| Tr {
            lang,
            // The files are compiled in and checked by this crate's tests, so a broken one is a
            // build defect: it shows every key as itself rather than failing requests.
            messages: parse_messages(text).unwrap_or_default(),
        })
    })
}

/// A message file's keys (`table.key`) and texts.
pub fn parse_messages(text: &str) -> Result<BTreeMap<String, String>, String> {
    let table: toml::Table = toml::from_str(text).map_err(|e| e.to_string())?;
    let mut out = BTreeMap::new();
    flatten("", &table, &mut out)?;
    Ok(out)
}

fn flatten(
    prefix: &str,
    t: &toml::Table,
    out: &mut BTreeMap<String, String>,
) -> Result<(), String> {
    for (k, v) in t {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            toml::Value::String(s) => {
                out.insert(key, s.clone());
            }
            toml::Value::Table(inner) => flatten(&key, inner, out)?,
            _ => return Err(format!("{key}: a message must be a string")),
        }
    }
    Ok(())
}

/// One language's messages, by key.
pub type Messages = BTreeMap<String, String>;

/// The messages of every language, for the completeness test.
pub fn all_messages() -> Vec<(Lang, Result<Messages, String>)> {
    FILES
        .iter()
        .map(|&(l, text)| (l, parse_messages(text)))
        .collect()
}

impl Tr {
    /// The language.
    pub fn lang(&self) -> Lang {
        self.lang
    }

    /// The message for `key`; English when this language lacks it (a test forbids that), the
    /// key itself when English does too.
    pub fn t(&self, key: &str) -> String {
        (self.messages.get(key))
            .or_else(|| {
                (self.lang != Lang::En)
                    .then(|| Lang::En.tr().messages.get(key))
                    .flatten()
            })
            .cloned()
            .unwrap_or_else(|| key.to_owned())
    }

    /// The message for `key` with `{name}` placeholders filled in.
    pub fn f(&self, key: &str, args: &[(&str, String)]) -> String {
        let mut s = self.t(key);
        for (name, value) in args {
            s = s.replace(&format!("{{{name}}}"), value);
        }
        s
    }

    /// An integer with the language's grouping (1,234,567 / 1.234.567).
    pub fn num(&self, n: u64) -> String {
        let sep = if self.lang == Lang::De { '.' } else { ',' };
        let digits = n.to_string();
        let mut out = String::with_capacity(digits.len() + digits.len() / 3);
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push(sep);
            }
            out.push(c);
        }
        out
    }

    /// A number with one decimal (7.8 / 7,8).
    pub fn dec1(&self, x: f64) -> String {
        let s = format!("{x:.1}");
        if self.lang == Lang::De {
            s.replace('.', ",")
        } else {
            s
        }
    }

    /// A share as a percentage (42.5% / 42,5 % / 42.5%).
    pub fn pct(&self, share: f64) -> String {
        let v = self.dec1(share * 100.0);
        if self.lang == Lang::De {
            format!("{v} %")
        } else {
            format!("{v}%")
        }
    }

    /// A date in the language's format.
    pub fn date(&self, t: DateTime<Utc>) -> String {
        let (y, m, d) = (t.year(), t.month(), t.day());
        match self.lang {
            Lang::En => {
                const MONTHS: [&str; 12] = [
                    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
                    "Dec",
                ];
                format!("{d} {} {y}", MONTHS[(m - 1) as usize])
            }
            Lang::De => format!("{d:02}.{m:02}.{y}"),
            Lang::ZhCn => format!("{y}年{m}月{d}日"),
        }
    }

    /// A `YYYY-MM-DD…` date string in the language's format (as given when unreadable).
    pub fn date_str(&self, s: &str) -> String {
        chrono::NaiveDate::parse_from_str(s.get(..10).unwrap_or(s), "%Y-%m-%d")
            .map(|d| self.date(d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc()))
            .unwrap_or_else(|_| s.to_owned())
    }
}
