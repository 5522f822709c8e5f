//! Set, update, delete, get, exists and names, decided by the core through
//! the step protocol over an in-memory store: the write sets (preconditions,
//! store expiry) and envelopes that only the core's embedding sees. The
//! HTTP-visible behaviour is pinned by the conformance suite in `tests/cases/`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::{Value, json};
use sessattr_core::protocol::{Expect, WriteAction};
use sessattr_core::store::record::{AttrRecord, decode};
use sessattr_core::ust::session_id;
use support::{T0, World};

const SEC: i64 = 1_000_000;

struct Fixture {
    world: World,
    base: Value,
    alice: String,
}

fn fixture() -> Fixture {
    let mut world = World::new();
    let (admin, alice) = world.two_sessions();
    let base = json!({"current_ust": admin, "target_ust": alice, "current_app": "CRM"});
    Fixture { world, base, alice }
}

impl Fixture {
    fn body(&self, extra: Value) -> Value {
        let mut body = self.base.clone();
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    }

    fn call(&mut self, method: &str, path: &str, extra: Value) -> support::Answer {
        let body = self.body(extra);
        self.world.attr(method, path, body, "")
    }

    fn key(&self, name: &str) -> String {
        format!("sa:a:{{{}}}:{name}", session_id(&self.alice))
    }

    fn record(&self, name: &str) -> Option<AttrRecord> {
        self.world
            .store
            .get(&self.key(name))
            .map(|t| decode(t).unwrap())
    }
}

fn put_expires_at(answer: &support::Answer, index: usize) -> Option<i64> {
    match &answer.decision.writes.ops[index].action {
        WriteAction::Put { expires_at, .. } => *expires_at,
        other => panic!("not a put: {other:?}"),
    }
}

#[test]
fn every_write_replaces_exactly_the_index_it_read_and_checks_the_session() {
    let mut f = fixture();
    let index_key = format!("sa:i:{{{}}}", session_id(&f.alice));
    let session_key = format!("sa:s:{{{}}}", session_id(&f.alice));
    let first = f.call("POST", "", json!({"name": "a", "value": "1"}));
    assert_eq!(first.status, 200, "{}", first.body);
    let expects: Vec<(&str, &Expect)> = first
        .decision
        .writes
        .ops
        .iter()
        .map(|op| (op.key.as_str(), &op.expect))
        .collect();
    let session_text = f.world.store[&session_key].clone();
    assert_eq!(
        expects,
        [
            (f.key("a").as_str(), &Expect::Any),
            (index_key.as_str(), &Expect::Absent),
            (session_key.as_str(), &Expect::Value(session_text.clone())),
        ]
    );
    assert!(matches!(
        first.decision.writes.ops[2].action,
        WriteAction::Check
    ));
    for (method, path, extra) in [
        ("PUT", "", json!({"name": "a", "value": "2"})),
        ("PATCH", "", json!({"name": "a", "value": "3"})),
        ("PUT", "", json!({"name": "b", "value": "new"})),
        ("DELETE", "", json!({"name": "b"})),
    ] {
        let read = f.world.store[&index_key].clone();
        let answer = f.call(method, path, extra);
        assert_eq!(answer.status, 200, "{}", answer.body);
        let index_op = answer
            .decision
            .writes
            .ops
            .iter()
            .find(|op| op.key == index_key)
            .expect("the index is written");
        assert_eq!(index_op.expect, Expect::Value(read), "{method}");
        assert!(answer.decision.writes.ops.iter().any(|op| op.key == session_key
            && op.expect == Expect::Value(session_text.clone())));
    }
    assert_eq!(f.record("a").unwrap().value, "3");
}

#[test]
fn store_expiry_is_capped_by_the_session_on_every_write() {
    let mut f = fixture();
    let session_end = T0 + 3600 * SEC;
    let answer = f.call("PUT", "", json!({"name": "a", "value": "1"}));
    assert_eq!(put_expires_at(&answer, 0), Some(session_end));
    f.world.now += 10 * SEC;
    let answer = f.call(
        "PATCH",
        "",
        json!({"name": "a", "value": "2", "expiration": 60}),
    );
    assert_eq!(put_expires_at(&answer, 0), Some(T0 + 70 * SEC));
    assert_eq!(f.record("a").unwrap().expiration_time, Some(T0 + 70 * SEC));
    let answer = f.call(
        "PUT",
        "",
        json!({"name": "a", "value": "3", "expiration": 315_360_000}),
    );
    assert_eq!(put_expires_at(&answer, 0), Some(session_end));
}

#[test]
fn keeping_encryption_seals_the_new_value_with_a_fresh_nonce() {
    let mut f = fixture();
    let create = json!({"name": "s", "value": "same words", "encrypt": true});
    assert_eq!(f.call("POST", "", create).status, 200);
    let first = f.record("s").unwrap();
    assert_eq!(
        f.call("PATCH", "", json!({"name": "s", "value": "same words"}))
            .status,
        200
    );
    let second = f.record("s").unwrap();
    assert!(second.is_encrypted);
    assert_ne!(first.value, second.value, "a reused envelope");
    assert!(!second.value.contains("same words"));
    assert_eq!(second.creation_time, first.creation_time);
}

#[test]
fn a_misplaced_envelope_fails_with_one_opaque_e008004() {
    let mut f = fixture();
    let body = json!({"data": [
        {"name": "a", "value": "secret a!", "encrypt": true},
        {"name": "b", "value": "secret b!", "encrypt": true}
    ]});
    assert_eq!(f.call("POST", "", body).status, 200);
    // Move a's record (its envelope) under b's name: the AAD no longer fits.
    let mut moved = f.record("a").unwrap();
    moved.name = "b".into();
    let key = f.key("b");
    f.world
        .store
        .insert(key, serde_json::to_string(&moved).unwrap());

    let single = f.call("GET", "", json!({"name": "b"}));
    assert_eq!((single.status, single.code()), (403, Some("E008004")));
    let message = single.body["message"].clone();
    assert!(!message.to_string().contains("secret"), "{message}");
    let many = f.call("GET", "", json!({"data": ["a", "b"]}));
    assert_eq!(
        (many.code(), many.body["item"].as_u64()),
        (Some("E008004"), Some(1))
    );
    // The envelope itself is still served as stored.
    let raw = f.call("GET", "", json!({"name": "b", "decrypt": false}));
    assert_eq!(raw.status, 200);
    assert_eq!(raw.body["value"], json!(moved.value));
    // Without a primary key nothing can be sealed: the same code, nothing written.
    f.world.config.keys.clear();
    let answer = f.call(
        "PUT",
        "",
        json!({"name": "c", "value": "v", "encrypt": true}),
    );
    assert_eq!((answer.status, answer.code()), (403, Some("E008004")));
    assert_eq!(
        answer.body["message"], message,
        "one message for every failure"
    );
    assert!(f.record("c").is_none());
}

#[test]
fn delete_writes_only_what_is_stored_and_dead_records_go_too() {
    let mut f = fixture();
    let body = json!({"data": [
        {"name": "live", "value": "v"},
        {"name": "dying", "value": "v", "expiration": 1}
    ]});
    assert_eq!(f.call("POST", "", body).status, 200);
    f.world.now += 2 * SEC;
    let answer = f.call("DELETE", "", json!({"data": ["live", "dying", "never"]}));
    assert_eq!(answer.status, 200, "{}", answer.body);
    let keys: Vec<&str> = answer
        .decision
        .writes
        .ops
        .iter()
        .map(|o| o.key.as_str())
        .collect();
    let index_key = format!("sa:i:{{{}}}", session_id(&f.alice));
    let session_key = format!("sa:s:{{{}}}", session_id(&f.alice));
    assert_eq!(
        keys,
        [
            f.key("live"),
            f.key("dying"),
            index_key.clone(),
            session_key
        ]
    );
    assert!(
        !f.world.store.contains_key(&index_key),
        "an empty index is deleted"
    );
    assert!(f.record("live").is_none() && f.record("dying").is_none());
    let nothing = f.call("DELETE", "", json!({"name": "never"}));
    assert!(nothing.decision.writes.is_empty());
}

#[test]
fn reads_write_nothing_and_log_names_but_no_values() {
    let mut f = fixture();
    let body = json!({"name": "a", "value": "the value", "encrypt": true});
    assert_eq!(f.call("POST", "", body).status, 200);
    for (method, path, extra) in [
        ("GET", "", json!({"name": "a"})),
        ("GET", "", json!({"data": ["a", "b"]})),
        ("GET", "/exists", json!({"name": "a"})),
        ("GET", "/names", json!({})),
    ] {
        let answer = f.call(method, path, extra);
        assert_eq!(answer.status, 200, "{}", answer.body);
        assert!(answer.decision.writes.is_empty());
        let log = serde_json::to_string(&answer.decision.log).unwrap();
        assert!(!log.contains("the value"), "{log}");
    }
    let answer = f.call("GET", "", json!({"data": ["a", "b"]}));
    assert_eq!(answer.decision.log.names, ["a", "b"]);
}

#[test]
fn the_query_string_wins_for_get_and_delete_only() {
    let mut f = fixture();
    let body = json!({"data": [{"name": "a", "value": "1"}, {"name": "b", "value": "2"}]});
    assert_eq!(f.call("POST", "", body).status, 200);
    let get = f.world.attr(
        "GET",
        "",
        f.body(json!({"name": "a"})),
        "name=b&decrypt=true",
    );
    assert_eq!(get.body["value"], "2");
    let bad = f
        .world
        .attr("GET", "", f.body(json!({"name": "a"})), "name=a&name=b");
    assert_eq!(bad.code(), Some("E008002"));
    let not_utf8 = f.world.attr("GET", "", f.body(json!({})), "name=%FF");
    assert_eq!(not_utf8.code(), Some("E008002"));
    let delete = f
        .world
        .attr("DELETE", "", f.body(json!({"name": "a"})), "data=b");
    assert_eq!(
        delete.code(),
        Some("E008002"),
        "name and data: {}",
        delete.body
    );
    let delete = f.world.attr("DELETE", "", f.body(json!({})), "data=b");
    assert_eq!(delete.status, 200);
    assert!(f.record("b").is_none() && f.record("a").is_some());
    // A write ignores the query.
    let put = f.world.attr(
        "PUT",
        "",
        f.body(json!({"name": "c", "value": "v"})),
        "name=d",
    );
    assert_eq!(put.status, 200);
    assert!(f.record("c").is_some() && f.record("d").is_none());
}

#[test]
fn the_limit_counts_new_names_only() {
    let mut f = fixture();
    f.world.config.limits.attrs_per_session = 2;
    let body = json!({"data": [{"name": "a", "value": "1"}, {"name": "b", "value": "2"}]});
    assert_eq!(f.call("PUT", "", body).status, 200);
    assert_eq!(
        f.call("PUT", "", json!({"name": "a", "value": "x"})).status,
        200
    );
    assert_eq!(
        f.call("PATCH", "", json!({"name": "b", "value": "y"}))
            .status,
        200
    );
    let over = f.call(
        "PUT",
        "",
        json!({"data": [{"name": "a", "value": "z"}, {"name": "c", "value": "z"}]}),
    );
    assert_eq!(over.code(), Some("E008002"));
    assert_eq!(f.record("a").unwrap().value, "x", "all or nothing");
    // A dead attribute frees its place.
    f.world.now += SEC;
    let body = json!({"name": "b", "value": "short", "expiration": 1});
    assert_eq!(f.call("PUT", "", body).status, 200);
    f.world.now += 2 * SEC;
    assert_eq!(
        f.call("POST", "", json!({"name": "c", "value": "v"}))
            .status,
        200
    );
}
