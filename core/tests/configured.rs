//! A configuration carried by every step and one set up once per instance
//! ([`Prepared`], the raw ABI's `sessattr_configure`) give the same
//! decisions; a step with neither is rejected; each decision counts its
//! own encryptions.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use std::collections::BTreeMap;

use base64::Engine as _;
use serde_json::{Value, json};
use sessattr_core::protocol::{Decision, HttpRequest, Operation};
use sessattr_core::{
    Prepared, StepInput, StepOutput, configure_json, encode_seed, step, step_json_with, step_with,
};
use support::World;

/// A create of an encrypted attribute on alice's session, by admin.
fn create(world: &mut World, name: &str) -> Operation {
    let (admin, alice) = world.two_sessions();
    let body = json!({"current_ust": admin, "target_ust": alice, "current_app": "CRM",
                      "name": name, "value": "secret", "encrypt": true});
    Operation::Http(HttpRequest {
        method: "POST".into(),
        path: "/zato/sso/session/attr".into(),
        body: base64::engine::general_purpose::STANDARD.encode(body.to_string()),
        ..HttpRequest::default()
    })
}

/// Steps `input` to its decision over `world`'s store with `decide`.
fn decide(
    world: &World,
    mut input: StepInput,
    decide: impl Fn(&StepInput) -> StepOutput,
) -> Decision {
    for _ in 0..8 {
        match decide(&input) {
            StepOutput::Need(need) => {
                for key in need.get {
                    let value = world.store.get(&key).cloned();
                    input.records.insert(key, value);
                }
                assert!(need.scan.is_empty(), "no scan expected");
            }
            StepOutput::Done(decision) => return decision,
            StepOutput::Rejected(why) => panic!("rejected: {why}"),
        }
    }
    panic!("too many steps")
}

fn input(world: &World, op: Operation, config: Option<&World>) -> StepInput {
    StepInput {
        config: config.map(|w| w.config.clone()),
        op,
        now: world.now,
        seed: encode_seed(&[42; 32]),
        records: BTreeMap::new(),
        scans: BTreeMap::new(),
        encryption_budget: Some(5),
    }
}

#[test]
fn a_carried_and_a_configured_config_decide_the_same() {
    let mut world = World::new();
    let op = create(&mut world, "color");
    let prepared = Prepared::new(world.config.clone()).unwrap();
    let carried = decide(&world, input(&world, op.clone(), Some(&world)), step);
    let configured = decide(&world, input(&world, op, None), |i| {
        step_with(i, Some(&prepared))
    });
    assert_eq!(carried.response.status, 200, "{}", carried.response.body);
    assert_eq!(carried.encryptions, 1);
    // Same seed, same now, same records: byte for byte the same decision,
    // ciphertext included.
    assert_eq!(carried, configured);
}

#[test]
fn a_step_without_any_config_is_rejected() {
    let mut world = World::new();
    let op = create(&mut world, "color");
    let answer = step(&input(&world, op, None));
    assert!(
        matches!(&answer, StepOutput::Rejected(why) if why.contains("no config")),
        "{answer:?}"
    );
}

#[test]
fn a_carried_config_wins_over_the_configured_one() {
    let mut world = World::new();
    let op = create(&mut world, "color");
    let mut erp_only = world.config.clone();
    erp_only.apps = vec!["ERP".into()];
    let prepared = Prepared::new(world.config.clone()).unwrap();
    let mut carrying = input(&world, op, None);
    carrying.config = Some(erp_only);
    let decision = decide(&world, carrying, |i| step_with(i, Some(&prepared)));
    let body: Value = serde_json::from_str(&decision.response.body).unwrap();
    assert_eq!(body["sub_status"][0], "E004001", "{body}");
}

#[test]
fn each_decision_counts_its_own_encryptions_over_one_prepared_keyring() {
    let mut world = World::new();
    let prepared = Prepared::new(world.config.clone()).unwrap();
    for name in ["a", "b", "c"] {
        let op = create(&mut world, name);
        let mut one = input(&world, op, None);
        one.encryption_budget = Some(1);
        let decision = decide(&world, one, |i| step_with(i, Some(&prepared)));
        assert_eq!(decision.response.status, 200, "{}", decision.response.body);
        assert_eq!(decision.encryptions, 1, "not the sum of earlier decisions");
    }
}

#[test]
fn configure_json_accepts_a_config_and_refuses_a_bad_key_without_showing_it() {
    let world = World::new();
    let good = serde_json::to_vec(&world.config).unwrap();
    let (prepared, answer) = configure_json(&good);
    assert_eq!(
        serde_json::from_slice::<Value>(&answer).unwrap(),
        json!({"configured": true})
    );
    let prepared = prepared.expect("prepared");
    assert_eq!(prepared.config(), &world.config);

    let secret = "c2VjcmV0LWtleS1tYXRlcmlhbC10b28tc2hvcnQ=";
    let mut bad = world.config.clone();
    bad.keys[0].key = secret.into();
    let (none, answer) = configure_json(&serde_json::to_vec(&bad).unwrap());
    assert!(none.is_none());
    let answer = String::from_utf8(answer).unwrap();
    assert!(answer.contains("rejected"), "{answer}");
    assert!(!answer.contains(secret), "{answer}");
    assert!(
        !format!("{prepared:?}").contains(&world.config.keys[0].key),
        "Debug never shows a key"
    );

    let mut dear = world.config.clone();
    dear.argon2.m_cost = 4 << 20;
    let (none, answer) = configure_json(&serde_json::to_vec(&dear).unwrap());
    assert!(none.is_none(), "argon2 costs beyond the bounds are refused");
    assert!(String::from_utf8(answer).unwrap().contains("argon2"));

    let (none, answer) = configure_json(b"{not json");
    assert!(none.is_none());
    assert!(String::from_utf8(answer).unwrap().contains("rejected"));
}

#[test]
fn step_json_with_uses_the_configured_config() {
    let mut world = World::new();
    let op = create(&mut world, "color");
    let prepared = Prepared::new(world.config.clone()).unwrap();
    let bytes = serde_json::to_vec(&input(&world, op, None)).unwrap();
    let answer: StepOutput =
        serde_json::from_slice(&step_json_with(&bytes, Some(&prepared))).unwrap();
    assert!(matches!(answer, StepOutput::Need(_)), "{answer:?}");
    let answer: StepOutput = serde_json::from_slice(&step_json_with(&bytes, None)).unwrap();
    assert!(matches!(answer, StepOutput::Rejected(_)), "{answer:?}");
}
