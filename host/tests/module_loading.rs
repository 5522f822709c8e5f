//! `serve --module FILE`: a file that is not a sessattr module of this ABI
//! stops the server at once with one clear line; the real module serves.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::json;

/// Runs `serve --module FILE`, which must fail within 30 s; returns stderr.
fn serve_must_fail(data: &Path, module: &Path) -> String {
    let port = free_port();
    let mut child = Command::new(BIN)
        .arg("--data-dir")
        .arg(data)
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--module",
        ])
        .arg(module)
        .env_remove("SESSATTR_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("serve --module {} kept running", module.display());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().unwrap();
    assert!(!output.status.success(), "must exit non-zero");
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(
        stderr.lines().count(),
        1,
        "one line on stderr, got: {stderr:?}"
    );
    stderr.trim_end().to_owned()
}

#[test]
fn a_text_file_is_refused_with_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    let module = tmp.path().join("notes.txt");
    std::fs::write(&module, "these are not the bytes you are looking for\n").unwrap();
    let line = serve_must_fail(&tmp.path().join("data"), &module);
    assert_eq!(
        line,
        format!(
            "error: module {} is not a WebAssembly module",
            module.display()
        )
    );
}

#[test]
fn a_module_of_another_abi_version_is_refused_with_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    let module = tmp.path().join("other-abi.wasm");
    let other = sessattr_core::ABI_VERSION + 1;
    let wasm = wat::parse_str(format!(
        r#"(module
            (memory (export "memory") 1)
            (func (export "sessattr_abi_version") (result i32) i32.const {other})
            (func (export "sessattr_alloc") (param i32) (result i32) i32.const 0)
            (func (export "sessattr_free") (param i32 i32))
            (func (export "sessattr_step") (param i32 i32) (result i64) i64.const 0))"#
    ))
    .unwrap();
    std::fs::write(&module, wasm).unwrap();
    let line = serve_must_fail(&tmp.path().join("data"), &module);
    assert_eq!(
        line,
        format!(
            "error: module {} speaks ABI {other}, this host speaks {}",
            module.display(),
            sessattr_core::ABI_VERSION
        )
    );
}

#[test]
fn a_module_without_the_exports_is_refused_with_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    let module = tmp.path().join("empty.wasm");
    std::fs::write(
        &module,
        wat::parse_str(r#"(module (memory (export "memory") 1))"#).unwrap(),
    )
    .unwrap();
    let line = serve_must_fail(&tmp.path().join("data"), &module);
    assert!(
        line.starts_with(&format!(
            "error: module {} is not a sessattr module",
            module.display()
        )),
        "{line}"
    );

    let missing = tmp.path().join("missing.wasm");
    let line = serve_must_fail(&tmp.path().join("data"), &missing);
    assert!(
        line.starts_with(&format!("error: cannot read module {}", missing.display())),
        "{line}"
    );
}

#[test]
fn the_built_module_serves() {
    let module = built_module();
    assert!(
        module.is_file(),
        "{} missing: run `cargo xtask build` first",
        module.display()
    );
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("server.log");
    let server = Server::start(
        &tmp.path().join("data"),
        &log,
        &["--module", module.to_str().unwrap()],
    );
    // Unknown user: the generic E005001, decided by the module.
    let answer = send_json(
        &client(),
        "POST",
        &server.url("/zato/sso/user/login"),
        &json!({"username": "nobody", "password": "nothing-at-all", "current_app": "CRM"}),
    );
    answer.assert_error(403, "E005001");
    assert_eq!(answer.content_type, "application/json");
    assert!(server.stop().success());
    let text = read_to_string(&log);
    let sha = {
        use sha2::Digest as _;
        hex::encode(sha2::Sha256::digest(std::fs::read(&module).unwrap()))
    };
    assert!(text.contains(&sha), "module sha256 not logged:\n{text}");
    assert!(
        text.contains(module.to_str().unwrap()),
        "module path not logged:\n{text}"
    );
}

/// `module-info` names the module `serve` runs: the built-in one is the
/// very file the build put in `pkg/dist/` (which the npm package ships),
/// and `--module FILE` another.
#[test]
fn module_info_tells_the_sha256_of_the_module_served() {
    use sha2::{Digest, Sha256};
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("cli.log");
    let shipped = std::fs::read(built_module()).unwrap();
    let out = run_cli(
        &tmp.path().join("data"),
        &log,
        &["module-info", "--json"],
        "",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let info: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(info["module"], "(built-in)");
    assert_eq!(info["sha256"], hex::encode(Sha256::digest(&shipped)));
    assert_eq!(info["bytes"], shipped.len());
    assert_eq!(info["abi_version"], sessattr_core::ABI_VERSION);

    let other = tmp.path().join("other.wasm");
    let mut bytes = shipped.clone();
    // A custom section at the end changes the bytes, not the module.
    bytes.extend_from_slice(&[0, 4, 1, b'x', 0, 0]);
    std::fs::write(&other, &bytes).unwrap();
    let out = run_cli(
        &tmp.path().join("data"),
        &log,
        &["module-info", "--json", "--module", other.to_str().unwrap()],
        "",
    );
    let info: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(info["sha256"], hex::encode(Sha256::digest(&bytes)));
    assert_eq!(info["module"], other.display().to_string());
}
