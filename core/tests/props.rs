//! Property tests: envelopes, names, expiry arithmetic, the strict body check.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use base64::Engine as _;
use proptest::prelude::*;
use sessattr_core::config::{KeyEntry, KeyState, Limits};
use sessattr_core::crypto::{Keyring, Place, Scope};
use sessattr_core::encode_seed;
use sessattr_core::entropy::Entropy;
use sessattr_core::http::strict::{self, Refusal};
use sessattr_core::ops::attr::items::check_name;

fn keyring() -> Keyring {
    Keyring::new(&[KeyEntry {
        id: "k1".into(),
        key: base64::engine::general_purpose::STANDARD.encode([5u8; 32]),
        state: KeyState::Primary,
    }])
    .unwrap()
}

proptest! {
    #[test]
    fn any_value_round_trips_only_in_its_place(
        value in ".{0,300}",
        name in "[a-z]{1,20}",
        other in "[a-z]{1,20}",
        seed in any::<[u8; 32]>(),
    ) {
        let ring = keyring();
        let mut entropy = Entropy::from_seed_text(&encode_seed(&seed)).unwrap();
        let here = Place { scope: Scope::Session("s1"), name: &name };
        let envelope = ring.seal(&value, here, &mut entropy).unwrap();
        prop_assert_eq!(ring.open(&envelope, here).unwrap(), value);
        if other != name {
            let there = Place { scope: Scope::Session("s1"), name: &other };
            prop_assert!(ring.open(&envelope, there).is_err());
        }
    }

    #[test]
    fn garbage_never_opens_and_never_panics(text in ".{0,200}") {
        let here = Place { scope: Scope::Session("s1"), name: "n" };
        prop_assert!(keyring().open(&text, here).is_err());
    }

    #[test]
    fn names_are_accepted_iff_within_limits(name in "\\PC{0,100}|.{0,250}") {
        let limits = Limits::default();
        let ok = !name.is_empty() && name.len() <= 191 && !name.chars().any(char::is_control);
        prop_assert_eq!(check_name(&name, &limits).is_ok(), ok);
    }
}

/// A JSON tree whose objects may repeat keys (which `serde_json::Value`
/// cannot hold), written out by [`Json::write`].
#[derive(Debug, Clone)]
enum Json {
    Null,
    Number(f64),
    Text(String),
    List(Vec<Json>),
    /// Keys in order, each with whether to write it with `\u` escapes.
    Object(Vec<(String, bool, Json)>),
}

impl Json {
    fn strategy() -> impl Strategy<Value = Json> {
        let leaf = prop_oneof![
            Just(Json::Null),
            (-1e300..1e300f64).prop_map(Json::Number),
            "\\PC{0,8}".prop_map(Json::Text),
        ];
        leaf.prop_recursive(6, 64, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Json::List),
                // Few key letters, so that repeated keys are common.
                prop::collection::vec(("[ab\u{e9}]{0,2}", any::<bool>(), inner), 0..12)
                    .prop_map(Json::Object),
            ]
        })
    }

    /// Whether some object of the tree gives a key twice.
    fn repeats_a_key(&self) -> bool {
        match self {
            Json::List(items) => items.iter().any(Json::repeats_a_key),
            Json::Object(members) => {
                let keys: std::collections::BTreeSet<&str> =
                    members.iter().map(|(k, _, _)| k.as_str()).collect();
                keys.len() < members.len() || members.iter().any(|(_, _, v)| v.repeats_a_key())
            }
            _ => false,
        }
    }

    fn write(&self, out: &mut String) {
        match self {
            Json::Null => out.push_str("null"),
            Json::Number(n) => out.push_str(&serde_json::to_string(n).unwrap()),
            Json::Text(t) => out.push_str(&serde_json::to_string(t).unwrap()),
            Json::List(items) => {
                out.push('[');
                for (at, item) in items.iter().enumerate() {
                    if at > 0 {
                        out.push_str(", ");
                    }
                    item.write(out);
                }
                out.push(']');
            }
            Json::Object(members) => {
                out.push('{');
                for (at, (key, escaped, value)) in members.iter().enumerate() {
                    if at > 0 {
                        out.push(',');
                    }
                    if *escaped {
                        out.push('"');
                        for unit in key.encode_utf16() {
                            out.push_str(&format!("\\u{unit:04x}"));
                        }
                        out.push('"');
                    } else {
                        out.push_str(&serde_json::to_string(key).unwrap());
                    }
                    out.push(':');
                    value.write(out);
                }
                out.push('}');
            }
        }
    }
}

proptest! {
    #[test]
    fn the_strict_check_refuses_exactly_the_bodies_that_repeat_a_key(json in Json::strategy()) {
        let mut text = String::new();
        json.write(&mut text);
        // Always JSON (serde_json reads it, letting the last key win).
        prop_assert!(serde_json::from_str::<serde_json::Value>(&text).is_ok(), "{}", text);
        let got = strict::check(text.as_bytes());
        if json.repeats_a_key() {
            prop_assert!(matches!(got, Err(Refusal::DuplicateKey { .. })), "{} → {:?}", text, got);
        } else {
            prop_assert_eq!(got, Ok(()), "{}", text);
        }
    }

    #[test]
    fn a_repeated_key_in_a_data_item_names_that_item(
        before in 0usize..20,
        key in "\\PC{0,6}",
    ) {
        let mut items: Vec<String> = (0..before).map(|i| format!(r#"{{"name":"n{i}","value":"v"}}"#)).collect();
        let key = serde_json::to_string(&key).unwrap();
        items.push(format!(r#"{{"name":"x","value":"v","deep":[{{{key}:1,{key}:2}}]}}"#));
        items.push(r#"{"name":"y","value":"v"}"#.to_owned());
        let body = format!(r#"{{"current_app":"CRM","data":[{}]}}"#, items.join(","));
        prop_assert_eq!(
            strict::check(body.as_bytes()),
            Err(Refusal::DuplicateKey { item: Some(before) })
        );
    }
}
