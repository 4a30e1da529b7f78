//! `kbgap token`: a bearer token from this kbgap's own issuer.

use std::time::Duration;

use anyhow::{Result, bail};
use kbgap_server::auth::{INVENTORY_SUBMIT, Permission, perm};

use crate::cli::TokenArgs;
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

pub async fn run(ctx: &Context, args: &TokenArgs) -> Result<()> {
    check_roles(&args.roles)?;
    let roles: Vec<String> = args.roles.iter().map(|r| r.trim().to_owned()).collect();
    let issuer = crate::signing::local_issuer(ctx, None).await?;
    let ttl = Duration::from_secs(args.ttl);
    let token = match &args.machine {
        Some(machine) => {
            // A bound token with read roles would read the whole fleet: exactly what binding
            // is meant to prevent.
            if roles.iter().any(|r| r != INVENTORY_SUBMIT) {
                bail!(
                    "--machine binds an {INVENTORY_SUBMIT} token: give --roles {INVENTORY_SUBMIT} and no other role"
                );
            }
            issuer.issue_for_machine(machine, &args.tenant, &args.app, ttl)?
        }
        None => issuer.issue(&roles, &args.tenant, &args.app, ttl)?,
    };
    println!("{token}");
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
}
