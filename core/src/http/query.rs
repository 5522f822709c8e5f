//! The query string of GET and DELETE requests (SPEC 2: fields may come from
//! the query string, and query values win over body values).
//!
//! `application/x-www-form-urlencoded` rules: pairs split on `&`, key and
//! value on the first `=`, `+` is a space, `%XX` a byte. Decoded text must
//! be UTF-8 (never replaced by U+FFFD: names are byte-exact), in every key
//! and value, known or not (as the body is judged whole). Unknown keys are
//! ignored, however many and however often repeated (repeating a key is how
//! form encoding lists); a known key given twice is invalid input, except
//! `data`, which is repeated to list names (`?data=a&data=b`).

use alloc::string::String;
use alloc::vec::Vec;
use percent_encoding::percent_decode_str;

use crate::error::Error;

/// The known fields of a query string, as text.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct QueryFields {
    /// A session's own token.
    pub ust: Option<String>,
    /// Caller's session token.
    pub current_ust: Option<String>,
    /// Session whose attributes are used.
    pub target_ust: Option<String>,
    /// Calling application.
    pub current_app: Option<String>,
    /// Single form: attribute name.
    pub name: Option<String>,
    /// Many form: every `data` value, in order.
    pub data: Option<Vec<String>>,
    /// `true` or `false` (anything else is refused when it is read).
    pub decrypt: Option<String>,
}

/// Parses a raw query string (without the `?`).
pub fn parse(query: &str) -> Result<QueryFields, Error> {
    let mut fields = QueryFields::default();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let key = decode(key)?;
        let slot = match key.as_str() {
            "ust" => &mut fields.ust,
            "current_ust" => &mut fields.current_ust,
            "target_ust" => &mut fields.target_ust,
            "current_app" => &mut fields.current_app,
            "name" => &mut fields.name,
            "decrypt" => &mut fields.decrypt,
            "data" => {
                fields
                    .data
                    .get_or_insert_with(Vec::new)
                    .push(decode(value)?);
                continue;
            }
            _ => {
                decode(value)?;
                continue;
            }
        };
        if slot.replace(decode(value)?).is_some() {
            return Err(Error::InvalidInput(
                "a field is given twice in the query string",
            ));
        }
    }
    Ok(fields)
}

/// One form-encoded component: `+` is a space, then percent-decoding.
fn decode(text: &str) -> Result<String, Error> {
    let spaced = text.replace('+', " ");
    percent_decode_str(&spaced)
        .decode_utf8()
        .map(|text| text.into_owned())
        .map_err(|_| Error::InvalidInput("the query string is not valid UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn decodes_plus_percent_and_utf8() {
        let q = parse("name=p+q&current_app=CRM&decrypt=false").expect("parses");
        assert_eq!(q.name.as_deref(), Some("p q"));
        assert_eq!(q.current_app.as_deref(), Some("CRM"));
        assert_eq!(q.decrypt.as_deref(), Some("false"));
        let q = parse("name=x%2By%26z%3D%C3%A9").expect("parses");
        assert_eq!(q.name.as_deref(), Some("x+y&z=é"));
    }

    #[test]
    fn data_repeats_and_other_known_keys_do_not() {
        let q = parse("data=a&data=b&data=").expect("parses");
        assert_eq!(q.data, Some(vec!["a".into(), "b".into(), String::new()]));
        assert!(matches!(
            parse("name=a&name=b"),
            Err(Error::InvalidInput(_))
        ));
        assert!(matches!(
            parse("current_ust=a&current_ust=a"),
            Err(Error::InvalidInput(_))
        ));
    }

    #[test]
    fn unknown_keys_empty_pairs_and_missing_values() {
        let q = parse("&x=1&&unknown&name").expect("parses");
        assert_eq!(q.name.as_deref(), Some(""));
        assert_eq!(q.data, None);
        assert_eq!(parse("").expect("parses"), QueryFields::default());
    }

    #[test]
    fn ten_thousand_unknown_parameters_are_ignored() {
        let mut text = String::from("name=a");
        for i in 0..10_000 {
            text.push_str(&alloc::format!("&u{i}=1&x=1"));
        }
        assert_eq!(parse(&text).expect("parses").name.as_deref(), Some("a"));
    }

    #[test]
    fn invalid_utf8_is_invalid_input_not_replaced() {
        assert!(matches!(parse("name=%FF"), Err(Error::InvalidInput(_))));
        assert!(matches!(parse("%C3=a"), Err(Error::InvalidInput(_))));
        assert!(matches!(
            parse("unknown=%FF&name=a"),
            Err(Error::InvalidInput(_))
        ));
        assert!(matches!(parse("x=%ED%A0%80"), Err(Error::InvalidInput(_))));
        // A stray `%` that is not an escape stays as it is.
        assert_eq!(
            parse("name=100%").expect("parses").name.as_deref(),
            Some("100%")
        );
    }
}
