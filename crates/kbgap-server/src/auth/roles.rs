//! Permissions: which application roles or delegated scopes an endpoint needs.
//!
//! Defender distinguishes application tokens (permissions in `roles`) from delegated tokens
//! (a user's permissions in `scp`) and answers a token without the permission with 403 and a
//! message naming what was required and what the token had. Clients and people grep for that
//! message, so its form is Defender's:
//! `Missing application roles. API required roles: Software.Read.All, application roles: Machine.Read.All.`
//! (several roles are joined with `,` and no space, as Defender joins them).

use std::marker::PhantomData;
use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;

use super::{Authenticator, Principal};
use crate::error::ApiError;
use crate::ratelimit::{EndpointClass, RateLimiter};

/// kbgap's ingest-only role: `POST /api/inventory` and nothing else (see
/// [`Principal::is_submit_only`]), so a collector's token cannot read the fleet. A token with it
/// may be bound to one machine (`kbgap token --roles Inventory.Submit --machine NAME`).
pub const INVENTORY_SUBMIT: &str = "Inventory.Submit";

/// Permissions that include others: holding the first grants the second.
const IMPLIED: &[(&str, &str)] = &[
    ("Machine.ReadWrite.All", "Machine.Read.All"),
    ("Machine.ReadWrite", "Machine.Read"),
];

fn grants(held: &str, required: &str) -> bool {
    held == required || IMPLIED.iter().any(|(h, r)| *h == held && *r == required)
}

fn holds_any(held: &[String], required: &[&str]) -> bool {
    required.iter().any(|r| held.iter().any(|h| grants(h, r)))
}

/// Checks that `principal` may call an endpoint that accepts any of `app_roles` (application
/// tokens) or any of `delegated_scopes` (delegated tokens). Empty `app_roles` and
/// `delegated_scopes` mean any valid token. An endpoint with no delegated scope refuses
/// delegated tokens with the application-roles message.
pub fn require_roles(
    principal: &Principal,
    app_roles: &[&str],
    delegated_scopes: &[&str],
) -> Result<(), ApiError> {
    if app_roles.is_empty() && delegated_scopes.is_empty() {
        return Ok(());
    }
    if principal.is_delegated() && !delegated_scopes.is_empty() {
        if holds_any(&principal.scopes, delegated_scopes) {
            return Ok(());
        }
        return Err(ApiError::forbidden(format!(
            "Missing delegated permissions. API required delegated permissions: {}, delegated permissions: {}.",
            delegated_scopes.join(","),
            principal.scopes.join(",")
        )));
    }
    if holds_any(&principal.roles, app_roles) {
        return Ok(());
    }
    Err(ApiError::forbidden(format!(
        "Missing application roles. API required roles: {}, application roles: {}.",
        app_roles.join(","),
        principal.roles.join(",")
    )))
}

/// What an endpoint requires, as a type, so handlers state it in their signature.
pub trait Permission: Send + Sync + 'static {
    /// Application roles, any of which grants access.
    const APP_ROLES: &'static [&'static str];
    /// Delegated scopes, any of which grants access.
    const DELEGATED_SCOPES: &'static [&'static str];
    /// The rate-limit class the endpoint counts against.
    const CLASS: EndpointClass;
    /// Whether an ingest-only token ([`Principal::is_submit_only`]) may call the endpoint.
    const SUBMIT_ONLY_ALLOWED: bool = false;
}

/// An authenticated, authorized and rate-limited caller: extracting it answers 401, 403 or 429
/// in that order before the handler runs.
#[derive(Debug, Clone)]
pub struct Authorized<P> {
    /// The caller.
    pub principal: Principal,
    _permission: PhantomData<fn() -> P>,
}

impl<S, P> FromRequestParts<S> for Authorized<P>
where
    S: Send + Sync,
    P: Permission,
    Arc<Authenticator>: FromRef<S>,
    Arc<RateLimiter>: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let principal = Principal::from_request_parts(parts, state).await?;
        if principal.is_submit_only() && !P::SUBMIT_ONLY_ALLOWED {
            return Err(ApiError::forbidden(format!(
                "This token has only the {INVENTORY_SUBMIT} role: it may POST /api/inventory and nothing else."
            )));
        }
        require_roles(&principal, P::APP_ROLES, P::DELEGATED_SCOPES)?;
        Arc::<RateLimiter>::from_ref(state).check(P::CLASS, &principal)?;
        Ok(Self {
            principal,
            _permission: PhantomData,
        })
    }
}

/// The permissions of kbgap's endpoints, from Microsoft's page for each (see `mde-api.md`).
pub mod perm {
    use super::Permission;
    use crate::ratelimit::EndpointClass;

    macro_rules! permission {
        ($(#[$doc:meta])* $name:ident, [$($role:literal),*], [$($scope:literal),*], $class:ident $(, submit_only = $submit:literal)?) => {
            $(#[$doc])*
            #[derive(Debug, Clone, Copy)]
            pub struct $name;
            impl Permission for $name {
                const APP_ROLES: &'static [&'static str] = &[$($role),*];
                const DELEGATED_SCOPES: &'static [&'static str] = &[$($scope),*];
                const CLASS: EndpointClass = EndpointClass::$class;
                $(const SUBMIT_ONLY_ALLOWED: bool = $submit;)?
            }
        };
    }

    permission!(
        /// Any valid token (`GET /api/$metadata`).
        AnyToken, [], [], Metadata
    );
    permission!(
        /// `GET /api/machines/{id}/getmissingkbs`: `Software.Read.All` (Microsoft documents no
        /// delegated permission for it; kbgap accepts `Software.Read` like the software endpoint).
        MachineMissingKbs, ["Software.Read.All"], ["Software.Read"], MissingKbs
    );
    permission!(
        /// `GET /api/Software/{id}/getmissingkbs`: `Software.Read.All` or delegated `Software.Read`.
        SoftwareMissingKbs, ["Software.Read.All"], ["Software.Read"], MissingKbs
    );
    permission!(
        /// `GET /api/machines`, `GET /api/machines/{id}`: `Machine.Read.All` (or `ReadWrite`).
        MachinesRead, ["Machine.Read.All", "Machine.ReadWrite.All"], ["Machine.Read", "Machine.ReadWrite"], Machines
    );
    permission!(
        /// `GET /api/machines/{id}/software`: `Software.Read.All`.
        MachineSoftwareRead, ["Software.Read.All"], ["Software.Read"], Software
    );
    permission!(
        /// `GET /api/machines/{id}/vulnerabilities`: `Vulnerability.Read.All`.
        MachineVulnerabilitiesRead, ["Vulnerability.Read.All"], ["Vulnerability.Read"], MachineVulnerabilities
    );
    permission!(
        /// `GET /api/Software`, `/api/Software/{id}`, `/api/Software/{id}/machineReferences`.
        SoftwareRead, ["Software.Read.All"], ["Software.Read"], Software
    );
    permission!(
        /// `GET /api/Software/{id}/vulnerabilities`, `GET /api/vulnerabilities/machinesVulnerabilities`.
        VulnerabilitiesRead, ["Vulnerability.Read.All"], ["Vulnerability.Read"], Vulnerabilities
    );
    permission!(
        /// `POST /api/inventory` (kbgap's own): `Machine.ReadWrite.All`, or kbgap's ingest-only
        /// `Inventory.Submit` (for its bound machine only, when bound).
        InventoryWrite, ["Machine.ReadWrite.All", "Inventory.Submit"], ["Machine.ReadWrite"], Inventory, submit_only = true
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(roles: &[&str]) -> Principal {
        Principal {
            app_id: "a".into(),
            tenant_id: "t".into(),
            roles: roles.iter().map(|s| (*s).to_owned()).collect(),
            scopes: vec![],
            subject: "a".into(),
            issuer: "i".into(),
            machine: None,
        }
    }

    #[test]
    fn message_has_defenders_form() {
        let e = require_roles(
            &app(&["Machine.Read.All"]),
            &["Software.Read.All"],
            &["Software.Read"],
        )
        .unwrap_err();
        assert_eq!(e.status, axum::http::StatusCode::FORBIDDEN);
        assert_eq!(
            e.message,
            "Missing application roles. API required roles: Software.Read.All, application roles: Machine.Read.All."
        );
    }

    #[test]
    fn readwrite_implies_read_but_not_across_families() {
        assert!(
            require_roles(&app(&["Machine.ReadWrite.All"]), &["Machine.Read.All"], &[]).is_ok()
        );
        assert!(
            require_roles(&app(&["Machine.Read.All"]), &["Machine.ReadWrite.All"], &[]).is_err()
        );
        assert!(
            require_roles(
                &app(&["Vulnerability.Read.All"]),
                &["Software.Read.All"],
                &[]
            )
            .is_err()
        );
        assert!(
            require_roles(
                &app(&["Software.Read.All"]),
                &["Vulnerability.Read.All"],
                &[]
            )
            .is_err()
        );
        assert!(require_roles(&app(&[]), &[], &[]).is_ok());
    }

    #[test]
    fn delegated_tokens_are_checked_against_scopes() {
        let mut p = app(&[]);
        p.scopes = vec!["Machine.Read".into()];
        let e = require_roles(&p, &["Software.Read.All"], &["Software.Read"]).unwrap_err();
        assert_eq!(
            e.message,
            "Missing delegated permissions. API required delegated permissions: Software.Read, delegated permissions: Machine.Read."
        );
        p.scopes = vec!["Software.Read".into(), "openid".into()];
        assert!(require_roles(&p, &["Software.Read.All"], &["Software.Read"]).is_ok());
        // An endpoint without delegated scopes wants an application role.
        assert!(require_roles(&p, &["Software.Read.All"], &[]).is_err());
    }
}
