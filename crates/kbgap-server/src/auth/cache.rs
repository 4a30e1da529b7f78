//! Tokens already verified, so that a client sending the same bearer token on every request
//! (all of them do, for the token's hour) pays for one signature check, not one per request.
//! An ES256 or RS256 verification costs more than answering most requests from memory.
//!
//! Entries are keyed by the whole token, signature included, so a token that differs in any
//! byte is verified afresh. Time-bound claims are checked again on every hit, and an entry is
//! dropped after [`MAX_AGE`] even if the token lives longer, so a key that an issuer withdraws
//! from its JWKS stops being honoured within that time. Revocation is checked on every hit
//! against the live [`RevocationList`], so a revoked token is refused as soon as the list has
//! it, cached or not.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use kbgap_service::tokens::RevocationList;

use super::{AuthError, Principal, Verified};

/// How long a verification is reused.
pub const MAX_AGE: Duration = Duration::from_secs(300);
/// How many tokens are remembered; when full, the cache starts over (tokens are few: one per
/// client application, renewed hourly).
const CAPACITY: usize = 4096;

/// A verification and when it was made.
struct Entry {
    verified: Verified,
    at: Instant,
}

/// The cache.
#[derive(Default)]
pub struct TokenCache {
    entries: Mutex<HashMap<String, Entry>>,
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
    /// its time bounds give now (with `leeway` seconds of clock skew, as in verification) or
    /// `revoked` gives.
    pub fn get(
        &self,
        token: &str,
        leeway: u64,
        revoked: &RevocationList,
    ) -> Option<Result<Principal, AuthError>> {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let e = entries.get(token)?;
        if e.at.elapsed() > MAX_AGE {
            entries.remove(token);
            return None;
        }
        let v = &e.verified;
        let now = now_secs();
        if now > v.exp.saturating_add(leeway) {
            entries.remove(token);
            return Some(Err(AuthError::Expired));
        }
        if v.nbf.is_some_and(|nbf| nbf > now.saturating_add(leeway)) {
            return Some(Err(AuthError::NotYetValid));
        }
        if revoked.is_revoked(v.jti.as_deref(), v.iat, v.local) {
            return Some(Err(AuthError::Revoked));
        }
        Some(Ok(v.principal.clone()))
    }

    /// Remembers a verified token.
    pub fn put(&self, token: &str, verified: Verified) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= CAPACITY {
            entries.clear();
        }
        entries.insert(
            token.to_owned(),
            Entry {
                verified,
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

    fn v(exp: u64, nbf: Option<u64>, jti: &str) -> Verified {
        Verified {
            principal: p(),
            exp,
            nbf,
            jti: Some(jti.into()),
            iat: Some(now_secs() as i64),
            local: true,
        }
    }

    #[test]
    fn hits_only_the_same_token_and_rechecks_time() {
        let c = TokenCache::default();
        let none = RevocationList::default();
        let now = now_secs();
        c.put("a.b.c", v(now + 100, None, "1"));
        assert_eq!(c.get("a.b.c", 0, &none).unwrap().unwrap(), p());
        assert!(
            c.get("a.b.d", 0, &none).is_none(),
            "another signature is another token"
        );
        c.put("old", v(now - 120, None, "2"));
        assert!(matches!(
            c.get("old", 60, &none),
            Some(Err(AuthError::Expired))
        ));
        assert!(
            c.get("old", 60, &none).is_none(),
            "an expired entry is dropped"
        );
        c.put("early", v(now + 100, Some(now + 1000), "3"));
        assert!(matches!(
            c.get("early", 60, &none),
            Some(Err(AuthError::NotYetValid))
        ));
    }

    #[test]
    fn a_cached_token_is_refused_once_revoked() {
        let c = TokenCache::default();
        let list = RevocationList::default();
        c.put("a.b.c", v(now_secs() + 100, None, "j1"));
        assert!(c.get("a.b.c", 0, &list).unwrap().is_ok());
        list.replace(kbgap_store::tokens::Revocations {
            generation: 1,
            jtis: vec!["j1".into()],
            issued_before: None,
        });
        assert!(matches!(
            c.get("a.b.c", 0, &list),
            Some(Err(AuthError::Revoked))
        ));
    }
}
