//! Expected values against actual ones: exact JSON, except strings that are
//! matchers (`$any`, `$timestamp`, `$never`, `$envelope`, `$token`,
//! `$ust:NAME`, `$var:NAME`, `$var:NAME+SECS`, `$after:NAME`,
//! `$repeat:N:TEXT`), as
//! `tests/cases/README.md` defines them.

use serde_json::Value;

use super::template::Vars;

/// The timestamp every "never expires" answer carries.
pub const NEVER: &str = "9999-12-31T00:00:00.000000";

/// Shortest envelope: version, key id length, a one-byte key id, nonce and
/// tag of an empty value (31 bytes) in base64url without padding.
const ENVELOPE_MIN_CHARS: usize = 42;

/// Compares `expected` with `actual` at `path`, pushing one line per mismatch.
pub fn check(expected: &Value, actual: &Value, vars: &Vars, path: &str, out: &mut Vec<String>) {
    match (expected, actual) {
        (Value::String(want), _) if want.starts_with('$') && !want.starts_with("$$") => {
            if let Err(why) = matcher(want, actual, vars) {
                out.push(format!("{path}: {why}"));
            }
        }
        (Value::String(want), Value::String(got)) if want.starts_with("$$") => {
            if want[1..] != *got {
                out.push(format!("{path}: expected {:?}, got {got:?}", &want[1..]));
            }
        }
        (Value::Object(want), Value::Object(got)) => {
            for (key, value) in want {
                match got.get(key) {
                    Some(actual) => check(value, actual, vars, &format!("{path}.{key}"), out),
                    None => out.push(format!("{path}.{key}: missing")),
                }
            }
            for key in got.keys().filter(|k| !want.contains_key(*k)) {
                out.push(format!("{path}.{key}: not expected, got {}", got[key]));
            }
        }
        (Value::Array(want), Value::Array(got)) => {
            if want.len() != got.len() {
                out.push(format!(
                    "{path}: expected {} items, got {}: {}",
                    want.len(),
                    got.len(),
                    short(actual)
                ));
                return;
            }
            for (index, (w, g)) in want.iter().zip(got).enumerate() {
                check(w, g, vars, &format!("{path}[{index}]"), out);
            }
        }
        _ if expected == actual => {}
        _ => out.push(format!(
            "{path}: expected {expected}, got {}",
            short(actual)
        )),
    }
}

/// One matcher against a value.
fn matcher(spec: &str, actual: &Value, vars: &Vars) -> Result<(), String> {
    let text = actual.as_str();
    let fail = || Err(format!("expected {spec}, got {}", short(actual)));
    match spec {
        "$any" => return Ok(()),
        "$timestamp" => {
            return match text {
                Some(t) if parse_timestamp(t).is_some() && t != NEVER => Ok(()),
                _ => fail(),
            };
        }
        "$never" => return if text == Some(NEVER) { Ok(()) } else { fail() },
        "$envelope" => {
            return match text {
                Some(t) if t.len() >= ENVELOPE_MIN_CHARS && is_base64url(t) => Ok(()),
                _ => fail(),
            };
        }
        "$token" => {
            return match text {
                Some(t) if t.len() == 43 && is_base64url(t) => Ok(()),
                _ => fail(),
            };
        }
        _ => {}
    }
    if let Some(repeat) = spec.strip_prefix("$repeat:") {
        let (count, piece) = repeat
            .split_once(':')
            .ok_or_else(|| format!("bad matcher {spec}"))?;
        let count: usize = count.parse().map_err(|_| format!("bad matcher {spec}"))?;
        return if text == Some(piece.repeat(count).as_str()) {
            Ok(())
        } else {
            fail()
        };
    }
    if let Some(name) = spec.strip_prefix("$ust:") {
        let want = vars.ust(name)?;
        return if text == Some(want) { Ok(()) } else { fail() };
    }
    if let Some(name) = spec.strip_prefix("$after:") {
        let base = timestamp_var(vars, name)?;
        return match text.and_then(parse_timestamp) {
            Some(got) if got > base => Ok(()),
            _ => Err(format!(
                "expected a timestamp after {} ({spec}), got {}",
                format_timestamp(base),
                short(actual)
            )),
        };
    }
    if let Some(rest) = spec.strip_prefix("$var:") {
        if let Some((name, secs)) = rest.split_once('+') {
            let secs: i64 = secs.parse().map_err(|_| format!("bad matcher {spec}"))?;
            let want = format_timestamp(timestamp_var(vars, name)? + secs * 1_000_000);
            return if text == Some(want.as_str()) {
                Ok(())
            } else {
                Err(format!("expected {want} ({spec}), got {}", short(actual)))
            };
        }
        let want = vars.var(rest)?;
        return if want == actual {
            Ok(())
        } else {
            Err(format!("expected {want} ({spec}), got {}", short(actual)))
        };
    }
    Err(format!(
        "unknown matcher {spec:?} (write $$ for a literal $)"
    ))
}

/// A captured variable that must be a timestamp, in unix micros.
fn timestamp_var(vars: &Vars, name: &str) -> Result<i64, String> {
    vars.var(name)?
        .as_str()
        .and_then(parse_timestamp)
        .ok_or_else(|| format!("variable {name:?} is not a timestamp"))
}

/// Whether `text` is base64url without padding.
fn is_base64url(text: &str) -> bool {
    text.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A value for a message, cut to a readable length.
pub fn short(value: &Value) -> String {
    let text = value.to_string();
    if text.len() <= 300 {
        return text;
    }
    let cut = (0..=300)
        .rev()
        .find(|i| text.is_char_boundary(*i))
        .unwrap_or(0);
    format!("{}… ({} chars)", &text[..cut], text.len())
}

/// `YYYY-MM-DDTHH:MM:SS.ffffff` (UTC) as unix microseconds.
pub fn parse_timestamp(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    let shape_ok = bytes.len() == 26
        && bytes.iter().enumerate().all(|(i, b)| match i {
            4 | 7 => *b == b'-',
            10 => *b == b'T',
            13 | 16 => *b == b':',
            19 => *b == b'.',
            _ => b.is_ascii_digit(),
        });
    if !shape_ok {
        return None;
    }
    let num = |from: usize, to: usize| text[from..to].parse::<i64>().ok();
    let (year, month, day) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (hour, minute, second) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    let fraction = num(20, 26)?;
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    if second > 59 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3_600 + minute * 60 + second;
    Some(secs * 1_000_000 + fraction)
}

/// Unix microseconds as `YYYY-MM-DDTHH:MM:SS.ffffff` (UTC).
pub fn format_timestamp(micros: i64) -> String {
    let secs = micros.div_euclid(1_000_000);
    let fraction = micros.rem_euclid(1_000_000);
    let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
    let of_day = secs.rem_euclid(86_400);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{fraction:06}",
        of_day / 3_600,
        of_day % 3_600 / 60,
        of_day % 60
    )
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count since 1970-01-01 (H. Hinnant).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn timestamps_round_trip_and_add() {
        for text in [
            "2026-12-03T19:00:00.000001",
            "2000-02-29T23:59:59.999999",
            "1970-01-01T00:00:00.000000",
            NEVER,
        ] {
            assert_eq!(format_timestamp(parse_timestamp(text).unwrap()), text);
        }
        let base = parse_timestamp("2024-02-28T23:59:30.500000").unwrap();
        assert_eq!(
            format_timestamp(base + 3_600 * 1_000_000),
            "2024-02-29T00:59:30.500000"
        );
        assert!(parse_timestamp("2024-02-28 23:59:30.500000").is_none());
        assert!(parse_timestamp("2024-02-28T23:59:30").is_none());
    }

    #[test]
    fn matchers_match() {
        let mut vars = Vars::default();
        vars.captured
            .insert("c".into(), json!("2026-01-01T00:00:00.000000"));
        let mut out = Vec::new();
        let expected = json!({"t": "$timestamp", "n": "$never", "e": "$var:c+60",
                              "a": "$after:c", "l": "$$x", "k": [1, "$any"], "r": "$repeat:3:ab"});
        let actual = json!({"t": "2026-01-01T00:00:00.000000", "n": NEVER,
                            "e": "2026-01-01T00:01:00.000000", "a": "2026-01-01T00:00:00.000001",
                            "l": "$x", "k": [1, {"z": 2}], "r": "ababab"});
        check(&expected, &actual, &vars, "body", &mut out);
        assert!(out.is_empty(), "{out:?}");
        let wrong = json!({"t": NEVER, "n": "x", "e": "2026-01-01T00:00:59.000000",
                           "a": "2026-01-01T00:00:00.000000", "l": "x", "k": [1], "r": "abab",
                           "extra": 1});
        check(&expected, &wrong, &vars, "body", &mut out);
        assert_eq!(out.len(), 8, "{out:?}");
    }
}
