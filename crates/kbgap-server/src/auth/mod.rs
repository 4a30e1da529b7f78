//! Bearer JWT authentication: who is calling, from which tenant, with which roles.
//!
//! Defender's clients send an OAuth2 access token from Entra ID and nothing else. kbgap trusts
//! two kinds of issuer at once:
//!
//! * its own ([`LocalIssuer`]): an ES256 key created in the data directory on first start, so a
//!   fresh install works without an identity provider (`kbgap token` prints tokens for it);
//! * external OpenID issuers ([`OidcIssuer`]), Entra ID in practice, whose RS256 keys come from
//!   their JWKS URL.
//!
//! The issuer named in the token picks which keys verify it; a token from any other issuer is
//! refused. Every refusal is a 401 `Unauthorized` whose message says what was wrong with the
//! token without echoing secrets; only an issuer we cannot reach is our fault (500).

mod cache;
pub mod lifetime;
mod local;
mod oidc;
mod roles;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use kbgap_service::tokens::RevocationList;

use crate::error::ApiError;

pub use local::{LOCAL_AUDIENCE, LOCAL_KEY_FILE, LocalIssuer, MAX_TTL, SignedToken};
pub use oidc::OidcIssuer;
pub use roles::{Authorized, INVENTORY_SUBMIT, Permission, perm, require_roles};

/// The audiences Defender tokens carry (`mde-api.md`): accepted by default.
pub const DEFENDER_AUDIENCES: [&str; 4] = [
    "https://api.securitycenter.microsoft.com",
    "https://api.security.microsoft.com",
    "https://api.securitycenter.windows.com",
    "https://securitycenter.onmicrosoft.com/windowsatpservice",
];

/// Clock skew tolerated on `exp` and `nbf`.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(60);

/// The authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The calling application (`appid`, else `azp`; empty when the token has neither).
    pub app_id: String,
    /// The caller's tenant (`tid`; empty when absent).
    pub tenant_id: String,
    /// Application permissions (`roles`).
    pub roles: Vec<String>,
    /// Delegated permissions (`scp`, space-separated in the token).
    pub scopes: Vec<String>,
    /// The token's subject (`sub`).
    pub subject: String,
    /// The issuer that vouched for the token (`iss`).
    pub issuer: String,
    /// The one computer an `Inventory.Submit` token may report for (kbgap's `kbgap_machine`
    /// claim, set by `kbgap token --machine`); `None`: any.
    pub machine: Option<String>,
}

impl Principal {
    /// Whether the token acts for a user (delegated permissions) rather than for an application.
    pub fn is_delegated(&self) -> bool {
        !self.scopes.is_empty()
    }

    /// Whether the token may only submit inventory: its roles are all
    /// [`INVENTORY_SUBMIT`], or it is bound to a machine. Such a token is refused
    /// everywhere but `POST /api/inventory`, including endpoints open to any valid token.
    pub fn is_submit_only(&self) -> bool {
        self.machine.is_some()
            || (!self.roles.is_empty() && self.roles.iter().all(|r| r == roles::INVENTORY_SUBMIT))
    }
}

/// Why a token was refused, or why an issuer could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// No `Authorization: Bearer …` header.
    #[error("no bearer token: send an Authorization: Bearer <token> header")]
    MissingToken,
    /// Not a JWT, or claims of the wrong shape.
    #[error("the token is malformed: {0}")]
    Malformed(String),
    /// `alg: none`, HMAC, or an algorithm the issuer does not sign with.
    #[error("the token's signing algorithm {0} is not accepted")]
    UnsupportedAlgorithm(String),
    /// The signature does not verify with the issuer's key.
    #[error("the token's signature is not valid")]
    BadSignature,
    /// Past `exp` (plus leeway).
    #[error("the token has expired")]
    Expired,
    /// Revoked (`kbgap token revoke`): its `jti`, or issued before a revocation cut-off.
    #[error("the token has been revoked")]
    Revoked,
    /// Before `nbf` (minus leeway).
    #[error("the token is not valid yet")]
    NotYetValid,
    /// No accepted audience in `aud`.
    #[error("the token's audience is not accepted by this service")]
    WrongAudience,
    /// An issuer this service does not trust.
    #[error("the token's issuer {0:?} is not trusted by this service")]
    UntrustedIssuer(String),
    /// A `kid` absent from the issuer's key set.
    #[error("the token's signing key {0:?} is not one of the issuer's keys")]
    UnknownKey(String),
    /// The issuer's JWKS could not be fetched: our problem, not the caller's (500).
    #[error("the issuer's signing keys are unavailable: {0}")]
    KeysUnavailable(String),
    /// Reading or writing the local signing key file.
    #[error("signing key file {path}: {source}")]
    KeyFile {
        /// The key file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A key file that does not hold a PKCS#8 P-256 private key.
    #[error("signing key file {path} does not hold a PKCS#8 P-256 private key: {reason}")]
    BadKeyFile {
        /// The key file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A token request that cannot be honoured (zero TTL, empty role, …).
    #[error("cannot issue the token: {0}")]
    InvalidRequest(String),
    /// Signing failed.
    #[error("signing the token failed: {0}")]
    Signing(String),
    /// An unusable issuer configuration.
    #[error("invalid issuer configuration: {0}")]
    Config(String),
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::KeysUnavailable(_)
            | AuthError::KeyFile { .. }
            | AuthError::BadKeyFile { .. }
            | AuthError::InvalidRequest(_)
            | AuthError::Signing(_)
            | AuthError::Config(_) => ApiError::internal(e),
            other => {
                let mut msg = other.to_string();
                if let Some(first) = msg.get(..1) {
                    msg = first.to_uppercase() + &msg[1..];
                }
                ApiError::unauthorized(format!("{msg}.")).with_detail(format!("{other:?}"))
            }
        }
    }
}

/// Which issuers to trust and which audiences to accept.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// kbgap's own issuer, if enabled.
    pub local: Option<Arc<LocalIssuer>>,
    /// External OpenID issuers.
    pub oidc: Vec<OidcIssuer>,
    /// Audiences accepted in addition to [`DEFENDER_AUDIENCES`], for every issuer.
    pub extra_audiences: Vec<String>,
    /// Clock skew tolerated on `exp` and `nbf`.
    pub leeway: Duration,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            local: None,
            oidc: Vec::new(),
            extra_audiences: Vec::new(),
            leeway: DEFAULT_LEEWAY,
        }
    }
}

impl AuthConfig {
    /// Trust only kbgap's own issuer.
    pub fn local(issuer: LocalIssuer) -> Self {
        Self {
            local: Some(Arc::new(issuer)),
            ..Self::default()
        }
    }
}

/// Verifies bearer tokens against the configured issuers. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct Authenticator {
    local: Option<Arc<LocalIssuer>>,
    oidc: Vec<oidc::OidcVerifier>,
    audiences: Vec<String>,
    leeway: u64,
    verified: cache::TokenCache,
    revoked: Arc<RevocationList>,
}

#[derive(Deserialize)]
struct PeekClaims {
    iss: Option<String>,
}

#[derive(Deserialize)]
struct TokenClaims {
    #[serde(default)]
    roles: Vec<String>,
    #[serde(default)]
    scp: Option<String>,
    #[serde(default)]
    appid: Option<String>,
    #[serde(default)]
    azp: Option<String>,
    #[serde(default)]
    tid: Option<String>,
    #[serde(default)]
    sub: Option<String>,
    iss: String,
    /// Seconds since the epoch; numbers, possibly with a fraction (RFC 7519 NumericDate).
    exp: f64,
    #[serde(default)]
    nbf: Option<f64>,
    #[serde(default)]
    kbgap_machine: Option<String>,
    #[serde(default)]
    jti: Option<String>,
    #[serde(default)]
    iat: Option<f64>,
}

/// What a full verification established about a token.
pub(crate) struct Verified {
    pub(crate) principal: Principal,
    pub(crate) exp: u64,
    pub(crate) nbf: Option<u64>,
    /// What revocation looks at: the token's id, when it was issued, and whether kbgap's own
    /// issuer signed it.
    pub(crate) jti: Option<String>,
    pub(crate) iat: Option<i64>,
    pub(crate) local: bool,
}

impl Authenticator {
    /// Builds the verifier. Fails only on an unusable OIDC configuration.
    pub fn new(config: AuthConfig) -> Result<Self, AuthError> {
        let mut global: Vec<String> = DEFENDER_AUDIENCES.iter().map(|s| (*s).to_owned()).collect();
        global.extend(config.extra_audiences.iter().cloned());
        let oidc = config
            .oidc
            .into_iter()
            .map(|c| {
                let mut aud = global.clone();
                aud.extend(c.audiences.iter().cloned());
                oidc::OidcVerifier::new(c, aud)
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            local: config.local,
            oidc,
            audiences: global,
            leeway: config.leeway.as_secs(),
            verified: cache::TokenCache::default(),
            revoked: Arc::default(),
        })
    }

    /// kbgap's own issuer, when enabled (the `kbgap token` command signs with it).
    pub fn local_issuer(&self) -> Option<&LocalIssuer> {
        self.local.as_deref()
    }

    /// The revoked tokens this authenticator refuses; empty until someone fills it (`serve`
    /// loads the store's list and follows it: `kbgap_service::tokens::follow`).
    pub fn revocations(&self) -> &Arc<RevocationList> {
        &self.revoked
    }

    /// Verifies a token (without the `Bearer ` prefix) and returns its caller. A token verified
    /// in the last few minutes is not verified again, only its time bounds (`cache.rs`); the
    /// revocation list is consulted every time, so a revocation needs no cache flush.
    pub async fn authenticate(&self, token: &str) -> Result<Principal, AuthError> {
        if let Some(known) = self.verified.get(token, self.leeway, &self.revoked) {
            return known;
        }
        let verified = self.verify(token).await?;
        let principal = verified.principal.clone();
        let revoked =
            (self.revoked).is_revoked(verified.jti.as_deref(), verified.iat, verified.local);
        self.verified.put(token, verified);
        if revoked {
            return Err(AuthError::Revoked);
        }
        Ok(principal)
    }

    /// The full check: structure, algorithm, issuer, signature, audience and time bounds.
    async fn verify(&self, token: &str) -> Result<Verified, AuthError> {
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(_s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(AuthError::Malformed(
                "expected three dot-separated parts".into(),
            ));
        };
        let raw_header: serde_json::Value = decode_segment(h, "header")?;
        let alg = raw_header.get("alg").and_then(|a| a.as_str()).unwrap_or("");
        if alg.eq_ignore_ascii_case("none") || alg.is_empty() {
            return Err(AuthError::UnsupportedAlgorithm(if alg.is_empty() {
                "(missing)".into()
            } else {
                alg.into()
            }));
        }
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| AuthError::UnsupportedAlgorithm(truncate(alg, 20)))?;
        let peek: PeekClaims = decode_segment(p, "payload")?;
        let iss = peek
            .iss
            .ok_or_else(|| AuthError::Malformed("no iss claim".into()))?;

        let local = self.local.as_ref().is_some_and(|l| l.issuer() == iss);
        let (key, algorithm, audiences): (Arc<DecodingKey>, Algorithm, &[String]) =
            match &self.local {
                Some(local) if local.issuer() == iss => {
                    (local.decoding_key(), Algorithm::ES256, &self.audiences)
                }
                _ => {
                    let verifier = self
                        .oidc
                        .iter()
                        .find(|v| v.issuer() == iss)
                        .ok_or_else(|| AuthError::UntrustedIssuer(truncate(&iss, 100)))?;
                    if header.alg != Algorithm::RS256 {
                        return Err(AuthError::UnsupportedAlgorithm(format!("{:?}", header.alg)));
                    }
                    (
                        verifier.key(header.kid.as_deref()).await?,
                        Algorithm::RS256,
                        verifier.audiences(),
                    )
                }
            };
        if header.alg != algorithm {
            return Err(AuthError::UnsupportedAlgorithm(format!("{:?}", header.alg)));
        }
        let mut validation = Validation::new(algorithm);
        validation.leeway = self.leeway;
        validation.validate_nbf = true;
        validation.set_audience(audiences);
        validation.set_issuer(&[iss.as_str()]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        let data =
            jsonwebtoken::decode::<TokenClaims>(token, &key, &validation).map_err(map_jwt_error)?;
        let c = data.claims;
        let principal = Principal {
            app_id: c.appid.or(c.azp).unwrap_or_default(),
            tenant_id: c.tid.unwrap_or_default(),
            roles: c.roles,
            scopes: c
                .scp
                .map(|s| s.split_whitespace().map(str::to_owned).collect())
                .unwrap_or_default(),
            subject: c.sub.unwrap_or_default(),
            issuer: c.iss,
            machine: c.kbgap_machine.filter(|m| !m.trim().is_empty()),
        };
        Ok(Verified {
            principal,
            exp: c.exp as u64,
            nbf: c.nbf.map(|n| n as u64),
            jti: c.jti,
            iat: c.iat.map(|i| i as i64),
            local,
        })
    }
}

fn decode_segment<T: serde::de::DeserializeOwned>(seg: &str, what: &str) -> Result<T, AuthError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(seg.trim_end_matches('='))
        .map_err(|_| AuthError::Malformed(format!("the {what} is not base64url")))?;
    serde_json::from_slice(&bytes).map_err(|_| {
        AuthError::Malformed(format!(
            "the {what} is not a JSON object of the expected shape"
        ))
    })
}

fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

fn map_jwt_error(e: jsonwebtoken::errors::Error) -> AuthError {
    match e.kind() {
        ErrorKind::InvalidSignature | ErrorKind::InvalidEcdsaKey | ErrorKind::InvalidRsaKey(_) => {
            AuthError::BadSignature
        }
        ErrorKind::ExpiredSignature => AuthError::Expired,
        ErrorKind::ImmatureSignature => AuthError::NotYetValid,
        ErrorKind::InvalidAudience => AuthError::WrongAudience,
        ErrorKind::InvalidIssuer => AuthError::UntrustedIssuer(String::new()),
        ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
            AuthError::UnsupportedAlgorithm("(mismatch)".into())
        }
        ErrorKind::MissingRequiredClaim(c) => AuthError::Malformed(format!("no {c} claim")),
        _ => AuthError::Malformed(e.to_string()),
    }
}

/// The token in an `Authorization: Bearer …` header.
pub fn bearer_token(headers: &HeaderMap) -> Result<&str, AuthError> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)
        .ok_or(AuthError::MissingToken)?;
    let value = value
        .to_str()
        .map_err(|_| AuthError::Malformed("the Authorization header is not ASCII".into()))?;
    let (scheme, token) = value
        .trim()
        .split_once(' ')
        .ok_or(AuthError::MissingToken)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(AuthError::MissingToken);
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(AuthError::MissingToken);
    }
    Ok(token)
}

impl<S> FromRequestParts<S> for Principal
where
    S: Send + Sync,
    Arc<Authenticator>: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if let Some(p) = parts.extensions.get::<Principal>() {
            return Ok(p.clone());
        }
        let auth = Arc::<Authenticator>::from_ref(state);
        let token = bearer_token(&parts.headers)?;
        let principal = auth.authenticate(token).await?;
        let span = tracing::Span::current();
        span.record("app_id", tracing::field::display(&principal.app_id));
        span.record("tenant_id", tracing::field::display(&principal.tenant_id));
        parts.extensions.insert(principal.clone());
        Ok(principal)
    }
}
