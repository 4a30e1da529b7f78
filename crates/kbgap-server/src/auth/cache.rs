//! Tokens already verified, so that a client sending the same bearer token on every request
//! (all of them do, for the token's hour) pays for one signature check, not one per request.
//! An ES256 or RS256 verification costs more than answering most requests from memory.
//!
//! Entries are keyed by the whole token, signature included, so a token that differs in any
//! byte is verified afresh. Time-bound claims are checked again on every hit, and an entry is
//! dropped after [`MAX_AGE`] even if the token lives longer, so a key that an issuer withdraws
//! from its JWKS stops being honoured within that time.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::{AuthError, Principal};

/// How long a verification is reused.
pub const MAX_AGE: Duration = Duration::from_secs(300);
/// How many tokens are remembered; when full, the cache starts over (tokens are few: one per
/// client application, renewed hourly).
const CAPACITY: usize = 4096;

/// What a verification established.
#[derive(Clone)]
struct Verified {
    principal: Principal,
    exp: u64,
    nbf: Option<u64>,
    at: Instant,
}

/// The cache.
#[derive(Default)]
pub struct TokenCache {
    entries: Mutex<HashMap<String, Verified>>,
}

impl std::fmt::Debug for TokenCache {
    /// Never prints the tokens.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.entries.lock().map_or(0, |e| e.len());
        f.debug_struct("TokenCache").field("tokens", &n).finish()
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl TokenCache {
    /// The caller of a token verified before: `None` when unknown (verify it), or the refusal
    /// its time bounds give now (with `leeway` seconds of clock skew, as in verification).
    pub fn get(&self, token: &str, leeway: u64) -> Option<Result<Principal, AuthError>> {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let v = entries.get(token)?;
        if v.at.elapsed() > MAX_AGE {
            entries.remove(token);
            return None;
        }
        let now = now_secs();
        if now > v.exp.saturating_add(leeway) {
            entries.remove(token);
            return Some(Err(AuthError::Expired));
        }
        if v.nbf.is_some_and(|nbf| nbf > now.saturating_add(leeway)) {
            return Some(Err(AuthError::NotYetValid));
        }
        Some(Ok(v.principal.clone()))
    }

    /// Remembers a verified token.
    pub fn put(&self, token: &str, principal: &Principal, exp: u64, nbf: Option<u64>) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= CAPACITY {
            entries.clear();
        }
        entries.insert(
            token.to_owned(),
            Verified {
                principal: principal.clone(),
                exp,
                nbf,
                at: Instant::now(),
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p() -> Principal {
        Principal {
            app_id: "app".into(),
            tenant_id: "t".into(),
            roles: vec!["Machine.Read.All".into()],
            scopes: vec![],
            subject: "s".into(),
            issuer: "i".into(),
            machine: None,
        }
    }

    #[test]
    fn hits_only_the_same_token_and_rechecks_time() {
        let c = TokenCache::default();
        let now = now_secs();
        c.put("a.b.c", &p(), now + 100, None);
        assert_eq!(c.get("a.b.c", 0).unwrap().unwrap(), p());
        assert!(
            c.get("a.b.d", 0).is_none(),
            "another signature is another token"
        );
        c.put("old", &p(), now - 120, None);
        assert!(matches!(c.get("old", 60), Some(Err(AuthError::Expired))));
        assert!(c.get("old", 60).is_none(), "an expired entry is dropped");
        c.put("early", &p(), now + 100, Some(now + 1000));
        assert!(matches!(
            c.get("early", 60),
            Some(Err(AuthError::NotYetValid))
        ));
    }
}
