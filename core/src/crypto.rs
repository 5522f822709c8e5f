//! Attribute encryption (SPEC 4): AES-256-GCM envelopes bound to their place.
//!
//! Envelope bytes: `version (1) | key id length (1) | key id | nonce (12) |
//! ciphertext+tag`, base64url without padding. The associated data binds the
//! ciphertext to the format version, the scope (session or user attribute),
//! the owner (session id) and the attribute name, so a ciphertext copied
//! anywhere else fails to open. Every failure is the same opaque
//! [`CryptoError`].

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use alloc::string::String;
use core::cell::Cell;
use alloc::vec::Vec;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use thiserror::Error;

use crate::config::{KeyEntry, KeyState};
use crate::entropy::Entropy;

/// Envelope format version.
pub const ENVELOPE_VERSION: u8 = 1;
const NONCE_LEN: usize = 12;

/// Any failure to seal or open: deliberately without detail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("encryption error")]
pub struct CryptoError;

/// What an envelope belongs to.
#[derive(Debug, Clone, Copy)]
pub enum Scope<'a> {
    /// An attribute of the session with this id.
    Session(&'a str),
    /// An attribute of the user with this id.
    User(&'a str),
}

/// Where a ciphertext belongs: its associated data.
#[derive(Debug, Clone, Copy)]
pub struct Place<'a> {
    /// Owner of the attribute.
    pub scope: Scope<'a>,
    /// Attribute name.
    pub name: &'a str,
}

impl Place<'_> {
    /// Length-prefixed associated data: version, scope, owner, name.
    fn associated_data(&self) -> Vec<u8> {
        let (scope, owner) = match self.scope {
            Scope::Session(sid) => ("session", sid),
            Scope::User(user_id) => ("user", user_id),
        };
        let mut aad = Vec::with_capacity(32 + owner.len() + self.name.len());
        aad.extend_from_slice(b"sessattr-envelope");
        aad.push(ENVELOPE_VERSION);
        for part in [scope, owner, self.name] {
            aad.extend_from_slice(&(part.len() as u32).to_be_bytes());
            aad.extend_from_slice(part.as_bytes());
        }
        aad
    }
}

/// One usable key.
struct Key {
    id: String,
    cipher: Aes256Gcm,
    state: KeyState,
}

/// The keys of the configuration, ready to use, and the count of
/// encryptions this decision made (the host's nonce budget, SPEC 4).
pub struct Keyring {
    keys: Vec<Key>,
    /// Most encryptions this decision may make; `None` = no limit.
    budget: Option<u32>,
    /// Encryptions made so far.
    sealed: Cell<u32>,
}

impl Keyring {
    /// Builds the keyring; an entry with a malformed key or an id longer than
    /// 255 bytes is an error (a configuration problem, reported without
    /// detail about the key).
    pub fn new(entries: &[KeyEntry]) -> Result<Self, CryptoError> {
        let mut keys = Vec::with_capacity(entries.len());
        for entry in entries {
            let bytes = STANDARD.decode(&entry.key).map_err(|_| CryptoError)?;
            if bytes.len() != 32 || entry.id.is_empty() || entry.id.len() > 255 {
                return Err(CryptoError);
            }
            let cipher = Aes256Gcm::new_from_slice(&bytes).map_err(|_| CryptoError)?;
            keys.push(Key {
                id: entry.id.clone(),
                cipher,
                state: entry.state,
            });
        }
        Ok(Self {
            keys,
            budget: None,
            sealed: Cell::new(0),
        })
    }

    /// The same keyring allowed at most `budget` encryptions (the embedding's
    /// share of the primary key's nonce budget); `None` = no limit.
    pub fn with_budget(mut self, budget: Option<u32>) -> Self {
        self.budget = budget;
        self
    }

    /// How many encryptions were made (attempted ones included).
    pub fn sealed_count(&self) -> u32 {
        self.sealed.get()
    }

    fn primary(&self) -> Option<&Key> {
        self.keys.iter().find(|k| k.state == KeyState::Primary)
    }

    /// The id of the key that seals new values, if there is one.
    pub fn primary_id(&self) -> Option<&str> {
        self.primary().map(|k| k.id.as_str())
    }

    /// Seals `plaintext` for `place` under the primary key with a fresh
    /// random nonce.
    pub fn seal(
        &self,
        plaintext: &str,
        place: Place<'_>,
        entropy: &mut Entropy,
    ) -> Result<String, CryptoError> {
        let key = self.primary().ok_or(CryptoError)?;
        let sealed = self.sealed.get();
        if self.budget.is_some_and(|budget| sealed >= budget) {
            return Err(CryptoError);
        }
        // Counted before sealing: a nonce drawn is a nonce spent.
        self.sealed.set(sealed.saturating_add(1));
        let nonce_bytes = entropy.bytes::<NONCE_LEN>();
        let nonce = Nonce::from(nonce_bytes);
        let aad = place.associated_data();
        let sealed = key
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: &aad,
                },
            )
            .map_err(|_| CryptoError)?;
        let mut envelope = Vec::with_capacity(2 + key.id.len() + NONCE_LEN + sealed.len());
        envelope.push(ENVELOPE_VERSION);
        envelope.push(key.id.len() as u8);
        envelope.extend_from_slice(key.id.as_bytes());
        envelope.extend_from_slice(&nonce_bytes);
        envelope.extend_from_slice(&sealed);
        Ok(URL_SAFE_NO_PAD.encode(envelope))
    }

    /// The id of the key an envelope names, without opening it (for
    /// `keys status` and `keys rotate`); a malformed envelope is an error.
    pub fn envelope_key_id(envelope: &str) -> Result<String, CryptoError> {
        let bytes = URL_SAFE_NO_PAD.decode(envelope).map_err(|_| CryptoError)?;
        let (id, _) = split_header(&bytes)?;
        String::from_utf8(id.to_vec()).map_err(|_| CryptoError)
    }

    /// Opens an envelope sealed for `place` by any primary or decrypt-only key.
    pub fn open(&self, envelope: &str, place: Place<'_>) -> Result<String, CryptoError> {
        let bytes = URL_SAFE_NO_PAD.decode(envelope).map_err(|_| CryptoError)?;
        let (id, rest) = split_header(&bytes)?;
        let (nonce_bytes, sealed) = rest.split_at(NONCE_LEN);
        let key = self
            .keys
            .iter()
            .find(|k| k.id.as_bytes() == id && k.state != KeyState::Retired)
            .ok_or(CryptoError)?;
        let nonce_array: [u8; NONCE_LEN] = nonce_bytes.try_into().map_err(|_| CryptoError)?;
        let aad = place.associated_data();
        let plain = key
            .cipher
            .decrypt(
                &Nonce::from(nonce_array),
                Payload {
                    msg: sealed,
                    aad: &aad,
                },
            )
            .map_err(|_| CryptoError)?;
        String::from_utf8(plain).map_err(|_| CryptoError)
    }
}

/// An envelope's key id and what follows it (nonce, ciphertext and tag),
/// after checking the version and that the nonce is there.
fn split_header(bytes: &[u8]) -> Result<(&[u8], &[u8]), CryptoError> {
    let (&version, rest) = bytes.split_first().ok_or(CryptoError)?;
    let (&id_len, rest) = rest.split_first().ok_or(CryptoError)?;
    if version != ENVELOPE_VERSION || rest.len() < usize::from(id_len) + NONCE_LEN {
        return Err(CryptoError);
    }
    Ok(rest.split_at(usize::from(id_len)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode_seed;

    fn entry(id: &str, byte: u8, state: KeyState) -> KeyEntry {
        KeyEntry {
            id: id.into(),
            key: STANDARD.encode([byte; 32]),
            state,
        }
    }

    fn entropy() -> Entropy {
        Entropy::from_seed_text(&encode_seed(&[7; 32])).expect("valid seed")
    }

    fn here<'a>(sid: &'a str, name: &'a str) -> Place<'a> {
        Place {
            scope: Scope::Session(sid),
            name,
        }
    }

    #[test]
    fn seal_then_open_round_trips() {
        let ring = Keyring::new(&[entry("k1", 1, KeyState::Primary)]).expect("keyring");
        let env = ring
            .seal("secret", here("s1", "a"), &mut entropy())
            .expect("seal");
        assert!(!env.contains("secret"));
        assert_eq!(ring.open(&env, here("s1", "a")), Ok("secret".into()));
    }

    #[test]
    fn a_moved_ciphertext_fails_like_a_corrupted_one() {
        let ring = Keyring::new(&[entry("k1", 1, KeyState::Primary)]).expect("keyring");
        let env = ring
            .seal("secret", here("s1", "a"), &mut entropy())
            .expect("seal");
        assert_eq!(ring.open(&env, here("s1", "b")), Err(CryptoError));
        assert_eq!(ring.open(&env, here("s2", "a")), Err(CryptoError));
        let user = Place {
            scope: Scope::User("s1"),
            name: "a",
        };
        assert_eq!(ring.open(&env, user), Err(CryptoError));
        let mut corrupted = env.clone().into_bytes();
        let last = corrupted.len() - 2;
        corrupted[last] = if corrupted[last] == b'A' { b'B' } else { b'A' };
        let corrupted = String::from_utf8(corrupted).expect("ascii");
        assert_eq!(ring.open(&corrupted, here("s1", "a")), Err(CryptoError));
        assert_eq!(ring.open("", here("s1", "a")), Err(CryptoError));
    }

    #[test]
    fn old_keys_decrypt_but_never_encrypt() {
        let old = Keyring::new(&[entry("k1", 1, KeyState::Primary)]).expect("keyring");
        let env = old.seal("v", here("s", "n"), &mut entropy()).expect("seal");
        let rotated = Keyring::new(&[
            entry("k1", 1, KeyState::DecryptOnly),
            entry("k2", 2, KeyState::Primary),
        ])
        .expect("keyring");
        assert_eq!(rotated.open(&env, here("s", "n")), Ok("v".into()));
        let fresh = rotated
            .seal("v", here("s", "n"), &mut entropy())
            .expect("seal");
        assert!(URL_SAFE_NO_PAD.decode(&fresh).expect("b64")[2..4] == *b"k2");
    }

    #[test]
    fn no_primary_means_no_sealing() {
        let ring = Keyring::new(&[entry("k1", 1, KeyState::DecryptOnly)]).expect("keyring");
        assert_eq!(
            ring.seal("v", here("s", "n"), &mut entropy()),
            Err(CryptoError)
        );
    }

    #[test]
    fn the_budget_caps_encryptions_and_every_seal_counts() {
        let ring = Keyring::new(&[entry("k1", 1, KeyState::Primary)])
            .expect("keyring")
            .with_budget(Some(2));
        let mut e = entropy();
        assert!(ring.seal("a", here("s", "n"), &mut e).is_ok());
        assert!(ring.seal("b", here("s", "n"), &mut e).is_ok());
        assert_eq!(ring.seal("c", here("s", "n"), &mut e), Err(CryptoError));
        assert_eq!(ring.sealed_count(), 2);
        let unlimited = Keyring::new(&[entry("k1", 1, KeyState::Primary)]).expect("keyring");
        for _ in 0..3 {
            unlimited.seal("v", here("s", "n"), &mut e).expect("seal");
        }
        assert_eq!(unlimited.sealed_count(), 3);
    }

    #[test]
    fn envelopes_name_their_key_and_retired_keys_open_nothing() {
        let ring = Keyring::new(&[entry("k-old", 1, KeyState::Primary)]).expect("keyring");
        let env = ring.seal("v", here("s", "n"), &mut entropy()).expect("seal");
        assert_eq!(Keyring::envelope_key_id(&env), Ok("k-old".into()));
        assert_eq!(Keyring::envelope_key_id("not an envelope"), Err(CryptoError));
        assert_eq!(ring.primary_id(), Some("k-old"));
        let retired = Keyring::new(&[
            entry("k-old", 1, KeyState::Retired),
            entry("k-new", 2, KeyState::Primary),
        ])
        .expect("keyring");
        assert_eq!(retired.open(&env, here("s", "n")), Err(CryptoError));
        assert_eq!(retired.primary_id(), Some("k-new"));
    }

    #[test]
    fn nonces_differ_between_seals() {
        let ring = Keyring::new(&[entry("k1", 1, KeyState::Primary)]).expect("keyring");
        let mut e = entropy();
        let a = ring.seal("v", here("s", "n"), &mut e).expect("seal");
        let b = ring.seal("v", here("s", "n"), &mut e).expect("seal");
        assert_ne!(a, b);
    }

    #[test]
    fn malformed_keys_are_refused() {
        let mut short = entry("k1", 1, KeyState::Primary);
        short.key = STANDARD.encode([1u8; 16]);
        assert!(Keyring::new(&[short]).is_err());
    }
}
