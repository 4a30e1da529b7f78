//! `kbgap token revoke`: one token by jti, or every token issued before a date.

use anyhow::{Result, bail};
use chrono::{DateTime, SecondsFormat, Utc};
use kbgap_service::tokens;
use kbgap_store::tokens::RevokeOutcome;

use crate::context::Context;

/// Revokes `jti` or, with `issued_before`, every token issued before it; says what it did on
/// stderr (stdout stays empty for scripts).
pub async fn run(
    ctx: &Context,
    jti: Option<&str>,
    issued_before: Option<DateTime<Utc>>,
) -> Result<()> {
    let store = ctx.open_store().await?;
    let now = Utc::now();
    let at = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Secs, true);
    match (jti, issued_before) {
        (Some(id), None) => match tokens::revoke(store.as_ref(), id, now).await? {
            (jti, RevokeOutcome::Revoked) => eprintln!(
                "kbgap: revoked token {jti}; servers on {} refuse it within seconds",
                store.describe()
            ),
            (jti, RevokeOutcome::AlreadyRevoked(when)) => {
                eprintln!("kbgap: token {jti} was already revoked at {}", at(when));
            }
        },
        (None, Some(cutoff)) => {
            let n = tokens::revoke_issued_before(store.as_ref(), cutoff, now).await?;
            eprintln!(
                "kbgap: every token issued before {} is refused now ({n} recorded token{} newly revoked)",
                at(cutoff),
                if n == 1 { "" } else { "s" }
            );
        }
        _ => bail!("give a jti or --issued-before DATE, not both"),
    }
    Ok(())
}
