//! The core's decision for create and get, with no module and no store in
//! the way: one attribute or a batch of 100, plain or encrypted, values of
//! 64 B or 64 KiB. Each iteration steps the operation to its decision over
//! an in-memory map (the step loop of docs/abi.md) without applying it, so
//! every iteration decides the same request from the same records.
//!
//! `cargo xtask bench` runs it (criterion) and puts its medians in
//! docs/BENCHMARKS.md; `cargo test --benches` makes one quick pass.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "../tests/support/mod.rs"]
mod support;

use std::hint::black_box;

use base64::Engine as _;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use serde_json::{Value, json};
use sessattr_core::protocol::{HttpRequest, Operation};
use support::World;

/// Value sizes: a typical small value, and the largest allowed (SPEC 3).
const SIZES: [(&str, usize); 2] = [("64B", 64), ("64KiB", 65_536)];
/// Attributes per request: the single form, and a batch.
const COUNTS: [usize; 2] = [1, 100];

/// A world with two sessions; `present` attributes already stored.
fn world(count: usize, size: usize, encrypt: bool, present: bool) -> (World, Value) {
    let mut world = World::new();
    let (admin, alice) = world.two_sessions();
    let on = json!({"current_ust": admin, "target_ust": alice, "current_app": "CRM"});
    if present {
        let create = with(&on, write_fields(count, size, encrypt));
        let answer = world.create(create);
        assert_eq!(answer.status, 200, "{}", answer.body);
    }
    (world, on)
}

/// The write fields of `count` attributes (`name` + `value`, or `data`).
fn write_fields(count: usize, size: usize, encrypt: bool) -> Value {
    let value = "v".repeat(size);
    if count == 1 {
        json!({"name": "attr-0", "value": value, "encrypt": encrypt})
    } else {
        let data: Vec<Value> = (0..count)
            .map(|i| json!({"name": format!("attr-{i}"), "value": value, "encrypt": encrypt}))
            .collect();
        json!({"data": data})
    }
}

/// The get fields of `count` attributes.
fn get_fields(count: usize) -> Value {
    if count == 1 {
        json!({"name": "attr-0"})
    } else {
        json!({"data": (0..count).map(|i| format!("attr-{i}")).collect::<Vec<_>>()})
    }
}

/// `base` with the fields of `extra` added.
fn with(base: &Value, extra: Value) -> Value {
    let mut all = base.clone();
    for (key, value) in extra.as_object().unwrap() {
        all[key] = value.clone();
    }
    all
}

fn op(method: &str, body: &Value) -> Operation {
    Operation::Http(HttpRequest {
        method: method.into(),
        path: "/zato/sso/session/attr".into(),
        body: base64::engine::general_purpose::STANDARD.encode(body.to_string()),
        remote_addr: "127.0.0.1".into(),
        user_agent: "bench".into(),
        ..HttpRequest::default()
    })
}

fn decide(c: &mut Criterion) {
    for (verb, method) in [("create", "POST"), ("get", "GET")] {
        let mut group = c.benchmark_group(format!("core/{verb}"));
        for count in COUNTS {
            for (size_name, size) in SIZES {
                for encrypt in [false, true] {
                    let (mut world, on) = world(count, size, encrypt, verb == "get");
                    let fields = if verb == "create" {
                        write_fields(count, size, encrypt)
                    } else {
                        get_fields(count)
                    };
                    let operation = op(method, &with(&on, fields));
                    // The decision is right before it is timed.
                    let decision = world.decide(operation.clone());
                    assert_eq!(decision.response.status, 200, "{}", decision.response.body);
                    let kind = if encrypt { "encrypted" } else { "plain" };
                    group.throughput(Throughput::Elements(count as u64));
                    group.bench_function(
                        BenchmarkId::from_parameter(format!("{count}x{size_name}/{kind}")),
                        |b| b.iter(|| black_box(world.decide(black_box(operation.clone())))),
                    );
                }
            }
        }
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = decide
}
criterion_main!(benches);
