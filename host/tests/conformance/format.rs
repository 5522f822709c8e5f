//! The case-file format of `tests/cases/README.md`, read strictly: an
//! unknown key is an error, so a typo cannot silently weaken a case.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use serde_json::{Map, Value};

/// One `tests/cases/*.json` file: the cases of one topic.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseFile {
    /// What the file covers (one word, like the file name).
    pub topic: String,
    /// A sentence or two on what the cases pin down.
    pub description: String,
    /// Played in order.
    pub cases: Vec<Case>,
}

/// A named sequence of steps, with fresh sessions of its own.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// Unique within its file; defect cases start with `defect-NN`.
    pub name: String,
    /// Why the case exists, when the name does not say it all.
    #[serde(default)]
    pub description: Option<String>,
    /// Capabilities a runner must have to play the case (README).
    #[serde(default)]
    pub needs: Vec<String>,
    /// Played in order; a failing step does not stop the case.
    pub steps: Vec<Step>,
}

/// A request with its expected answer, or a move of the clock.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Step {
    /// `{"advance_secs": N}`.
    Clock(ClockStep),
    /// `{"user_command": ["lock", "carol"]}`.
    User(UserStep),
    /// `{"request": …, "expect": …, "capture": …}`.
    Http(Box<HttpStep>),
}

/// Moves the server's clock forward.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClockStep {
    /// Seconds to add to the clock.
    pub advance_secs: u64,
    /// Free text.
    #[serde(default)]
    pub note: Option<String>,
}

/// Runs a user command of the embedding (`lock` or `unlock` a user).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserStep {
    /// The command and the user's name: `["lock", NAME]` or `["unlock", NAME]`.
    pub user_command: Vec<String>,
    /// Free text.
    #[serde(default)]
    pub note: Option<String>,
}

/// One request and what must come back.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpStep {
    /// What to send.
    pub request: Request,
    /// What must come back.
    pub expect: Expect,
    /// Variables to take from the answer's body: name → JSON pointer.
    #[serde(default)]
    pub capture: BTreeMap<String, String>,
    /// Free text.
    #[serde(default)]
    pub note: Option<String>,
}

/// A request of a case, before placeholders are resolved.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    /// HTTP method, upper case.
    pub method: String,
    /// Path without query string.
    pub path: String,
    /// Query parameters; an array value is a repeated parameter.
    #[serde(default)]
    pub query: Option<Map<String, Value>>,
    /// Sent verbatim after the encoded `query` (joined with `&`).
    #[serde(default)]
    pub query_raw: Option<Raw>,
    /// A JSON body.
    #[serde(default)]
    pub body: Option<Value>,
    /// A body sent verbatim (for bodies that are not JSON).
    #[serde(default)]
    pub body_raw: Option<Raw>,
    /// `Content-Type` of the body; `application/json` when absent.
    #[serde(default)]
    pub content_type: Option<String>,
}

/// A raw body or query string: one text, or parts joined without separator.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Raw {
    /// Sent as it is (after `${…}` interpolation).
    Text(String),
    /// Each part in order.
    Parts(Vec<Part>),
}

/// One part of a [`Raw`].
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Part {
    /// Text, interpolated like a whole raw text.
    Text(String),
    /// `{"repeat": N, "of": TEXT}`: TEXT N times, `$i` in it the copy's index.
    Repeat(Repeat),
    /// `{"hex": "ff fe"}`: these bytes (bodies only).
    Hex(Hex),
}

/// `{"repeat": N, "of": TEXT}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Repeat {
    /// How many copies.
    pub repeat: usize,
    /// The text copied.
    pub of: String,
}

/// `{"hex": "…"}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hex {
    /// Hexadecimal digits, two per byte; spaces are ignored.
    pub hex: String,
}

/// The expected answer.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// HTTP status.
    pub http: u16,
    /// Every key of the body but `cid` (always checked) and `message` (checked
    /// only when listed here).
    pub body: Map<String, Value>,
    /// Headers that must have exactly these values (lower-case names).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

/// Reads every `*.json` of `dir`, sorted by file name.
pub fn load_dir(dir: &Path) -> Result<Vec<(String, CaseFile)>, String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| name.ends_with(".json"))
        .collect();
    names.sort();
    let mut files = Vec::with_capacity(names.len());
    for name in names {
        let text = std::fs::read_to_string(dir.join(&name)).map_err(|e| format!("{name}: {e}"))?;
        let file: CaseFile = serde_json::from_str(&text).map_err(|e| format!("{name}: {e}"))?;
        check_file(&name, &file)?;
        files.push((name, file));
    }
    Ok(files)
}

/// The rules the parser cannot express.
fn check_file(name: &str, file: &CaseFile) -> Result<(), String> {
    if name.strip_suffix(".json") != Some(file.topic.as_str()) {
        return Err(format!(
            "{name}: topic {:?} is not the file name",
            file.topic
        ));
    }
    if file.description.trim().is_empty() {
        return Err(format!("{name}: empty description"));
    }
    if file.cases.is_empty() {
        return Err(format!("{name}: no cases"));
    }
    let mut seen = std::collections::BTreeSet::new();
    for case in &file.cases {
        if !seen.insert(case.name.as_str()) {
            return Err(format!("{name}: case {:?} is there twice", case.name));
        }
        if case.steps.is_empty() {
            return Err(format!("{name}: case {:?} has no steps", case.name));
        }
        for (index, step) in case.steps.iter().enumerate() {
            if let Step::User(step) = step {
                let command = step
                    .user_command
                    .iter()
                    .map(String::as_str)
                    .collect::<Vec<_>>();
                if !matches!(command.as_slice(), ["lock" | "unlock", _]) {
                    return Err(format!(
                        "{name}: case {:?} step {index}: user_command is [\"lock\"|\"unlock\", NAME]",
                        case.name
                    ));
                }
            }
            if let Step::Http(step) = step {
                let r = &step.request;
                if r.body.is_some() && r.body_raw.is_some() {
                    return Err(format!(
                        "{name}: case {:?} step {index}: body and body_raw",
                        case.name
                    ));
                }
            }
        }
    }
    Ok(())
}
