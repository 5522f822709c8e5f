//! Settings through the real binary: `sessattr.toml` in the data dir, then
//! `SESSATTR_*` variables, then flags; `config show` prints the result with
//! each value's source, and `serve` runs with it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::{Command, Stdio};

use common::*;
use serde_json::json;

const CONFIG: &str = r#"
apps = ["ERP", "CRM2"]
session_lifetime = 120
sweep_interval = 30

[limits]
value_max_bytes = 10
body_max_bytes = 4096
"#;

#[test]
fn file_env_and_flags_layer_and_config_show_tells_where_each_came_from() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let log = tmp.path().join("server.log");
    add_user(&data, &log, "admin", "admin-Pa55word-Cf01", true);
    std::fs::write(data.join("sessattr.toml"), CONFIG).unwrap();

    let output = Command::new(BIN)
        .args([
            "--data-dir",
            data.to_str().unwrap(),
            "config",
            "show",
            "--listen",
            "127.0.0.1:1",
        ])
        .env("SESSATTR_SESSION_LIFETIME", "300")
        .env_remove("SESSATTR_DATA_DIR")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{shown}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let file = data.join("sessattr.toml");
    for line in [
        r#"listen = "127.0.0.1:1"  # flag --listen"#.to_owned(),
        "session_lifetime = 300  # env SESSATTR_SESSION_LIFETIME".to_owned(),
        format!(r#"apps = ["ERP", "CRM2"]  # file {}"#, file.display()),
        format!("sweep_interval = 30  # file {}", file.display()),
        format!("value_max_bytes = 10  # file {}", file.display()),
        "name_max_bytes = 191  # default".to_owned(),
        r#"log_format = "text"  # default"#.to_owned(),
    ] {
        assert!(
            shown.lines().any(|l| l == line),
            "no line {line:?} in:\n{shown}"
        );
    }
    // The key file is named, never shown.
    let keys = std::fs::read_to_string(data.join("keys.json")).unwrap();
    let key: serde_json::Value = serde_json::from_str(&keys).unwrap();
    let material = key["keys"][0]["key"].as_str().unwrap();
    assert!(!shown.contains(material));
    assert!(shown.contains("keys.json"));

    // serve runs with the same layers.
    let server = Server::start_with_env(&data, &log, &[], &[("SESSATTR_SESSION_LIFETIME", "300")]);
    let client = client();
    let login_url = server.url("/zato/sso/user/login");
    let as_app = |app: &str| json!({"username": "admin", "password": "admin-Pa55word-Cf01", "current_app": app});
    send_json(&client, "POST", &login_url, &as_app("CRM")).assert_error(403, "E004001");
    let login = send_json(&client, "POST", &login_url, &as_app("ERP"));
    login.assert_ok();
    let ust = login.body["ust"].as_str().unwrap().to_owned();
    let details = send_json(
        &client,
        "GET",
        &server.url("/zato/sso/user/session"),
        &json!({"current_ust": ust, "target_ust": ust, "current_app": "ERP"}),
    );
    details.assert_ok();
    let secs = |field: &str| {
        let text = details.body[field].as_str().unwrap();
        chrono_secs(text)
    };
    let lifetime = secs("expiration_time") - secs("creation_time");
    assert_eq!(lifetime, 300, "{:?}", details.body);
    let body = |value: &str| {
        json!({"current_ust": ust, "target_ust": ust, "current_app": "ERP",
                                     "name": "n", "value": value})
    };
    let url = server.url("/zato/sso/session/attr");
    // 10 bytes pass, 11 do not (values unlike any other text of the run's
    // logs, for the secrets scan).
    send_json(&client, "POST", &url, &body("ten-bytes!")).assert_ok();
    send_json(&client, "PUT", &url, &body("eleven-byte")).assert_error(403, "E008002");
    // The body limit of the file holds: over it is 413, whatever the body.
    let padded = json!({"current_app": "ERP", "pad": "x".repeat(4_096)});
    send_json(&client, "POST", &url, &padded).assert_error(413, "E008002");
    assert!(server.stop().success(), "graceful stop");
}

#[test]
fn a_bad_setting_stops_the_command_with_one_line_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let log = tmp.path().join("cli.log");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("sessattr.toml"), "sesion_lifetime = 5\n").unwrap();
    let out = run_cli(&data, &log, &["config", "show"], "");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("sessattr.toml is not a valid config file"),
        "{stderr}"
    );

    std::fs::remove_file(data.join("sessattr.toml")).unwrap();
    let out = run_cli(&data, &log, &["serve", "--sweep-interval", "0"], "");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("sweep_interval from flag --sweep-interval"),
        "{stderr}"
    );
    let missing = tmp.path().join("missing.toml");
    let out = run_cli(
        &data,
        &log,
        &["--config", missing.to_str().unwrap(), "config", "show"],
        "",
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read"));
}

/// Seconds since the epoch of a SPEC timestamp (`YYYY-MM-DDTHH:MM:SS.ffffff`).
fn chrono_secs(text: &str) -> i64 {
    chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.6f")
        .unwrap_or_else(|e| panic!("{text}: {e}"))
        .and_utc()
        .timestamp()
}
