//! The name/data shape of attribute requests, the items of write calls and
//! the names of read calls.

use alloc::boxed::Box;
use alloc::collections::BTreeSet;
use alloc::string::String;
use alloc::vec::Vec;
use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

use crate::config::Limits;
use crate::error::{Error, Failure};
use crate::http::fields::{Fields, opt_bool, opt_expiration, req_str};

/// Single or many form (SPEC 2.2), after the step-2 shape checks.
pub enum Shape<'f> {
    /// `name` (+ top-level value fields).
    Single(&'f str),
    /// `data`, each item still raw.
    Many(Vec<Box<RawValue>>),
}

impl Shape<'_> {
    /// Whether this is the many form (errors then name their item).
    pub fn is_many(&self) -> bool {
        matches!(self, Self::Many(_))
    }
}

/// Ties an error to its item in the many form only.
pub fn at_item(error: Error, index: usize, many: bool) -> Failure {
    if many {
        Failure::at(error, index)
    } else {
        error.into()
    }
}

/// Step 2 of SPEC 2.3: exactly one of `name` and `data`, of the right type,
/// `data` within the item limit.
pub fn shape<'f>(fields: &'f Fields, limits: &Limits) -> Result<Shape<'f>, Error> {
    match (&fields.name, &fields.data) {
        (Some(_), Some(_)) => Err(Error::InvalidInput("give either name or data, not both")),
        (None, None) => Err(Error::MissingInput("name or data")),
        (Some(_), None) => Ok(Shape::Single(req_str(
            &fields.name,
            "name",
            "name must be a string",
        )?)),
        (None, Some(raw)) => {
            let items: Vec<Box<RawValue>> = serde_json::from_str(raw.get())
                .map_err(|_| Error::InvalidInput("data must be a list"))?;
            if items.len() > limits.data_max_items {
                return Err(Error::InvalidInput("data has too many items"));
            }
            Ok(Shape::Many(items))
        }
    }
}

/// One attribute to write, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteItem {
    /// Attribute name.
    pub name: String,
    /// Value in clear.
    pub value: String,
    /// Encrypt it; `None` = the operation's default.
    pub encrypt: Option<bool>,
    /// Seconds until it expires; `None` = the operation's default.
    pub expiration: Option<i64>,
}

/// The fields of one `data` item (unknown ones ignored, duplicates refused).
#[derive(Deserialize)]
struct ItemFields {
    name: Option<Value>,
    value: Option<Value>,
    encrypt: Option<Value>,
    expiration: Option<Value>,
}

/// The items of a create/set/update: the single form's top-level fields, or
/// each `data` item with the top-level `encrypt`/`expiration` as defaults.
/// Errors in the many form name the failing item.
pub fn write_items(
    fields: &Fields,
    shape: &Shape<'_>,
    limits: &Limits,
) -> Result<Vec<WriteItem>, Failure> {
    let encrypt = opt_bool(&fields.encrypt, "encrypt must be true or false")?;
    let expiration = opt_expiration(&fields.expiration)?;
    match shape {
        Shape::Single(name) => {
            let item = one_item(name, &fields.value, limits, encrypt, expiration)?;
            Ok(alloc::vec![item])
        }
        Shape::Many(raw_items) => {
            let mut items = Vec::with_capacity(raw_items.len());
            let mut seen = BTreeSet::new();
            for (index, raw) in raw_items.iter().enumerate() {
                let at = |error| Failure::at(error, index);
                // An object only: serde would also fill the struct from a
                // list of its fields in order (`["n", "v", null, null]`).
                let item: ItemFields = is_object(raw)
                    .then(|| serde_json::from_str(raw.get()).ok())
                    .flatten()
                    .ok_or_else(|| {
                        at(Error::InvalidInput(
                            "each data item must be an object with a name and a value",
                        ))
                    })?;
                let name = req_str(&item.name, "name", "name must be a string").map_err(at)?;
                let item_encrypt = opt_bool(&item.encrypt, "encrypt must be true or false")
                    .map_err(at)?
                    .or(encrypt);
                let item_expiration = opt_expiration(&item.expiration).map_err(at)?.or(expiration);
                let item = one_item(name, &item.value, limits, item_encrypt, item_expiration)
                    .map_err(at)?;
                if !seen.insert(item.name.clone()) {
                    return Err(at(Error::InvalidInput("a name appears twice in data")));
                }
                items.push(item);
            }
            Ok(items)
        }
    }
}

/// Whether a raw JSON value is an object.
fn is_object(raw: &RawValue) -> bool {
    raw.get().trim_start().starts_with('{')
}

/// The names of a get, exists or delete: `name`, or `data` as a list of
/// names, each valid and unique within the call.
pub fn name_items(shape: &Shape<'_>, limits: &Limits) -> Result<Vec<String>, Failure> {
    match shape {
        Shape::Single(name) => {
            check_name(name, limits)?;
            Ok(alloc::vec![String::from(*name)])
        }
        Shape::Many(raw_items) => {
            let mut names = Vec::with_capacity(raw_items.len());
            let mut seen = BTreeSet::new();
            for (index, raw) in raw_items.iter().enumerate() {
                let at = |error| Failure::at(error, index);
                let name: String = serde_json::from_str(raw.get())
                    .map_err(|_| at(Error::InvalidInput("each data item must be a name")))?;
                check_name(&name, limits).map_err(at)?;
                if !seen.insert(name.clone()) {
                    return Err(at(Error::InvalidInput("a name appears twice in data")));
                }
                names.push(name);
            }
            Ok(names)
        }
    }
}

/// One validated write item: a valid name and a string value within limits.
fn one_item(
    name: &str,
    value: &Option<Value>,
    limits: &Limits,
    encrypt: Option<bool>,
    expiration: Option<i64>,
) -> Result<WriteItem, Error> {
    check_name(name, limits)?;
    let value = req_str(value, "value", "value must be a string")?;
    if value.len() > limits.value_max_bytes {
        return Err(Error::InvalidInput("value is too long"));
    }
    Ok(WriteItem {
        name: String::from(name),
        value: String::from(value),
        encrypt,
        expiration,
    })
}

/// SPEC 3: 1 to `name_max_bytes` bytes of UTF-8, no control characters.
pub fn check_name(name: &str, limits: &Limits) -> Result<(), Error> {
    if name.is_empty() || name.len() > limits.name_max_bytes {
        return Err(Error::InvalidInput(
            "name must not be empty or longer than the name limit (limits.name_max_bytes, 191 bytes by default)",
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(Error::InvalidInput(
            "name must not contain control characters",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> Fields {
        Fields::parse(body.as_bytes()).expect("valid body")
    }

    fn items(body: &str) -> Result<Vec<WriteItem>, Failure> {
        let fields = parse(body);
        let limits = Limits::default();
        let shape = shape(&fields, &limits).map_err(Failure::from)?;
        write_items(&fields, &shape, &limits)
    }

    #[test]
    fn shape_needs_exactly_one_of_name_and_data() {
        let limits = Limits::default();
        assert!(matches!(
            shape(&parse(r#"{}"#), &limits),
            Err(Error::MissingInput(_))
        ));
        assert!(matches!(
            shape(&parse(r#"{"name":"a","data":[]}"#), &limits),
            Err(Error::InvalidInput(_))
        ));
        assert!(matches!(
            shape(&parse(r#"{"data":"a"}"#), &limits),
            Err(Error::InvalidInput(_))
        ));
        let too_many = alloc::format!("{{\"data\":[{}1]}}", "1,".repeat(1000));
        assert!(matches!(
            shape(&parse(&too_many), &limits),
            Err(Error::InvalidInput(_))
        ));
    }

    #[test]
    fn items_inherit_top_level_defaults() {
        let got = items(
            r#"{"encrypt":true,"expiration":60,"data":[{"name":"a","value":"1"},{"name":"b","value":"2","encrypt":false,"expiration":5}]}"#,
        )
        .expect("valid");
        assert_eq!(got[0].encrypt, Some(true));
        assert_eq!(got[0].expiration, Some(60));
        assert_eq!(got[1].encrypt, Some(false));
        assert_eq!(got[1].expiration, Some(5));
    }

    #[test]
    fn item_errors_name_their_index() {
        let bad =
            items(r#"{"data":[{"name":"a","value":"1"},{"name":"b","value":"2","expiration":0}]}"#);
        assert_eq!(bad.err().and_then(|f| f.item), Some(1));
        let missing = items(r#"{"data":[{"name":"a"}]}"#).expect_err("no value");
        assert_eq!(missing, Failure::at(Error::MissingInput("value"), 0));
        let dup = items(r#"{"data":[{"name":"a","value":"1"},{"name":"a","value":"2"}]}"#);
        assert_eq!(dup.err().and_then(|f| f.item), Some(1));
        let not_object = items(r#"{"data":["a"]}"#);
        assert_eq!(not_object.err().and_then(|f| f.item), Some(0));
    }

    #[test]
    fn a_data_item_is_an_object_never_a_list_of_its_fields() {
        for list in [
            r#"{"data":[{"name":"a","value":"1"},["b","2",null,null]]}"#,
            r#"{"data":[{"name":"a","value":"1"},["b","2"]]}"#,
            r#"{"data":[{"name":"a","value":"1"},[]]}"#,
            r#"{"data":[{"name":"a","value":"1"},"b"]}"#,
            r#"{"data":[{"name":"a","value":"1"},5]}"#,
            r#"{"data":[{"name":"a","value":"1"},true]}"#,
        ] {
            let refused = items(list).expect_err(list);
            assert_eq!(refused.item, Some(1), "{list}");
            assert!(matches!(refused.error, Error::InvalidInput(_)), "{list}");
        }
        // `null` items are refused too (no name, no value).
        assert_eq!(
            items(r#"{"data":[null]}"#).err().and_then(|f| f.item),
            Some(0)
        );
    }

    fn names(body: &str) -> Result<Vec<String>, Failure> {
        let fields = parse(body);
        let limits = Limits::default();
        let shape = shape(&fields, &limits).map_err(Failure::from)?;
        name_items(&shape, &limits)
    }

    #[test]
    fn read_calls_take_a_name_or_a_list_of_unique_names() {
        assert_eq!(names(r#"{"name":"a"}"#), Ok(alloc::vec!["a".into()]));
        assert_eq!(
            names(r#"{"data":["b","a"]}"#),
            Ok(alloc::vec!["b".into(), "a".into()])
        );
        assert_eq!(names(r#"{"data":[]}"#), Ok(Vec::new()));
        assert_eq!(
            names(r#"{"data":["a",5]}"#).err().and_then(|f| f.item),
            Some(1)
        );
        assert_eq!(
            names(r#"{"data":["a","b","a"]}"#)
                .err()
                .and_then(|f| f.item),
            Some(2)
        );
        assert_eq!(
            names(r#"{"data":[""]}"#).err().and_then(|f| f.item),
            Some(0)
        );
        let single = names(r#"{"name":""}"#).expect_err("empty name");
        assert_eq!(single.item, None);
    }

    #[test]
    fn only_the_many_form_names_items() {
        assert_eq!(at_item(Error::AttrExists, 3, true).item, Some(3));
        assert_eq!(at_item(Error::AttrExists, 3, false).item, None);
    }

    #[test]
    fn names_and_values_respect_the_limits() {
        let limits = Limits::default();
        assert!(check_name(&"n".repeat(191), &limits).is_ok());
        assert!(check_name(&"n".repeat(192), &limits).is_err());
        assert!(check_name("", &limits).is_err());
        assert!(check_name("a\u{0}b", &limits).is_err());
        assert!(check_name("a\nb", &limits).is_err());
        assert!(check_name("é/:{}", &limits).is_ok());
        let long = alloc::format!(r#"{{"name":"a","value":"{}"}}"#, "v".repeat(65_537));
        assert!(items(&long).is_err());
        let max = alloc::format!(r#"{{"name":"a","value":"{}"}}"#, "v".repeat(65_536));
        assert!(items(&max).is_ok());
        assert_eq!(
            items(r#"{"name":"a","value":7}"#).err(),
            Some(Error::InvalidInput("value must be a string").into())
        );
        assert_eq!(
            items(r#"{"name":"a"}"#).err(),
            Some(Error::MissingInput("value").into())
        );
        assert!(items(r#"{"name":"a","value":""}"#).is_ok());
    }
}
