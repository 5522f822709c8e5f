//! The conformance suite: every case of `tests/cases/*.json` (format in
//! `tests/cases/README.md`) played through the real binary, with every answer
//! validated against `docs/openapi.yaml`. Failures are collected over all
//! cases and reported together.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[path = "conformance/mod.rs"]
mod conformance;

use std::path::{Path, PathBuf};

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
    let files = load_dir(&root().join("tests/cases")).unwrap_or_else(|e| panic!("{e}"));
    let openapi =
        OpenApi::load(&root().join("docs/openapi.yaml")).unwrap_or_else(|e| panic!("{e}"));

    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let log = tmp.path().join("server.log");
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
        "conformance: {} files, {} cases played ({} skipped), {} requests \
         (+{} logins, {} clock moves, {} user commands): {} passed, {} failed",
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
