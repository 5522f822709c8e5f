//! What each fuzz target runs on one input, and the invariants it asserts.
//!
//! One function per target ([`request_parser`], [`envelope_decoder`],
//! [`record_decoder`], [`abi_step`], [`abi_step_structured`]), each taking
//! arbitrary bytes and panicking only when an invariant of the core does not
//! hold. The fuzz targets in `fuzz/fuzz_targets/` call them, and so does the
//! stable-toolchain test `core/tests/fuzz_regressions.rs` (which includes this
//! file by path) on every seed and regression input, so a crash found once
//! is checked by `cargo test` for good.
//!
//! Plain `std` and the core's own dependencies only (no libFuzzer, no
//! `arbitrary`): choices are drawn from the input bytes by [`Draw`].

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Map, Value, json};
use sha2::Digest as _;

use sessattr_core::config::{Argon2Params, Config, KeyEntry, KeyState, Limits};
use sessattr_core::crypto::{Keyring, Place, Scope};
use sessattr_core::entropy::Entropy;
use sessattr_core::error::Error;
use sessattr_core::http::fields::{Fields, MAX_EXPIRATION_SECS};
use sessattr_core::http::query::{self, QueryFields};
use sessattr_core::http::route::{self, Route};
use sessattr_core::ops::attr::items::{self, Shape};
use sessattr_core::protocol::{Decision, Expect, Need, WriteAction};
use sessattr_core::store::layout;
use sessattr_core::store::record::{
    self, AttrIndex, AttrRecord, RECORD_VERSION, SessionRecord, UserRecord,
};
use sessattr_core::{
    StepInput, StepOutput, configure_json, encode_seed, password, step, step_json, step_json_with,
};

/// The fuzz targets, by name (the folders of `fuzz/seeds/` and
/// `fuzz/regressions/`).
pub const TARGETS: [&str; 5] = [
    "request_parser",
    "envelope_decoder",
    "record_decoder",
    "abi_step",
    "abi_step_structured",
];

/// Runs the check of fuzz target `target` on `data`; `false` for an
/// unknown target name.
pub fn run(target: &str, data: &[u8]) -> bool {
    match target {
        "request_parser" => request_parser(data),
        "envelope_decoder" => envelope_decoder(data),
        "record_decoder" => record_decoder(data),
        "abi_step" => abi_step(data),
        "abi_step_structured" => abi_step_structured(data),
        _ => return false,
    }
    true
}

// ---------------------------------------------------------------------------
// request_parser

/// The HTTP request parser and validator on one request written as
/// `METHOD PATH?QUERY`, a newline, then the body bytes (missing parts are
/// empty). `$ust:admin`, `$ust:alice` and `$ust:bob` in the query and body
/// become the USTs of the fixture's sessions.
///
/// Checks the public pieces one by one (route, [`Fields::parse`],
/// [`query::parse`], [`Fields::merge_query`], the name/data shape and the
/// write or name items), then decides the whole request with the core's
/// step loop over the fixture store, which is never corrupted here: the
/// answer must be well formed and never a 500.
pub fn request_parser(data: &[u8]) {
    let fixture = fixture();
    let (line, body) = match data.iter().position(|&b| b == b'\n') {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &[][..]),
    };
    let line = fixture.fill_in(&String::from_utf8_lossy(line));
    let body = fixture.fill_in_bytes(body);
    let (method, target) = line.split_once(' ').unwrap_or((line.as_str(), ""));
    let (path, query_text) = target.split_once('?').unwrap_or((target, ""));
    let limits = fixture.config.limits;

    let route = route::route(method, path);
    if let Err(error) = route {
        assert!(
            matches!(error, Error::UnknownPath | Error::MethodNotAllowed { .. }),
            "route: {error:?}"
        );
    }
    let fields = check_fields_parse(&body);
    let query = check_query_parse(query_text);
    if let (Ok(route), Ok(mut fields), Ok(query)) = (route, fields, query) {
        if route.reads_query() {
            let expected = query_overrides(&query);
            fields
                .merge_query(query)
                .expect("merging a parsed query never fails");
            for (name, value) in expected {
                assert_eq!(
                    known_field(&fields, name),
                    Some(&value),
                    "query {name} wins"
                );
            }
        }
        check_items(route, &fields, &limits);
    }

    let op = json!({"http": {
        "method": method,
        "path": path,
        "query": query_text,
        "body": STANDARD.encode(&body),
        "body_too_large": body.len() > limits.body_max_bytes,
        "remote_addr": "192.0.2.1",
        "user_agent": "fuzz",
    }});
    let mut store = fixture.store.clone();
    let decisions = run_op(&mut store, &op, fixture.now, true);
    for decision in &decisions {
        assert_ne!(
            decision.response.status, 500,
            "a sound store gave an internal error: {decision:?}"
        );
    }
}

/// [`Fields::parse`], checked against a plain JSON parse of the same body
/// (which lets the last of a duplicate key win, where `parse` refuses the
/// body: a JSON object is read or invalid input).
fn check_fields_parse(body: &[u8]) -> Result<Fields, Error> {
    let parsed = Fields::parse(body).map_err(|failure| failure.error);
    if body.iter().all(u8::is_ascii_whitespace) {
        assert!(parsed.is_ok(), "an empty body is an empty object");
        return parsed;
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(object)) => match &parsed {
            Ok(fields) => {
                for name in KNOWN_FIELDS {
                    let sent = object.get(name).filter(|v| !v.is_null());
                    if name == "data" {
                        let raw = fields
                            .data
                            .as_ref()
                            .map(|d| serde_json::from_str::<Value>(d.get()).expect("data is JSON"));
                        assert_eq!(raw.as_ref(), sent, "field data");
                    } else {
                        assert_eq!(known_field(fields, name), sent, "field {name}");
                    }
                }
            }
            Err(error) => assert!(
                matches!(error, Error::InvalidInput(_)),
                "a JSON object is read or invalid input, not {error:?}"
            ),
        },
        _ => assert_eq!(
            parsed.as_ref().err(),
            Some(&Error::NotJson),
            "not a JSON object"
        ),
    }
    parsed
}

/// The known body fields ([`Fields`]).
const KNOWN_FIELDS: [&str; 12] = [
    "ust",
    "current_ust",
    "target_ust",
    "current_app",
    "name",
    "value",
    "data",
    "encrypt",
    "expiration",
    "decrypt",
    "username",
    "password",
];

/// A known field of [`Fields`] other than `data`, by name.
fn known_field<'f>(fields: &'f Fields, name: &str) -> Option<&'f Value> {
    match name {
        "ust" => fields.ust.as_ref(),
        "current_ust" => fields.current_ust.as_ref(),
        "target_ust" => fields.target_ust.as_ref(),
        "current_app" => fields.current_app.as_ref(),
        "name" => fields.name.as_ref(),
        "value" => fields.value.as_ref(),
        "encrypt" => fields.encrypt.as_ref(),
        "expiration" => fields.expiration.as_ref(),
        "decrypt" => fields.decrypt.as_ref(),
        "username" => fields.username.as_ref(),
        "password" => fields.password.as_ref(),
        _ => None,
    }
}

/// [`query::parse`]; what it reads must survive being encoded again.
fn check_query_parse(text: &str) -> Result<QueryFields, Error> {
    let parsed = query::parse(text);
    match &parsed {
        Ok(fields) => {
            let again = query::parse(&encode_query(fields)).expect("an encoded query parses");
            assert_eq!(&again, fields, "query round trip of {text:?}");
        }
        Err(error) => assert!(matches!(error, Error::InvalidInput(_)), "query: {error:?}"),
    }
    parsed
}

/// `fields` as a query string, every byte but unreserved ones escaped.
fn encode_query(fields: &QueryFields) -> String {
    let mut pairs = Vec::new();
    let single = [
        ("ust", &fields.ust),
        ("current_ust", &fields.current_ust),
        ("target_ust", &fields.target_ust),
        ("current_app", &fields.current_app),
        ("name", &fields.name),
        ("decrypt", &fields.decrypt),
    ];
    for (key, value) in single {
        if let Some(value) = value {
            pairs.push(format!("{key}={}", escape(value)));
        }
    }
    for value in fields.data.iter().flatten() {
        pairs.push(format!("data={}", escape(value)));
    }
    pairs.join("&")
}

/// Percent-encodes everything but `A–Z a–z 0–9 - . _ ~`.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The body fields a query sets, with the values they must get.
fn query_overrides(query: &QueryFields) -> Vec<(&'static str, Value)> {
    let mut out = Vec::new();
    let texts = [
        ("ust", &query.ust),
        ("current_ust", &query.current_ust),
        ("target_ust", &query.target_ust),
        ("current_app", &query.current_app),
        ("name", &query.name),
    ];
    for (name, text) in texts {
        if let Some(text) = text {
            out.push((name, Value::String(text.clone())));
        }
    }
    if let Some(decrypt) = &query.decrypt {
        let value = match decrypt.as_str() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            other => Value::String(other.into()),
        };
        out.push(("decrypt", value));
    }
    out
}

/// The name/data shape and the items of an attribute call: within the
/// limits, valid names, each once.
fn check_items(route: Route, fields: &Fields, limits: &Limits) {
    let writes = matches!(
        route,
        Route::AttrCreate | Route::AttrSet | Route::AttrUpdate
    );
    let reads = matches!(
        route,
        Route::AttrGet | Route::AttrExists | Route::AttrDelete
    );
    if !writes && !reads {
        return;
    }
    let Ok(shape) = items::shape(fields, limits) else {
        return;
    };
    if let Shape::Many(list) = &shape {
        assert!(list.len() <= limits.data_max_items, "too many items");
    }
    let names: Vec<String> = if writes {
        let Ok(list) = items::write_items(fields, &shape, limits) else {
            return;
        };
        if let Shape::Many(raw) = &shape {
            // Write items are objects, never a list of their fields.
            for item in raw {
                assert!(item.get().trim_start().starts_with('{'), "item {item}");
            }
        }
        for item in &list {
            assert!(item.value.len() <= limits.value_max_bytes, "value too long");
            if let Some(secs) = item.expiration {
                assert!(
                    (1..=MAX_EXPIRATION_SECS).contains(&secs),
                    "expiration {secs}"
                );
            }
        }
        list.into_iter().map(|item| item.name).collect()
    } else {
        match items::name_items(&shape, limits) {
            Ok(names) => names,
            Err(_) => return,
        }
    };
    let unique: BTreeSet<&String> = names.iter().collect();
    assert_eq!(unique.len(), names.len(), "names are unique");
    for name in &names {
        assert!(items::check_name(name, limits).is_ok(), "name {name:?}");
    }
}

// ---------------------------------------------------------------------------
// envelope_decoder

/// The envelope decoder ([`Keyring::open`]) on an input written as lines:
/// envelope, scope (`user` or anything else for a session), owner,
/// attribute name, then the rest as a plaintext.
///
/// The envelope must open only under its key and place, and only to what
/// was sealed; then the plaintext is sealed for that place and every
/// one-bit change, truncation and extension of the envelope must fail to
/// open (never panic), as must opening it elsewhere or under a retired key.
pub fn envelope_decoder(data: &[u8]) {
    let mut lines = data.splitn(5, |&b| b == b'\n');
    let mut next = || String::from_utf8_lossy(lines.next().unwrap_or_default()).into_owned();
    let (envelope, scope, owner, name, plaintext) = (next(), next(), next(), next(), next());
    let scope = if scope == "user" {
        Scope::User(&owner)
    } else {
        Scope::Session(&owner)
    };
    let place = Place { scope, name: &name };
    let keys = keyring();

    let key_id = Keyring::envelope_key_id(&envelope);
    let opened = keys.open(&envelope, place);
    if let Ok(plain) = &opened {
        let id = key_id
            .as_ref()
            .expect("an envelope that opens names its key");
        assert!(
            id == "k1" || id == "k-2026",
            "opened under the retired or an unknown key {id:?}"
        );
        assert_eq!(
            keys.open(&envelope, place).as_ref(),
            Ok(plain),
            "deterministic"
        );
        let elsewhere = format!("{name}\u{0}");
        let moved = Place {
            scope,
            name: &elsewhere,
        };
        assert!(
            keys.open(&envelope, moved).is_err(),
            "opened for another name"
        );
        let other_scope = match scope {
            Scope::Session(owner) => Scope::User(owner),
            Scope::User(owner) => Scope::Session(owner),
        };
        let moved = Place {
            scope: other_scope,
            name: &name,
        };
        assert!(
            keys.open(&envelope, moved).is_err(),
            "opened in another scope"
        );
    }

    let mut entropy = entropy_from(data);
    let sealed = keys
        .seal(&plaintext, place, &mut entropy)
        .expect("the primary key seals");
    assert_eq!(
        keys.open(&sealed, place).as_deref(),
        Ok(plaintext.as_str()),
        "seal then open"
    );
    assert_eq!(Keyring::envelope_key_id(&sealed).as_deref(), Ok("k1"));
    let bytes = URL_SAFE_NO_PAD
        .decode(&sealed)
        .expect("a sealed envelope decodes");
    let bit = data.first().copied().unwrap_or(0) % 8;
    for at in 0..bytes.len() {
        let mut changed = bytes.clone();
        changed[at] ^= 1 << bit;
        let changed = URL_SAFE_NO_PAD.encode(&changed);
        assert!(
            keys.open(&changed, place).is_err(),
            "bit {bit} of byte {at} changed"
        );
        let cut = URL_SAFE_NO_PAD.encode(&bytes[..at]);
        assert!(keys.open(&cut, place).is_err(), "cut to {at} bytes");
    }
    let mut longer = bytes.clone();
    longer.push(data.last().copied().unwrap_or(0));
    assert!(
        keys.open(&URL_SAFE_NO_PAD.encode(&longer), place).is_err(),
        "extended"
    );
    // A character that is not base64url, anywhere.
    let at = usize::from(data.get(1).copied().unwrap_or(0)) % sealed.len();
    let mut text = sealed.clone().into_bytes();
    text[at] = b'=';
    let text = String::from_utf8(text).expect("ASCII");
    assert!(keys.open(&text, place).is_err(), "a stray '=' at {at}");

    let retired = retired_keyring()
        .seal(&plaintext, place, &mut entropy)
        .expect("the retired key seals in its own keyring");
    assert!(keys.open(&retired, place).is_err(), "a retired key opened");
}

/// The keyring of the envelope target: the test-only keys of
/// `tests/vectors/envelope.json` (`k1` primary, `k-2026` decrypt-only)
/// and a retired `kr`. Built per input: it counts its encryptions.
fn keyring() -> Keyring {
    Keyring::new(&vector_keys(KeyState::Retired)).expect("keys")
}

/// `kr` as the primary key, to seal what the target's keyring must not open.
fn retired_keyring() -> Keyring {
    let keys: Vec<KeyEntry> = vector_keys(KeyState::Primary)
        .into_iter()
        .filter(|k| k.id == "kr")
        .collect();
    Keyring::new(&keys).expect("keys")
}

/// `k1` (bytes 0..31, primary), `k-2026` (bytes 32..63, decrypt-only)
/// and `kr` (bytes 64..95) in state `kr_state`.
fn vector_keys(kr_state: KeyState) -> Vec<KeyEntry> {
    let key = |start: u8| STANDARD.encode(std::array::from_fn::<u8, 32, _>(|i| start + i as u8));
    vec![
        KeyEntry {
            id: "k1".into(),
            key: key(0),
            state: KeyState::Primary,
        },
        KeyEntry {
            id: "k-2026".into(),
            key: key(32),
            state: KeyState::DecryptOnly,
        },
        KeyEntry {
            id: "kr".into(),
            key: key(64),
            state: kr_state,
        },
    ]
}

/// An [`Entropy`] seeded from the input (so each input seals with its own
/// nonce, reproducibly).
fn entropy_from(data: &[u8]) -> Entropy {
    Entropy::from_seed_text(&seed_for(data)).expect("a 32-byte seed")
}

/// A step seed (base64 of 32 bytes) that depends on every byte of `data`.
fn seed_for(data: &[u8]) -> String {
    let digest = sha2::Sha256::digest(data);
    encode_seed(&digest.into())
}

// ---------------------------------------------------------------------------
// record_decoder

/// The store record decoders ([`record::decode`]) on arbitrary text, as
/// each of the four record kinds: a record decodes only at the current
/// version, encodes back to text that decodes to the same record (and
/// encodes to the same text again), and its liveness agrees with its
/// expiry at and around every time it holds.
pub fn record_decoder(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let _ = round_trip::<UserRecord>(&text);
    let _ = round_trip::<SessionRecord>(&text);
    if let Ok(attr) = round_trip::<AttrRecord>(&text) {
        for now in times_around(
            &[attr.creation_time, attr.last_modified],
            attr.expiration_time,
        ) {
            let live = attr.expiration_time.is_none_or(|at| at > now);
            assert_eq!(attr.is_live(now), live, "attribute liveness at {now}");
        }
    }
    if let Ok(index) = round_trip::<AttrIndex>(&text) {
        let mut times = Vec::new();
        for entry in index.attrs.values().take(16) {
            times.extend(times_around(&[entry.0], entry.1));
        }
        for now in times {
            let live: Vec<&str> = index.live_names(now).collect();
            let expected: Vec<&str> = index
                .attrs
                .iter()
                .filter(|(_, e)| e.1.is_none_or(|at| at > now))
                .map(|(name, _)| name.as_str())
                .collect();
            assert_eq!(live, expected, "live names at {now}");
            for (name, entry) in &index.attrs {
                assert_eq!(index.live(name, now).is_some(), entry.is_live(now));
            }
            let mut pruned = index.clone();
            pruned.prune(now);
            let kept: Vec<&str> = pruned.attrs.keys().map(String::as_str).collect();
            assert_eq!(kept, expected, "prune at {now}");
        }
    }
    // Keys: the Redis Cluster hash tag is part of the key, and a session's
    // keys all carry its id as their tag.
    let tag = layout::hash_tag(&text);
    assert!(text.contains(tag), "hash tag of {text:?}");
    if !text.contains(['{', '}']) && !text.is_empty() {
        assert_eq!(layout::hash_tag(&layout::session_key(&text)), &*text);
        assert_eq!(layout::hash_tag(&layout::attr_key(&text, "n}{")), &*text);
        assert_eq!(layout::hash_tag(&layout::index_key(&text)), &*text);
    }
}

/// Decodes `text` as a `T`; a record that decodes has the current version
/// and survives encoding and decoding again unchanged.
fn round_trip<T>(text: &str) -> Result<T, Error>
where
    T: for<'a> serde::Deserialize<'a>
        + serde::Serialize
        + record::Versioned
        + PartialEq
        + std::fmt::Debug,
{
    let decoded: T = record::decode(text)?;
    assert_eq!(decoded.version(), RECORD_VERSION);
    let encoded = record::encode(&decoded);
    let again: T = record::decode(&encoded).expect("an encoded record decodes");
    assert_eq!(again, decoded, "round trip of {text:?}");
    assert_eq!(record::encode(&again), encoded, "encoding is stable");
    Ok(decoded)
}

/// Times worth checking liveness at: the given ones and the expiry, each
/// with its neighbours.
fn times_around(times: &[i64], expiry: Option<i64>) -> Vec<i64> {
    let mut out = vec![0, i64::MIN, i64::MAX];
    for &t in times.iter().chain(expiry.as_ref()) {
        out.extend([t.saturating_sub(1), t, t.saturating_add(1)]);
    }
    out
}

// ---------------------------------------------------------------------------
// abi_step

/// What the raw ABI runs on arbitrary bytes: `sessattr_core::step_json`
/// (a step input that carries its configuration) and `step_json_with`
/// over the fixture's configuration set up by `configure_json` (what
/// `sessattr_step` runs after `sessattr_configure`), and `configure_json`
/// itself. Every answer is JSON: a `StepOutput`, the same for the same
/// input; input that is not a `StepInput` is rejected; an input's own
/// configuration wins over the one set up; a need asks for a key or prefix
/// not given yet; a decision is well formed.
///
/// Inputs whose argon2 costs (in `config.argon2` or in a PHC string
/// anywhere in them) are beyond what the embeddings accept
/// ([`password::check_params`]) are skipped: both embeddings refuse such a
/// configuration, and the core trusts them and its own stored hashes with
/// the costs (one such step may allocate gigabytes).
pub fn abi_step(data: &[u8]) {
    let (_, answer) = configure_json(data);
    let answer: Map<String, Value> =
        serde_json::from_slice(&answer).expect("configure answers a JSON object");
    assert!(
        answer.get("configured") == Some(&Value::Bool(true))
            || answer.get("rejected").is_some_and(Value::is_string),
        "configure answered {answer:?}"
    );
    if too_costly(data) {
        return;
    }
    let input = serde_json::from_slice::<StepInput>(data).ok();
    let out = step_json(data);
    check_step_answer(&out, input.as_ref());
    assert_eq!(step_json(data), out, "the same input gives the same answer");
    let fixture_config = serde_json::to_vec(&fixture().config_json).expect("serializes");
    let (prepared, _) = configure_json(&fixture_config);
    let prepared = prepared.expect("the fixture's configuration is accepted");
    let configured = step_json_with(data, Some(&prepared));
    check_step_answer(&configured, input.as_ref());
    if input.as_ref().is_some_and(|i| i.config.is_some()) {
        assert_eq!(configured, out, "an input's own configuration wins");
    }
}

/// One answer of `step_json` (or `step_json_with`) to an input that reads
/// as `input` (or not at all).
fn check_step_answer(out: &[u8], input: Option<&StepInput>) {
    let output: StepOutput = serde_json::from_slice(out).expect("the answer is a StepOutput");
    let Some(input) = input else {
        assert!(
            matches!(output, StepOutput::Rejected(_)),
            "not a StepInput, yet {output:?}"
        );
        return;
    };
    match output {
        StepOutput::Need(need) => check_need(&need, &input.records, &input.scans),
        StepOutput::Done(decision) => check_decision(&decision, &input.records, &input.scans),
        StepOutput::Rejected(_) => {}
    }
}

/// Whether `data`, read as JSON, holds argon2 costs beyond
/// [`password::check_params`]: a `config.argon2` object, or a PHC string
/// (in the input or in a record inside it).
fn too_costly(data: &[u8]) -> bool {
    let Ok(value) = serde_json::from_slice::<Value>(data) else {
        return false;
    };
    costly_value(&value, 0)
}

/// [`too_costly`] on one JSON value, records (JSON text) included.
fn costly_value(value: &Value, depth: u32) -> bool {
    match value {
        Value::Object(object) => {
            if let Some(Value::Object(costs)) = object.get("argon2") {
                let number = |key: &str, default: u32| match costs.get(key) {
                    Some(v) => v.as_u64().and_then(|n| u32::try_from(n).ok()),
                    None => Some(default),
                };
                let defaults = Argon2Params::default();
                // Costs that are not numbers that fit leave the
                // configuration unreadable: nothing to skip for them.
                if let (Some(m_cost), Some(t_cost), Some(p_cost)) = (
                    number("m_cost", defaults.m_cost),
                    number("t_cost", defaults.t_cost),
                    number("p_cost", defaults.p_cost),
                ) {
                    let params = Argon2Params {
                        m_cost,
                        t_cost,
                        p_cost,
                    };
                    if password::check_params(params).is_err() {
                        return true;
                    }
                }
            }
            object.values().any(|v| costly_value(v, depth))
        }
        Value::Array(list) => list.iter().any(|v| costly_value(v, depth)),
        Value::String(text) => {
            let text = text.trim_start();
            if text.starts_with('{') {
                // A record inside the input, or an attribute value that is JSON.
                return depth < 4
                    && serde_json::from_str::<Value>(text)
                        .is_ok_and(|v| costly_value(&v, depth + 1));
            }
            let Ok(hash) = argon2::PasswordHash::new(text) else {
                return false;
            };
            argon2::Params::try_from(&hash).is_ok_and(|params| {
                password::check_params(Argon2Params {
                    m_cost: params.m_cost(),
                    t_cost: params.t_cost(),
                    p_cost: params.p_cost(),
                })
                .is_err()
            })
        }
        _ => false,
    }
}

/// A need asks for something, and for at least one key or prefix that was
/// not given yet (else the step loop would never end).
fn check_need(
    need: &Need,
    records: &BTreeMap<String, Option<String>>,
    scans: &BTreeMap<String, Vec<(String, String)>>,
) {
    let new_key = need.get.iter().any(|k| !records.contains_key(k));
    let new_scan = need.scan.iter().any(|p| !scans.contains_key(p));
    assert!(new_key || new_scan, "a need for nothing new: {need:?}");
}

/// A decision's response is a well-formed envelope that agrees with its
/// log line, and its writes are sound: none on an error, all on one hash
/// tag, every record put decodes as its kind, and every precondition
/// names a value the step was given (or absence).
fn check_decision(
    decision: &Decision,
    records: &BTreeMap<String, Option<String>>,
    scans: &BTreeMap<String, Vec<(String, String)>>,
) {
    let scanned = |key: &str| {
        scans
            .values()
            .flatten()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    let response = &decision.response;
    let body: Map<String, Value> =
        serde_json::from_str(&response.body).expect("the response body is a JSON object");
    let cid = body.get("cid").and_then(Value::as_str).expect("a cid");
    assert!(
        cid.len() == 24
            && cid
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        "cid {cid:?}"
    );
    assert_eq!(cid, decision.log.cid, "the log's cid");
    let ok = response.status == 200;
    let status = body.get("status").and_then(Value::as_str);
    assert_eq!(
        status,
        Some(if ok { "ok" } else { "error" }),
        "status field"
    );
    assert_eq!(
        decision.log.status,
        if ok { "ok" } else { "error" },
        "log status"
    );
    if ok {
        assert!(!body.contains_key("sub_status"), "sub_status on success");
    } else {
        let codes: Vec<&str> = body
            .get("sub_status")
            .and_then(Value::as_array)
            .expect("sub_status on an error")
            .iter()
            .map(|code| code.as_str().expect("a code is a string"))
            .collect();
        assert_eq!(codes, decision.log.sub_status, "log sub_status");
        assert_eq!(codes.len(), 1, "one code");
        let expected = match response.status {
            400 | 413 => "E008002",
            404 | 405 => "E008001",
            500 => "E008004",
            403 => codes[0],
            other => panic!("HTTP status {other}"),
        };
        assert_eq!(codes[0], expected, "the code of HTTP {}", response.status);
        assert!(
            decision.writes.is_empty() && !decision.run_again,
            "an error writes nothing"
        );
    }
    let allow = response.headers.iter().any(|(name, _)| name == "allow");
    assert_eq!(allow, response.status == 405, "Allow header iff 405");
    assert!(
        !(decision.run_again && decision.writes.is_empty()),
        "run again without writes"
    );

    let tags: BTreeSet<&str> = decision
        .writes
        .ops
        .iter()
        .map(|op| layout::hash_tag(&op.key))
        .collect();
    assert!(tags.len() <= 1, "a write set spans hash tags {tags:?}");
    for op in &decision.writes.ops {
        if let WriteAction::Put { value, .. } = &op.action {
            check_record(&op.key, value);
        }
        match &op.expect {
            Expect::Any => {}
            Expect::Absent => assert!(
                records.get(&op.key).is_none_or(Option::is_none) && scanned(&op.key).is_none(),
                "expects {} absent, but it was read present",
                op.key
            ),
            Expect::Value(value) => assert!(
                records.get(&op.key) == Some(&Some(value.clone()))
                    || scanned(&op.key) == Some(value.as_str()),
                "expects {} to hold a value it did not read",
                op.key
            ),
        }
    }
}

/// A record the core writes decodes as the kind its key says.
fn check_record(key: &str, value: &str) {
    let decoded = if key.starts_with("sa:s:") {
        record::decode::<SessionRecord>(value).map(drop)
    } else if key.starts_with("sa:a:") {
        record::decode::<AttrRecord>(value).map(drop)
    } else if key.starts_with("sa:i:") {
        record::decode::<AttrIndex>(value).map(drop)
    } else if key.starts_with(layout::USER_PREFIX) {
        record::decode::<UserRecord>(value).map(drop)
    } else {
        panic!("a put under an unknown key {key:?}")
    };
    assert!(
        decoded.is_ok(),
        "the core wrote an unreadable record under {key}"
    );
}

// ---------------------------------------------------------------------------
// abi_step_structured

/// Like [`abi_step`], but the input only chooses: an operation (an HTTP
/// request to a known path with a JSON body of known fields, or a CLI
/// command), `now`, and changes to a fixture store (records dropped,
/// replaced or with one field changed). The step input built from those
/// choices is valid JSON, so the fuzzer explores the decisions rather
/// than the JSON parser. The whole step loop runs over the store, applying
/// each decision (re-running on `run_again`), checking every step's
/// answer as [`abi_step`] does and that no step is ever rejected.
pub fn abi_step_structured(data: &[u8]) {
    let fixture = fixture();
    let mut draw = Draw::new(data);
    let mut store = fixture.store.clone();
    for _ in 0..draw.below(4) {
        mutate_store(&mut draw, &mut store);
    }
    let now = match draw.below(8) {
        0 => fixture.now + draw.i64() % (7200 * 1_000_000),
        1 => fixture.now + 3_600_000_000 - 1,
        2 => fixture.now + 3_600_000_000,
        3 => fixture.now + 60_000_000,
        4 => draw.i64(),
        _ => fixture.now,
    };
    let op = draw_operation(&mut draw, fixture);
    run_op(&mut store, &op, now, true);
}

/// One change to the store: drop a record, replace it with drawn text, or
/// change one field of it.
fn mutate_store(draw: &mut Draw<'_>, store: &mut BTreeMap<String, String>) {
    if store.is_empty() {
        return;
    }
    let keys: Vec<String> = store.keys().cloned().collect();
    let key = keys[draw.below(keys.len())].clone();
    match draw.below(4) {
        0 => {
            store.remove(&key);
        }
        1 => {
            let text = draw.text();
            store.insert(key, text);
        }
        _ => {
            let Some(Value::Object(mut object)) =
                store.get(&key).and_then(|t| serde_json::from_str(t).ok())
            else {
                return;
            };
            let fields: Vec<String> = object.keys().cloned().collect();
            if fields.is_empty() {
                return;
            }
            let field = fields[draw.below(fields.len())].clone();
            let value = draw_value(draw);
            object.insert(field, value);
            store.insert(key, Value::Object(object).to_string());
        }
    }
}

/// A JSON value worth putting in a record or a body field.
fn draw_value(draw: &mut Draw<'_>) -> Value {
    match draw.below(10) {
        0 => Value::Null,
        1 => Value::Bool(draw.below(2) == 0),
        2 => json!(draw.i64()),
        3 => json!(draw.below(4) as i64 - 1),
        4 => json!(1.5),
        5 => json!(u64::MAX),
        6 => json!([]),
        7 => json!({}),
        _ => Value::String(draw.text()),
    }
}

/// The operation the input chooses, as `Operation` JSON.
fn draw_operation(draw: &mut Draw<'_>, fixture: &Fixture) -> Value {
    match draw.below(12) {
        0 => json!({"user_add": {
            "username": draw_username(draw),
            "password": draw.text(),
            "is_super_user": draw.below(2) == 0,
        }}),
        1 => json!({"user_list": {}}),
        2 => json!({"user_lock": {"username": draw_username(draw)}}),
        3 => json!({"user_unlock": {"username": draw_username(draw)}}),
        4 => json!({"user_delete": {"username": draw_username(draw)}}),
        5 => json!({"user_passwd": {"username": draw_username(draw), "password": draw.text()}}),
        6 => {
            let session = match draw.below(3) {
                0 => draw.text(),
                n => fixture.sids[n % fixture.sids.len()].clone(),
            };
            let after = match draw.below(3) {
                0 => Value::Null,
                1 => json!("a"),
                _ => Value::String(draw.text()),
            };
            json!({"rekey": {
                "session": session,
                "after": after,
                "limit": draw.below(4),
                "rewrite": draw.below(2) == 0,
            }})
        }
        _ => draw_http(draw, fixture),
    }
}

/// A fixture user's name, or drawn text.
fn draw_username(draw: &mut Draw<'_>) -> String {
    match draw.below(5) {
        0 => draw.text(),
        n => USERS[(n - 1) % USERS.len()].0.into(),
    }
}

/// The paths an HTTP operation goes to.
const PATHS: [&str; 7] = [
    route::ATTR_PATH,
    route::EXISTS_PATH,
    route::NAMES_PATH,
    route::LOGIN_PATH,
    route::LOGOUT_PATH,
    route::SESSION_PATH,
    route::USER_PATH,
];

/// An HTTP operation to a known path (mostly) with a body of known fields
/// (mostly), as `Operation` JSON.
fn draw_http(draw: &mut Draw<'_>, fixture: &Fixture) -> Value {
    let method = match draw.below(8) {
        0 => "GET",
        1 => "POST",
        2 => "PUT",
        3 => "PATCH",
        4 => "DELETE",
        5 => "HEAD",
        _ => ["GET", "POST", "PUT"][draw.below(3)],
    };
    let path = match draw.below(10) {
        0 => draw.text(),
        n => PATHS[(n - 1) % PATHS.len()].into(),
    };
    let mut body = Map::new();
    for _ in 0..draw.below(8) {
        let field = KNOWN_FIELDS[draw.below(KNOWN_FIELDS.len())];
        let value = draw_field(draw, field, fixture);
        body.insert(field.into(), value);
    }
    let mut query = Vec::new();
    for _ in 0..draw.below(3) {
        let key = [
            "name",
            "data",
            "current_ust",
            "target_ust",
            "decrypt",
            "current_app",
        ][draw.below(6)];
        let value = match draw_field(draw, key, fixture) {
            Value::String(text) => text,
            other => other.to_string(),
        };
        query.push(format!("{key}={}", escape(&value)));
    }
    let body = if draw.below(16) == 0 {
        draw.text().into_bytes()
    } else {
        Value::Object(body).to_string().into_bytes()
    };
    json!({"http": {
        "method": method,
        "path": path,
        "query": query.join("&"),
        "body": STANDARD.encode(body),
        "body_too_large": draw.below(32) == 0,
        "remote_addr": "192.0.2.1",
        "user_agent": "fuzz",
    }})
}

/// A value for a known body field: mostly one that passes its checks.
fn draw_field(draw: &mut Draw<'_>, field: &str, fixture: &Fixture) -> Value {
    if draw.below(8) == 0 {
        return draw_value(draw);
    }
    let name = |draw: &mut Draw<'_>| match draw.below(6) {
        0 => Value::String(draw.text()),
        n => json!(["a", "secret", "soon", "b", "grüße"][n - 1]),
    };
    match field {
        "ust" | "current_ust" | "target_ust" => match draw.below(6) {
            0 => Value::String(draw.text()),
            1 => json!("A".repeat(43)),
            n => Value::String(fixture.usts[(n - 2) % fixture.usts.len()].clone()),
        },
        "current_app" => json!(["CRM", "CRM", "crm", "Other"][draw.below(4)]),
        "name" => name(draw),
        "value" => match draw.below(3) {
            0 => json!("value one"),
            1 => json!(""),
            _ => Value::String(draw.text()),
        },
        "data" => {
            let mut list = Vec::new();
            for _ in 0..draw.below(4) {
                let item = match draw.below(3) {
                    0 => name(draw),
                    1 => json!({"name": name(draw), "value": draw.text()}),
                    _ => json!({
                        "name": name(draw),
                        "value": draw.text(),
                        "encrypt": draw.below(2) == 0,
                        "expiration": draw.below(120),
                    }),
                };
                list.push(item);
            }
            Value::Array(list)
        }
        "encrypt" | "decrypt" => Value::Bool(draw.below(2) == 0),
        "expiration" => json!([1, 60, 3600, MAX_EXPIRATION_SECS, 0][draw.below(5)]),
        "username" => Value::String(draw_username(draw)),
        "password" => match draw.below(3) {
            0 => Value::String(draw.text()),
            n => json!(USERS[n % USERS.len()].1),
        },
        _ => draw_value(draw),
    }
}

// ---------------------------------------------------------------------------
// The fixture: a small store of users, sessions and attributes.

/// The fixture's users: name, password, super-user.
const USERS: [(&str, &str, bool); 3] = [
    ("admin", "fuzz-admin-Pa55", true),
    ("alice", "fuzz-alice-Pa55", false),
    ("bob", "fuzz-bob-Pa55", false),
];

/// 2026-12-03T19:00:00Z in unix micros: the fixture's clock.
const T0: i64 = 1_796_324_400_000_000;

/// A store made through the core itself, with what a request needs to get
/// past authorization: users, a session of each, and attributes of
/// alice's (plain, encrypted, expiring) and of bob's.
struct Fixture {
    config: Config,
    /// The configuration as JSON, as a step input carries it.
    config_json: Value,
    store: BTreeMap<String, String>,
    now: i64,
    /// The sessions' USTs, in the order of [`USERS`].
    usts: Vec<String>,
    /// The sessions' ids.
    sids: Vec<String>,
}

impl Fixture {
    /// `$ust:USER` replaced by that user's UST.
    fn fill_in(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for ((user, _, _), ust) in USERS.iter().zip(&self.usts) {
            out = out.replace(&format!("$ust:{user}"), ust);
        }
        out
    }

    /// [`Fixture::fill_in`] on bytes that may not be UTF-8.
    fn fill_in_bytes(&self, bytes: &[u8]) -> Vec<u8> {
        match std::str::from_utf8(bytes) {
            Ok(text) => self.fill_in(text).into_bytes(),
            Err(_) => bytes.to_vec(),
        }
    }
}

/// The fixture, made once per process.
fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(make_fixture)
}

fn make_fixture() -> Fixture {
    let config = Config {
        keys: vector_keys(KeyState::Retired),
        argon2: Argon2Params {
            m_cost: 64,
            t_cost: 1,
            p_cost: 1,
        },
        ..Config::default()
    };
    let config_json = serde_json::to_value(&config).expect("the config serializes");
    let mut fixture = Fixture {
        config,
        config_json,
        store: BTreeMap::new(),
        now: T0,
        usts: Vec::new(),
        sids: Vec::new(),
    };
    let mut store = BTreeMap::new();
    for (name, password, super_user) in USERS {
        let op = json!({"user_add": {
            "username": name, "password": password, "is_super_user": super_user,
        }});
        run_fixture_op(&fixture, &mut store, op);
    }
    for (name, password, _) in USERS {
        let body = json!({"username": name, "password": password, "current_app": "CRM"});
        let answer = run_fixture_op(&fixture, &mut store, http("POST", route::LOGIN_PATH, &body));
        let ust = answer["ust"]
            .as_str()
            .expect("a login answers a UST")
            .to_owned();
        fixture.sids.push(sessattr_core::ust::session_id(&ust));
        fixture.usts.push(ust);
    }
    let (admin, alice, bob) = (&fixture.usts[0], &fixture.usts[1], &fixture.usts[2]);
    let creates = [
        json!({"current_ust": admin, "target_ust": alice, "current_app": "CRM",
               "data": [{"name": "a", "value": "value one"},
                        {"name": "secret", "value": "top secret", "encrypt": true},
                        {"name": "soon", "value": "expiring", "expiration": 60}]}),
        json!({"current_ust": admin, "target_ust": bob, "current_app": "CRM",
               "name": "b", "value": "bob's", "encrypt": true}),
    ];
    for body in creates {
        run_fixture_op(&fixture, &mut store, http("POST", route::ATTR_PATH, &body));
    }
    fixture.store = store;
    fixture
}

/// An `Operation::Http` with a JSON body.
fn http(method: &str, path: &str, body: &Value) -> Value {
    json!({"http": {
        "method": method, "path": path, "body": STANDARD.encode(body.to_string()),
    }})
}

/// Runs a fixture-building operation, which must succeed; its answer body.
fn run_fixture_op(fixture: &Fixture, store: &mut BTreeMap<String, String>, op: Value) -> Value {
    let decisions = run_op_with(&fixture.config_json, store, &op, fixture.now, true);
    let last = decisions.last().expect("a decision");
    assert_eq!(last.response.status, 200, "fixture: {}", last.response.body);
    serde_json::from_str(&last.response.body).expect("JSON")
}

/// Runs `op` with the fixture's configuration over `store`: see [`run_op_with`].
fn run_op(
    store: &mut BTreeMap<String, String>,
    op: &Value,
    now: i64,
    sound: bool,
) -> Vec<Decision> {
    run_op_with(&fixture().config_json, store, op, now, sound)
}

/// Most steps of one attempt (the host's bound, `host/src/runner.rs`).
const MAX_STEPS: usize = 32;
/// Most runs of one operation in a row when decisions say run again.
const MAX_RUNS: usize = 4;

/// The step loop of `docs/abi.md` over `store`, through `step_json` (the
/// bytes of the raw ABI): answers every need from the store, checks each
/// answer, applies each decision's writes (their preconditions must hold:
/// nothing races here) and runs again when told. Answers the decisions.
/// `sound` = also check that no step is rejected (the input is sound).
fn run_op_with(
    config: &Value,
    store: &mut BTreeMap<String, String>,
    op: &Value,
    now: i64,
    sound: bool,
) -> Vec<Decision> {
    let mut decisions = Vec::new();
    let op_text = op.to_string();
    for run in 0..MAX_RUNS {
        // A seed of its own for every operation and run, as an embedding
        // draws a fresh one (reproducible here).
        let seed = seed_for(&[op_text.as_bytes(), &[run as u8]].concat());
        let mut records: BTreeMap<String, Option<String>> = BTreeMap::new();
        let mut scans: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
        let decision = 'steps: {
            for _ in 0..MAX_STEPS {
                let input = json!({
                    "config": config, "op": op, "now": now, "seed": seed,
                    "records": records, "scans": scans,
                });
                let bytes = serde_json::to_vec(&input).expect("serializes");
                let out = step_json(&bytes);
                let output: StepOutput =
                    serde_json::from_slice(&out).expect("the answer is a StepOutput");
                if run == 0 && records.is_empty() {
                    // The typed entry point agrees with the bytes one.
                    let typed: StepInput = serde_json::from_value(input).expect("a StepInput");
                    assert_eq!(step(&typed), output, "step and step_json agree");
                }
                match output {
                    StepOutput::Need(need) => {
                        check_need(&need, &records, &scans);
                        for key in need.get {
                            let value = store.get(&key).cloned();
                            records.insert(key, value);
                        }
                        for prefix in need.scan {
                            let found = store
                                .range(prefix.clone()..)
                                .take_while(|(k, _)| k.starts_with(&prefix))
                                .map(|(k, v)| (k.clone(), v.clone()))
                                .collect();
                            scans.insert(prefix, found);
                        }
                    }
                    StepOutput::Done(decision) => break 'steps decision,
                    StepOutput::Rejected(why) => {
                        assert!(!sound, "a sound step input was rejected: {why}");
                        return decisions;
                    }
                }
            }
            panic!("no decision after {MAX_STEPS} steps");
        };
        check_decision(&decision, &records, &scans);
        apply(store, &decision);
        let again = decision.run_again;
        decisions.push(decision);
        if !again {
            return decisions;
        }
    }
    panic!("still running again after {MAX_RUNS} runs");
}

/// Applies a decision's writes, whose preconditions must hold: nothing
/// else writes to this store, so a failed one is a race the core lost
/// against itself.
fn apply(store: &mut BTreeMap<String, String>, decision: &Decision) {
    for op in &decision.writes.ops {
        let current = store.get(&op.key);
        let holds = match &op.expect {
            Expect::Any => true,
            Expect::Absent => current.is_none(),
            Expect::Value(value) => current == Some(value),
        };
        assert!(holds, "the precondition on {} fails with no race", op.key);
    }
    for op in &decision.writes.ops {
        match &op.action {
            WriteAction::Put { value, .. } => {
                store.insert(op.key.clone(), value.clone());
            }
            WriteAction::Delete => {
                store.remove(&op.key);
            }
            WriteAction::Expire { .. } | WriteAction::Check => {}
        }
    }
}

// ---------------------------------------------------------------------------
// Drawing choices from the input.

/// Choices drawn from the front of the input; once it is used up every
/// choice is the first one (0, empty text).
pub struct Draw<'a> {
    data: &'a [u8],
}

impl<'a> Draw<'a> {
    /// Draws from `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Self { data }
    }

    /// One byte (0 when the input is used up).
    pub fn byte(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&first, rest)) => {
                self.data = rest;
                first
            }
            None => 0,
        }
    }

    /// A number below `n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            return 0;
        }
        usize::from(self.byte()) % n
    }

    /// Eight bytes as an `i64`.
    pub fn i64(&mut self) -> i64 {
        i64::from_le_bytes(std::array::from_fn(|_| self.byte()))
    }

    /// Text of up to 255 bytes: a length byte, then that many bytes
    /// (invalid UTF-8 replaced).
    pub fn text(&mut self) -> String {
        let len = usize::from(self.byte()).min(self.data.len());
        let (text, rest) = self.data.split_at(len);
        self.data = rest;
        String::from_utf8_lossy(text).into_owned()
    }
}
