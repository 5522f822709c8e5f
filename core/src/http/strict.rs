//! The whole request body checked once, strictly, before any field is read.
//!
//! One pass over the JSON text that builds no values: it reads every string
//! (so invalid UTF-8 and lone surrogates are found wherever they are, known
//! field or not), every number (so one beyond f64 is found), respects
//! serde_json's nesting limit, and compares the keys of every object, at
//! any depth: a key given twice in one object is refused rather than
//! letting the last one win (RFC 8259 leaves duplicates to the parser;
//! a reader that keeps the first and one that keeps the last would see two
//! different requests). Keys are compared after unescaping (`"a"` and
//! `"\u0061"` are the same key) and byte for byte (no Unicode
//! normalization).
//!
//! The pass replaces a parse into a `serde_json::Value` tree: it allocates
//! only one list of key slices per object (borrowed from the body unless a
//! key has escapes), so it is cheaper than the tree it replaces.

use alloc::borrow::Cow;
use alloc::vec::Vec;
use core::cell::Cell;
use core::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

/// Why a body was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Not JSON text: a syntax error, invalid UTF-8 or a lone surrogate in
    /// a string, a number beyond f64, nesting deeper than serde_json's
    /// limit, or bytes after the value.
    NotJson,
    /// A key appears twice in one object (of several such objects, the
    /// first to end in the text). `item` is the index of the top-level `data` list's item that
    /// holds that object, when one does.
    DuplicateKey {
        /// Index into the top-level `data` list, if the object is in it.
        item: Option<usize>,
    },
}

/// Checks `body` (JSON text of any shape). A body that is not JSON is
/// [`Refusal::NotJson`] even when it also repeats a key before its error.
pub fn check(body: &[u8]) -> Result<(), Refusal> {
    let found = Cell::new(None);
    let mut de = serde_json::Deserializer::from_slice(body);
    let walk = Node {
        found: &found,
        at: At::Top,
    };
    walk.deserialize(&mut de)
        .and_then(|()| de.end())
        .map_err(|_| Refusal::NotJson)?;
    match found.get() {
        Some(item) => Err(Refusal::DuplicateKey { item }),
        None => Ok(()),
    }
}

/// Where a value is in the body (for the item index of a refusal).
#[derive(Debug, Clone, Copy)]
enum At {
    /// The body itself.
    Top,
    /// The value of the top-level `data` key.
    Data,
    /// Anywhere below: inside `data` item N, or elsewhere (`None`).
    Inside(Option<usize>),
}

/// One value of the body, walked. The first duplicate key found is noted
/// in `found` (the walk goes on, so that a later syntax error still makes
/// the body not JSON).
#[derive(Clone, Copy)]
struct Node<'c> {
    found: &'c Cell<Option<Option<usize>>>,
    at: At,
}

impl Node<'_> {
    /// The node of a value inside this one; `key` is its key when this is
    /// an object, `index` its index when this is a list.
    fn child(self, key: Option<&str>, index: usize) -> Self {
        let at = match (self.at, key) {
            (At::Top, Some("data")) => At::Data,
            (At::Top, _) => At::Inside(None),
            (At::Data, None) => At::Inside(Some(index)),
            (At::Data, Some(_)) => At::Inside(None),
            (At::Inside(item), _) => At::Inside(item),
        };
        Self { at, ..self }
    }

    /// The item a duplicate key in this object belongs to.
    fn item(self) -> Option<usize> {
        match self.at {
            At::Inside(item) => item,
            At::Top | At::Data => None,
        }
    }
}

impl<'de> DeserializeSeed<'de> for Node<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Node<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut index = 0;
        while seq.next_element_seed(self.child(None, index))?.is_some() {
            index += 1;
        }
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut keys: Vec<Cow<'de, str>> = Vec::new();
        while let Some(key) = map.next_key_seed(Key)? {
            map.next_value_seed(self.child(Some(&key), 0))?;
            keys.push(key);
        }
        if self.found.get().is_none() && has_duplicate(&mut keys) {
            self.found.set(Some(self.item()));
        }
        Ok(())
    }
}

/// Whether `keys` holds one key twice (sorts it).
fn has_duplicate(keys: &mut [Cow<'_, str>]) -> bool {
    match keys.len() {
        0 | 1 => false,
        // Request objects are small: compare pairs without sorting.
        2..=8 => keys
            .iter()
            .enumerate()
            .any(|(at, key)| keys[at + 1..].contains(key)),
        _ => {
            keys.sort_unstable();
            keys.windows(2).any(|pair| pair[0] == pair[1])
        }
    }
}

/// An object key, borrowed from the body when it has no escapes.
struct Key;

impl<'de> DeserializeSeed<'de> for Key {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_borrowed_str<E: de::Error>(self, key: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(key))
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(key.into()))
    }

    fn visit_string<E: de::Error>(self, key: alloc::string::String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;
    use alloc::string::String;

    fn dup(item: Option<usize>) -> Result<(), Refusal> {
        Err(Refusal::DuplicateKey { item })
    }

    #[test]
    fn json_of_any_shape_passes() {
        for body in [
            &br#"{}"#[..],
            br#"{"a":1,"b":[1,2,{"a":1,"b":2}],"c":{"a":{"a":null}}}"#,
            br#"[1,"x",true,null,-0,1e308,99999999999999999999999]"#,
            br#""text""#,
            b" 5 ",
            br#"{"\u00e9":1,"e\u0301":2}"#,
            "{\"é\":1,\"e\u{301}\":2}".as_bytes(),
        ] {
            assert_eq!(check(body), Ok(()), "{}", String::from_utf8_lossy(body));
        }
    }

    #[test]
    fn what_is_not_json_is_refused_wherever_it_is() {
        for body in [
            &b""[..],
            b"{",
            b"{} {}",
            b"\xef\xbb\xbf{}",
            b"{\"x\":\"\xff\"}",
            b"{\"x\":[\"\xc3\"]}",
            b"{\"\xff\":1}",
            br#"{"x":"\ud800"}"#,
            br#"{"x":{"y":"\udc00"}}"#,
            br#"{"x":1e400}"#,
            br#"{"x":[-1e400]}"#,
            br#"{"x":NaN}"#,
            b"{\"x\":\"a\x00b\"}",
            // Not JSON wins over a duplicate seen before the error.
            br#"{"a":1,"a":2,"#,
        ] {
            assert_eq!(check(body), Err(Refusal::NotJson), "{body:?}");
        }
    }

    #[test]
    fn nesting_is_bounded_by_serde_jsons_limit() {
        let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert_eq!(check(deep(127).as_bytes()), Ok(()));
        assert_eq!(check(deep(128).as_bytes()), Err(Refusal::NotJson));
        assert_eq!(check(deep(100_000).as_bytes()), Err(Refusal::NotJson));
        let objects = format!("{}1{}", r#"{"a":"#.repeat(100_000), "}".repeat(100_000));
        assert_eq!(check(objects.as_bytes()), Err(Refusal::NotJson));
    }

    #[test]
    fn a_key_twice_in_any_object_is_refused() {
        assert_eq!(check(br#"{"a":1,"a":1}"#), dup(None));
        assert_eq!(check(br#"{"name":"a","n\u0061me":"b"}"#), dup(None));
        assert_eq!(check(br#"{"":1,"":2}"#), dup(None));
        assert_eq!(check(br#"{"x":{"k":1,"k":2}}"#), dup(None));
        assert_eq!(check(br#"[{"k":1,"k":2}]"#), dup(None));
        assert_eq!(check(br#"{"x":[[{"a":{"k":1,"k":2}}]]}"#), dup(None));
        // Nine keys or more: the sorted path.
        let many = r#"{"a":1,"b":1,"c":1,"d":1,"e":1,"f":1,"g":1,"h":1,"i":1,"e":1}"#;
        assert_eq!(check(many.as_bytes()), dup(None));
        let distinct: String = (0..10_000).map(|i| format!("\"k{i}\":{i},")).collect();
        let distinct = format!("{{{}\"end\":0}}", distinct);
        assert_eq!(check(distinct.as_bytes()), Ok(()));
    }

    #[test]
    fn a_duplicate_inside_data_names_its_item() {
        let body = br#"{"data":[{"name":"a","value":"1"},{"name":"b","value":"2","value":"3"}]}"#;
        assert_eq!(check(body), dup(Some(1)));
        let deep = br#"{"data":[{"name":"a"},["x",{"y":{"k":1,"k":1}}]]}"#;
        assert_eq!(check(deep), dup(Some(1)));
        // `data` that is an object, or a `data` below the top: no item.
        assert_eq!(check(br#"{"data":{"k":1,"k":2}}"#), dup(None));
        assert_eq!(check(br#"{"x":{"data":[{"k":1,"k":2}]}}"#), dup(None));
        // The first object to end with a duplicate is the one reported.
        let two = br#"{"data":[{"a":1},{"b":1,"b":1},{"c":1,"c":1}]}"#;
        assert_eq!(check(two), dup(Some(1)));
    }
}
