//! Timestamps: unix microseconds inside, SPEC 2.2 text outside.

use alloc::string::String;
use chrono::DateTime;

/// Microseconds in one second.
pub const MICROS_PER_SEC: i64 = 1_000_000;

/// What responses show for "never expires".
pub const NEVER: &str = "9999-12-31T00:00:00.000000";

/// Formats unix micros as UTC ISO-8601 without offset, with microseconds
/// (`2026-12-03T19:00:00.000000`); `None` is [`NEVER`].
pub fn format_micros(micros: Option<i64>) -> String {
    use core::fmt::Write as _;
    let Some(dt) = micros.and_then(DateTime::from_timestamp_micros) else {
        return String::from(NEVER);
    };
    let mut out = String::with_capacity(26);
    // Writing to a String cannot fail.
    let _ = write!(out, "{}", dt.naive_utc().format("%Y-%m-%dT%H:%M:%S%.6f"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_with_microseconds_and_no_offset() {
        assert_eq!(
            format_micros(Some(1_796_324_400_000_001)),
            "2026-12-03T19:00:00.000001"
        );
        assert_eq!(format_micros(Some(0)), "1970-01-01T00:00:00.000000");
    }

    #[test]
    fn never_is_the_zato_sentinel() {
        assert_eq!(format_micros(None), NEVER);
    }
}
