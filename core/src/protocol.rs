//! The step protocol: what an embedding hands the core and what it gets back.
//!
//! The core never performs I/O. An embedding (the native host through the raw
//! ABI, or JavaScript through wasm-bindgen) calls [`crate::step`] in a loop:
//!
//! 1. It passes the operation, the configuration, `now`, a fresh random seed and
//!    every record it has fetched so far (initially none).
//! 2. The core answers either [`StepOutput::Need`] (fetch these keys / scan these
//!    prefixes, then call again with the same operation, seed and `now` plus the
//!    new records) or [`StepOutput::Done`] (the response and a [`WriteSet`]).
//! 3. The embedding applies the write set atomically. If a precondition fails
//!    (another writer won a race) it starts over with no records and a new seed,
//!    a bounded number of times.
//!
//! The configuration may travel with every step or be set up once per
//! instance ([`crate::Prepared`], the raw ABI's `sessattr_configure`).
//!
//! Every type here is serialized as JSON; `docs/abi.md` documents the format.

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

use crate::config::Config;

/// Everything the core needs for one decision.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StepInput {
    /// Effective configuration (apps, limits, keys, lifetimes). Absent:
    /// the one the embedding set up once for this instance
    /// (`sessattr_configure`, see [`crate::Prepared`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<Config>,
    /// The operation to decide.
    pub op: Operation,
    /// Current time, microseconds since the Unix epoch (UTC).
    pub now: i64,
    /// 32 bytes from a CSPRNG, base64 (standard alphabet, padded). Every random
    /// value of the decision (cid, nonces, tokens, salts) derives from it.
    pub seed: String,
    /// Records fetched so far: key → record, or `null` when the key is absent.
    #[serde(default)]
    pub records: BTreeMap<String, Option<String>>,
    /// Prefix scans done so far: prefix → every `[key, record]` under it.
    #[serde(default)]
    pub scans: BTreeMap<String, Vec<(String, String)>>,
    /// Most encryptions this decision may make: the embedding's share of
    /// the primary key's nonce budget (SPEC 4). Absent = no limit; past it,
    /// encrypting fails like a missing primary key (E008004).
    #[serde(default)]
    pub encryption_budget: Option<u32>,
}

/// An operation: an HTTP request, or an administrative command of the CLI.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    /// A request received over HTTP (or by the JS fetch handler).
    Http(HttpRequest),
    /// `sessattr user add`: create a user.
    UserAdd(UserAdd),
    /// `sessattr user list`: every user, without password hashes.
    UserList(UserList),
    /// `sessattr user lock`: the user can no longer log in, and every
    /// session of theirs ends.
    UserLock(UserName),
    /// `sessattr user unlock`: the user can log in again (ended sessions
    /// stay ended).
    UserUnlock(UserName),
    /// `sessattr user delete`: the user and every session of theirs end.
    UserDelete(UserName),
    /// `sessattr user passwd`: a new password; every session ends.
    UserPasswd(UserPasswd),
    /// `sessattr keys status` / `keys rotate`: one page of one session's
    /// encrypted attributes, counted by key and (when `rewrite`) re-sealed
    /// under the primary key.
    Rekey(Rekey),
}

/// One page of `keys status` / `keys rotate` over one session.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Rekey {
    /// The session id (as in the store's keys, not a UST).
    pub session: String,
    /// Start after this attribute name (`None` = from the first).
    #[serde(default)]
    pub after: Option<String>,
    /// Most attributes to look at; 0 = only count them from the index.
    pub limit: u32,
    /// Re-seal the values not under the primary key (else only count).
    #[serde(default)]
    pub rewrite: bool,
}

/// An HTTP request as the embedding received it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct HttpRequest {
    /// Upper-case method, e.g. `POST`.
    pub method: String,
    /// Path without the query string, e.g. `/zato/sso/session/attr`.
    pub path: String,
    /// Raw query string without the `?` (may be empty).
    #[serde(default)]
    pub query: String,
    /// The body bytes, base64 (standard alphabet, padded).
    #[serde(default)]
    pub body: String,
    /// True when the body was longer than `limits.body_max_bytes`; the
    /// embedding then passes no body and the core answers 413.
    #[serde(default)]
    pub body_too_large: bool,
    /// Peer address, recorded on new sessions.
    #[serde(default)]
    pub remote_addr: String,
    /// `User-Agent` header, recorded on new sessions.
    #[serde(default)]
    pub user_agent: String,
}

/// The `user add` command.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserAdd {
    /// Unique user name.
    pub username: String,
    /// The password in clear; only its argon2id hash is stored.
    pub password: String,
    /// Whether the user may act on other users' sessions.
    #[serde(default)]
    pub is_super_user: bool,
}

/// `sessattr user list` takes no arguments.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct UserList {}

/// A command on one user.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserName {
    /// The user's name.
    pub username: String,
}

/// The `user passwd` command.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserPasswd {
    /// The user's name.
    pub username: String,
    /// The new password in clear; only its argon2id hash is stored.
    pub password: String,
}

/// The core's answer to one step.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum StepOutput {
    /// Fetch these and call again.
    Need(Need),
    /// The decision.
    Done(Decision),
    /// The embedding sent input the core cannot read (a bug in the embedding,
    /// never caused by a client request). The message holds no secrets.
    Rejected(String),
}

/// Reads the core asks for before it can decide.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Need {
    /// Keys to get (absent keys are passed back as `null`).
    #[serde(default)]
    pub get: Vec<String>,
    /// Prefixes to scan.
    #[serde(default)]
    pub scan: Vec<String>,
}

/// A finished decision: what to answer and what to write.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Decision {
    /// The response to send.
    pub response: HttpResponse,
    /// Writes to apply atomically before sending the response.
    pub writes: WriteSet,
    /// Fields for the embedding's one log line; never holds secrets.
    pub log: LogFields,
    /// Encryptions made deciding (each spent a nonce of the primary key),
    /// for the embedding's nonce budget.
    #[serde(default)]
    pub encryptions: u32,
    /// Apply `writes`, then run the operation again from the start (new
    /// seed, no records) instead of answering `response`. A decision that
    /// must write keys of two hash tags (a login that upgrades the user's
    /// password hash) writes one tag's keys first, so that every write set
    /// stays on one Redis Cluster slot.
    #[serde(default, skip_serializing_if = "core::ops::Not::not")]
    pub run_again: bool,
}

/// An HTTP response.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct HttpResponse {
    /// HTTP status code.
    pub status: u16,
    /// Headers beyond `Content-Type: application/json` (e.g. `Allow`).
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    /// The JSON body text.
    pub body: String,
}

/// Loggable facts about a decision: no values, passwords, keys or USTs.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct LogFields {
    /// Correlation id (24 lowercase hex chars), also in the response body.
    pub cid: String,
    /// Operation label, e.g. `attr.create`.
    pub op: String,
    /// `current_app` of the request, if it was a string: a configured
    /// application as sent, any other by [`by_length`] only.
    #[serde(default)]
    pub app: Option<String>,
    /// `ok` or `error`.
    pub status: String,
    /// Sub-status codes when not ok.
    #[serde(default)]
    pub sub_status: Vec<String>,
    /// Attribute names touched (names may be logged, values never).
    #[serde(default)]
    pub names: Vec<String>,
}

/// How a log line names the client's free text that it must not carry (a
/// UST pasted into a URL, a password typed into `current_app`): `what` and
/// the text's length, `(unknown path of 12 bytes)`.
pub fn by_length(what: &str, text: &str) -> String {
    format!("(unknown {what} of {} bytes)", text.len())
}

/// Writes applied all together or not at all.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct WriteSet {
    /// The writes, in order.
    #[serde(default)]
    pub ops: Vec<WriteOp>,
}

impl WriteSet {
    /// True when nothing is to be written.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

/// One write, with its precondition.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct WriteOp {
    /// Store key.
    pub key: String,
    /// What to do with it.
    pub action: WriteAction,
    /// What the key must hold when the write set is applied.
    #[serde(default)]
    pub expect: Expect,
}

/// What one write does to its key.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum WriteAction {
    /// Store `value` under the key.
    Put {
        /// The encoded record.
        value: String,
        /// When the store may forget the record (unix micros); `None` = never.
        expires_at: Option<i64>,
    },
    /// Remove the key.
    Delete,
    /// Keep the record, change when the store may forget it (a session's
    /// attributes when it is renewed). Nothing happens to an absent key.
    Expire {
        /// When the store may forget the record (unix micros); `None` = never.
        expires_at: Option<i64>,
    },
    /// Change nothing: the op is there for its precondition only (an
    /// attribute write checks that its session is still the one it read).
    Check,
}

/// A precondition on one key, checked atomically with the whole write set.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum Expect {
    /// No precondition.
    #[default]
    Any,
    /// The key must be absent.
    Absent,
    /// The key must hold exactly this record (as read).
    Value(String),
}
