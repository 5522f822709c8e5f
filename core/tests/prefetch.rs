//! What the first step of an attribute operation asks for: the two
//! sessions, plus what the operation will read anyway when it is small (the
//! target's index, or the one record of a single-name get), never a batch
//! of records before the caller is authorized.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use std::collections::BTreeMap;

use base64::Engine as _;
use serde_json::{Value, json};
use sessattr_core::protocol::{HttpRequest, Operation};
use sessattr_core::{StepInput, StepOutput, encode_seed, step};
use support::World;

/// The keys the first step of `method` with `body` asks for.
fn first_need(world: &World, method: &str, body: &Value) -> Vec<String> {
    let input = StepInput {
        config: Some(world.config.clone()),
        op: Operation::Http(HttpRequest {
            method: method.into(),
            path: "/zato/sso/session/attr".into(),
            body: base64::engine::general_purpose::STANDARD.encode(body.to_string()),
            remote_addr: "127.0.0.1".into(),
            user_agent: "test".into(),
            ..HttpRequest::default()
        }),
        now: world.now,
        seed: encode_seed(&[7; 32]),
        records: BTreeMap::new(),
        scans: BTreeMap::new(),
        encryption_budget: None,
    };
    match step(&input) {
        StepOutput::Need(need) => need.get,
        other => panic!("expected a need, got {other:?}"),
    }
}

#[test]
fn a_batch_get_reads_no_record_before_the_caller_is_authorized() {
    let world = World::new();
    // Invented, well-formed USTs: nobody is logged in.
    let (current, target) = ("Q".repeat(43), "Z".repeat(43));
    let names: Vec<String> = (0..1000).map(|i| format!("n{i}")).collect();
    let body =
        json!({"current_ust": current, "target_ust": target, "current_app": "CRM", "data": names});
    let keys = first_need(&world, "GET", &body);
    assert_eq!(keys.len(), 2, "the two sessions only: {keys:?}");
    assert!(keys.iter().all(|k| k.starts_with("sa:s:")), "{keys:?}");
}

#[test]
fn a_single_get_fetches_its_record_and_a_write_its_index_with_the_sessions() {
    let world = World::new();
    let (current, target) = ("Q".repeat(43), "Z".repeat(43));
    let on = json!({"current_ust": current, "target_ust": target, "current_app": "CRM"});
    let mut get = on.clone();
    get["name"] = json!("colour");
    let keys = first_need(&world, "GET", &get);
    assert_eq!(keys.len(), 3, "{keys:?}");
    assert!(
        keys[2].starts_with("sa:a:") && keys[2].ends_with("colour"),
        "{keys:?}"
    );
    let mut create = on;
    create["name"] = json!("colour");
    create["value"] = json!("blue");
    let keys = first_need(&world, "POST", &create);
    assert_eq!(keys.len(), 3, "{keys:?}");
    assert!(keys[2].starts_with("sa:i:"), "{keys:?}");
}
