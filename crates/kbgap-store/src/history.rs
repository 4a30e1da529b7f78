//! The pure parts of the daily fleet snapshot ([`crate::FleetSnapshot`]) that both backends
//! share: its counts as the signed integers SQL stores, in one column order.

use crate::{ExposureCounts, FleetSnapshot, StoreError};

/// The count columns of `fleet_snapshots`, in the order of [`counts`] and [`from_counts`].
pub const COUNT_COLUMNS: [&str; 9] = [
    "assessed",
    "active",
    "missing_any",
    "missing_exploited",
    "exposure_none",
    "exposure_low",
    "exposure_medium",
    "exposure_high",
    "on_newest_update",
];

/// A snapshot's counts in [`COUNT_COLUMNS`] order, as SQL integers. A count beyond
/// `i64::MAX` (never a real fleet) is refused rather than wrapped.
pub fn counts(s: &FleetSnapshot) -> Result<[i64; 9], StoreError> {
    let e = s.exposure;
    let all = [
        s.assessed,
        s.active,
        s.missing_any,
        s.missing_exploited,
        e.none,
        e.low,
        e.medium,
        e.high,
        s.on_newest_update,
    ];
    let mut out = [0i64; 9];
    for (i, n) in all.into_iter().enumerate() {
        out[i] = i64::try_from(n).map_err(|_| {
            StoreError::Invalid(format!(
                "fleet snapshot of {}: {} = {n} is too large to store",
                s.day, COUNT_COLUMNS[i]
            ))
        })?;
    }
    Ok(out)
}

/// The counts read back in [`COUNT_COLUMNS`] order into `s` (whose `day` names it in errors);
/// a negative count is corrupt.
pub fn from_counts(mut s: FleetSnapshot, raw: [i64; 9]) -> Result<FleetSnapshot, StoreError> {
    let mut n = [0u64; 9];
    for (i, v) in raw.into_iter().enumerate() {
        n[i] = u64::try_from(v).map_err(|_| {
            StoreError::corrupt(
                format!("fleet snapshot of {}", s.day),
                format!("{} is {v}", COUNT_COLUMNS[i]),
            )
        })?;
    }
    s.assessed = n[0];
    s.active = n[1];
    s.missing_any = n[2];
    s.missing_exploited = n[3];
    s.exposure = ExposureCounts {
        none: n[4],
        low: n[5],
        medium: n[6],
        high: n[7],
    };
    s.on_newest_update = n[8];
    Ok(s)
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, NaiveDate};

    use super::*;

    fn snapshot() -> FleetSnapshot {
        FleetSnapshot {
            day: NaiveDate::from_ymd_opt(2026, 12, 3).unwrap(),
            recorded_at: DateTime::from_timestamp(1_780_000_000, 0).unwrap(),
            assessed: 9,
            active: 8,
            missing_any: 7,
            missing_exploited: 6,
            exposure: ExposureCounts {
                none: 1,
                low: 2,
                medium: 3,
                high: 2,
            },
            on_newest_update: 5,
        }
    }

    #[test]
    fn counts_round_trip_in_column_order() {
        let s = snapshot();
        let raw = counts(&s).unwrap();
        assert_eq!(raw, [9, 8, 7, 6, 1, 2, 3, 2, 5]);
        let blank = FleetSnapshot {
            assessed: 0,
            exposure: ExposureCounts::default(),
            ..s.clone()
        };
        assert_eq!(from_counts(blank, raw).unwrap(), s);
    }

    #[test]
    fn out_of_range_counts_are_named() {
        let mut s = snapshot();
        s.missing_any = u64::MAX;
        let e = counts(&s).unwrap_err().to_string();
        assert!(e.contains("missing_any") && e.contains("2026-12-03"), "{e}");
        let e = from_counts(snapshot(), [0, 0, 0, 0, 0, -1, 0, 0, 0])
            .unwrap_err()
            .to_string();
        assert!(e.contains("exposure_low is -1"), "{e}");
    }
}
