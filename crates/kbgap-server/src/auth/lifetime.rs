//! How long a token kbgap issues may live, by role.
//!
//! A bearer token works for whoever holds it until it expires or is revoked, so the lifetime
//! is the window a leaked token is useful. Tokens that read or change the whole fleet are
//! short-lived (renewing one is a command away); an ingest-only token is deployed to every
//! computer and renewed by redeploying the collector, so it lives longer — it can post
//! reports and do nothing else (and a bound one only for its own machine). A token with
//! several roles gets the strictest of their limits.

use std::time::Duration;

use super::roles::INVENTORY_SUBMIT;

const HOUR: u64 = 3_600;
const DAY: u64 = 24 * HOUR;

/// The longest lifetime of any token: that of `Inventory.Submit`.
pub const LONGEST: Duration = Duration::from_secs(366 * DAY);

/// A role's default lifetime and the most it may be given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetime {
    /// When `kbgap token` is given no `--ttl`.
    pub default: Duration,
    /// The longest `--ttl` accepted.
    pub max: Duration,
}

const fn days(default: u64, max: u64) -> Lifetime {
    Lifetime {
        default: Duration::from_secs(default),
        max: Duration::from_secs(max),
    }
}

/// Every role with its lifetime, for the README and `kbgap token --help`.
pub const BY_ROLE: [(&str, Lifetime); 5] = [
    (INVENTORY_SUBMIT, days(90 * DAY, 366 * DAY)),
    ("Machine.Read.All", days(8 * HOUR, 30 * DAY)),
    ("Software.Read.All", days(8 * HOUR, 30 * DAY)),
    ("Vulnerability.Read.All", days(8 * HOUR, 30 * DAY)),
    ("Machine.ReadWrite.All", days(HOUR, 7 * DAY)),
];

/// For roles not in [`BY_ROLE`] (and for no role at all).
const OTHER: Lifetime = days(HOUR, DAY);

/// The strictest lifetime over `roles`.
pub fn for_roles(roles: &[String]) -> Lifetime {
    let of = |r: &str| {
        (BY_ROLE.iter())
            .find(|(name, _)| *name == r)
            .map_or(OTHER, |(_, l)| *l)
    };
    if roles.is_empty() {
        return OTHER;
    }
    roles.iter().fold(of(&roles[0]), |acc, r| {
        let l = of(r);
        Lifetime {
            default: acc.default.min(l.default),
            max: acc.max.min(l.max),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_strictest_role_wins() {
        let r = |v: &[&str]| for_roles(&v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>());
        assert_eq!(r(&[INVENTORY_SUBMIT]).max, LONGEST);
        assert_eq!(
            r(&[INVENTORY_SUBMIT, "Machine.Read.All"]),
            days(8 * HOUR, 30 * DAY)
        );
        assert_eq!(
            r(&["Machine.Read.All", "Machine.ReadWrite.All"])
                .max
                .as_secs(),
            7 * DAY
        );
        assert_eq!(r(&[]), OTHER);
        assert!(
            BY_ROLE
                .iter()
                .all(|(_, l)| l.default <= l.max && l.max <= LONGEST)
        );
    }
}
