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
use alloc::sync::Arc;
use alloc::vec::Vec;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use core::cell::Cell;
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
/// encryptions this decision made (the host's nonce budget, SPEC 4). The
/// keys are built once ([`Keyring::new`]) and shared by every decision's
/// view of them ([`Keyring::for_decision`]).
pub struct Keyring {
    keys: Arc<[Key]>,
    /// Most encryptions this decision may make; `None` = no limit.
    budget: Option<u32>,
    /// Encryptions made so far.
    sealed: Cell<u32>,
}

impl Keyring {
    /// Builds the keyring; an entry with a malformed key, an empty, repeated
    /// or over-255-byte id, or more than one primary key is an error (a configuration problem, reported without
    /// detail about the key).
    pub fn new(entries: &[KeyEntry]) -> Result<Self, CryptoError> {
        let mut keys = Vec::with_capacity(entries.len());
        let primaries = entries
            .iter()
            .filter(|e| e.state == KeyState::Primary)
            .count();
        if primaries > 1 {
            return Err(CryptoError);
        }
        for (index, entry) in entries.iter().enumerate() {
            let bytes = STANDARD.decode(&entry.key).map_err(|_| CryptoError)?;
            let duplicate = entries[..index].iter().any(|other| other.id == entry.id);
            if bytes.len() != 32 || entry.id.is_empty() || entry.id.len() > 255 || duplicate {
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
            keys: keys.into(),
            budget: None,
            sealed: Cell::new(0),
        })
    }

    /// The same keys for one more decision, with its own count of
    /// encryptions (starting at 0) and at most `budget` of them; the keys
    /// are shared, not rebuilt.
    pub fn for_decision(&self, budget: Option<u32>) -> Self {
        Self {
            keys: Arc::clone(&self.keys),
            budget,
            sealed: Cell::new(0),
        }
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
        let env = ring
            .seal("v", here("s", "n"), &mut entropy())
            .expect("seal");
        assert_eq!(Keyring::envelope_key_id(&env), Ok("k-old".into()));
        assert_eq!(
            Keyring::envelope_key_id("not an envelope"),
            Err(CryptoError)
        );
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

    // ----- Fixed test vectors (tests/vectors/envelope.json) -----
    //
    // Each vector pins an envelope byte for byte: a fixed key and nonce,
    // the associated data as hex, the plaintext and the envelope. The
    // Node.js test (tests/node/envelope.test.mjs) opens the session ones
    // with the WebAssembly module and re-runs the create step of the step
    // vector there.

    use crate::protocol::{Decision, StepOutput, WriteAction};
    use crate::store::layout;
    use crate::store::record::{RECORD_VERSION, SessionRecord, UserRecord, decode, encode};
    use crate::ust::session_id;
    use alloc::collections::BTreeMap;
    use alloc::format;
    use alloc::vec;
    use serde_json::{Value, json};

    const VECTORS: &str = include_str!("../../tests/vectors/envelope.json");

    /// Seals as [`Keyring::seal`] does, with `nonce` instead of a fresh one:
    /// the layout of the envelope written out independently of `seal`, for
    /// the vectors only (the API never lets a caller choose a nonce, SPEC 4).
    fn seal_with_nonce(
        ring: &Keyring,
        plaintext: &str,
        place: Place<'_>,
        nonce: [u8; NONCE_LEN],
    ) -> Result<String, CryptoError> {
        let key = ring.primary().ok_or(CryptoError)?;
        let aad = place.associated_data();
        let payload = Payload {
            msg: plaintext.as_bytes(),
            aad: &aad,
        };
        let sealed = key
            .cipher
            .encrypt(&Nonce::from(nonce), payload)
            .map_err(|_| CryptoError)?;
        let id_len = u8::try_from(key.id.len()).map_err(|_| CryptoError)?;
        let mut bytes = vec![ENVELOPE_VERSION, id_len];
        bytes.extend_from_slice(key.id.as_bytes());
        bytes.extend_from_slice(&nonce);
        bytes.extend_from_slice(&sealed);
        Ok(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// The records a create step of the vectors reads: the session of
    /// `ust` (ending one hour after `now`) and its owner, an unlocked
    /// super-user (`owner`: the vector's `session_owner`).
    fn vector_fixture(ust: &str, owner: &Value, now: i64) -> BTreeMap<String, String> {
        let username = text(owner, "username");
        let user_id = text(owner, "user_id");
        assert_eq!(owner["is_super_user"], true);
        let user = UserRecord {
            v: RECORD_VERSION,
            user_id: user_id.into(),
            username: username.into(),
            password_hash: "not-a-hash: the vectors never log in".into(),
            is_super_user: true,
            is_locked: false,
            creation_time: now,
            session_epoch: 0,
        };
        let session = SessionRecord {
            v: RECORD_VERSION,
            user_id: user_id.into(),
            username: username.into(),
            current_app: "CRM".into(),
            creation_time: now,
            expiration_time: now + 3_600_000_000,
            remote_addr: String::new(),
            user_agent: String::new(),
            user_epoch: 0,
        };
        let mut records = BTreeMap::new();
        records.insert(layout::user_key(username), encode(&user));
        records.insert(layout::session_key(&session_id(ust)), encode(&session));
        records
    }

    /// Runs one operation through [`crate::step`] to its decision over
    /// `store` (the step loop of docs/abi.md, without the writes).
    fn decide(mut input: Value, store: &BTreeMap<String, String>) -> Decision {
        for _ in 0..32 {
            let step_input: crate::StepInput =
                serde_json::from_value(input.clone()).expect("a StepInput");
            match crate::step(&step_input) {
                StepOutput::Done(decision) => return decision,
                StepOutput::Need(need) => {
                    for key in need.get {
                        let value = store.get(&key).map_or(Value::Null, |v| json!(v));
                        input["records"][key.as_str()] = value;
                    }
                    for prefix in need.scan {
                        let found: Vec<(&String, &String)> = store
                            .iter()
                            .filter(|(k, _)| k.starts_with(&prefix))
                            .collect();
                        input["scans"][prefix.as_str()] = json!(found);
                    }
                }
                StepOutput::Rejected(why) => panic!("rejected: {why}"),
            }
        }
        panic!("no decision after 32 steps")
    }

    /// The vectors of tests/vectors/envelope.json.
    fn vectors() -> Vec<Value> {
        let doc: Value = serde_json::from_str(VECTORS).expect("envelope.json is JSON");
        assert_eq!(doc["format"], "sessattr-envelope-vectors");
        doc["vectors"].as_array().expect("a vectors list").clone()
    }

    fn text<'v>(v: &'v Value, field: &str) -> &'v str {
        v[field]
            .as_str()
            .unwrap_or_else(|| panic!("{field} of {}", v["description"]))
    }

    /// The place of a vector's `aad` fields.
    fn place_of(v: &Value) -> Place<'_> {
        let aad = &v["aad"];
        let owner = text(aad, "owner");
        let scope = match text(aad, "scope") {
            "session" => Scope::Session(owner),
            "user" => Scope::User(owner),
            other => panic!("unknown scope {other}"),
        };
        Place {
            scope,
            name: text(aad, "name"),
        }
    }

    fn key_entry(v: &Value, state: KeyState) -> KeyEntry {
        KeyEntry {
            id: text(v, "key_id").into(),
            key: text(v, "key").into(),
            state,
        }
    }

    /// A keyring of the vector's key alone, as primary.
    fn ring_of(v: &Value) -> Keyring {
        Keyring::new(&[key_entry(v, KeyState::Primary)]).expect("the vector's key")
    }

    fn nonce_of(v: &Value) -> [u8; NONCE_LEN] {
        let bytes = hex::decode(text(v, "nonce")).expect("hex nonce");
        bytes.try_into().expect("a 12-byte nonce")
    }

    #[test]
    fn the_vectors_cover_both_scopes_empty_and_non_ascii_values_long_key_ids_and_a_step() {
        let all = vectors();
        let has = |what: &dyn Fn(&Value) -> bool| all.iter().any(what);
        assert!(has(&|v| v["aad"]["scope"] == "session"));
        assert!(has(&|v| v["aad"]["scope"] == "user"));
        assert!(has(&|v| v["plaintext"] == ""));
        assert!(has(&|v| !text(v, "plaintext").is_ascii()));
        assert!(has(&|v| !text(&v["aad"], "name").is_ascii()));
        assert!(has(&|v| text(v, "key_id").len() > 1));
        assert!(has(&|v| v.get("step").is_some()));
        let nonces: BTreeMap<&str, &str> = all
            .iter()
            .map(|v| (text(v, "nonce"), text(v, "description")))
            .collect();
        assert_eq!(nonces.len(), all.len(), "no nonce repeats, even in vectors");
    }

    #[test]
    fn each_vector_seals_to_its_envelope_byte_for_byte() {
        for v in vectors() {
            let label = text(&v, "description");
            let place = place_of(&v);
            assert_eq!(
                hex::encode(place.associated_data()),
                text(&v, "aad_hex"),
                "{label}: AAD"
            );
            let envelope = text(&v, "envelope");
            let sealed = seal_with_nonce(&ring_of(&v), text(&v, "plaintext"), place, nonce_of(&v));
            assert_eq!(sealed.as_deref(), Ok(envelope), "{label}: envelope");

            // The layout, field by field.
            let bytes = URL_SAFE_NO_PAD.decode(envelope).expect("base64url");
            let id = text(&v, "key_id").as_bytes();
            let (header, rest) = bytes.split_at(2 + id.len());
            assert_eq!(header[..2], [ENVELOPE_VERSION, id.len() as u8], "{label}");
            assert_eq!(&header[2..], id, "{label}: key id");
            assert_eq!(rest[..NONCE_LEN], nonce_of(&v), "{label}: nonce");
            let plain_len = text(&v, "plaintext").len();
            assert_eq!(
                rest.len(),
                NONCE_LEN + plain_len + 16,
                "{label}: ciphertext+tag"
            );
            assert_eq!(
                Keyring::envelope_key_id(envelope).as_deref(),
                Ok(text(&v, "key_id"))
            );
            if let Some(ust) = v.get("ust") {
                let ust = ust.as_str().expect("ust");
                assert_eq!(v["aad"]["scope"], "session", "{label}");
                assert_eq!(session_id(ust), text(&v["aad"], "owner"), "{label}: owner");
            }
        }
    }

    #[test]
    fn seal_draws_its_nonce_from_the_entropy_and_lays_out_the_envelope_like_the_vectors() {
        for (i, v) in vectors().iter().enumerate() {
            let seed = encode_seed(&[u8::try_from(i).expect("few vectors"); 32]);
            let stream = || Entropy::from_seed_text(&seed).expect("seed");
            let nonce = stream().bytes::<NONCE_LEN>();
            let (ring, plain, place) = (ring_of(v), text(v, "plaintext"), place_of(v));
            assert_eq!(
                ring.seal(plain, place, &mut stream()),
                seal_with_nonce(&ring, plain, place, nonce),
                "{}",
                v["description"]
            );
        }
    }

    #[test]
    fn each_vector_opens_in_its_place_under_a_primary_or_decrypt_only_key_only() {
        let other = KeyEntry {
            id: "k-other".into(),
            key: STANDARD.encode([0xee; 32]),
            state: KeyState::Primary,
        };
        for v in vectors() {
            let label = text(&v, "description");
            let (envelope, place) = (text(&v, "envelope"), place_of(&v));
            let plain = Ok(String::from(text(&v, "plaintext")));
            assert_eq!(ring_of(&v).open(envelope, place), plain, "{label}");
            let rotated =
                Keyring::new(&[key_entry(&v, KeyState::DecryptOnly), other.clone()]).expect("ring");
            assert_eq!(
                rotated.open(envelope, place),
                plain,
                "{label}: decrypt-only"
            );
            let retired =
                Keyring::new(&[key_entry(&v, KeyState::Retired), other.clone()]).expect("ring");
            assert_eq!(
                retired.open(envelope, place),
                Err(CryptoError),
                "{label}: retired"
            );
            let mut impostor = key_entry(&v, KeyState::Primary);
            impostor.key = other.key.clone();
            let impostor = Keyring::new(&[impostor]).expect("ring");
            assert_eq!(
                impostor.open(envelope, place),
                Err(CryptoError),
                "{label}: other key bytes"
            );
        }
    }

    #[test]
    fn each_vector_moved_anywhere_else_fails_like_a_corrupted_one() {
        for v in vectors() {
            let label = text(&v, "description");
            let ring = ring_of(&v);
            let (envelope, place) = (text(&v, "envelope"), place_of(&v));
            let name = place.name;
            let (owner, other_scope) = match place.scope {
                Scope::Session(owner) => (owner, Scope::User(owner)),
                Scope::User(owner) => (owner, Scope::Session(owner)),
            };
            let with_owner = |owner| match place.scope {
                Scope::Session(_) => Scope::Session(owner),
                Scope::User(_) => Scope::User(owner),
            };
            let mut other_owner = String::from(owner);
            let last = other_owner.pop().expect("an owner");
            other_owner.push(if last == '0' { '1' } else { '0' });
            let other_name = format!("{name}x");
            // The owner/name boundary moved by one byte: the length prefixes
            // keep these apart.
            let longer_owner = format!("{owner}{}", name.get(..1).unwrap_or("-"));
            let shorter_name = name.get(1..).unwrap_or("");
            let elsewhere = [
                Place {
                    scope: place.scope,
                    name: &other_name,
                },
                Place {
                    scope: place.scope,
                    name: "",
                },
                Place {
                    scope: with_owner(&other_owner),
                    name,
                },
                Place {
                    scope: other_scope,
                    name,
                },
                Place {
                    scope: with_owner(&longer_owner),
                    name: shorter_name,
                },
            ];
            for moved in elsewhere {
                assert_eq!(
                    ring.open(envelope, moved),
                    Err(CryptoError),
                    "{label}: {moved:?}"
                );
            }

            let bytes = URL_SAFE_NO_PAD.decode(envelope).expect("base64url");
            for at in 0..bytes.len() {
                let mut corrupted = bytes.clone();
                corrupted[at] ^= 0x01;
                let corrupted = URL_SAFE_NO_PAD.encode(&corrupted);
                assert_eq!(
                    ring.open(&corrupted, place),
                    Err(CryptoError),
                    "{label}: byte {at}"
                );
                let truncated = URL_SAFE_NO_PAD.encode(&bytes[..at]);
                assert_eq!(
                    ring.open(&truncated, place),
                    Err(CryptoError),
                    "{label}: {at} bytes"
                );
            }
            let mut longer = bytes.clone();
            longer.push(0);
            let longer = URL_SAFE_NO_PAD.encode(&longer);
            assert_eq!(
                ring.open(&longer, place),
                Err(CryptoError),
                "{label}: a byte more"
            );
            let padded = format!("{envelope}=");
            assert_eq!(
                ring.open(&padded, place),
                Err(CryptoError),
                "{label}: padded"
            );
        }
    }

    #[test]
    fn the_create_step_seals_the_step_vector_with_the_nonce_its_seed_gives() {
        let steps: Vec<Value> = vectors()
            .into_iter()
            .filter(|v| v.get("step").is_some())
            .collect();
        assert!(!steps.is_empty());
        for v in steps {
            let ust = text(&v, "ust");
            let step = &v["step"];
            let now = step["now"].as_i64().expect("now");
            let decision = decide(
                step_input(&v),
                &vector_fixture(ust, &step["session_owner"], now),
            );
            assert_eq!(decision.response.status, 200, "{}", decision.response.body);
            assert_eq!(decision.encryptions, 1);
            let sid = session_id(ust);
            let envelope = created_envelope(&decision, &sid, text(&v["aad"], "name"));
            assert_eq!(envelope, text(&v, "envelope"));
        }
    }

    /// The step input of a vector's `step` entry.
    fn step_input(v: &Value) -> Value {
        let step = &v["step"];
        let body = step["body"].as_str().expect("body");
        json!({
            "config": {"keys": [{"id": v["key_id"], "key": v["key"], "state": "primary"}]},
            "op": {"http": {
                "method": step["method"], "path": step["path"], "query": "",
                "body": STANDARD.encode(body), "remote_addr": "", "user_agent": "",
            }},
            "now": step["now"],
            "seed": step["seed"],
            "records": {},
            "scans": {},
        })
    }

    /// The envelope a create decision wrote for attribute `name` of `sid`.
    fn created_envelope(decision: &Decision, sid: &str, name: &str) -> String {
        let key = layout::attr_key(sid, name);
        let op = decision
            .writes
            .ops
            .iter()
            .find(|op| op.key == key)
            .unwrap_or_else(|| panic!("no write of {key}: {}", decision.response.body));
        let WriteAction::Put { value, .. } = &op.action else {
            panic!("not a put")
        };
        let record: crate::store::record::AttrRecord = decode(value).expect("an attribute record");
        assert!(record.is_encrypted);
        record.value
    }
}
