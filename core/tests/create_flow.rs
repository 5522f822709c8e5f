//! The create operation and login, decided by the core end to end through the
//! step protocol over an in-memory store.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::json;
use sessattr_core::crypto::{Keyring, Place, Scope};
use sessattr_core::protocol::{Expect, WriteAction};
use sessattr_core::store::record::{AttrRecord, decode};
use sessattr_core::ust::session_id;
use support::{T0, World};

fn seed_body(admin: &str, alice: &str) -> serde_json::Value {
    json!({
        "current_ust": admin, "target_ust": alice, "current_app": "CRM",
        "name": "my-rest-attribute", "value": "my-rest-value",
        "encrypt": true, "expiration": 3600
    })
}

fn attr_record(world: &World, ust: &str, name: &str) -> Option<AttrRecord> {
    let key = format!("sa:a:{{{}}}:{name}", session_id(ust));
    world.store.get(&key).map(|text| decode(text).unwrap())
}

#[test]
fn creates_an_encrypted_expiring_attribute_then_refuses_a_duplicate() {
    let mut world = World::new();
    let (admin, alice) = world.two_sessions();
    let first = world.create(seed_body(&admin, &alice));
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(first.body["status"], "ok");
    assert!(first.body.get("sub_status").is_none());
    let cid = first.body["cid"].as_str().unwrap();
    assert_eq!(cid.len(), 24);
    assert!(
        cid.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    );

    let record = attr_record(&world, &alice, "my-rest-attribute").expect("stored");
    assert!(record.is_encrypted);
    assert!(!record.value.contains("my-rest-value"));
    assert_eq!(record.expiration_time, Some(T0 + 3600 * 1_000_000));
    let keyring = Keyring::new(&world.config.keys).unwrap();
    let sid = session_id(&alice);
    let place = Place {
        scope: Scope::Session(&sid),
        name: "my-rest-attribute",
    };
    assert_eq!(keyring.open(&record.value, place).unwrap(), "my-rest-value");

    let again = world.create(seed_body(&admin, &alice));
    assert_eq!((again.status, again.code()), (403, Some("E009001")));
}

#[test]
fn the_first_write_creates_the_index_and_expires_with_the_session_at_the_latest() {
    let mut world = World::new();
    let (admin, alice) = world.two_sessions();
    let mut body = seed_body(&admin, &alice);
    body["expiration"] = json!(315_360_000);
    let answer = world.create(body);
    let session_end = T0 + 3600 * 1_000_000;
    let [attr, index, _guard] = answer.decision.writes.ops.as_slice() else {
        panic!("{:?}", answer.decision.writes)
    };
    assert!(
        matches!(attr.action, WriteAction::Put { expires_at: Some(at), .. } if at == session_end)
    );
    assert_eq!(index.key, format!("sa:i:{{{}}}", session_id(&alice)));
    assert_eq!(index.expect, Expect::Absent, "put-if-absent of the index");
    assert!(
        matches!(index.action, WriteAction::Put { expires_at: Some(at), .. } if at == session_end)
    );
}

#[test]
fn a_dead_attribute_does_not_block_create_and_is_replaced_over_the_index_read() {
    let mut world = World::new();
    let (admin, alice) = world.two_sessions();
    let mut body = seed_body(&admin, &alice);
    body["expiration"] = json!(5);
    assert_eq!(world.create(body.clone()).status, 200);
    let index_key = format!("sa:i:{{{}}}", session_id(&alice));
    let read = world.store[&index_key].clone();
    world.now += 5_000_000;
    let answer = world.create(body);
    assert_eq!(answer.status, 200, "{}", answer.body);
    let index = &answer.decision.writes.ops[1];
    assert_eq!(index.expect, Expect::Value(read));
}

#[test]
fn many_form_is_all_or_nothing_and_names_the_failing_item() {
    let mut world = World::new();
    let (admin, alice) = world.two_sessions();
    let base = json!({"current_ust": admin, "target_ust": alice, "current_app": "CRM"});
    let mut bad = base.clone();
    bad["data"] = json!([
        {"name": "a", "value": "1"},
        {"name": "b", "value": "2", "expiration": 0},
        {"name": "c", "value": "3"}
    ]);
    let answer = world.create(bad);
    assert_eq!((answer.status, answer.code()), (403, Some("E008002")));
    assert_eq!(answer.body["item"], 1);
    assert!(answer.decision.writes.is_empty());
    assert!(attr_record(&world, &alice, "a").is_none());

    let mut good = base.clone();
    good["data"] = json!([
        {"name": "a", "value": "1"},
        {"name": "b", "value": "2", "encrypt": true},
        {"name": "c", "value": ""}
    ]);
    good["expiration"] = json!(60);
    let answer = world.create(good);
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(attr_record(&world, &alice, "c").unwrap().value, "");
    assert!(attr_record(&world, &alice, "b").unwrap().is_encrypted);
    assert_eq!(
        attr_record(&world, &alice, "a").unwrap().expiration_time,
        Some(T0 + 60_000_000)
    );

    let mut empty = base.clone();
    empty["data"] = json!([]);
    let answer = world.create(empty);
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(answer.decision.writes.is_empty());

    let mut clash = base;
    clash["data"] = json!([{"name": "z", "value": "1"}, {"name": "a", "value": "1"}]);
    let answer = world.create(clash);
    assert_eq!(
        (answer.code(), answer.body["item"].as_u64()),
        (Some("E009001"), Some(1))
    );
    assert!(attr_record(&world, &alice, "z").is_none());
}

#[test]
fn authorization_follows_spec_order() {
    let mut world = World::new();
    let (admin, alice) = world.two_sessions();
    let forged = "A".repeat(43);
    let cases = [
        // Step 1 beats everything.
        (
            json!({"current_ust": "!!", "current_app": "ERP", "name": "n", "value": "v"}),
            "E004001",
        ),
        (
            json!({"current_ust": admin, "target_ust": alice, "name": "n", "value": "v"}),
            "E008003",
        ),
        // Step 2 beats the sessions.
        (
            json!({"current_ust": "!!", "current_app": "CRM"}),
            "E008003",
        ),
        (
            json!({"current_app": "CRM", "name": "n", "data": []}),
            "E008002",
        ),
        // Step 3.
        (
            json!({"current_ust": "!!", "target_ust": alice, "current_app": "CRM", "name": "n", "value": "v"}),
            "E007001",
        ),
        (
            json!({"current_ust": forged, "target_ust": alice, "current_app": "CRM", "name": "n", "value": "v"}),
            "E007001",
        ),
        (
            json!({"target_ust": alice, "current_app": "CRM", "name": "n", "value": "v"}),
            "E007001",
        ),
        (
            json!({"current_ust": 5, "target_ust": alice, "current_app": "CRM", "name": "n", "value": "v"}),
            "E007001",
        ),
        (
            json!({"current_ust": alice, "target_ust": admin, "current_app": "CRM", "name": "n", "value": "v"}),
            "E005001",
        ),
        // Step 4.
        (
            json!({"current_ust": admin, "target_ust": forged, "current_app": "CRM", "name": "n", "value": "v"}),
            "E007001",
        ),
        (
            json!({"current_ust": admin, "current_app": "CRM", "name": "n", "value": "v"}),
            "E007001",
        ),
        // Step 5.
        (
            json!({"current_ust": admin, "target_ust": alice, "current_app": "CRM", "name": "n"}),
            "E008003",
        ),
        (
            json!({"current_ust": admin, "target_ust": alice, "current_app": "CRM", "name": "n", "value": "v", "expiration": "60"}),
            "E008002",
        ),
    ];
    for (body, code) in cases {
        let answer = world.create(body.clone());
        assert_eq!((answer.status, answer.code()), (403, Some(code)), "{body}");
        assert!(answer.decision.writes.is_empty());
    }
}

#[test]
fn an_expired_session_or_locked_user_no_longer_resolves() {
    let mut world = World::new();
    let (admin, alice) = world.two_sessions();
    let alice_key = "sa:user:alice".to_string();
    let unlocked = world.store[&alice_key].clone();
    world.store.insert(
        alice_key.clone(),
        unlocked.replace("\"is_locked\":false", "\"is_locked\":true"),
    );
    assert_eq!(
        world.create(seed_body(&admin, &alice)).code(),
        Some("E007001")
    );
    world.store.insert(alice_key, unlocked);
    assert_eq!(world.create(seed_body(&admin, &alice)).status, 200);

    world.now += 3600 * 1_000_000;
    let mut body = seed_body(&admin, &alice);
    body["name"] = json!("later");
    assert_eq!(world.create(body).code(), Some("E007001"));
}

#[test]
fn itself_as_target_is_allowed_for_a_super_user() {
    let mut world = World::new();
    let (admin, _alice) = world.two_sessions();
    let answer = world.create(seed_body(&admin, &admin));
    assert_eq!(answer.status, 200, "{}", answer.body);
}

#[test]
fn bad_expirations_and_names_are_invalid_input() {
    let mut world = World::new();
    let (admin, alice) = world.two_sessions();
    for expiration in [
        json!(0),
        json!(-5),
        json!(1.5),
        json!("60"),
        json!(1_000_000_000_000_i64),
    ] {
        let mut body = seed_body(&admin, &alice);
        body["expiration"] = expiration.clone();
        let answer = world.create(body);
        assert_eq!(
            (answer.status, answer.code()),
            (403, Some("E008002")),
            "{expiration}"
        );
    }
    let mut body = seed_body(&admin, &alice);
    body["name"] = json!("n".repeat(192));
    assert_eq!(world.create(body.clone()).code(), Some("E008002"));
    body["name"] = json!("n".repeat(191));
    assert_eq!(world.create(body).status, 200);
}

#[test]
fn http_level_errors_have_their_status() {
    let mut world = World::new();
    let not_json = world.http("POST", "/zato/sso/session/attr", "name=a&value=b");
    assert_eq!((not_json.status, not_json.code()), (400, Some("E008002")));
    let not_object = world.http("POST", "/zato/sso/session/attr", "[]");
    assert_eq!(not_object.status, 400);
    let method = world.http("HEAD", "/zato/sso/session/attr", "");
    assert_eq!((method.status, method.code()), (405, Some("E008001")));
    assert_eq!(
        method.decision.response.headers,
        [("allow".into(), "GET, POST, PUT, PATCH, DELETE".into())]
    );
    let unknown = world.http("POST", "/nope", "{}");
    assert_eq!((unknown.status, unknown.code()), (404, Some("E008001")));
    let dup = world.http(
        "POST",
        "/zato/sso/session/attr",
        r#"{"current_app":"CRM","current_app":"CRM"}"#,
    );
    assert_eq!((dup.status, dup.code()), (403, Some("E008002")));
}

#[test]
fn the_attribute_count_limit_holds() {
    let mut world = World::new();
    world.config.limits.attrs_per_session = 2;
    let (admin, alice) = world.two_sessions();
    let base = json!({"current_ust": admin, "target_ust": alice, "current_app": "CRM"});
    let mut two = base.clone();
    two["data"] = json!([{"name": "a", "value": "1"}, {"name": "b", "value": "2"}]);
    assert_eq!(world.create(two).status, 200);
    let mut third = base;
    third["name"] = json!("c");
    third["value"] = json!("3");
    assert_eq!(world.create(third).code(), Some("E008002"));
}

#[test]
fn login_refuses_bad_credentials_alike() {
    let mut world = World::new();
    world.add_user("bob", false);
    let wrong = json!({"username": "bob", "password": "nope", "current_app": "CRM"});
    let unknown = json!({"username": "carol", "password": "nope", "current_app": "CRM"});
    for body in [wrong, unknown] {
        let answer = world.http("POST", "/zato/sso/user/login", &body.to_string());
        assert_eq!((answer.status, answer.code()), (403, Some("E005001")));
        assert!(answer.decision.writes.is_empty());
    }
    let answer = world.add_user("bob", true);
    assert_eq!(answer.code(), Some("E001002"));
}

#[test]
fn login_stores_only_a_hash_of_the_token() {
    let mut world = World::new();
    world.add_user("bob", false);
    let ust = world.login("bob");
    assert_eq!(ust.len(), 43);
    assert!(
        world
            .store
            .iter()
            .all(|(k, v)| !k.contains(&ust) && !v.contains(&ust))
    );
    assert!(
        world
            .store
            .contains_key(&format!("sa:s:{{{}}}", session_id(&ust)))
    );
}

#[test]
fn logs_carry_no_values() {
    let mut world = World::new();
    let (admin, alice) = world.two_sessions();
    let answer = world.create(seed_body(&admin, &alice));
    let log = serde_json::to_string(&answer.decision.log).unwrap();
    assert!(!log.contains("my-rest-value") && !log.contains(&admin) && !log.contains(&alice));
    assert_eq!(answer.decision.log.op, "attr.create");
    assert_eq!(answer.decision.log.names, ["my-rest-attribute"]);
}
