//! The pages: each handler reads its filters, asks `kbgap-service` one question, and turns the
//! plain rows into tables ([`crate::table`]) that [`Ctx::respond`] renders as HTML or exports.

pub mod cells;
pub mod deploy;
pub mod detail;
pub mod health;
pub mod machines;
pub mod posture;

use std::sync::Arc;

use askama::Template;
use axum::extract::{FromRef, FromRequestParts};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE, LOCATION, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use kbgap_server::auth::Permission;
use kbgap_server::{AppState, Principal, require_roles};
use kbgap_service::FleetService;

use crate::DashboardConfig;
use crate::i18n::{LANG_COOKIE, Lang, Tr, cookie};
use crate::render::{Chrome, Header, Link, PageHtml, PageView, RowView, SectionView};
use crate::session::{SESSION_COOKIE, Sessions};
use crate::table::{PAGE_ROWS, Sort, Table};

/// What every page handler knows about its request: the signed-in user, the language, the
/// query parameters, and the path.
pub struct Ctx {
    /// The user.
    pub principal: Principal,
    /// The language.
    pub lang: Lang,
    /// Whether `?lang=` chose it (the answer then remembers it in a cookie).
    remember_lang: bool,
    /// The query parameters, in order.
    pub params: Vec<(String, String)>,
    /// The request path.
    pub path: String,
    /// The fleet (every page needs it).
    pub fleet: Arc<FleetService>,
}

/// The language of a request that may not be signed in.
pub fn request_lang(parts: &Parts) -> (Lang, bool, Vec<(String, String)>) {
    let params: Vec<(String, String)> = parts
        .uri
        .query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    let q = params
        .iter()
        .find(|(k, _)| k == "lang")
        .map(|(_, v)| v.as_str());
    let (lang, remember) = Lang::negotiate(q, &parts.headers);
    (lang, remember, params)
}

impl<S> FromRequestParts<S> for Ctx
where
    S: Send + Sync,
    AppState: FromRef<S>,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        let app = AppState::from_ref(state);
        let sessions = parts.extensions.get::<Arc<Sessions>>().cloned();
        let (lang, remember_lang, params) = request_lang(parts);
        let path = parts.uri.path().to_owned();
        let session = (cookie(&parts.headers, SESSION_COOKIE))
            .zip(sessions)
            .and_then(|(id, s)| s.get(&id, chrono::Utc::now().timestamp()));
        let Some(session) = session else {
            let next = parts.uri.path_and_query().map_or("/", |p| p.as_str());
            let target = format!(
                "/signin?next={}",
                form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
            );
            return Err(redirect(&target));
        };
        let Some(fleet) = app.fleet else {
            return Err(plain(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the server has no fleet",
            ));
        };
        Ok(Ctx {
            principal: session.principal,
            lang,
            remember_lang,
            params,
            path,
            fleet,
        })
    }
}

/// A 303 to `target` (a path on this server).
pub fn redirect(target: &str) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(target) {
        r.headers_mut().insert(LOCATION, v);
    }
    r
}

fn plain(status: StatusCode, text: &str) -> Response {
    (
        status,
        [(CONTENT_TYPE, "text/plain; charset=utf-8")],
        text.to_owned(),
    )
        .into_response()
}

/// What an export or page answer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Html,
    Csv,
    Json,
}

impl Ctx {
    /// The language's messages.
    pub fn tr(&self) -> &'static Tr {
        self.lang.tr()
    }

    /// A query parameter, trimmed; `None` when absent or empty.
    pub fn param(&self, name: &str) -> Option<&str> {
        (self.params.iter())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// Whether a checkbox parameter is set.
    pub fn flag(&self, name: &str) -> bool {
        self.param(name).is_some_and(|v| v != "0" && v != "false")
    }

    /// A number parameter.
    pub fn number(&self, name: &str) -> Option<i64> {
        self.param(name)
            .and_then(|v| v.parse().ok())
            .filter(|n| *n >= 0)
    }

    /// Refuses the page unless the user holds what `P`'s API call requires (the same message
    /// the API gives, on a page).
    // The refusal is the page to send, built once, on the rare path: not worth a box.
    #[allow(clippy::result_large_err)]
    pub fn require<P: Permission>(&self) -> Result<(), Response> {
        if self.holds::<P>() {
            return Ok(());
        }
        let msg = require_roles(&self.principal, P::APP_ROLES, P::DELEGATED_SCOPES)
            .err()
            .map(|e| e.message)
            .unwrap_or_default();
        let tr = self.tr();
        let page = PageView {
            title: tr.t("error.forbidden"),
            heading: tr.t("error.forbidden"),
            lead: Some(msg),
            ..PageView::default()
        };
        Err(self.html(StatusCode::FORBIDDEN, &page))
    }

    /// Whether the user holds what `P` requires.
    pub fn holds<P: Permission>(&self) -> bool {
        require_roles(&self.principal, P::APP_ROLES, P::DELEGATED_SCOPES).is_ok()
    }

    /// A 404 page.
    pub fn not_found(&self, what: &str) -> Response {
        let tr = self.tr();
        let page = PageView {
            title: tr.t("error.not_found"),
            heading: tr.t("error.not_found"),
            lead: Some(what.to_owned()),
            ..PageView::default()
        };
        self.html(StatusCode::NOT_FOUND, &page)
    }

    /// A 500 page for a failed service call.
    pub fn failed(&self, e: impl std::fmt::Display) -> Response {
        tracing::error!(error = %e, path = %self.path, "dashboard page failed");
        let page = PageView {
            title: self.tr().t("error.failed"),
            heading: self.tr().t("error.failed"),
            ..PageView::default()
        };
        self.html(StatusCode::INTERNAL_SERVER_ERROR, &page)
    }

    /// `?sort=`.
    pub fn sort(&self) -> Option<Sort> {
        let key = self.param("sort")?.to_owned();
        Some(Sort {
            key,
            desc: self.param("dir") == Some("desc"),
        })
    }

    /// This page's URL with some parameters replaced (`None` removes one).
    pub fn href_with(&self, changes: &[(&str, Option<&str>)]) -> String {
        let mut out = form_urlencoded::Serializer::new(String::new());
        for (k, v) in &self.params {
            if k != "lang" && !changes.iter().any(|(c, _)| c == k) {
                out.append_pair(k, v);
            }
        }
        for (k, v) in changes {
            if let Some(v) = v {
                out.append_pair(k, v);
            }
        }
        let q = out.finish();
        if q.is_empty() {
            self.path.clone()
        } else {
            format!("{}?{q}", self.path)
        }
    }

    /// The parameters a filter form keeps as hidden fields (the sort order).
    pub fn kept(&self) -> Vec<(String, String)> {
        (self.params.iter())
            .filter(|(k, _)| k == "sort" || k == "dir")
            .cloned()
            .collect()
    }

    /// The page's chrome in the request's language.
    pub fn chrome(&self) -> Chrome {
        let tr = self.tr();
        let nav = [
            ("/", "nav.deploy"),
            ("/posture", "nav.posture"),
            ("/machines", "nav.machines"),
            ("/health", "nav.health"),
        ];
        let current = |href: &str| {
            if href == "/" {
                self.path == "/"
            } else {
                self.path.starts_with(href)
            }
        };
        let user = [&self.principal.subject, &self.principal.app_id]
            .into_iter()
            .find(|s| !s.is_empty())
            .cloned()
            .unwrap_or_default();
        Chrome {
            lang: self.lang.tag(),
            signed_in: true,
            user,
            nav: (nav.iter())
                .map(|&(href, key)| Link {
                    href: href.to_owned(),
                    label: tr.t(key),
                    current: current(href),
                    hreflang: "",
                })
                .collect(),
            langs: lang_links(self.lang, |l| self.href_with(&[("lang", Some(l.tag()))])),
            skip: tr.t("nav.skip"),
            nav_label: tr.t("nav.label"),
            lang_label: tr.t("nav.language"),
            signout: tr.t("nav.signout"),
            footer: tr.t("nav.footer"),
        }
    }

    /// The page as HTML, or a table of it as CSV or JSON (`?format=`, `?table=`).
    pub fn respond(&self, page: PageView, tables: Vec<Table>, empty: &[&str]) -> Response {
        let format = match self.param("format") {
            Some("csv") => Format::Csv,
            Some("json") => Format::Json,
            _ => Format::Html,
        };
        let sort = self.sort();
        let mut tables = tables;
        for t in &mut tables {
            t.sort(sort.as_ref());
        }
        if format != Format::Html {
            let chosen = self.param("table");
            let Some(t) = (tables.iter())
                .find(|t| Some(t.key) == chosen)
                .or_else(|| chosen.is_none().then(|| tables.first()).flatten())
            else {
                return self.not_found(&self.tr().t("error.no_table"));
            };
            return export(format, t, &self.path);
        }
        let mut page = page;
        let page_no: usize = self
            .param("page")
            .and_then(|p| p.parse().ok())
            .unwrap_or(1)
            .max(1);
        let paged = self.param("table");
        for (i, t) in tables.into_iter().enumerate() {
            let this_page = if paged.is_none_or(|p| p == t.key) {
                page_no
            } else {
                1
            };
            let empty = empty
                .get(i)
                .map_or_else(|| self.tr().t("table.empty"), |k| self.tr().t(k));
            page.sections
                .push(self.section(t, this_page, empty, sort.as_ref()));
        }
        self.html(StatusCode::OK, &page)
    }

    fn section(&self, t: Table, page_no: usize, empty: String, sort: Option<&Sort>) -> SectionView {
        let tr = self.tr();
        let headers = (t.columns.iter())
            .map(|c| {
                let key = format!("{}.{}", t.key, c.key);
                let on = sort.filter(|s| s.key == key);
                let desc_next = on.is_none_or(|s| !s.desc);
                Header {
                    label: c.label.clone(),
                    href: self.href_with(&[
                        ("sort", Some(key.as_str())),
                        ("dir", Some(if desc_next { "desc" } else { "asc" })),
                        ("page", None),
                    ]),
                    aria_sort: match on {
                        Some(s) if s.desc => "descending",
                        Some(_) => "ascending",
                        None => "none",
                    },
                    arrow: match on {
                        Some(s) if s.desc => " ▼",
                        Some(_) => " ▲",
                        None => "",
                    },
                    numeric: c.numeric,
                }
            })
            .collect();
        let total = t.rows.len();
        let start = (page_no - 1).saturating_mul(PAGE_ROWS).min(total);
        let end = (start + PAGE_ROWS).min(total);
        let more = (end < total).then(|| {
            let next = (page_no + 1).to_string();
            (
                tr.f(
                    "table.more",
                    &[
                        ("from", tr.num(end as u64 + 1)),
                        ("total", tr.num(total as u64)),
                    ],
                ),
                self.href_with(&[("table", Some(t.key)), ("page", Some(next.as_str()))]),
            )
        });
        let exports = ["csv", "json"]
            .iter()
            .map(|f| {
                (
                    tr.t(&format!("table.export_{f}")),
                    self.href_with(&[("format", Some(*f)), ("table", Some(t.key)), ("page", None)]),
                )
            })
            .collect();
        SectionView {
            key: t.key,
            title: tr.t(&format!("table.{}", t.key)),
            count: tr.num(total as u64),
            headers,
            rows: t.rows[start..end]
                .iter()
                .map(|r| RowView {
                    cells: r.cells.clone(),
                })
                .collect(),
            exports,
            empty,
            more,
        }
    }

    /// Renders a page with the chrome.
    pub fn html(&self, status: StatusCode, page: &PageView) -> Response {
        let chrome = self.chrome();
        let body = PageHtml {
            chrome: &chrome,
            page,
        }
        .render();
        let mut r = html_response(status, body);
        if self.remember_lang {
            r.headers_mut().append(SET_COOKIE, lang_cookie(self.lang));
        }
        r
    }
}

/// The language switcher's links.
pub fn lang_links(current: Lang, href: impl Fn(Lang) -> String) -> Vec<Link> {
    (Lang::ALL.iter())
        .map(|&l| Link {
            href: href(l),
            label: l.native_name().to_owned(),
            current: l == current,
            hreflang: l.tag(),
        })
        .collect()
}

/// The cookie remembering a language for a year.
pub fn lang_cookie(lang: Lang) -> HeaderValue {
    HeaderValue::from_str(&format!(
        "{LANG_COOKIE}={}; Path=/; SameSite=Lax; Max-Age=31536000",
        lang.tag()
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("kbgap_lang=en; Path=/"))
}

/// A rendered template as a response (a render failure is a 500, never a panic).
pub fn html_response(status: StatusCode, body: Result<String, askama::Error>) -> Response {
    match body {
        Ok(html) => (status, [(CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "rendering a dashboard page failed");
            plain(
                StatusCode::INTERNAL_SERVER_ERROR,
                "rendering the page failed",
            )
        }
    }
}

fn export(format: Format, t: &Table, path: &str) -> Response {
    let stem: String = path
        .trim_matches('/')
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let stem = if stem.is_empty() {
        "deploy".to_owned()
    } else {
        stem
    };
    let (body, mime, ext) = match format {
        Format::Csv => (t.csv(), "text/csv; charset=utf-8", "csv"),
        _ => (t.json().to_string(), "application/json", "json"),
    };
    let disposition = format!("attachment; filename=\"kbgap-{stem}-{}.{ext}\"", t.key);
    let mut r = (StatusCode::OK, [(CONTENT_TYPE, mime)], body).into_response();
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        r.headers_mut().insert(CONTENT_DISPOSITION, v);
    }
    r
}

/// The dashboard's configuration as handlers see it.
pub fn config(parts: &Parts) -> DashboardConfig {
    parts
        .extensions
        .get::<DashboardConfig>()
        .cloned()
        .unwrap_or_default()
}
