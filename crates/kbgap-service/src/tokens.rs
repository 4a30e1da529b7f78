//! Token revocation for running servers, and the revoke/list operations of `kbgap token`.
//!
//! The store holds what is revoked (`kbgap_store::tokens`); a server keeps a copy in memory
//! ([`RevocationList`], consulted on every request, cached verifications included) and
//! [`follow`]s the store's revocation generation, so a `kbgap token revoke` made by any
//! process reaches every server on the store within one poll interval.

use std::collections::HashSet;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use kbgap_store::tokens::{IssuedToken, Revocations, RevokeOutcome};
use kbgap_store::{Store, StoreError};

use crate::ServiceError;

/// How often `serve` polls the revocation generation: a revoked token is refused within about
/// this long (plus one query).
pub const DEFAULT_POLL: Duration = Duration::from_secs(1);

/// The shortest `jti` prefix `kbgap token revoke` accepts: 8 hex digits are 4 billion values.
pub const MIN_PREFIX: usize = 8;

/// What one server refuses now. Cheap to consult: one read lock and a hash lookup.
#[derive(Debug, Default)]
pub struct RevocationList {
    current: RwLock<Arc<Snapshot>>,
}

#[derive(Debug, Default)]
struct Snapshot {
    generation: i64,
    jtis: HashSet<String>,
    /// Seconds since the epoch.
    issued_before: Option<i64>,
}

impl RevocationList {
    /// Whether a verified token must be refused: its `jti` is revoked, or it came from kbgap's
    /// own issuer (`local`) with an `iat` before the cut-off. A local token without `iat` is
    /// refused once a cut-off exists: nothing shows it was issued after it.
    pub fn is_revoked(&self, jti: Option<&str>, iat: Option<i64>, local: bool) -> bool {
        let s = Arc::clone(&self.current.read().unwrap_or_else(|e| e.into_inner()));
        if jti.is_some_and(|j| s.jtis.contains(j)) {
            return true;
        }
        match (local, s.issued_before) {
            (true, Some(cutoff)) => iat.is_none_or(|iat| iat < cutoff),
            _ => false,
        }
    }

    /// The store's revocation generation this list reflects.
    pub fn generation(&self) -> i64 {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .generation
    }

    /// Takes the store's revocations as the new state.
    pub fn replace(&self, r: Revocations) {
        let next = Arc::new(Snapshot {
            generation: r.generation,
            jtis: r.jtis.into_iter().collect(),
            issued_before: r.issued_before.map(|t| t.timestamp()),
        });
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = next;
    }

    /// Reads the store's revocations now (at start, before the port opens).
    pub async fn load(&self, store: &dyn Store) -> Result<(), StoreError> {
        self.replace(store.revocations(Utc::now()).await?);
        Ok(())
    }
}

/// Polls `store` every `interval` forever (spawn it) and reloads `list` when the generation
/// moved. A failed poll keeps the list as it is and is logged once until polls succeed again.
pub async fn follow(store: Arc<dyn Store>, list: Arc<RevocationList>, interval: Duration) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing = false;
    loop {
        ticks.tick().await;
        let polled = match store.revocation_generation().await {
            Ok(g) if g == list.generation() => Ok(false),
            Ok(_) => list.load(store.as_ref()).await.map(|()| true),
            Err(e) => Err(e),
        };
        match polled {
            Ok(changed) => {
                if changed {
                    tracing::info!(generation = list.generation(), "token revocations reloaded");
                }
                failing = false;
            }
            Err(e) if !failing => {
                tracing::warn!("reading token revocations failed (the last list stays): {e}");
                failing = true;
            }
            Err(e) => tracing::debug!("reading token revocations still fails: {e}"),
        }
    }
}

/// The recorded token a `jti` or a unique prefix of one (at least [`MIN_PREFIX`] characters)
/// names.
pub fn find<'a>(tokens: &'a [IssuedToken], id: &str) -> Result<&'a IssuedToken, ServiceError> {
    let id = id.trim().to_ascii_lowercase();
    if let Some(t) = tokens.iter().find(|t| t.jti == id) {
        return Ok(t);
    }
    if id.len() < MIN_PREFIX {
        return Err(ServiceError::Invalid(format!(
            "no issued token has jti {id:?} (give the whole jti or at least {MIN_PREFIX} of its first characters; see kbgap token list)"
        )));
    }
    let matching: Vec<&IssuedToken> = tokens.iter().filter(|t| t.jti.starts_with(&id)).collect();
    match matching.as_slice() {
        [one] => Ok(one),
        [] => Err(ServiceError::Invalid(format!(
            "no issued token has a jti starting with {id} (see kbgap token list)"
        ))),
        many => Err(ServiceError::Invalid(format!(
            "{} issued tokens have a jti starting with {id}: give more of it",
            many.len()
        ))),
    }
}

/// Revokes the recorded token named by `id` (a `jti` or a unique prefix): its full `jti` and
/// what happened.
pub async fn revoke(
    store: &dyn Store,
    id: &str,
    now: DateTime<Utc>,
) -> Result<(String, RevokeOutcome), ServiceError> {
    let tokens = store.issued_tokens().await?;
    let jti = find(&tokens, id)?.jti.clone();
    let outcome = store.revoke_token(&jti, now).await?;
    Ok((jti, outcome))
}

/// Refuses every token issued before `cutoff`; refuses a cut-off in the future (it would also
/// refuse tokens not issued yet). Gives the number of recorded tokens newly revoked.
pub async fn revoke_issued_before(
    store: &dyn Store,
    cutoff: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<u64, ServiceError> {
    if cutoff > now {
        return Err(ServiceError::Invalid(format!(
            "--issued-before {} is in the future: it would also refuse tokens not issued yet",
            cutoff.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        )));
    }
    Ok(store
        .revoke_issued_before(whole_second_up(cutoff), now)
        .await?)
}

/// `cutoff` rounded up to a whole second: a token's `iat` is whole seconds, so a token issued
/// in the cut-off's second, before it, is refused too (and one issued after it in that second
/// as well: refusing one token too many is the safe side).
fn whole_second_up(cutoff: DateTime<Utc>) -> DateTime<Utc> {
    let floor = cutoff.timestamp();
    let secs = if cutoff.timestamp_subsec_nanos() > 0 {
        floor + 1
    } else {
        floor
    };
    DateTime::from_timestamp(secs, 0).unwrap_or(cutoff)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(jti: &str) -> IssuedToken {
        IssuedToken {
            jti: jti.into(),
            subject: "s".into(),
            roles: vec![],
            machine: None,
            issued_at: Utc::now(),
            expires_at: Utc::now(),
            revoked_at: None,
        }
    }

    #[test]
    fn finds_by_jti_or_unique_prefix() {
        let all = [
            rec("abcdef0123456789"),
            rec("abcdef0199999999"),
            rec("ffff"),
        ];
        assert_eq!(find(&all, "FFFF").unwrap().jti, "ffff");
        assert_eq!(find(&all, "abcdef012").unwrap().jti, "abcdef0123456789");
        let e = find(&all, "abcdef01").unwrap_err().to_string();
        assert!(e.contains("2 issued tokens"), "{e}");
        let e = find(&all, "abc").unwrap_err().to_string();
        assert!(e.contains("at least 8"), "{e}");
        assert!(find(&all, "0000000000").is_err());
    }

    #[test]
    fn cutoffs_round_up_to_whole_seconds() {
        let t = DateTime::from_timestamp(100, 1).unwrap();
        assert_eq!(whole_second_up(t).timestamp(), 101);
        let exact = DateTime::from_timestamp(100, 0).unwrap();
        assert_eq!(whole_second_up(exact), exact);
    }

    #[test]
    fn refuses_revoked_ids_and_local_tokens_before_the_cutoff() {
        let list = RevocationList::default();
        assert!(!list.is_revoked(Some("a"), Some(10), true));
        list.replace(Revocations {
            generation: 4,
            jtis: vec!["a".into()],
            issued_before: DateTime::from_timestamp(100, 0),
        });
        assert_eq!(list.generation(), 4);
        assert!(list.is_revoked(Some("a"), Some(500), false));
        assert!(list.is_revoked(Some("b"), Some(99), true));
        assert!(!list.is_revoked(Some("b"), Some(100), true));
        assert!(list.is_revoked(None, None, true));
        assert!(
            !list.is_revoked(Some("b"), Some(99), false),
            "the cut-off is about kbgap's own tokens"
        );
    }
}
