//! The host's clock: system time plus an offset that only a test clock
//! (`sessattr serve --test-clock`) can move.
//!
//! The core never reads a clock; the host passes `now` into every step and
//! into the sweeper. Both read it from one [`Clock`], so moving a test clock
//! forward makes attributes expire for the rules and for the store alike.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Microseconds in one second.
pub const MICROS_PER_SEC: i64 = 1_000_000;

/// Most seconds one advance may move a test clock: ten years, the longest
/// attribute expiration (SPEC 2.2).
pub const MAX_ADVANCE_SECS: u64 = 315_360_000;

/// The clock never moves past `9999-12-31T00:00:00` UTC, the time responses
/// show for "never".
pub const LATEST_MICROS: i64 = 253_402_214_400 * MICROS_PER_SEC;

/// Why a clock could not be moved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClockError {
    /// The system clock cannot be moved.
    #[error("this is the system clock; only a test clock can be moved")]
    NotAdjustable,
    /// More than [`MAX_ADVANCE_SECS`] at once.
    #[error("advance_secs must be an integer from 0 to {MAX_ADVANCE_SECS}")]
    TooFar,
    /// The clock would pass [`LATEST_MICROS`].
    #[error("the clock cannot move past 9999-12-31T00:00:00")]
    OutOfRange,
}

/// A clock: the system's, or the system's plus a movable offset (a test
/// clock). Clones share the offset.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    /// Microseconds added to system time; `None` for the plain system clock.
    offset: Option<Arc<AtomicI64>>,
}

impl Clock {
    /// The system clock; it cannot be moved.
    pub fn system() -> Self {
        Self { offset: None }
    }

    /// A test clock: system time plus an offset, zero at first, that
    /// [`Clock::advance`] moves forward.
    pub fn test() -> Self {
        Self {
            offset: Some(Arc::new(AtomicI64::new(0))),
        }
    }

    /// Whether this is a test clock.
    pub fn is_test(&self) -> bool {
        self.offset.is_some()
    }

    /// Microseconds this clock is ahead of system time.
    pub fn offset_micros(&self) -> i64 {
        self.offset
            .as_ref()
            .map_or(0, |offset| offset.load(Ordering::SeqCst))
    }

    /// Now, in microseconds since the Unix epoch.
    pub fn now_micros(&self) -> i64 {
        system_micros().saturating_add(self.offset_micros())
    }

    /// Moves a test clock forward by `secs` seconds; answers the new now.
    pub fn advance(&self, secs: u64) -> Result<i64, ClockError> {
        let offset = self.offset.as_ref().ok_or(ClockError::NotAdjustable)?;
        if secs > MAX_ADVANCE_SECS {
            return Err(ClockError::TooFar);
        }
        let delta = i64::try_from(secs)
            .map_err(|_| ClockError::TooFar)?
            .saturating_mul(MICROS_PER_SEC);
        let system = system_micros();
        let previous = offset
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |current| {
                let next = current.checked_add(delta)?;
                (system.checked_add(next)? <= LATEST_MICROS).then_some(next)
            })
            .map_err(|_| ClockError::OutOfRange)?;
        Ok(system.saturating_add(previous).saturating_add(delta))
    }
}

/// System time in microseconds since the Unix epoch (0 before it).
pub fn system_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Formats unix micros like SPEC 2.2 timestamps: UTC, ISO-8601 without
/// offset, with microseconds (`2026-12-03T19:00:00.000000`).
pub fn format_micros(micros: i64) -> String {
    let secs = micros.div_euclid(MICROS_PER_SEC);
    let fraction = micros.rem_euclid(MICROS_PER_SEC);
    let days = secs.div_euclid(86_400);
    let of_day = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{fraction:06}",
        of_day / 3_600,
        of_day % 3_600 / 60,
        of_day % 60
    )
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard
/// Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_the_spec() {
        assert_eq!(
            format_micros(1_796_324_400_000_001),
            "2026-12-03T19:00:00.000001"
        );
        assert_eq!(format_micros(0), "1970-01-01T00:00:00.000000");
        assert_eq!(
            format_micros(951_782_400_123_456),
            "2000-02-29T00:00:00.123456"
        );
        assert_eq!(format_micros(LATEST_MICROS), "9999-12-31T00:00:00.000000");
        assert_eq!(format_micros(-1), "1969-12-31T23:59:59.999999");
        assert_eq!(
            format_micros(1_709_251_199_000_000),
            "2024-02-29T23:59:59.000000"
        );
    }

    #[test]
    fn the_system_clock_does_not_move() {
        let clock = Clock::system();
        assert!(!clock.is_test());
        assert_eq!(clock.advance(1), Err(ClockError::NotAdjustable));
        assert_eq!(clock.offset_micros(), 0);
    }

    #[test]
    fn a_test_clock_moves_forward_for_every_clone() {
        let clock = Clock::test();
        let shared = clock.clone();
        let before = system_micros();
        let now = clock.advance(10).expect("advance");
        assert!(now >= before + 10 * MICROS_PER_SEC);
        assert_eq!(shared.offset_micros(), 10 * MICROS_PER_SEC);
        assert!(shared.now_micros() >= before + 10 * MICROS_PER_SEC);
        assert_eq!(
            clock.advance(0).map(|_| clock.offset_micros()),
            Ok(10 * MICROS_PER_SEC)
        );
    }

    #[test]
    fn a_test_clock_has_bounds() {
        let clock = Clock::test();
        assert_eq!(clock.advance(MAX_ADVANCE_SECS + 1), Err(ClockError::TooFar));
        let mut moves = 0;
        let stopped = loop {
            match clock.advance(MAX_ADVANCE_SECS) {
                Ok(_) => moves += 1,
                Err(err) => break err,
            }
        };
        assert_eq!(stopped, ClockError::OutOfRange);
        assert!(moves > 700, "{moves}");
        assert!(clock.now_micros() <= LATEST_MICROS);
    }
}
