//! What the secrets scan of `cargo xtask test` reads (SPEC 5: values,
//! passwords, keys and USTs never reach logs or error bodies): when
//! `SESSATTR_TEST_EVIDENCE` names a folder, the test helpers record there
//! every secret a test used (`secrets/*.jsonl`), keep every server and
//! command log (`logs/`) and every error answer's body (`bodies/`). Without
//! the variable nothing is recorded. xtask's last test step scans every log
//! and body for every secret.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{Value, json};

/// The environment variable naming the evidence folder.
pub const EVIDENCE_ENV: &str = "SESSATTR_TEST_EVIDENCE";

/// Serializes this process's appends (one line is one write).
static APPEND: Mutex<()> = Mutex::new(());
/// Numbers the logs this process keeps.
static LOGS: AtomicUsize = AtomicUsize::new(0);

/// The kinds of secret SPEC 5 names.
#[derive(Debug, Clone, Copy)]
pub enum Secret {
    /// An attribute value.
    Value,
    /// A user's password.
    Password,
    /// An encryption key (base64, as in the key file).
    Key,
    /// A user session token.
    Ust,
}

impl Secret {
    fn label(self) -> &'static str {
        match self {
            Self::Value => "value",
            Self::Password => "password",
            Self::Key => "key",
            Self::Ust => "ust",
        }
    }
}

/// `folder/NAME` of the evidence folder, made on first use; `None` when no
/// evidence is being recorded.
fn folder(name: &str) -> Option<PathBuf> {
    let root = std::env::var_os(EVIDENCE_ENV)?;
    let dir = Path::new(&root).join(name);
    std::fs::create_dir_all(&dir).ok()?;
    Some(dir)
}

/// This test binary and process, for file names.
fn tag() -> String {
    let exe = std::env::current_exe().ok();
    let name = exe
        .as_deref()
        .and_then(Path::file_stem)
        .and_then(|s| s.to_str())
        .unwrap_or("test");
    format!("rust-{name}-{}", std::process::id())
}

fn append(folder_name: &str, file: &str, text: &str) {
    let Some(dir) = folder(folder_name) else {
        return;
    };
    let _guard = APPEND.lock().unwrap_or_else(|p| p.into_inner());
    if let Ok(mut out) = OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(file))
    {
        let _ = out.write_all(text.as_bytes());
    }
}

/// Longest secret recorded, in bytes (the scan looks for the start of
/// each; hostile tests send values of megabytes).
const MAX_SECRET: usize = 4096;

/// Records a secret a test used (its first [`MAX_SECRET`] bytes).
pub fn secret(kind: Secret, text: &str) {
    if text.is_empty() {
        return;
    }
    let mut end = text.len().min(MAX_SECRET);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let line = json!({"kind": kind.label(), "secret": &text[..end]}).to_string() + "\n";
    append("secrets", &format!("{}.jsonl", tag()), &line);
}

/// Keeps the body of an answer that is not a success.
pub fn error_body(status: u16, body: &str) {
    if status != 200 {
        append("bodies", &format!("{}.txt", tag()), &format!("{body}\n"));
    }
}

/// Keeps a copy of the log file at `path` (a server's or a command's).
pub fn log_file(path: &Path) {
    if let Ok(text) = std::fs::read(path) {
        log_text(&String::from_utf8_lossy(&text));
    }
}

/// Keeps `text` as a log.
pub fn log_text(text: &str) {
    if text.is_empty() {
        return;
    }
    let n = LOGS.fetch_add(1, Ordering::Relaxed);
    append("logs", &format!("{}-{n}.log", tag()), text);
}

/// Records the secrets of a request: the JSON body's values, passwords and
/// USTs at any depth, and the USTs of the query string.
pub fn request(body: &[u8], url: &str) {
    if folder("secrets").is_none() {
        return;
    }
    if let Ok(value) = serde_json::from_slice::<Value>(body) {
        secrets_in(&value, None);
    }
    if let Some((_, query)) = url.split_once('?') {
        for pair in query.split('&') {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = value.replace('+', " ");
            let value = percent_encoding::percent_decode_str(&value).decode_utf8_lossy();
            if let Some(kind) = kind_of(key) {
                secret(kind, &value);
            }
        }
    }
}

/// Records the secrets of an answer (the UST of a login) and keeps its
/// body when it is an error.
pub fn answer(status: u16, body: &str) {
    error_body(status, body);
    if folder("secrets").is_none() {
        return;
    }
    if let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(body)
        && let Some(Value::String(ust)) = fields.get("ust")
    {
        secret(Secret::Ust, ust);
    }
}

/// Records the keys of a data dir's key file, if it has one.
pub fn key_file(data_dir: &Path) {
    let Ok(text) = std::fs::read_to_string(data_dir.join("keys.json")) else {
        return;
    };
    if let Ok(value) = serde_json::from_str::<Value>(&text) {
        secrets_in(&value, None);
    }
}

/// What the field `name` holds, if it is a secret.
fn kind_of(name: &str) -> Option<Secret> {
    match name {
        "value" => Some(Secret::Value),
        "password" => Some(Secret::Password),
        "ust" | "current_ust" | "target_ust" => Some(Secret::Ust),
        "key" => Some(Secret::Key),
        _ => None,
    }
}

fn secrets_in(value: &Value, field: Option<&str>) {
    match value {
        Value::String(text) => {
            if let Some(kind) = field.and_then(kind_of) {
                secret(kind, text);
            }
        }
        Value::Array(items) => items.iter().for_each(|item| secrets_in(item, field)),
        Value::Object(fields) => fields
            .iter()
            .for_each(|(name, item)| secrets_in(item, Some(name))),
        _ => {}
    }
}
