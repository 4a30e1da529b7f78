//! `kbgap token`: bearer tokens from this kbgap's own issuer, recorded in the store so that
//! `kbgap token list` shows them and `kbgap token revoke` takes them back.

mod list;
mod revoke;

use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use chrono::{DateTime, Utc};
use kbgap_server::auth::{INVENTORY_SUBMIT, Permission, lifetime, perm};
use kbgap_store::tokens::IssuedToken;

use crate::cli::{IssueArgs, TokenArgs, TokenCommand};
use crate::context::Context;

/// The application roles kbgap's endpoints check, read from the endpoints' own permissions so
/// the list cannot drift from what the server enforces. A token with any other role (a typo,
/// a delegated scope such as `Machine.Read`) would be refused by every endpoint: better to say so
/// when it is made than at the first 403.
fn known_roles() -> Vec<&'static str> {
    let mut roles: Vec<&'static str> = [
        perm::MachineMissingKbs::APP_ROLES,
        perm::SoftwareMissingKbs::APP_ROLES,
        perm::MachinesRead::APP_ROLES,
        perm::MachineSoftwareRead::APP_ROLES,
        perm::MachineVulnerabilitiesRead::APP_ROLES,
        perm::SoftwareRead::APP_ROLES,
        perm::VulnerabilitiesRead::APP_ROLES,
        perm::InventoryWrite::APP_ROLES,
    ]
    .concat();
    roles.push(INVENTORY_SUBMIT);
    roles.sort_unstable();
    roles.dedup();
    roles
}

/// Refuses roles no endpoint checks, naming them and the known ones.
fn check_roles(roles: &[String]) -> Result<()> {
    let known = known_roles();
    let unknown: Vec<&str> = (roles.iter())
        .map(|r| r.trim())
        .filter(|r| !known.contains(r))
        .collect();
    if !unknown.is_empty() {
        bail!(
            "unknown role{} {}; kbgap knows {}",
            if unknown.len() == 1 { "" } else { "s" },
            unknown.join(", "),
            known.join(", ")
        );
    }
    Ok(())
}

/// `kbgap token [list|revoke]`.
pub async fn run(ctx: &Context, args: &TokenArgs) -> Result<()> {
    match &args.command {
        None => issue(ctx, &args.issue).await,
        Some(TokenCommand::List { format, all }) => list::run(ctx, *format, *all).await,
        Some(TokenCommand::Revoke { jti, issued_before }) => {
            revoke::run(ctx, jti.as_deref(), *issued_before).await
        }
    }
}

/// The lifetime asked for, or the roles' default; refused beyond the roles' maximum.
fn lifetime(roles: &[String], asked: Option<Duration>) -> Result<Duration> {
    let limit = lifetime::for_roles(roles);
    let ttl = asked.unwrap_or(limit.default);
    if ttl.is_zero() {
        bail!("--ttl must be at least 1 second");
    }
    if ttl > limit.max {
        bail!(
            "--ttl {} is longer than {} allows ({}): issue a shorter-lived token and renew it",
            human(ttl),
            roles.join(","),
            human(limit.max)
        );
    }
    Ok(ttl)
}

/// `90d`, `8h`, `15m`, `42s`: the largest unit that divides evenly.
pub(crate) fn human(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3_600 == 0 => format!("{}h", s / 3_600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// Signs a token, records it in the store, then prints it: a token the store does not know
/// could not be revoked by id, so none is printed unless recorded.
async fn issue(ctx: &Context, args: &IssueArgs) -> Result<()> {
    check_roles(&args.roles)?;
    let roles: Vec<String> = args.roles.iter().map(|r| r.trim().to_owned()).collect();
    // A bound token with read roles would read the whole fleet: exactly what binding is meant
    // to prevent.
    if args.machine.is_some() && roles.iter().any(|r| r != INVENTORY_SUBMIT) {
        bail!(
            "--machine binds an {INVENTORY_SUBMIT} token: give --roles {INVENTORY_SUBMIT} and no other role"
        );
    }
    let ttl = lifetime(&roles, args.ttl)?;
    let issuer = crate::signing::local_issuer(ctx, None).await?;
    let signed = issuer.issue_app(
        &roles,
        args.machine.as_deref(),
        &args.tenant,
        &args.app,
        ttl,
    )?;
    let store = ctx.open_store().await?;
    let at = |secs: u64| {
        i64::try_from(secs)
            .ok()
            .and_then(|s| DateTime::<Utc>::from_timestamp(s, 0))
            .context("token times out of range")
    };
    let record = IssuedToken {
        jti: signed.jti.clone(),
        subject: args.app.clone(),
        roles,
        machine: args.machine.as_ref().map(|m| m.trim().to_owned()),
        issued_at: at(signed.issued_at)?,
        expires_at: at(signed.expires_at)?,
        revoked_at: None,
    };
    store
        .record_token(&record)
        .await
        .with_context(|| format!("recording the token in {}", store.describe()))?;
    println!("{}", signed.token);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_roles_are_the_application_roles_endpoints_check() {
        assert_eq!(
            known_roles(),
            [
                "Inventory.Submit",
                "Machine.Read.All",
                "Machine.ReadWrite.All",
                "Software.Read.All",
                "Vulnerability.Read.All"
            ]
        );
        assert!(check_roles(&["Machine.Read.All".into()]).is_ok());
        let e = check_roles(&["Machine.Read.All".into(), "Machine.Raed.All".into()]);
        assert!(
            e.unwrap_err()
                .to_string()
                .contains("unknown role Machine.Raed.All")
        );
    }

    #[test]
    fn lifetimes_default_by_role_and_are_capped() {
        let r = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let day = 86_400;
        assert_eq!(
            lifetime(&r(&["Inventory.Submit"]), None).unwrap().as_secs(),
            90 * day
        );
        assert_eq!(
            lifetime(&r(&["Machine.Read.All"]), None).unwrap().as_secs(),
            8 * 3600
        );
        let e = lifetime(
            &r(&["Machine.ReadWrite.All"]),
            Some(Duration::from_secs(8 * day)),
        );
        assert!(e.unwrap_err().to_string().contains("(7d)"));
        assert!(lifetime(&r(&["Machine.Read.All"]), Some(Duration::ZERO)).is_err());
        assert_eq!(human(Duration::from_secs(5400)), "90m");
    }
}
