//! The fleet's daily snapshot, for the dashboard's posture trend.
//!
//! `kbgap serve` records today's [`FleetCounts`] when it starts and again at the start of
//! every UTC day ([`run_daily`]); the store keeps one row per day, the latest recording
//! winning ([`kbgap_store::Store::put_fleet_snapshot`]), so a restart or a second replica
//! only refreshes the day's row. [`trend`] reads the rows back for a range of days.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use kbgap_store::FleetSnapshot;

use crate::queries::counts::{FleetCounts, fleet_counts};
use crate::{FleetService, ServiceError};

/// How long a failed recording waits before it is tried again (within the same day).
const RETRY_AFTER: Duration = Duration::from_secs(300);

/// Computes the fleet's counts now (by the service's clock) and stores them as today's
/// snapshot; gives back what was recorded.
pub async fn record(fleet: &Arc<FleetService>) -> Result<FleetSnapshot, ServiceError> {
    let counts: FleetCounts = fleet.with_view(|view, cat| fleet_counts(cat, view)).await?;
    let snapshot = counts.snapshot(fleet.clock().now());
    fleet.store().put_fleet_snapshot(&snapshot).await?;
    Ok(snapshot)
}

/// The stored snapshots of the `days` UTC days up to and including today (by the service's
/// clock), oldest first; days nothing was recorded on are absent, so a chart shows a gap
/// rather than an invented value.
pub async fn trend(fleet: &FleetService, days: u32) -> Result<Vec<FleetSnapshot>, ServiceError> {
    let today = fleet.clock().now().date_naive();
    let from = today - TimeDelta::days(i64::from(days.max(1)) - 1);
    Ok(fleet.store().fleet_snapshots(from, today).await?)
}

/// The snapshots of the days from `from` to `to`, both included, oldest first.
pub async fn range(
    fleet: &FleetService,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<FleetSnapshot>, ServiceError> {
    Ok(fleet.store().fleet_snapshots(from, to).await?)
}

/// How long from `now` until the next UTC midnight (at least a second).
pub fn until_next_day(now: DateTime<Utc>) -> Duration {
    let tomorrow = (now.date_naive() + TimeDelta::days(1))
        .and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc())
        .unwrap_or(now + TimeDelta::days(1));
    (tomorrow - now)
        .to_std()
        .unwrap_or(Duration::ZERO)
        .max(Duration::from_secs(1))
}

/// Records today's snapshot now and then at the start of each UTC day, forever. A failed
/// recording is logged and retried every five minutes until it succeeds or the day ends.
pub async fn run_daily(fleet: Arc<FleetService>) {
    loop {
        match record(&fleet).await {
            Ok(s) => tracing::info!(
                day = %s.day,
                active = s.active,
                missing_any = s.missing_any,
                missing_exploited = s.missing_exploited,
                "fleet snapshot recorded"
            ),
            Err(e) => {
                let wait = until_next_day(fleet.clock().now());
                tracing::warn!("recording the fleet snapshot failed: {e}");
                if wait > RETRY_AFTER {
                    tokio::time::sleep(RETRY_AFTER).await;
                    continue;
                }
            }
        }
        tokio::time::sleep(until_next_day(fleet.clock().now())).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_day_starts_at_utc_midnight() {
        let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        assert_eq!(
            until_next_day(t("2026-12-03T23:59:00Z")),
            Duration::from_secs(60)
        );
        assert_eq!(
            until_next_day(t("2026-12-03T00:00:00Z")),
            Duration::from_secs(86_400)
        );
        assert_eq!(
            until_next_day(t("2026-12-31T12:00:00+02:00")),
            Duration::from_secs(12 * 3600 + 2 * 3600)
        );
    }
}
