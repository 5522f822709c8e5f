//! Sessions and users, decided by the core over an in-memory store: logout,
//! renew, details, verify, the owner of a session, and the user commands
//! (lock, unlock, passwd, delete, list) with what they do to sessions.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use base64::Engine as _;
use serde_json::{Value, json};
use sessattr_core::protocol::{HttpRequest, Operation, UserName, UserPasswd, WriteAction};
use sessattr_core::store::layout;
use sessattr_core::ust::session_id;
use support::{T0, World};

const SEC: i64 = 1_000_000;
const ATTR: &str = "/zato/sso/session/attr";
const SESSION: &str = "/zato/sso/user/session";

fn user_op(world: &mut World, op: Operation) -> support::Answer {
    world.run(op)
}

fn name(username: &str) -> UserName {
    UserName {
        username: username.into(),
    }
}

fn attr_body(admin: &str, target: &str, extra: Value) -> Value {
    let mut body = json!({"current_ust": admin, "target_ust": target, "current_app": "CRM"});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    body
}

fn names(world: &mut World, admin: &str, target: &str) -> support::Answer {
    world.request(
        "GET",
        &format!("{ATTR}/names"),
        &attr_body(admin, target, json!({})),
    )
}

fn session_keys(world: &World, ust: &str) -> Vec<String> {
    let tag = format!("{{{}}}", session_id(ust));
    world
        .store
        .keys()
        .filter(|k| k.contains(&tag))
        .cloned()
        .collect()
}

#[test]
fn logout_removes_the_session_and_its_attributes_at_once() {
    let mut world = World::new();
    let (admin, alice) = world.two_sessions();
    let many = json!({"data": [{"name": "a", "value": "1"}, {"name": "b", "value": "2", "encrypt": true}]});
    assert_eq!(world.create(attr_body(&admin, &alice, many)).status, 200);
    assert_eq!(
        session_keys(&world, &alice).len(),
        4,
        "session, index, a, b"
    );

    let out = world.request(
        "POST",
        "/zato/sso/user/logout",
        &json!({"ust": alice, "current_app": "CRM"}),
    );
    assert_eq!(out.status, 200, "{}", out.body);
    assert_eq!(out.decision.writes.ops.len(), 4, "one write set");
    assert!(session_keys(&world, &alice).is_empty());
    assert_eq!(names(&mut world, &admin, &alice).code(), Some("E007001"));
    let again = world.request(
        "POST",
        "/zato/sso/user/logout",
        &json!({"ust": alice, "current_app": "CRM"}),
    );
    assert_eq!((again.status, again.code()), (403, Some("E007001")));
    // The admin's own session is untouched.
    assert_eq!(names(&mut world, &admin, &admin).status, 200);
}

#[test]
fn renew_moves_the_session_end_and_the_store_expiry_of_its_attributes() {
    let mut world = World::new();
    let (admin, alice) = world.two_sessions();
    let body = json!({"data": [{"name": "forever", "value": "1"}, {"name": "short", "value": "2", "expiration": 600}]});
    assert_eq!(world.create(attr_body(&admin, &alice, body)).status, 200);
    let forever = format!("sa:a:{{{}}}:forever", session_id(&alice));
    let short = format!("sa:a:{{{}}}:short", session_id(&alice));
    assert_eq!(world.expiries[&forever], Some(T0 + 3600 * SEC));

    world.now += 3000 * SEC;
    let renewed = world.request(
        SESSION_METHOD_RENEW,
        SESSION,
        &json!({"ust": alice, "current_app": "CRM"}),
    );
    assert_eq!(renewed.status, 200, "{}", renewed.body);
    let new_end = world.now + 3600 * SEC;
    assert_eq!(
        renewed.body["expiration_time"],
        "2026-12-03T20:50:00.000000"
    );
    assert_eq!(world.expiries[&forever], Some(new_end));
    assert_eq!(
        world.expiries[&short],
        Some(T0 + 600 * SEC),
        "own expiry first"
    );
    let index = format!("sa:i:{{{}}}", session_id(&alice));
    assert_eq!(
        world.expiries[&index],
        Some(new_end),
        "the index lives on too"
    );
    assert!(
        renewed
            .decision
            .writes
            .ops
            .iter()
            .any(|op| matches!(op.action, WriteAction::Expire { .. }))
    );

    // Alive past the old end; dead at the new one.
    world.now = T0 + 3700 * SEC;
    assert_eq!(
        names(&mut world, &admin, &alice).code(),
        Some("E007001"),
        "admin's own session ended"
    );
    let admin2 = world.login("admin");
    assert_eq!(
        names(&mut world, &admin2, &alice).body["result"],
        json!(["forever"])
    );
    world.now = new_end;
    assert_eq!(names(&mut world, &admin2, &alice).code(), Some("E007001"));
    // `current_ust` is accepted in place of `ust`; a dead session cannot be renewed.
    let dead = world.request(
        SESSION_METHOD_RENEW,
        SESSION,
        &json!({"current_ust": alice, "current_app": "CRM"}),
    );
    assert_eq!(dead.code(), Some("E007001"));
}

const SESSION_METHOD_RENEW: &str = "PATCH";

/// The reverse race: a renew decided while the session has no attribute
/// yet must not apply after the session's first attribute was written
/// with the old session end as its store expiry (the attribute would then
/// be purged before its session ends).
#[test]
fn a_renew_decided_before_the_sessions_first_attribute_is_decided_again() {
    let mut world = World::new();
    let (admin, alice) = world.two_sessions();
    world.now += SEC;
    let renew = || {
        Operation::Http(HttpRequest {
            method: SESSION_METHOD_RENEW.into(),
            path: SESSION.into(),
            body: base64::engine::general_purpose::STANDARD
                .encode(json!({"ust": alice, "current_app": "CRM"}).to_string()),
            ..HttpRequest::default()
        })
    };
    let stale = world.decide(renew());
    let created = world.create(attr_body(
        &admin,
        &alice,
        json!({"name": "first", "value": "v"}),
    ));
    assert_eq!(created.status, 200, "{}", created.body);
    assert!(
        !world.try_apply(&stale),
        "the session's attributes changed under the renew"
    );
    // Decided again, the renew moves the new attribute's store expiry too.
    let renewed = world.run(renew());
    assert_eq!(renewed.status, 200, "{}", renewed.body);
    let sid = session_id(&alice);
    let session_end = world.expiries[&layout::session_key(&sid)];
    assert_eq!(
        world.expiries[&layout::attr_key(&sid, "first")],
        session_end
    );
    assert_eq!(world.expiries[&layout::index_key(&sid)], session_end);
}

#[test]
fn an_attribute_write_decided_before_a_renew_or_logout_is_decided_again() {
    let mut world = World::new();
    let (admin, alice) = world.two_sessions();
    let create = |body: Value| {
        Operation::Http(HttpRequest {
            method: "POST".into(),
            path: ATTR.into(),
            body: base64::engine::general_purpose::STANDARD.encode(body.to_string()),
            ..HttpRequest::default()
        })
    };
    let stale = world.decide(create(attr_body(
        &admin,
        &alice,
        json!({"name": "a", "value": "v"}),
    )));
    world.now += SEC;
    let renewed = world.request(
        "PATCH",
        SESSION,
        &json!({"ust": alice, "current_app": "CRM"}),
    );
    assert_eq!(renewed.status, 200);
    assert!(
        !world.try_apply(&stale),
        "the session changed under the write"
    );

    let stale = world.decide(create(attr_body(
        &admin,
        &alice,
        json!({"name": "b", "value": "v"}),
    )));
    let out = world.request(
        "POST",
        "/zato/sso/user/logout",
        &json!({"ust": alice, "current_app": "CRM"}),
    );
    assert_eq!(out.status, 200);
    assert!(
        !world.try_apply(&stale),
        "no attribute outlives its session"
    );
    assert!(session_keys(&world, &alice).is_empty());
}

#[test]
fn details_and_verify_are_for_super_users() {
    let mut world = World::new();
    let (admin, alice) = world.two_sessions();
    let pair = json!({"current_ust": admin, "target_ust": alice, "current_app": "CRM"});
    let details = world.request("GET", SESSION, &pair);
    assert_eq!(details.status, 200, "{}", details.body);
    assert_eq!(details.body["remote_addr"], "127.0.0.1");
    assert_eq!(details.body["user_agent"], "test");
    assert_eq!(details.body["creation_time"], "2026-12-03T19:00:00.000000");
    assert_eq!(
        details.body["expiration_time"],
        "2026-12-03T20:00:00.000000"
    );
    let verify = world.request("POST", SESSION, &pair);
    assert_eq!(verify.body["is_valid"], true);
    assert!(verify.decision.writes.is_empty(), "verify renews nothing");

    let by_user = json!({"current_ust": alice, "target_ust": admin, "current_app": "CRM"});
    assert_eq!(
        world.request("GET", SESSION, &by_user).code(),
        Some("E005001")
    );
    assert_eq!(
        world.request("POST", SESSION, &by_user).code(),
        Some("E005001")
    );
    let forged = json!({"current_ust": admin, "target_ust": "A".repeat(43), "current_app": "CRM"});
    assert_eq!(
        world.request("GET", SESSION, &forged).code(),
        Some("E007001")
    );
    assert_eq!(
        world.request("POST", SESSION, &forged).body["is_valid"],
        false
    );
    let missing = json!({"current_ust": admin, "current_app": "CRM"});
    assert_eq!(
        world.request("POST", SESSION, &missing).body["is_valid"],
        false
    );
    let bad_caller = json!({"current_ust": "nope", "target_ust": alice, "current_app": "CRM"});
    assert_eq!(
        world.request("POST", SESSION, &bad_caller).code(),
        Some("E007001")
    );

    world.now += 3600 * SEC;
    let admin2 = world.login("admin");
    let dead = json!({"current_ust": admin2, "target_ust": alice, "current_app": "CRM"});
    assert_eq!(
        world.request("POST", SESSION, &dead).body["is_valid"],
        false
    );
}

#[test]
fn the_owner_of_a_session() {
    let mut world = World::new();
    let (admin, alice) = world.two_sessions();
    let owner = world.request(
        "GET",
        "/zato/sso/user",
        &json!({"ust": alice, "current_app": "CRM"}),
    );
    assert_eq!(owner.status, 200, "{}", owner.body);
    assert_eq!(owner.body["username"], "alice");
    assert_eq!(owner.body["is_super_user"], false);
    assert!(owner.body["user_id"].as_str().unwrap().starts_with("zusr"));
    assert!(owner.body.get("password_hash").is_none());
    let admin_owner = world.request(
        "GET",
        "/zato/sso/user",
        &json!({"current_ust": admin, "current_app": "CRM"}),
    );
    assert_eq!(admin_owner.body["is_super_user"], true);
}

#[test]
fn lock_ends_sessions_and_unlock_does_not_revive_them() {
    let mut world = World::new();
    let (admin, alice) = world.two_sessions();
    assert_eq!(
        user_op(&mut world, Operation::UserLock(name("alice"))).status,
        200
    );
    assert_eq!(names(&mut world, &admin, &alice).code(), Some("E007001"));
    let login = json!({"username": "alice", "password": "pw-alice", "current_app": "CRM"});
    let refused = world.request("POST", "/zato/sso/user/login", &login);
    assert_eq!((refused.status, refused.code()), (403, Some("E005001")));
    let wrong = json!({"username": "alice", "password": "wrong", "current_app": "CRM"});
    assert_eq!(
        refused.body["message"],
        world.request("POST", "/zato/sso/user/login", &wrong).body["message"]
    );

    world.now += SEC;
    assert_eq!(
        user_op(&mut world, Operation::UserUnlock(name("alice"))).status,
        200
    );
    assert_eq!(
        names(&mut world, &admin, &alice).code(),
        Some("E007001"),
        "still ended"
    );
    let fresh = world.login("alice");
    assert_eq!(names(&mut world, &admin, &fresh).status, 200);

    // A locked super-user's own session no longer authorizes anything.
    assert_eq!(
        user_op(&mut world, Operation::UserLock(name("admin"))).status,
        200
    );
    assert_eq!(names(&mut world, &admin, &fresh).code(), Some("E007001"));
}

#[test]
fn passwd_and_delete_end_sessions() {
    let mut world = World::new();
    let (admin, alice) = world.two_sessions();
    let passwd = Operation::UserPasswd(UserPasswd {
        username: "alice".into(),
        password: "new-password-1".into(),
    });
    assert_eq!(user_op(&mut world, passwd).status, 200);
    assert_eq!(names(&mut world, &admin, &alice).code(), Some("E007001"));
    let old = json!({"username": "alice", "password": "pw-alice", "current_app": "CRM"});
    assert_eq!(
        world.request("POST", "/zato/sso/user/login", &old).code(),
        Some("E005001")
    );
    world.now += SEC;
    let new = json!({"username": "alice", "password": "new-password-1", "current_app": "CRM"});
    let alice2 = world.request("POST", "/zato/sso/user/login", &new).body["ust"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(names(&mut world, &admin, &alice2).status, 200);

    assert_eq!(
        user_op(&mut world, Operation::UserDelete(name("alice"))).status,
        200
    );
    assert_eq!(names(&mut world, &admin, &alice2).code(), Some("E007001"));
    // A new alice does not inherit the old one's sessions.
    assert_eq!(world.add_user("alice", false).status, 200);
    assert_eq!(names(&mut world, &admin, &alice2).code(), Some("E007001"));

    for op in [
        Operation::UserLock(name("nobody")),
        Operation::UserUnlock(name("nobody")),
        Operation::UserDelete(name("nobody")),
    ] {
        let answer = user_op(&mut world, op);
        assert_eq!((answer.status, answer.code()), (403, Some("E001001")));
        assert!(answer.decision.writes.is_empty());
    }
}

#[test]
fn list_shows_users_without_hashes() {
    let mut world = World::new();
    world.two_sessions();
    user_op(&mut world, Operation::UserLock(name("alice")));
    let list = user_op(&mut world, Operation::UserList(Default::default()));
    assert_eq!(list.status, 200, "{}", list.body);
    let users = list.body["users"].as_array().unwrap();
    let summary: Vec<(String, bool, bool)> = users
        .iter()
        .map(|u| {
            (
                u["username"].as_str().unwrap().to_owned(),
                u["is_super_user"].as_bool().unwrap(),
                u["is_locked"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [("admin".into(), true, false), ("alice".into(), false, true)]
    );
    assert!(!list.body.to_string().contains("argon2"), "{}", list.body);
}

#[test]
fn a_login_rehashes_a_password_made_with_other_costs() {
    let mut world = World::new();
    world.add_user("alice", false);
    let key = "sa:user:alice".to_owned();
    let before = world.store[&key].clone();
    world.config.argon2.t_cost += 1;
    let body = json!({"username": "alice", "password": "pw-alice", "current_app": "CRM"});
    // The new hash is written on its own (the user's hash tag is not the
    // session's), and the login is decided again over it.
    let login = || {
        sessattr_core::protocol::Operation::Http(sessattr_core::protocol::HttpRequest {
            method: "POST".into(),
            path: "/zato/sso/user/login".into(),
            body: base64::engine::general_purpose::STANDARD.encode(body.to_string()),
            ..Default::default()
        })
    };
    let rehash = world.decide(login());
    assert!(rehash.run_again);
    assert_eq!(rehash.writes.ops.len(), 1);
    assert_eq!(rehash.writes.ops[0].key, key);
    assert_eq!(
        rehash.writes.ops[0].expect,
        sessattr_core::protocol::Expect::Value(before.clone())
    );
    let first = world.request("POST", "/zato/sso/user/login", &body);
    assert_eq!(first.status, 200, "{}", first.body);
    assert!(!first.decision.run_again);
    assert!(first.body["ust"].is_string());
    let after = world.store[&key].clone();
    assert_ne!(after, before);
    let t = format!("t={}", world.config.argon2.t_cost);
    assert!(after.contains(&t), "{after}");
    // Once rehashed, a login writes only its session; the old password is gone.
    let second = world.request("POST", "/zato/sso/user/login", &body);
    assert_eq!(second.decision.writes.ops.len(), 1);
    let wrong = json!({"username": "alice", "password": "nope", "current_app": "CRM"});
    assert_eq!(
        world.request("POST", "/zato/sso/user/login", &wrong).code(),
        Some("E005001")
    );
}
