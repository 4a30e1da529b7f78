//! `--older-than DURATION`: how long a machine has gone unseen, as `90d`, `12w` or `2160h`.
//!
//! Parsed by hand (the workspace has no duration crate): three units cover every sensible purge
//! age, and a bare number is refused rather than guessed at, since a purge age misread as hours
//! instead of days would delete most of a fleet.

use chrono::TimeDelta;

/// Longest accepted age, in days: a century, well past any machine's life, and far from
/// overflowing a timestamp.
const MAX_DAYS: i64 = 36_500;

/// An age as typed and as a duration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Age {
    /// As the user wrote it (`90d`), for messages.
    pub text: String,
    /// The duration.
    pub delta: TimeDelta,
}

/// Why an age is refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AgeError {
    /// Not a number followed by `d`, `w` or `h`.
    #[error(
        "{0:?} is not a duration: write a whole number and a unit, as in 90d (days), 12w (weeks) or 2160h (hours)"
    )]
    Syntax(String),
    /// Zero would delete every machine not seen this very instant.
    #[error("{0:?} is no age at all: give a duration above zero, as in 90d")]
    Zero(String),
    /// Beyond [`MAX_DAYS`].
    #[error("{0:?} is longer than a century ({MAX_DAYS}d)")]
    TooLong(String),
}

/// Parses `90d`, `12w` or `2160h` (surrounding spaces allowed, unit in any case).
pub fn parse(text: &str) -> Result<Age, AgeError> {
    let trimmed = text.trim();
    let syntax = || AgeError::Syntax(text.to_owned());
    let unit_at = trimmed
        .char_indices()
        .last()
        .map(|(i, _)| i)
        .ok_or_else(syntax)?;
    let (digits, unit) = trimmed.split_at(unit_at);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(syntax());
    }
    let n: i64 = digits
        .parse()
        .map_err(|_| AgeError::TooLong(text.to_owned()))?;
    let hours_per_unit = match unit.to_ascii_lowercase().as_str() {
        "h" => 1,
        "d" => 24,
        "w" => 24 * 7,
        _ => return Err(syntax()),
    };
    let hours = n
        .checked_mul(hours_per_unit)
        .filter(|h| *h <= MAX_DAYS * 24)
        .ok_or_else(|| AgeError::TooLong(text.to_owned()))?;
    if hours == 0 {
        return Err(AgeError::Zero(text.to_owned()));
    }
    Ok(Age {
        text: trimmed.to_owned(),
        delta: TimeDelta::hours(hours),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_weeks_and_hours() {
        assert_eq!(parse("90d").unwrap().delta, TimeDelta::days(90));
        assert_eq!(parse(" 12W ").unwrap().delta, TimeDelta::weeks(12));
        assert_eq!(parse("2160h").unwrap().delta, TimeDelta::days(90));
        assert_eq!(parse("12w").unwrap().text, "12w");
    }

    #[test]
    fn a_bare_number_or_an_odd_unit_is_refused_with_examples() {
        for bad in ["90", "d", "", "9.5d", "-3d", "90m", "90 days", "1y"] {
            let err = parse(bad).unwrap_err();
            assert_eq!(err, AgeError::Syntax(bad.into()), "{bad}");
            assert!(err.to_string().contains("90d (days)"), "{err}");
        }
    }

    #[test]
    fn zero_and_absurd_ages_are_refused() {
        assert_eq!(parse("0d").unwrap_err(), AgeError::Zero("0d".into()));
        assert!(matches!(parse("36501d"), Err(AgeError::TooLong(_))));
        assert!(matches!(
            parse("99999999999999999999w"),
            Err(AgeError::TooLong(_))
        ));
        assert!(parse("36500d").is_ok());
    }
}
