//! External OpenID issuers (Entra ID): RS256 keys from a JWKS URL, cached.
//!
//! Fetching the key set on every request would make each API call depend on the identity
//! provider, so keys are cached for `jwks_ttl` (1 h by default). Issuers rotate keys, and a token
//! signed with a new key names a `kid` we have not seen: that triggers a refetch, but at most one
//! per `min_refetch_interval`, so a stream of tokens with invented `kid`s cannot make kbgap hammer
//! the provider. When a refetch fails, the keys already known keep working.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::DecodingKey;
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, KeyAlgorithm, PublicKeyUse};

use super::AuthError;

/// The largest JWKS document accepted.
const MAX_JWKS_BYTES: usize = 1 << 20;

/// An external issuer to trust.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcIssuer {
    /// The exact `iss` of its tokens (Entra v1: `https://sts.windows.net/<tenant>/`).
    pub issuer: String,
    /// Where its signing keys are published (Entra:
    /// `https://login.microsoftonline.com/<tenant>/discovery/v2.0/keys`).
    pub jwks_url: String,
    /// Audiences accepted from this issuer, beyond Defender's four and the global extras.
    pub audiences: Vec<String>,
    /// How long a fetched key set is used before it is fetched again.
    pub jwks_ttl: Duration,
    /// The shortest time between two fetches (unknown `kid`s and failures wait this long).
    pub min_refetch_interval: Duration,
}

impl OidcIssuer {
    /// An issuer with the default cache policy (1 h TTL, at most one refetch a minute).
    pub fn new(issuer: impl Into<String>, jwks_url: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            jwks_url: jwks_url.into(),
            audiences: Vec::new(),
            jwks_ttl: Duration::from_secs(3600),
            min_refetch_interval: Duration::from_secs(60),
        }
    }
}

#[derive(Default)]
struct Cache {
    by_kid: HashMap<String, Arc<DecodingKey>>,
    unnamed: Vec<Arc<DecodingKey>>,
    fetched_at: Option<Instant>,
    last_attempt: Option<Instant>,
}

impl Cache {
    fn find(&self, kid: Option<&str>) -> Option<Arc<DecodingKey>> {
        match kid {
            Some(k) => self.by_kid.get(k).cloned(),
            // A token without `kid` is acceptable only when the issuer has a single key.
            None if self.by_kid.len() + self.unnamed.len() == 1 => self
                .by_kid
                .values()
                .next()
                .or_else(|| self.unnamed.first())
                .cloned(),
            None => None,
        }
    }
    fn fresh(&self, now: Instant, ttl: Duration) -> bool {
        self.fetched_at.is_some_and(|t| now.duration_since(t) < ttl)
    }
    fn may_fetch(&self, now: Instant, min: Duration) -> bool {
        self.last_attempt
            .is_none_or(|t| now.duration_since(t) >= min)
    }
}

/// A trusted external issuer with its key cache.
pub(crate) struct OidcVerifier {
    config: OidcIssuer,
    audiences: Vec<String>,
    client: reqwest::Client,
    cache: RwLock<Cache>,
    refresh: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for OidcVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcVerifier")
            .field("config", &self.config)
            .field("audiences", &self.audiences)
            .finish()
    }
}

impl OidcVerifier {
    pub(crate) fn new(config: OidcIssuer, audiences: Vec<String>) -> Result<Self, AuthError> {
        if config.issuer.is_empty() {
            return Err(AuthError::Config("the OIDC issuer is empty".into()));
        }
        let url = reqwest::Url::parse(&config.jwks_url)
            .map_err(|e| AuthError::Config(format!("JWKS URL {:?}: {e}", config.jwks_url)))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(AuthError::Config(format!(
                "JWKS URL {:?} is not http(s)",
                config.jwks_url
            )));
        }
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| AuthError::Config(format!("HTTP client: {e}")))?;
        Ok(Self {
            config,
            audiences,
            client,
            cache: RwLock::new(Cache::default()),
            refresh: tokio::sync::Mutex::new(()),
        })
    }

    pub(crate) fn issuer(&self) -> &str {
        &self.config.issuer
    }

    pub(crate) fn audiences(&self) -> &[String] {
        &self.audiences
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Cache> {
        self.cache.read().unwrap_or_else(|p| p.into_inner())
    }

    /// The key for `kid`, fetching the key set when it is stale or lacks that key.
    pub(crate) async fn key(&self, kid: Option<&str>) -> Result<Arc<DecodingKey>, AuthError> {
        let unknown = || AuthError::UnknownKey(kid.unwrap_or("(none)").chars().take(100).collect());
        {
            let c = self.read();
            if c.fresh(Instant::now(), self.config.jwks_ttl)
                && let Some(k) = c.find(kid)
            {
                return Ok(k);
            }
        }
        // One fetch at a time; whoever waited re-checks what the previous fetch brought.
        let _guard = self.refresh.lock().await;
        {
            let c = self.read();
            let now = Instant::now();
            let found = c.find(kid);
            if let Some(k) = &found
                && c.fresh(now, self.config.jwks_ttl)
            {
                return Ok(Arc::clone(k));
            }
            if !c.may_fetch(now, self.config.min_refetch_interval) {
                return match (found, c.fetched_at) {
                    (Some(k), _) => Ok(k),
                    (None, None) => Err(AuthError::KeysUnavailable(
                        "the last fetch of the key set failed".into(),
                    )),
                    (None, Some(_)) => Err(unknown()),
                };
            }
        }
        let fetched = self.fetch().await;
        let mut c = self.cache.write().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        c.last_attempt = Some(now);
        match fetched {
            Ok((by_kid, unnamed)) => {
                tracing::debug!(issuer = %self.config.issuer, keys = by_kid.len() + unnamed.len(), "fetched JWKS");
                c.by_kid = by_kid;
                c.unnamed = unnamed;
                c.fetched_at = Some(now);
                c.find(kid).ok_or_else(unknown)
            }
            Err(e) => {
                tracing::warn!(issuer = %self.config.issuer, url = %self.config.jwks_url, error = %e, "JWKS fetch failed");
                c.find(kid).ok_or(AuthError::KeysUnavailable(e))
            }
        }
    }

    #[allow(clippy::type_complexity)]
    async fn fetch(
        &self,
    ) -> Result<(HashMap<String, Arc<DecodingKey>>, Vec<Arc<DecodingKey>>), String> {
        let resp = self
            .client
            .get(&self.config.jwks_url)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let resp = resp.error_for_status().map_err(|e| e.to_string())?;
        if resp
            .content_length()
            .is_some_and(|n| n > MAX_JWKS_BYTES as u64)
        {
            return Err("the key set is too large".into());
        }
        let bytes = resp.bytes().await.map_err(|e| e.to_string())?;
        if bytes.len() > MAX_JWKS_BYTES {
            return Err("the key set is too large".into());
        }
        parse_jwks(&bytes)
    }
}

/// Keeps the usable keys: RSA signing keys for RS256. Keys of other kinds are skipped one by
/// one rather than failing the whole set, since providers publish encryption and EC keys too.
#[allow(clippy::type_complexity)]
fn parse_jwks(
    bytes: &[u8],
) -> Result<(HashMap<String, Arc<DecodingKey>>, Vec<Arc<DecodingKey>>), String> {
    let doc: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| format!("not JSON: {e}"))?;
    let keys = doc
        .get("keys")
        .and_then(|k| k.as_array())
        .ok_or("no \"keys\" array")?;
    let mut by_kid = HashMap::new();
    let mut unnamed = Vec::new();
    for raw in keys {
        let Ok(jwk) = serde_json::from_value::<Jwk>(raw.clone()) else {
            continue;
        };
        if !matches!(jwk.algorithm, AlgorithmParameters::RSA(_)) {
            continue;
        }
        if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
            continue;
        }
        if jwk
            .common
            .key_algorithm
            .is_some_and(|a| a != KeyAlgorithm::RS256)
        {
            continue;
        }
        let Ok(key) = DecodingKey::from_jwk(&jwk) else {
            continue;
        };
        match jwk.common.key_id {
            Some(kid) => {
                by_kid.insert(kid, Arc::new(key));
            }
            None => unnamed.push(Arc::new(key)),
        }
    }
    Ok((by_kid, unnamed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jwks_parsing_keeps_only_rsa_signing_keys() {
        let doc = br#"{"keys":[
            {"kty":"RSA","kid":"a","use":"sig","n":"sXch","e":"AQAB"},
            {"kty":"RSA","kid":"enc","use":"enc","n":"sXch","e":"AQAB"},
            {"kty":"EC","kid":"ec","crv":"P-256","x":"AA","y":"AA"},
            {"kty":"oct","kid":"h","k":"c2VjcmV0"},
            {"kty":"weird"}
        ]}"#;
        let (by_kid, unnamed) = parse_jwks(doc).unwrap();
        assert_eq!(by_kid.keys().collect::<Vec<_>>(), vec!["a"]);
        assert!(unnamed.is_empty());
        assert!(parse_jwks(b"[]").is_err());
    }

    #[test]
    fn config_must_name_an_http_url() {
        assert!(OidcVerifier::new(OidcIssuer::new("i", "not a url"), vec![]).is_err());
        assert!(OidcVerifier::new(OidcIssuer::new("i", "file:///etc/passwd"), vec![]).is_err());
        assert!(OidcVerifier::new(OidcIssuer::new("", "http://127.0.0.1/keys"), vec![]).is_err());
    }
}
