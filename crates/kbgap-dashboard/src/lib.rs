//! kbgap's web dashboard: "which KBs to deploy where, first", served by `kbgap serve` on the
//! API's listener.
//!
//! Pages are HTML rendered on the server from templates compiled into the binary (askama), with
//! an embedded stylesheet and charts drawn as inline SVG: no script at all, so the
//! Content-Security-Policy allows none. Every page is a thin adapter over `kbgap-service`'s
//! queries ([`pages`]); every table sorts and filters by query parameters and exports its rows
//! as CSV or JSON ([`table`]). Users sign in with a bearer token ([`session`]); each page needs
//! the roles of the API calls behind it. Texts are in English, German and Simplified Chinese
//! ([`i18n`]).
#![warn(missing_docs)]

pub mod i18n;
pub mod pages;
pub mod render;
pub mod session;
pub mod svg;
pub mod table;

use std::sync::Arc;

use askama::Template;
use axum::extract::{Form, FromRef, FromRequestParts, Request, State};
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY, SET_COOKIE,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{Next, from_fn};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use kbgap_server::AppState;
use serde::Deserialize;

use crate::i18n::{Lang, cookie};
use crate::pages::{html_response, lang_cookie, lang_links, redirect, request_lang};
use crate::render::{Chrome, SignInHtml};
use crate::session::{SESSION_COOKIE, Sessions, SignInError, cleared_cookie, session_cookie};

/// How the dashboard is served.
#[derive(Debug, Clone, Default)]
pub struct DashboardConfig {
    /// Served over TLS: the session cookie is `Secure`.
    pub tls: bool,
}

/// The policy every dashboard answer carries: nothing but this origin's stylesheet and images,
/// no script, no frames, forms posting only here.
pub const CONTENT_SECURITY_POLICY_VALUE: &str = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const CSS: &str = include_str!("../assets/app.css");
const FAVICON: &str = include_str!("../assets/favicon.svg");

/// The dashboard's routes, to merge with the API's (`kbgap_server::router_with`).
pub fn routes(config: DashboardConfig) -> Router<AppState> {
    Router::new()
        .route("/", get(pages::deploy::page))
        .route("/posture", get(pages::posture::page))
        .route("/machines", get(pages::machines::list))
        .route("/machines/{id}", get(pages::machines::one))
        .route("/kbs/{id}", get(pages::detail::kb))
        .route("/cves/{id}", get(pages::detail::cve))
        .route("/health", get(pages::health::page))
        .route("/signin", get(sign_in_form).post(sign_in))
        .route("/signout", axum::routing::post(sign_out))
        .route("/assets/app.css", get(css))
        .route("/assets/favicon.svg", get(favicon))
        .layer(from_fn(security_headers))
        .layer(Extension(Arc::new(Sessions::default())))
        .layer(Extension(config))
}

async fn security_headers(req: Request, next: Next) -> Response {
    let mut r = next.run(req).await;
    let h = r.headers_mut();
    h.insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY_VALUE),
    );
    h.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    if !h.contains_key(CACHE_CONTROL) {
        h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    r
}

async fn css() -> Response {
    asset(CSS, "text/css; charset=utf-8")
}

async fn favicon() -> Response {
    asset(FAVICON, "image/svg+xml")
}

fn asset(body: &'static str, mime: &'static str) -> Response {
    (
        [
            (CONTENT_TYPE, mime),
            (CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}

/// The request's language and query, for pages shown before signing in.
struct Anonymous {
    lang: Lang,
    remember: bool,
    params: Vec<(String, String)>,
    config: DashboardConfig,
    sessions: Arc<Sessions>,
}

impl<S: Send + Sync> FromRequestParts<S> for Anonymous {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Response> {
        let (lang, remember, params) = request_lang(parts);
        let sessions = (parts.extensions.get::<Arc<Sessions>>().cloned())
            .ok_or_else(|| StatusCode::INTERNAL_SERVER_ERROR.into_response())?;
        Ok(Anonymous {
            lang,
            remember,
            params,
            config: pages::config(parts),
            sessions,
        })
    }
}

impl Anonymous {
    fn next(&self) -> String {
        let next = (self.params.iter())
            .find(|(k, _)| k == "next")
            .map_or("/", |(_, v)| v.as_str());
        safe_next(next)
    }
}

/// Only a path on this server (not `//other.example`, not a scheme) may be a redirect target.
pub fn safe_next(next: &str) -> String {
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && !next.chars().any(char::is_control);
    if ok { next.to_owned() } else { "/".to_owned() }
}

fn sign_in_page(a: &Anonymous, next: &str, error: Option<String>, status: StatusCode) -> Response {
    let tr = a.lang.tr();
    let chrome = Chrome {
        lang: a.lang.tag(),
        signed_in: false,
        user: String::new(),
        nav: Vec::new(),
        langs: lang_links(a.lang, |l| {
            let q: String = form_urlencoded::Serializer::new(String::new())
                .append_pair("lang", l.tag())
                .append_pair("next", next)
                .finish();
            format!("/signin?{q}")
        }),
        skip: tr.t("nav.skip"),
        nav_label: tr.t("nav.label"),
        lang_label: tr.t("nav.language"),
        signout: tr.t("nav.signout"),
        footer: tr.t("nav.footer"),
    };
    let body = SignInHtml {
        chrome: &chrome,
        heading: tr.t("signin.heading"),
        lead: tr.t("signin.lead"),
        error,
        label: tr.t("signin.token"),
        next: next.to_owned(),
        submit: tr.t("signin.submit"),
        hint: tr.t("signin.hint"),
    }
    .render();
    let mut r = html_response(status, body);
    if a.remember {
        r.headers_mut().append(SET_COOKIE, lang_cookie(a.lang));
    }
    r
}

/// `GET /signin`: the form.
async fn sign_in_form(a: Anonymous) -> Response {
    let next = a.next();
    sign_in_page(&a, &next, None, StatusCode::OK)
}

#[derive(Deserialize)]
struct SignInForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    next: String,
}

/// `POST /signin`: a token in, a session cookie and a redirect out; the form again with the
/// reason when the token is refused.
async fn sign_in(
    State(state): State<AppState>,
    a: Anonymous,
    Form(form): Form<SignInForm>,
) -> Response {
    let tr = a.lang.tr();
    let next = safe_next(&form.next);
    let auth = Arc::<kbgap_server::Authenticator>::from_ref(&state);
    let now = chrono::Utc::now().timestamp();
    match a.sessions.sign_in(&auth, &form.token, now).await {
        Ok((id, max_age)) => {
            let mut r = redirect(&next);
            if let Ok(v) = HeaderValue::from_str(&session_cookie(&id, max_age, a.config.tls)) {
                r.headers_mut().append(SET_COOKIE, v);
            }
            r
        }
        Err(SignInError::SubmitOnly) => sign_in_page(
            &a,
            &next,
            Some(tr.t("signin.submit_only")),
            StatusCode::FORBIDDEN,
        ),
        Err(SignInError::Invalid(why)) => sign_in_page(
            &a,
            &next,
            Some(tr.f("signin.refused", &[("reason", why)])),
            StatusCode::UNAUTHORIZED,
        ),
    }
}

/// `POST /signout`: ends the session and clears the cookie.
async fn sign_out(a: Anonymous, headers: HeaderMap) -> Response {
    if let Some(id) = cookie(&headers, SESSION_COOKIE) {
        a.sessions.sign_out(&id);
    }
    let mut r = redirect("/signin");
    if let Ok(v) = HeaderValue::from_str(&cleared_cookie(a.config.tls)) {
        r.headers_mut().append(SET_COOKIE, v);
    }
    r
}
