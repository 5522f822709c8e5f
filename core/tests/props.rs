//! Property tests: envelopes, names, expiry arithmetic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use base64::Engine as _;
use proptest::prelude::*;
use sessattr_core::config::{KeyEntry, KeyState, Limits};
use sessattr_core::crypto::{Keyring, Place, Scope};
use sessattr_core::encode_seed;
use sessattr_core::entropy::Entropy;
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
