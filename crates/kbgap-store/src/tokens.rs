//! Tokens kbgap issued, and which of them are revoked.
//!
//! A bearer token is valid until its `exp` by design: nothing in it can be taken back. So every
//! token kbgap signs is recorded here (by its `jti`) and revocation is a fact in the store that
//! every server reads: the revoked `jti`s, and a cut-off ("every token issued before …") that
//! also reaches tokens never recorded, such as those made by a kbgap older than the record.
//! A counter bumped by every revocation lets a server poll with one tiny query.

use chrono::{DateTime, Utc};

/// A token as recorded when it was issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedToken {
    /// The token's `jti` (32 lowercase hex digits for tokens kbgap signs).
    pub jti: String,
    /// Who it was issued to: the application id (`appid`/`sub`).
    pub subject: String,
    /// Its application roles.
    pub roles: Vec<String>,
    /// The computer an `Inventory.Submit` token is bound to, if any.
    pub machine: Option<String>,
    /// `iat`.
    pub issued_at: DateTime<Utc>,
    /// `exp`.
    pub expires_at: DateTime<Utc>,
    /// When it was revoked (by its id or by a cut-off), if it was.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// What a server must refuse, as of one revocation generation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Revocations {
    /// Bumped by every revocation; 0 when nothing was ever revoked.
    pub generation: i64,
    /// The revoked tokens that have not expired yet (an expired one is refused anyway).
    pub jtis: Vec<String>,
    /// Tokens kbgap issued before this instant are refused, recorded or not.
    pub issued_before: Option<DateTime<Utc>>,
}

/// What revoking one token did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevokeOutcome {
    /// It is revoked now.
    Revoked,
    /// It already was, since this instant.
    AlreadyRevoked(DateTime<Utc>),
}

/// Roles as one column: space-separated (a role never contains a space).
pub fn join_roles(roles: &[String]) -> String {
    roles.join(" ")
}

/// The column written by [`join_roles`], back as a list.
pub fn split_roles(column: &str) -> Vec<String> {
    column.split_whitespace().map(str::to_owned).collect()
}
