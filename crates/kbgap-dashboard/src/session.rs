//! Signing in: a bearer token (kbgap's own or an OIDC issuer's) given once in a form becomes a
//! server-side session named by a random cookie.
//!
//! The cookie is HttpOnly (no script reads it), SameSite=Strict (no other site's page can make
//! the browser send it, so a forged form cannot act for the user), Secure when served over TLS,
//! and expires with the token; the token itself never goes back to the browser. Sessions live
//! in memory: a restart signs everyone out. The API never looks at this cookie: `/api/*` takes
//! bearer tokens only.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use kbgap_server::{Authenticator, Principal};
use rand::RngCore;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "kbgap_session";

/// How many sessions may exist at once; signing in past it drops the oldest-expiring first.
const MAX_SESSIONS: usize = 10_000;

/// A signed-in user.
#[derive(Debug, Clone)]
pub struct Session {
    /// Who the token said they are, with its roles.
    pub principal: Principal,
    /// When the token (and so the session) expires, seconds since the epoch.
    pub expires: i64,
}

/// The sessions, by cookie value.
#[derive(Debug, Default)]
pub struct Sessions(Mutex<HashMap<String, Session>>);

/// Why a sign-in was refused, for the form to say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignInError {
    /// The token does not verify (the authenticator's reason).
    Invalid(String),
    /// The token may only submit inventory.
    SubmitOnly,
}

impl Sessions {
    /// Verifies `token` and opens a session for it: gives the cookie value and the seconds
    /// until the token expires.
    pub async fn sign_in(
        &self,
        auth: &Authenticator,
        token: &str,
        now: i64,
    ) -> Result<(String, i64), SignInError> {
        let token = token.trim();
        let token = token
            .strip_prefix("Bearer ")
            .or_else(|| token.strip_prefix("bearer "))
            .unwrap_or(token)
            .trim();
        let principal =
            (auth.authenticate(token).await).map_err(|e| SignInError::Invalid(e.to_string()))?;
        if principal.is_submit_only() {
            return Err(SignInError::SubmitOnly);
        }
        // Verified above, so the payload's `exp` is the token's own.
        let expires = token_exp(token).ok_or_else(|| SignInError::Invalid("no exp".into()))?;
        if expires <= now {
            return Err(SignInError::Invalid("the token has expired".into()));
        }
        let mut id = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut id);
        let id = hex::encode(id);
        let mut all = self.lock();
        all.retain(|_, s| s.expires > now);
        if all.len() >= MAX_SESSIONS
            && let Some(oldest) = all
                .iter()
                .min_by_key(|(_, s)| s.expires)
                .map(|(k, _)| k.clone())
        {
            all.remove(&oldest);
        }
        all.insert(id.clone(), Session { principal, expires });
        Ok((id, expires - now))
    }

    /// The live session a cookie names.
    pub fn get(&self, id: &str, now: i64) -> Option<Session> {
        let mut all = self.lock();
        match all.get(id) {
            Some(s) if s.expires > now => Some(s.clone()),
            Some(_) => {
                all.remove(id);
                None
            }
            None => None,
        }
    }

    /// Ends a session.
    pub fn sign_out(&self, id: &str) {
        self.lock().remove(id);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A JWT's `exp` claim (seconds since the epoch), read without verifying (for a token the
/// authenticator has just verified).
pub fn token_exp(token: &str) -> Option<i64> {
    let payload = token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    v.get("exp")?.as_f64().map(|e| e as i64)
}

/// The `Set-Cookie` value of a new session.
pub fn session_cookie(id: &str, max_age: i64, secure: bool) -> String {
    format!(
        "{SESSION_COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{}",
        if secure { "; Secure" } else { "" }
    )
}

/// The `Set-Cookie` value that removes the session cookie.
pub fn cleared_cookie(secure: bool) -> String {
    session_cookie("", 0, secure)
}
