//! Placeholders of requests (`$ust:NAME`, `$var:NAME`, `$repeat:N:TEXT`,
//! `{"$list": N, "of": …}`, `${…}` in raw strings), the parts of raw
//! bodies and query strings, and the query-string encoding, as
//! `tests/cases/README.md` defines them.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::format::{Part, Raw};

/// What placeholders resolve to in one case.
#[derive(Debug, Default)]
pub struct Vars {
    /// UST of each fixture session of the case (`$ust:NAME`).
    pub usts: BTreeMap<String, String>,
    /// Values captured from earlier answers (`$var:NAME`).
    pub captured: BTreeMap<String, Value>,
}

impl Vars {
    /// The UST of `name`.
    pub fn ust(&self, name: &str) -> Result<&str, String> {
        self.usts
            .get(name)
            .map(String::as_str)
            .ok_or_else(|| format!("no session {name:?} in this case"))
    }

    /// A captured value.
    pub fn var(&self, name: &str) -> Result<&Value, String> {
        self.captured
            .get(name)
            .ok_or_else(|| format!("variable {name:?} was not captured"))
    }
}

/// Resolves every placeholder in a request body or query value.
pub fn resolve(value: &Value, vars: &Vars) -> Result<Value, String> {
    match value {
        Value::String(text) => resolve_str(text, vars),
        Value::Array(items) => items.iter().map(|v| resolve(v, vars)).collect(),
        Value::Object(map) if map.contains_key("$list") => list(map, vars),
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| Ok((k.clone(), resolve(v, vars)?)))
            .collect::<Result<Map<_, _>, String>>()
            .map(Value::Object),
        other => Ok(other.clone()),
    }
}

/// A string that is a whole placeholder, or `$$…` for a literal `$…`.
fn resolve_str(text: &str, vars: &Vars) -> Result<Value, String> {
    let Some(rest) = text.strip_prefix('$') else {
        return Ok(Value::String(text.to_owned()));
    };
    if let Some(literal) = rest.strip_prefix('$') {
        return Ok(Value::String(format!("${literal}")));
    }
    if let Some(name) = rest.strip_prefix("ust:") {
        return Ok(Value::String(vars.ust(name)?.to_owned()));
    }
    if let Some(name) = rest.strip_prefix("var:") {
        return vars.var(name).cloned();
    }
    if let Some(spec) = rest.strip_prefix("repeat:") {
        let (count, piece) = spec
            .split_once(':')
            .ok_or_else(|| format!("bad placeholder {text:?}"))?;
        let count: usize = count
            .parse()
            .map_err(|_| format!("bad count in {text:?}"))?;
        return Ok(Value::String(piece.repeat(count)));
    }
    Err(format!(
        "unknown placeholder {text:?} (write $$ for a literal $)"
    ))
}

/// `{"$list": N, "of": TEMPLATE}`: N copies, `$i` in strings = the index.
fn list(map: &Map<String, Value>, vars: &Vars) -> Result<Value, String> {
    let count = map
        .get("$list")
        .and_then(Value::as_u64)
        .ok_or("$list needs a count")?;
    let template = map.get("of").ok_or("$list needs `of`")?;
    if map.len() != 2 {
        return Err("$list takes only `$list` and `of`".into());
    }
    (0..count)
        .map(|i| resolve(&number(template, i), vars))
        .collect::<Result<Vec<_>, _>>()
        .map(Value::Array)
}

/// `template` with every `$i` inside its strings replaced by `index`.
fn number(template: &Value, index: u64) -> Value {
    match template {
        Value::String(text) => Value::String(text.replace("$i", &index.to_string())),
        Value::Array(items) => Value::Array(items.iter().map(|v| number(v, index)).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), number(v, index)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// `${ust:NAME}` and `${var:NAME}` inside a raw body or raw query string.
pub fn interpolate(raw: &str, vars: &Vars) -> Result<String, String> {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| format!("unclosed ${{ in {raw:?}"))?;
        let inner = &after[..end];
        let value = if let Some(name) = inner.strip_prefix("ust:") {
            vars.ust(name)?.to_owned()
        } else if let Some(name) = inner.strip_prefix("var:") {
            match vars.var(name)? {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            }
        } else {
            return Err(format!("unknown interpolation ${{{inner}}}"));
        };
        out.push_str(&value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The bytes of a raw body or query string: its text interpolated, or its
/// parts joined (`hex` parts only where `bytes_allowed`).
pub fn raw_bytes(raw: &Raw, vars: &Vars, bytes_allowed: bool) -> Result<Vec<u8>, String> {
    let parts = match raw {
        Raw::Text(text) => return Ok(interpolate(text, vars)?.into_bytes()),
        Raw::Parts(parts) => parts,
    };
    let mut out = Vec::new();
    for part in parts {
        match part {
            Part::Text(text) => out.extend_from_slice(interpolate(text, vars)?.as_bytes()),
            Part::Repeat(repeat) if repeat.of.contains("$i") => {
                for index in 0..repeat.repeat {
                    let copy = repeat.of.replace("$i", &index.to_string());
                    out.extend_from_slice(copy.as_bytes());
                }
            }
            Part::Repeat(repeat) => {
                out.extend_from_slice(repeat.of.repeat(repeat.repeat).as_bytes())
            }
            Part::Hex(_) if !bytes_allowed => {
                return Err("hex parts are for bodies, not query strings".into());
            }
            Part::Hex(hex) => out.extend(decode_hex(&hex.hex)?),
        }
    }
    Ok(out)
}

/// Hexadecimal digits (spaces ignored) as bytes.
fn decode_hex(text: &str) -> Result<Vec<u8>, String> {
    let digits: Vec<u8> = text.bytes().filter(|b| *b != b' ').collect();
    if !digits.len().is_multiple_of(2) {
        return Err(format!("odd number of hex digits in {text:?}"));
    }
    digits
        .chunks(2)
        .map(|pair| {
            std::str::from_utf8(pair)
                .ok()
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
                .ok_or_else(|| format!("not hex: {text:?}"))
        })
        .collect()
}

/// The query string of a request: the resolved `query` object encoded
/// (arrays repeat the key; numbers and booleans as JSON text), then
/// `query_raw`, joined with `&`. Empty when there is neither.
pub fn query_string(
    query: Option<&Map<String, Value>>,
    raw: Option<&Raw>,
    vars: &Vars,
) -> Result<String, String> {
    let mut parts = Vec::new();
    if let Some(query) = query {
        for (key, value) in query {
            match resolve(value, vars)? {
                Value::Array(items) => {
                    for item in &items {
                        parts.push(format!("{}={}", encode(key), encode(&scalar(item)?)));
                    }
                }
                other => parts.push(format!("{}={}", encode(key), encode(&scalar(&other)?))),
            }
        }
    }
    if let Some(raw) = raw {
        let bytes = raw_bytes(raw, vars, false)?;
        parts.push(String::from_utf8(bytes).map_err(|_| "query_raw is not UTF-8")?);
    }
    Ok(parts.join("&"))
}

/// A query value as text.
fn scalar(value: &Value) -> Result<String, String> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Number(_) | Value::Bool(_) => Ok(value.to_string()),
        other => Err(format!(
            "query values are strings or lists of them, not {other}"
        )),
    }
}

/// Percent-encodes every byte but the unreserved characters of RFC 3986.
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vars() -> Vars {
        let mut vars = Vars::default();
        vars.usts.insert("admin".into(), "UST-A".into());
        vars.captured.insert("t".into(), json!("2026-01-01"));
        vars
    }

    #[test]
    fn placeholders_resolve() {
        let got = resolve(
            &json!({"u": "$ust:admin", "t": "$var:t", "r": "$repeat:3:ab", "l": "$$ust:x",
                    "d": {"$list": 2, "of": {"name": "n$i"}}}),
            &vars(),
        )
        .unwrap();
        assert_eq!(
            got,
            json!({"u": "UST-A", "t": "2026-01-01", "r": "ababab", "l": "$ust:x",
                   "d": [{"name": "n0"}, {"name": "n1"}]})
        );
        assert!(resolve(&json!("$nope"), &vars()).is_err());
    }

    #[test]
    fn queries_encode() {
        let query = json!({"name": "a b/é", "data": ["x", "y"], "decrypt": false});
        let raw = Raw::Text("n=${ust:admin}".into());
        let got = query_string(query.as_object(), Some(&raw), &vars()).unwrap();
        let mut parts: Vec<&str> = got.split('&').collect();
        parts.sort_unstable();
        assert_eq!(
            parts,
            [
                "data=x",
                "data=y",
                "decrypt=false",
                "n=UST-A",
                "name=a%20b%2F%C3%A9"
            ]
        );
        assert!(got.find("data=x") < got.find("data=y"), "{got}");
    }

    #[test]
    fn raw_parts_join() {
        let raw: Raw = serde_json::from_value(json!(
            ["{\"u\":\"${ust:admin}\",", {"repeat": 3, "of": "k$i,"}, {"repeat": 2, "of": "["}, {"hex": "ff 00"}]
        ))
        .unwrap();
        assert_eq!(
            raw_bytes(&raw, &vars(), true).unwrap(),
            b"{\"u\":\"UST-A\",k0,k1,k2,[[\xff\x00"
        );
        assert!(
            raw_bytes(&raw, &vars(), false).is_err(),
            "no bytes in a query"
        );
        let bad: Raw = serde_json::from_value(json!([{"hex": "f"}])).unwrap();
        assert!(raw_bytes(&bad, &vars(), true).is_err());
        assert!(
            serde_json::from_value::<Raw>(json!([{"repeat": 1, "of": "x", "typo": 1}])).is_err()
        );
    }
}
