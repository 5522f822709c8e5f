//! The conformance suite: every case of `tests/cases/*.json` (format in
//! `tests/cases/README.md`) played through the real binary, with every answer
//! validated against `docs/openapi.yaml`. Failures are collected over all
//! cases and reported together.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[path = "conformance/mod.rs"]
mod conformance;

use std::path::{Path, PathBuf};

use common::redis::{RedisCluster, RedisServer};
use common::{Server, add_user, read_to_string};
use conformance::format::load_dir;
use conformance::openapi::OpenApi;
use conformance::play::{Runner, USERS};

/// The least number of requests the cases must make.
const MIN_REQUESTS: usize = 120;

/// The repository root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[test]
fn every_case_of_tests_cases_passes() {
    let tmp = tempfile::tempdir().unwrap();
    play_every_case(tmp.path(), None);
}

#[test]
fn every_case_passes_on_one_redis_server() {
    let tmp = tempfile::tempdir().unwrap();
    let redis = RedisServer::start(&tmp.path().join("redis"));
    play_every_case(tmp.path(), Some(&redis.url()));
    assert_records_went_to_redis(tmp.path(), &redis.keys_matching("sa:user:*"));
}

#[test]
fn every_case_passes_on_a_redis_cluster() {
    let tmp = tempfile::tempdir().unwrap();
    let cluster = RedisCluster::start(&tmp.path().join("cluster"));
    play_every_case(tmp.path(), Some(&cluster.url()));
    assert_records_went_to_redis(tmp.path(), &cluster.keys_matching("sa:user:*"));
}

/// The users of the cases are in Redis, and no redb file was made.
fn assert_records_went_to_redis(tmp: &Path, users: &[String]) {
    for user in &USERS {
        let key = format!("sa:user:{}", user.name);
        assert!(users.contains(&key), "{key} not in Redis: {users:?}");
    }
    assert!(!tmp.join("data/sessattr.redb").exists());
}

/// Plays every case against a server on a data dir in `tmp`, on the redb
/// store or on the Redis `store` URL (set in the data dir's config file,
/// so the user commands of the cases use it too).
fn play_every_case(tmp: &Path, store: Option<&str>) {
    let files = load_dir(&root().join("tests/cases")).unwrap_or_else(|e| panic!("{e}"));
    let openapi =
        OpenApi::load(&root().join("docs/openapi.yaml")).unwrap_or_else(|e| panic!("{e}"));

    let data = tmp.join("data");
    let log = tmp.join("server.log");
    if let Some(store) = store {
        std::fs::create_dir_all(&data).unwrap();
        std::fs::write(data.join("sessattr.toml"), format!("store = \"{store}\"\n")).unwrap();
    }
    for user in &USERS {
        add_user(&data, &log, user.name, user.password, user.super_user);
    }
    let server = Server::start(&data, &log, &["--test-clock"]);

    let mut runner = Runner::new(&server.base, data.clone(), log.clone(), openapi);
    for (name, file) in &files {
        runner.stats.files += 1;
        for case in &file.cases {
            runner.play_case(name, case);
        }
    }
    let stats = &runner.stats;
    let failed_steps = stats.requests - stats.passed;
    eprintln!(
        "conformance on {}: {} files, {} cases played ({} skipped), {} requests \
         (+{} logins, {} clock moves, {} user commands): {} passed, {} failed",
        store.unwrap_or("redb"),
        stats.files,
        stats.cases,
        stats.skipped,
        stats.requests,
        stats.logins,
        stats.clock_moves,
        stats.user_commands,
        stats.passed,
        failed_steps
    );
    for failure in &runner.failures {
        eprintln!("\nFAIL {}", failure.place);
        for line in &failure.about {
            eprintln!("    ({line})");
        }
        for line in &failure.exchange {
            eprintln!("    {line}");
        }
        for line in &failure.problems {
            eprintln!("    - {line}");
        }
    }
    assert!(
        server.stop().success(),
        "graceful stop; log:\n{}",
        read_to_string(&log)
    );
    assert!(
        runner.failures.is_empty(),
        "{} failures (listed above)",
        runner.failures.len()
    );
    assert!(
        stats.requests >= MIN_REQUESTS,
        "only {} requests; the suite must make at least {MIN_REQUESTS}",
        stats.requests
    );
}
