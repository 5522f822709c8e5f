//! The secrets scan of `cargo xtask test` (SPEC 5: values, passwords, keys
//! and USTs never reach logs or error bodies).
//!
//! Every test step runs with `SESSATTR_TEST_EVIDENCE` naming
//! [`evidence_dir`]; the test helpers (`host/tests/common/evidence.rs`,
//! `tests/node/evidence.mjs`) record there every secret a test used
//! (`secrets/*.jsonl`), every server and command log (`logs/`) and every
//! error answer's body (`bodies/`). [`scan`] then looks for every secret in
//! every log and body, as sent and as JSON escapes it.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use aho_corasick::AhoCorasick;
use anyhow::{Context, Result, bail, ensure};

use crate::tools::{progress, target_dir};

/// The environment variable naming the evidence folder.
pub const EVIDENCE_ENV: &str = "SESSATTR_TEST_EVIDENCE";

/// Secrets shorter than this are not looked for: a test value such as `v`
/// or `before` is also an ordinary word of a log line, so finding it says
/// nothing. Tokens, keys and the tests' passwords are all longer.
pub const MIN_SECRET_BYTES: usize = 8;

/// Secrets are looked for by their first this many bytes (cut at a
/// character boundary): a leaked value shows its start too, and the
/// hostile-input cases send values of megabytes, which would make the
/// matcher huge.
pub const MAX_PATTERN_BYTES: usize = 256;

/// The kinds of secret every full run must have recorded, so that a
/// harness that stopped recording fails the scan instead of passing it.
const KINDS: [&str; 4] = ["value", "password", "key", "ust"];

/// Where this run's evidence goes.
pub fn evidence_dir() -> PathBuf {
    target_dir().join("test-evidence")
}

/// Empties the evidence folder (a run scans only its own evidence).
pub fn reset() -> Result<()> {
    let dir = evidence_dir();
    if dir.exists() {
        fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    fs::create_dir_all(&dir).with_context(|| format!("making {}", dir.display()))
}

/// One recorded secret.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Secret {
    kind: String,
    text: String,
}

/// Scans every log and error body of the run for every recorded secret;
/// fails naming each find (with the secret cut short).
pub fn scan() -> Result<()> {
    let dir = evidence_dir();
    let secrets = read_secrets(&dir.join("secrets"))?;
    let mut by_kind: BTreeMap<&str, usize> = BTreeMap::new();
    for secret in &secrets {
        *by_kind.entry(secret.kind.as_str()).or_default() += 1;
    }
    for kind in KINDS {
        ensure!(
            by_kind.get(kind).copied().unwrap_or(0) > 0,
            "no {kind} was recorded: a test harness stopped recording its secrets \
             (see {EVIDENCE_ENV} in host/tests/common/evidence.rs and tests/node/evidence.mjs)"
        );
    }
    let haystacks = [files_in(&dir.join("logs"))?, files_in(&dir.join("bodies"))?].concat();
    ensure!(
        haystacks.iter().any(|p| p.starts_with(dir.join("logs"))),
        "no log was kept: the test harnesses stopped keeping server logs"
    );
    let finds = find(&secrets, &haystacks)?;
    let bytes: u64 = haystacks
        .iter()
        .filter_map(|p| fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    let kinds = by_kind
        .iter()
        .map(|(kind, n)| format!("{n} {kind}s"))
        .collect::<Vec<_>>()
        .join(", ");
    if finds.is_empty() {
        progress(&format!(
            "secrets scan: {} secrets of at least {MIN_SECRET_BYTES} bytes ({kinds}), \
             none in {} logs and error-body files ({} KiB)",
            secrets.len(),
            haystacks.len(),
            bytes / 1024
        ));
        return Ok(());
    }
    for line in &finds {
        eprintln!("xtask: secret found: {line}");
    }
    bail!(
        "{} secret(s) found in the run's logs or error bodies (evidence in {})",
        finds.len(),
        dir.display()
    )
}

/// Every recorded secret of at least [`MIN_SECRET_BYTES`], once.
fn read_secrets(dir: &Path) -> Result<Vec<Secret>> {
    let mut secrets = BTreeSet::new();
    for path in files_in(dir)? {
        let text =
            fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let record: serde_json::Value = serde_json::from_str(line)
                .with_context(|| format!("a line of {} is not JSON", path.display()))?;
            let (Some(kind), Some(secret)) = (record["kind"].as_str(), record["secret"].as_str())
            else {
                bail!("a line of {} lacks kind or secret", path.display());
            };
            if secret.len() >= MIN_SECRET_BYTES {
                secrets.insert(Secret {
                    kind: kind.to_owned(),
                    text: head(secret, MAX_PATTERN_BYTES).to_owned(),
                });
            }
        }
    }
    Ok(secrets.into_iter().collect())
}

/// The first `max` bytes of `text`, cut back to a character boundary.
fn head(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// The finds of `secrets` in `files`, one line each, the secret cut short.
fn find(secrets: &[Secret], files: &[PathBuf]) -> Result<Vec<String>> {
    // Each secret as sent, and as it reads inside a JSON string.
    let mut patterns = Vec::new();
    let mut owners = Vec::new();
    for (index, secret) in secrets.iter().enumerate() {
        let escaped = serde_json::to_string(&secret.text)?;
        let escaped = &escaped[1..escaped.len() - 1];
        patterns.push(secret.text.clone());
        owners.push(index);
        if escaped != secret.text {
            patterns.push(escaped.to_owned());
            owners.push(index);
        }
    }
    let matcher = AhoCorasick::new(&patterns).context("building the matcher")?;
    let mut finds = Vec::new();
    for path in files {
        let bytes = fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        for found in matcher.find_overlapping_iter(&bytes) {
            let secret = &secrets[owners[found.pattern().as_usize()]];
            let shown: String = secret.text.chars().take(4).collect();
            finds.push(format!(
                "{} {shown}… in {} at byte {}",
                secret.kind,
                path.display(),
                found.start()
            ));
        }
    }
    Ok(finds)
}

/// The files directly in `dir` (none when it does not exist), sorted.
fn files_in(dir: &Path) -> Result<Vec<PathBuf>> {
    if !dir.exists() {
        return Ok(Vec::new());
    }
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(kind: &str, text: &str) -> Secret {
        Secret {
            kind: kind.into(),
            text: text.into(),
        }
    }

    #[test]
    fn finds_a_secret_as_sent_and_as_json_escapes_it() {
        let dir = std::env::temp_dir().join(format!("xtask-secrets-{}", std::process::id()));
        fs::create_dir_all(&dir).expect("dir");
        let clean = dir.join("clean.log");
        let leaky = dir.join("leaky.log");
        let escaped = dir.join("escaped.txt");
        fs::write(&clean, "INFO request op=attr.create names=[\"color\"]\n").expect("write");
        fs::write(&leaky, "ERROR failed for hunter2-password\n").expect("write");
        fs::write(&escaped, r#"{"message":"a \"quoted\" secret"}"#).expect("write");
        let secrets = [
            secret("password", "hunter2-password"),
            secret("value", "a \"quoted\" secret"),
            secret("ust", "never-logged-token-0123456789"),
        ];
        let finds = find(&secrets, std::slice::from_ref(&clean)).expect("scan");
        assert!(finds.is_empty(), "{finds:?}");
        let finds = find(&secrets, &[clean, leaky, escaped]).expect("scan");
        assert_eq!(finds.len(), 2, "{finds:?}");
        assert!(finds[0].starts_with("password hunt…"), "{finds:?}");
        assert!(
            !finds[0].contains("hunter2-password"),
            "the find never shows the secret"
        );
        assert!(finds[1].starts_with("value a \"q…"), "{finds:?}");
        fs::remove_dir_all(&dir).expect("cleanup");
    }

    #[test]
    fn short_secrets_are_not_looked_for() {
        let dir = std::env::temp_dir().join(format!("xtask-short-{}", std::process::id()));
        fs::create_dir_all(&dir).expect("dir");
        fs::write(
            dir.join("a.jsonl"),
            "{\"kind\":\"value\",\"secret\":\"v\"}\n{\"kind\":\"ust\",\"secret\":\"0123456789\"}\n",
        )
        .expect("write");
        let secrets = read_secrets(&dir).expect("read");
        assert_eq!(secrets, [secret("ust", "0123456789")]);
        assert_eq!(head("ééé", 3), "é", "cut at a character boundary");
        assert_eq!(
            head(&"v".repeat(1000), MAX_PATTERN_BYTES).len(),
            MAX_PATTERN_BYTES
        );
        fs::remove_dir_all(&dir).expect("cleanup");
    }
}
