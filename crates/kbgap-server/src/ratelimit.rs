//! Rate limits per application and tenant, per endpoint class, with Defender's defaults.
//!
//! Defender throttles each API per calling application and tenant and answers 429 with
//! `Retry-After`; clients written for it (PSMDE, SOAR connectors) already back off on that, so
//! kbgap limits the same way, which also protects a small server from one runaway script.
//!
//! Each quota ("100 calls per 60 s") is enforced with GCRA, the algorithm of the `governor`
//! crate: a burst of up to the whole quota, then calls spaced by period/calls. Several quotas on
//! one class (per minute and per hour) are checked together and a call is counted only when all
//! allow it, which two independent `governor` limiters could not do. The state is one timestamp
//! per (class, app, tenant, quota), kept in a map under a mutex that is held for nanoseconds.
//!
//! Defaults and their sources (Microsoft Learn, Defender for Endpoint API pages):
//! * machines (`get-machines`, `get-machine-by-id`): 100 calls/minute and 1,500 calls/hour;
//! * a machine's vulnerabilities (`get-discovered-vulnerabilities`): 50/minute and 1,500/hour;
//! * everything else Defender serves (getmissingkbs, software, machinesVulnerabilities,
//!   `$metadata`): the general API terms of use, "API calls per connection: 100 per 60 seconds";
//! * `POST /api/inventory` is kbgap's own and unlimited by default (fleet imports are bulk).

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::auth::Principal;
use crate::error::ApiError;

/// Groups of endpoints that share a limit (Defender limits each API separately).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EndpointClass {
    /// `GET /api/$metadata`.
    Metadata,
    /// Both getmissingkbs endpoints.
    MissingKbs,
    /// `GET /api/machines`, `GET /api/machines/{id}`.
    Machines,
    /// `GET /api/machines/{id}/vulnerabilities`.
    MachineVulnerabilities,
    /// `GET /api/Software…`, `GET /api/machines/{id}/software`.
    Software,
    /// `GET /api/Software/{id}/vulnerabilities`, `GET /api/vulnerabilities/machinesVulnerabilities`.
    Vulnerabilities,
    /// `POST /api/inventory`.
    Inventory,
}

impl EndpointClass {
    /// Every class, for configuration listings.
    pub const ALL: [EndpointClass; 7] = [
        Self::Metadata,
        Self::MissingKbs,
        Self::Machines,
        Self::MachineVulnerabilities,
        Self::Software,
        Self::Vulnerabilities,
        Self::Inventory,
    ];
}

/// `calls` per `period`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    /// Calls allowed in one period (0 refuses everything).
    pub calls: u32,
    /// The period.
    pub period: Duration,
}

impl Quota {
    /// `calls` per minute.
    pub const fn per_minute(calls: u32) -> Self {
        Self {
            calls,
            period: Duration::from_secs(60),
        }
    }
    /// `calls` per hour.
    pub const fn per_hour(calls: u32) -> Self {
        Self {
            calls,
            period: Duration::from_secs(3600),
        }
    }
}

/// The quotas of each class. A class without quotas is unlimited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimitConfig {
    /// Quotas per class.
    pub quotas: BTreeMap<EndpointClass, Vec<Quota>>,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self::defender_defaults()
    }
}

impl RateLimitConfig {
    /// Defender's documented limits (see the module documentation for sources).
    pub fn defender_defaults() -> Self {
        use EndpointClass::*;
        let general = vec![Quota::per_minute(100)];
        let quotas = BTreeMap::from([
            (Metadata, general.clone()),
            (MissingKbs, general.clone()),
            (
                Machines,
                vec![Quota::per_minute(100), Quota::per_hour(1500)],
            ),
            (
                MachineVulnerabilities,
                vec![Quota::per_minute(50), Quota::per_hour(1500)],
            ),
            (Software, general.clone()),
            (Vulnerabilities, general),
            (Inventory, vec![]),
        ]);
        Self { quotas }
    }

    /// No limits at all (benchmarks, trusted single-tenant installs).
    pub fn unlimited() -> Self {
        Self {
            quotas: BTreeMap::new(),
        }
    }

    /// Replaces one class's quotas.
    pub fn set(&mut self, class: EndpointClass, quotas: Vec<Quota>) -> &mut Self {
        self.quotas.insert(class, quotas);
        self
    }
}

type Key = (EndpointClass, String, String);

/// Keyed GCRA limiter.
#[derive(Debug)]
pub struct RateLimiter {
    config: RateLimitConfig,
    origin: Instant,
    /// Theoretical arrival time of the next call, per key and quota, in nanoseconds since `origin`.
    state: Mutex<HashMap<Key, Vec<u128>>>,
}

/// Above this many keys, entries that have fully recovered are dropped.
const PRUNE_ABOVE: usize = 10_000;

impl RateLimiter {
    /// A limiter with these quotas.
    pub fn new(config: RateLimitConfig) -> Self {
        Self {
            config,
            origin: Instant::now(),
            state: Mutex::new(HashMap::new()),
        }
    }

    /// The configuration in force.
    pub fn config(&self) -> &RateLimitConfig {
        &self.config
    }

    /// Counts one call of `principal` against `class`, or refuses it with 429.
    pub fn check(&self, class: EndpointClass, principal: &Principal) -> Result<(), ApiError> {
        self.check_at(
            class,
            &principal.app_id,
            &principal.tenant_id,
            Instant::now(),
        )
        .map_err(ApiError::too_many_requests)
    }

    /// Counts one call at `now`; on refusal returns how long to wait.
    pub fn check_at(
        &self,
        class: EndpointClass,
        app: &str,
        tenant: &str,
        now: Instant,
    ) -> Result<(), Duration> {
        let quotas = match self.config.quotas.get(&class) {
            Some(q) if !q.is_empty() => q,
            _ => return Ok(()),
        };
        let now_ns = now.saturating_duration_since(self.origin).as_nanos();
        let mut map = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > PRUNE_ABOVE {
            map.retain(|_, tats| tats.iter().any(|t| *t > now_ns));
        }
        let tats = map
            .entry((class, app.to_owned(), tenant.to_owned()))
            .or_insert_with(|| vec![0; quotas.len()]);
        if tats.len() != quotas.len() {
            *tats = vec![0; quotas.len()];
        }
        let mut wait: u128 = 0;
        for (q, tat) in quotas.iter().zip(tats.iter()) {
            if q.calls == 0 {
                wait = wait.max(q.period.as_nanos());
                continue;
            }
            let period = q.period.as_nanos();
            let interval = period / u128::from(q.calls);
            let tolerance = period - interval;
            let tat = (*tat).max(now_ns);
            if tat - now_ns > tolerance {
                wait = wait.max(tat - now_ns - tolerance);
            }
        }
        if wait > 0 {
            return Err(Duration::from_nanos(
                u64::try_from(wait).unwrap_or(u64::MAX),
            ));
        }
        for (q, tat) in quotas.iter().zip(tats.iter_mut()) {
            let interval = q.period.as_nanos() / u128::from(q.calls);
            *tat = (*tat).max(now_ns) + interval;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(quotas: Vec<Quota>) -> RateLimiter {
        let mut c = RateLimitConfig::unlimited();
        c.set(EndpointClass::MissingKbs, quotas);
        RateLimiter::new(c)
    }

    #[test]
    fn allows_the_burst_then_spaces_calls() {
        let l = limiter(vec![Quota::per_minute(3)]);
        let t0 = l.origin + Duration::from_secs(1);
        for _ in 0..3 {
            assert!(
                l.check_at(EndpointClass::MissingKbs, "app", "t", t0)
                    .is_ok()
            );
        }
        let wait = l
            .check_at(EndpointClass::MissingKbs, "app", "t", t0)
            .unwrap_err();
        assert_eq!(wait, Duration::from_secs(20));
        // Other tenants, apps and classes are not affected.
        assert!(
            l.check_at(EndpointClass::MissingKbs, "app", "other", t0)
                .is_ok()
        );
        assert!(
            l.check_at(EndpointClass::MissingKbs, "other", "t", t0)
                .is_ok()
        );
        assert!(l.check_at(EndpointClass::Machines, "app", "t", t0).is_ok());
        // After the wait, one more call fits.
        let t1 = t0 + Duration::from_secs(20);
        assert!(
            l.check_at(EndpointClass::MissingKbs, "app", "t", t1)
                .is_ok()
        );
        assert!(
            l.check_at(EndpointClass::MissingKbs, "app", "t", t1)
                .is_err()
        );
    }

    #[test]
    fn all_quotas_must_allow_and_refusals_are_not_counted() {
        let l = limiter(vec![Quota::per_minute(100), Quota::per_hour(5)]);
        let t0 = l.origin;
        for _ in 0..5 {
            l.check_at(EndpointClass::MissingKbs, "a", "t", t0).unwrap();
        }
        let wait = l
            .check_at(EndpointClass::MissingKbs, "a", "t", t0)
            .unwrap_err();
        assert_eq!(wait, Duration::from_secs(720));
        // Refused calls did not consume the minute quota: after the hourly wait, one passes.
        assert!(
            l.check_at(EndpointClass::MissingKbs, "a", "t", t0 + wait)
                .is_ok()
        );
    }

    #[test]
    fn defaults_follow_defenders_documentation() {
        let c = RateLimitConfig::defender_defaults();
        assert_eq!(
            c.quotas[&EndpointClass::Machines],
            vec![Quota::per_minute(100), Quota::per_hour(1500)]
        );
        assert_eq!(
            c.quotas[&EndpointClass::MachineVulnerabilities],
            vec![Quota::per_minute(50), Quota::per_hour(1500)]
        );
        assert_eq!(
            c.quotas[&EndpointClass::MissingKbs],
            vec![Quota::per_minute(100)]
        );
        let l = RateLimiter::new(c);
        for _ in 0..1000 {
            assert!(
                l.check_at(EndpointClass::Inventory, "a", "t", l.origin)
                    .is_ok()
            );
        }
    }

    #[test]
    fn zero_quota_refuses() {
        let l = limiter(vec![Quota {
            calls: 0,
            period: Duration::from_secs(5),
        }]);
        assert_eq!(
            l.check_at(EndpointClass::MissingKbs, "a", "t", l.origin),
            Err(Duration::from_secs(5))
        );
    }
}
