//! The core's decision for create and get, with no module and no store in
//! the way: one attribute or a batch of 100, plain or encrypted, values of
//! 64 B or 64 KiB ([`cases`]). Each iteration steps the operation to its
//! decision over an in-memory map (the step loop of docs/abi.md) without
//! applying it, so every iteration decides the same request from the same
//! records.
//!
//! `cargo xtask bench` runs it (criterion) and puts its medians in
//! docs/BENCHMARKS.md; `cargo test --benches` makes one quick pass.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "../tests/support/mod.rs"]
mod support;

mod cases;

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use serde_json::{Value, json};
use support::World;

/// A world with two sessions; `present` attributes already stored.
fn world(count: usize, size: usize, encrypt: bool, present: bool) -> (World, Value) {
    let mut world = World::new();
    let (admin, alice) = world.two_sessions();
    let on = json!({"current_ust": admin, "target_ust": alice, "current_app": "CRM"});
    if present {
        let create = cases::with(&on, cases::write_fields(count, size, encrypt));
        let answer = world.create(create);
        assert_eq!(answer.status, 200, "{}", answer.body);
    }
    (world, on)
}

fn decide(c: &mut Criterion) {
    for (verb, method) in cases::VERBS {
        let mut group = c.benchmark_group(format!("core/{verb}"));
        for count in cases::COUNTS {
            for (size_name, size) in cases::SIZES {
                for encrypt in [false, true] {
                    let (mut world, on) = world(count, size, encrypt, verb == "get");
                    let fields = cases::fields(verb, count, size, encrypt);
                    let operation = cases::attr_request(method, &cases::with(&on, fields));
                    // The decision is right before it is timed.
                    let decision = world.decide(operation.clone());
                    assert_eq!(decision.response.status, 200, "{}", decision.response.body);
                    group.throughput(Throughput::Elements(count as u64));
                    group.bench_function(
                        BenchmarkId::from_parameter(cases::case_id(count, size_name, encrypt)),
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
    config = cases::criterion();
    targets = decide
}
criterion_main!(benches);
