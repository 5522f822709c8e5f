//! The known fields of a request body, read strictly.
//!
//! The body is parsed as JSON whatever its content type. Unknown fields are
//! ignored; a key given twice in any object of the body, or a known field of
//! the wrong type, is invalid input. JSON `null` counts as absent.

use alloc::boxed::Box;
use alloc::string::String;
use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

use super::query::QueryFields;
use super::strict::{self, Refusal};
use crate::config::Config;
use crate::error::{Error, Failure};
use crate::protocol::by_length;

/// The message of a body that gives one key twice in an object.
pub const DUPLICATE_KEY: &str = "a key appears twice in one JSON object";

/// The known request fields, each as sent (type checks come later, in the
/// order of SPEC 2.3).
#[derive(Debug, Default, Deserialize)]
pub struct Fields {
    /// A session's own token (logout, renew, owner; Zato's name).
    pub ust: Option<Value>,
    /// Caller's session token.
    pub current_ust: Option<Value>,
    /// Session whose attributes are used.
    pub target_ust: Option<Value>,
    /// Calling application.
    pub current_app: Option<Value>,
    /// Single form: attribute name.
    pub name: Option<Value>,
    /// Single form: attribute value.
    pub value: Option<Value>,
    /// Many form: the list, kept raw so each item is read on its own.
    pub data: Option<Box<RawValue>>,
    /// Whether to encrypt written values.
    pub encrypt: Option<Value>,
    /// Seconds until written attributes expire.
    pub expiration: Option<Value>,
    /// Get: return values in clear (default) or as stored.
    pub decrypt: Option<Value>,
    /// Login: user name.
    pub username: Option<Value>,
    /// Login: password.
    pub password: Option<Value>,
}

impl Fields {
    /// Parses a body: not JSON or not an object is [`Error::NotJson`] (400);
    /// a key given twice in any object of it, known field or not, is
    /// invalid input (403), tied to its `data` item when it is inside one
    /// ([`strict`]). An empty body is an empty object.
    pub fn parse(body: &[u8]) -> Result<Self, Failure> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self::default());
        }
        // Checked whole (not skipped): invalid UTF-8 and lone surrogates in
        // any string, numbers beyond f64, too deep nesting and duplicate
        // keys refuse the body, wherever they are.
        let first = body.iter().find(|b| !b.is_ascii_whitespace());
        match strict::check(body) {
            Err(Refusal::NotJson) => return Err(Error::NotJson.into()),
            _ if first != Some(&b'{') => return Err(Error::NotJson.into()),
            Err(Refusal::DuplicateKey { item }) => {
                let error = Error::InvalidInput(DUPLICATE_KEY);
                return Err(match item {
                    Some(index) => Failure::at(error, index),
                    None => error.into(),
                });
            }
            Ok(()) => {}
        }
        let mut fields: Self = serde_json::from_slice(body)
            .map_err(|_| Error::InvalidInput("a field has the wrong shape"))?;
        if fields.data.as_ref().is_some_and(|d| d.get() == "null") {
            fields.data = None;
        }
        Ok(fields)
    }

    /// Overrides body fields with those of a query string (GET, DELETE).
    pub fn merge_query(&mut self, query: QueryFields) -> Result<(), Error> {
        let texts = [
            (&mut self.ust, query.ust),
            (&mut self.current_ust, query.current_ust),
            (&mut self.target_ust, query.target_ust),
            (&mut self.current_app, query.current_app),
            (&mut self.name, query.name),
        ];
        for (field, text) in texts {
            if let Some(text) = text {
                *field = Some(Value::String(text));
            }
        }
        if let Some(names) = query.data {
            let raw = serde_json::value::to_raw_value(&names).map_err(|_| Error::Internal)?;
            self.data = Some(raw);
        }
        if let Some(decrypt) = query.decrypt {
            // Query values are text: `true`/`false` are the booleans, and
            // anything else stays a string, which `decrypt` refuses.
            self.decrypt = Some(match decrypt.as_str() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                _ => Value::String(decrypt),
            });
        }
        Ok(())
    }

    /// The session's own token: `ust`, or `current_ust` when `ust` is
    /// absent (SPEC 2.4 accepts both for renew).
    pub fn own_ust(&self) -> &Option<Value> {
        if self.ust.is_some() {
            &self.ust
        } else {
            &self.current_ust
        }
    }

    /// `current_app` when it is a string (a new session records it once
    /// the application has been checked).
    pub fn app(&self) -> Option<&str> {
        match &self.current_app {
            Some(Value::String(app)) => Some(app),
            _ => None,
        }
    }

    /// `current_app` as a log line may carry it: an application `config`
    /// knows as is, any other string by its length only. The field is
    /// logged before it is checked and is the client's free text: a
    /// password or UST typed into the wrong field must not reach the log.
    pub fn app_for_log(&self, config: &Config) -> Option<String> {
        let app = self.app()?;
        Some(if config.knows_app(app) {
            String::from(app)
        } else {
            by_length("app", app)
        })
    }
}

/// A string field: absent → `None`; not a string → invalid input.
pub fn opt_str<'v>(value: &'v Option<Value>, what: &'static str) -> Result<Option<&'v str>, Error> {
    match value {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(Error::InvalidInput(what)),
    }
}

/// A required string field: absent → missing input.
pub fn req_str<'v>(
    value: &'v Option<Value>,
    missing: &'static str,
    invalid: &'static str,
) -> Result<&'v str, Error> {
    opt_str(value, invalid)?.ok_or(Error::MissingInput(missing))
}

/// A boolean field.
pub fn opt_bool(value: &Option<Value>, what: &'static str) -> Result<Option<bool>, Error> {
    match value {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(Error::InvalidInput(what)),
    }
}

/// Longest allowed `expiration`: ten years, in seconds.
pub const MAX_EXPIRATION_SECS: i64 = 315_360_000;

/// `expiration`: an integer number of seconds from 1 to
/// [`MAX_EXPIRATION_SECS`]; anything else (0, negative, fractional, string,
/// epoch-millisecond-sized) is invalid input, never clamped.
pub fn opt_expiration(value: &Option<Value>) -> Result<Option<i64>, Error> {
    const WHAT: &str = "expiration must be a whole number of seconds from 1 to 315360000";
    match value {
        None => Ok(None),
        Some(Value::Number(n)) => match n.as_i64() {
            Some(secs) if (1..=MAX_EXPIRATION_SECS).contains(&secs) => Ok(Some(secs)),
            _ => Err(Error::InvalidInput(WHAT)),
        },
        Some(_) => Err(Error::InvalidInput(WHAT)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn not_json_or_not_an_object_is_400() {
        for body in [
            &b"name=a"[..],
            b"[1]",
            b"\"x\"",
            b"{",
            b"\xff\xfe",
            b"{\"name\":\"u\xff\"}",
            b"{\"other\":\"u\xff\"}",
            br#"{"expiration":1e400}"#,
            br#"{"name":"\ud800"}"#,
        ] {
            assert_eq!(
                Fields::parse(body).err(),
                Some(Error::NotJson.into()),
                "{body:?}"
            );
        }
    }

    #[test]
    fn a_key_twice_in_any_object_is_invalid_input() {
        let invalid = Some(Failure::from(Error::InvalidInput(DUPLICATE_KEY)));
        for body in [
            &br#"{"name":"a","name":"b"}"#[..],
            br#"{"user_id":1,"user_id":1,"name":"a"}"#,
            br#"{"name":"a","extra":{"k":1,"k":2}}"#,
            br#"{"name":"a","n\u0061me":"a"}"#,
        ] {
            assert_eq!(Fields::parse(body).err(), invalid, "{body:?}");
        }
        let in_item = br#"{"data":[{"name":"a","value":"1"},{"name":"b","x":[{"k":1,"k":2}]}]}"#;
        assert_eq!(
            Fields::parse(in_item).err(),
            Some(Failure::at(Error::InvalidInput(DUPLICATE_KEY), 1))
        );
        // Not JSON wins; so does not an object.
        assert_eq!(
            Fields::parse(br#"{"a":1,"a":2"#).err(),
            Some(Error::NotJson.into())
        );
        assert_eq!(
            Fields::parse(br#"[{"a":1,"a":2}]"#).err(),
            Some(Error::NotJson.into())
        );
        let extra = br#"{"user_id":1,"totp_code":"x","name":"a"}"#;
        let fields = Fields::parse(extra).expect("parses");
        assert_eq!(fields.name, Some(json!("a")));
    }

    #[test]
    fn null_is_absent_and_empty_body_is_empty_object() {
        let fields = Fields::parse(br#"{"name":null,"data":null}"#).expect("parses");
        assert!(fields.name.is_none() && fields.data.is_none());
        assert!(Fields::parse(b"  ").expect("parses").name.is_none());
    }

    #[test]
    fn query_fields_win_over_body_fields() {
        let mut fields = Fields::parse(br#"{"name":"body","current_app":"CRM","decrypt":true}"#)
            .expect("parses");
        let query = super::super::query::parse("name=q&data=a&data=b&decrypt=false").expect("q");
        fields.merge_query(query).expect("merges");
        assert_eq!(fields.name, Some(json!("q")));
        assert_eq!(fields.current_app, Some(json!("CRM")));
        assert_eq!(fields.decrypt, Some(json!(false)));
        assert_eq!(
            fields.data.map(|d| String::from(d.get())).as_deref(),
            Some(r#"["a","b"]"#)
        );
        let mut fields = Fields::default();
        let query = super::super::query::parse("decrypt=yes").expect("q");
        fields.merge_query(query).expect("merges");
        assert_eq!(fields.decrypt, Some(json!("yes")));
    }

    #[test]
    fn expiration_accepts_only_whole_seconds_in_range() {
        for ok in [json!(1), json!(3600), json!(MAX_EXPIRATION_SECS)] {
            assert!(opt_expiration(&Some(ok)).expect("valid").is_some());
        }
        for bad in [
            json!(0),
            json!(-5),
            json!(1.5),
            json!(60.0),
            json!("60"),
            json!(1_000_000_000_000_i64),
            json!(MAX_EXPIRATION_SECS + 1),
            json!(u64::MAX),
            json!(true),
        ] {
            assert!(opt_expiration(&Some(bad.clone())).is_err(), "{bad}");
        }
    }

    #[test]
    fn typed_getters_refuse_wrong_types() {
        assert_eq!(opt_str(&Some(json!(5)), "x"), Err(Error::InvalidInput("x")));
        assert_eq!(req_str(&None, "m", "x"), Err(Error::MissingInput("m")));
        assert_eq!(
            opt_bool(&Some(json!("true")), "b"),
            Err(Error::InvalidInput("b"))
        );
    }

    #[test]
    fn only_a_configured_app_is_logged_as_sent() {
        let config = Config::default();
        let app = |body: &[u8]| Fields::parse(body).expect("fields").app_for_log(&config);
        assert_eq!(app(br#"{"current_app": "CRM"}"#).as_deref(), Some("CRM"));
        assert_eq!(
            app(br#"{"current_app": "alice-Pa55word"}"#).as_deref(),
            Some("(unknown app of 14 bytes)")
        );
        assert_eq!(
            app(br#"{"current_app": "crm"}"#).as_deref(),
            Some("(unknown app of 3 bytes)")
        );
        assert_eq!(app(br#"{"current_app": 5}"#), None);
        assert_eq!(app(b"{}"), None);
    }
}
