//! Plays cases against a running server: fresh fixture sessions per case,
//! every step checked (status, headers, body, OpenAPI schema), every failure
//! collected rather than stopping at the first.

use std::collections::BTreeSet;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};

use std::path::PathBuf;

use super::format::{Case, ClockStep, HttpStep, Request, Step, UserStep};
use super::http::{Answer, Outgoing, client, send};
use super::matcher::{check, short};
use super::openapi::OpenApi;
use super::template::{Vars, query_string, raw_bytes, resolve};

/// A user the runner creates before playing (README: fixture users).
pub struct Fixture {
    /// User name, also the name in `$ust:NAME`.
    pub name: &'static str,
    /// Password.
    pub password: &'static str,
    /// Whether the user is a super-user.
    pub super_user: bool,
}

/// The fixture users of `tests/cases/README.md`.
pub const USERS: [Fixture; 6] = [
    Fixture {
        name: "admin",
        password: "admin-Pa55word-Zq81",
        super_user: true,
    },
    Fixture {
        name: "admin2",
        password: "admin2-Pa55word-Rt63",
        super_user: true,
    },
    Fixture {
        name: "alice",
        password: "alice-Pa55word-Wx47",
        super_user: false,
    },
    Fixture {
        name: "bob",
        password: "bob-Pa55word-Kj22",
        super_user: false,
    },
    Fixture {
        name: "carol",
        password: "carol-Pa55word-Ml09",
        super_user: false,
    },
    Fixture {
        name: "boss",
        password: "boss-Pa55word-Tq70",
        super_user: true,
    },
];

/// The `$ust:NAME` that is a well-formed token of no session.
const FORGED: &str = "forged";

/// Capabilities of this runner (README: `needs`).
pub const CAPABILITIES: [&str; 1] = ["get-body"];

/// The login path.
const LOGIN_PATH: &str = "/zato/sso/user/login";

/// The host's test-clock endpoint (`sessattr serve --test-clock`).
const CLOCK_PATH: &str = "/_sessattr/test/clock";

/// Counters for the summary.
#[derive(Debug, Default)]
pub struct Stats {
    /// Case files read.
    pub files: usize,
    /// Cases played.
    pub cases: usize,
    /// Cases skipped for a missing capability.
    pub skipped: usize,
    /// Request steps played.
    pub requests: usize,
    /// Request steps whose every check passed.
    pub passed: usize,
    /// Fixture logins.
    pub logins: usize,
    /// Clock steps.
    pub clock_moves: usize,
    /// User-command steps.
    pub user_commands: usize,
}

/// One failing step (or a failing login before the steps).
#[derive(Debug)]
pub struct Failure {
    /// `file › case › step N`.
    pub place: String,
    /// The case's description and the step's note, when they have one.
    pub about: Vec<String>,
    /// What was sent, and what came back.
    pub exchange: Vec<String>,
    /// What was wrong.
    pub problems: Vec<String>,
}

/// Plays cases against one server.
pub struct Runner {
    client: reqwest::blocking::Client,
    base: String,
    /// The server's data dir and log, for `sessattr user …` steps.
    data_dir: PathBuf,
    log: PathBuf,
    openapi: OpenApi,
    /// Counters.
    pub stats: Stats,
    /// Everything that failed.
    pub failures: Vec<Failure>,
}

impl Runner {
    /// A runner for the server at `base` (`http://127.0.0.1:PORT`) on
    /// `data_dir`, whose CLI output goes to `log`.
    pub fn new(base: &str, data_dir: PathBuf, log: PathBuf, openapi: OpenApi) -> Self {
        Self {
            client: client(),
            base: base.to_owned(),
            data_dir,
            log,
            openapi,
            stats: Stats::default(),
            failures: Vec::new(),
        }
    }

    /// Plays one case: fresh sessions, then every step.
    pub fn play_case(&mut self, file: &str, case: &Case) {
        let place = format!("{file} › {}", case.name);
        if case
            .needs
            .iter()
            .any(|n| !CAPABILITIES.contains(&n.as_str()))
        {
            self.stats.skipped += 1;
            return;
        }
        self.stats.cases += 1;
        let about: Vec<String> = case.description.iter().cloned().collect();
        let mut vars = Vars::default();
        for name in session_names(case) {
            match self.session_for(&name) {
                Ok(ust) => {
                    vars.usts.insert(name, ust);
                }
                Err(failure) => self.failures.push(Failure {
                    place: format!("{place} › login of {name}"),
                    about: about.clone(),
                    ..failure
                }),
            }
        }
        for (index, step) in case.steps.iter().enumerate() {
            let (result, note) = match step {
                Step::Clock(clock) => (self.advance(clock), &clock.note),
                Step::User(user) => (self.user_command(user), &user.note),
                Step::Http(step) => (self.play_step(step, &mut vars), &step.note),
            };
            if let Err(failure) = result {
                let mut about = about.clone();
                about.extend(note.iter().map(|n| format!("step: {n}")));
                self.failures.push(Failure {
                    place: format!("{place} › step {index}"),
                    about,
                    ..failure
                });
            }
        }
    }

    /// A UST for `$ust:NAME`: a fresh login of a fixture user, or a forged token.
    fn session_for(&mut self, name: &str) -> Result<String, Failure> {
        if name == FORGED {
            let mut bytes = [0u8; 32];
            getrandom::fill(&mut bytes).expect("entropy");
            return Ok(URL_SAFE_NO_PAD.encode(bytes));
        }
        let Some(user) = USERS.iter().find(|u| u.name == name) else {
            return Err(problem(format!("$ust:{name} is not a fixture user")));
        };
        self.stats.logins += 1;
        let body = json!({"username": user.name, "password": user.password, "current_app": "CRM"});
        let request = json_request("POST", LOGIN_PATH, &body);
        let answer = send(&self.client, &self.base, &request).map_err(problem)?;
        let mut problems = self.common_checks(&request, &answer);
        let ust = answer
            .json
            .as_ref()
            .and_then(|b| b["ust"].as_str())
            .map(str::to_owned);
        if answer.status != 200 || ust.is_none() {
            problems.push(format!("login answered HTTP {}", answer.status));
        }
        match ust {
            Some(ust) if problems.is_empty() => Ok(ust),
            _ => Err(Failure::of(exchange(&request, &answer), problems)),
        }
    }

    /// A clock step: moves the server's test clock.
    fn advance(&mut self, step: &ClockStep) -> Result<(), Failure> {
        self.stats.clock_moves += 1;
        let body = json!({"advance_secs": step.advance_secs});
        let request = json_request("POST", CLOCK_PATH, &body);
        let answer = send(&self.client, &self.base, &request).map_err(problem)?;
        let ok = answer.status == 200 && answer.json.as_ref().is_some_and(|b| b["status"] == "ok");
        if ok {
            Ok(())
        } else {
            Err(Failure::of(
                exchange(&request, &answer),
                vec!["the test clock did not move (is --test-clock on?)".into()],
            ))
        }
    }

    /// A user-command step: `sessattr user lock|unlock NAME` on the data
    /// dir of the running server.
    fn user_command(&mut self, step: &UserStep) -> Result<(), Failure> {
        self.stats.user_commands += 1;
        let mut args = vec!["user"];
        args.extend(step.user_command.iter().map(String::as_str));
        let output = crate::common::run_cli(&self.data_dir, &self.log, &args, "");
        if output.status.success() {
            return Ok(());
        }
        Err(Failure::of(
            vec![format!("sessattr {}", args.join(" "))],
            vec![format!(
                "exit {}: {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            )],
        ))
    }

    /// A request step: send, capture, check.
    fn play_step(&mut self, step: &HttpStep, vars: &mut Vars) -> Result<(), Failure> {
        self.stats.requests += 1;
        let request =
            outgoing(&step.request, vars).map_err(|e| problem(format!("case error: {e}")))?;
        let answer = match send(&self.client, &self.base, &request) {
            Ok(answer) => answer,
            Err(err) => {
                let err = short_text(&err);
                return Err(Failure::of(vec![request_line(&request)], vec![err]));
            }
        };
        let mut problems = self.common_checks(&request, &answer);
        let body = answer.json.clone().unwrap_or(Value::Null);
        for (name, pointer) in &step.capture {
            match body.pointer(pointer) {
                Some(value) => {
                    vars.captured.insert(name.clone(), value.clone());
                }
                None => problems.push(format!("capture {name}: nothing at {pointer}")),
            }
        }
        let expect = &step.expect;
        if answer.status != expect.http {
            problems.push(format!(
                "HTTP status: expected {}, got {}",
                expect.http, answer.status
            ));
        }
        for (name, value) in &expect.headers {
            let got = answer.headers.get(name);
            if got != Some(value) {
                problems.push(format!("header {name}: expected {value:?}, got {got:?}"));
            }
        }
        if let Value::Object(mut actual) = body {
            actual.remove("cid");
            if !expect.body.contains_key("message") {
                actual.remove("message");
            }
            let expected = Value::Object(expect.body.clone());
            check(
                &expected,
                &Value::Object(actual),
                vars,
                "body",
                &mut problems,
            );
        }
        if problems.is_empty() {
            self.stats.passed += 1;
            Ok(())
        } else {
            Err(Failure::of(exchange(&request, &answer), problems))
        }
    }

    /// Checks every answer gets: JSON object body with a good `cid`,
    /// `content-type: application/json`, the OpenAPI schema, and on 405 an
    /// `Allow` header naming the documented methods.
    fn common_checks(&mut self, request: &Outgoing, answer: &Answer) -> Vec<String> {
        let mut problems = Vec::new();
        let content_type = answer.headers.get("content-type");
        if content_type.map(String::as_str) != Some("application/json") {
            problems.push(format!(
                "content-type: expected \"application/json\", got {content_type:?}"
            ));
        }
        let Some(body) = answer.json.as_ref().filter(|b| b.is_object()) else {
            problems.push("the body is not a JSON object".into());
            return problems;
        };
        let cid_ok = body["cid"].as_str().is_some_and(|c| {
            c.len() == 24
                && c.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        });
        if !cid_ok {
            problems.push(format!("cid: not 24 lower-case hex chars: {}", body["cid"]));
        }
        if let Err(errors) =
            self.openapi
                .validate(&request.path, &request.method, answer.status, body)
        {
            problems.extend(errors);
        }
        if answer.status == 405 {
            let documented = self.openapi.methods(&request.path).unwrap_or_default();
            let allow: Option<BTreeSet<String>> = answer
                .headers
                .get("allow")
                .map(|v| v.split(',').map(|m| m.trim().to_owned()).collect());
            if allow.as_ref() != Some(&documented) {
                problems.push(format!(
                    "allow: expected the documented {documented:?}, got {:?}",
                    answer.headers.get("allow")
                ));
            }
        }
        problems
    }
}

/// Every `NAME` of `$ust:NAME` / `${ust:NAME}` in a case, sorted.
fn session_names(case: &Case) -> BTreeSet<String> {
    let mut text = String::new();
    for step in &case.steps {
        if let Step::Http(step) = step {
            text.push_str(&format!("{:?}", step.request));
            text.push_str(&format!("{:?}", step.expect));
        }
    }
    let mut names = BTreeSet::new();
    for (start, _) in text.match_indices("ust:") {
        let before = text[..start].chars().last();
        if matches!(before, Some('$' | '{')) {
            let name: String = text[start + 4..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                names.insert(name);
            }
        }
    }
    names
}

/// Resolves a case's request.
fn outgoing(request: &Request, vars: &Vars) -> Result<Outgoing, String> {
    let query = query_string(request.query.as_ref(), request.query_raw.as_ref(), vars)?;
    let body = match (&request.body, &request.body_raw) {
        (Some(body), _) => Some(resolve(body, vars)?.to_string().into_bytes()),
        (None, Some(raw)) => Some(raw_bytes(raw, vars, true)?),
        (None, None) => None,
    };
    Ok(Outgoing {
        method: request.method.clone(),
        path: request.path.clone(),
        query,
        body,
        content_type: request
            .content_type
            .clone()
            .unwrap_or_else(|| "application/json".into()),
    })
}

/// A JSON request of the runner itself.
fn json_request(method: &str, path: &str, body: &Value) -> Outgoing {
    Outgoing {
        method: method.into(),
        path: path.into(),
        query: String::new(),
        body: Some(body.to_string().into_bytes()),
        content_type: "application/json".into(),
    }
}

/// A failure with one problem and no exchange.
fn problem(text: String) -> Failure {
    Failure::of(Vec::new(), vec![text])
}

impl Failure {
    /// A failure of a step: what was exchanged and what was wrong (the
    /// place and the notes are filled in by the case).
    fn of(exchange: Vec<String>, problems: Vec<String>) -> Self {
        Self {
            place: String::new(),
            about: Vec::new(),
            exchange,
            problems,
        }
    }
}

/// `METHOD path?query` and the body, shortened.
fn request_line(request: &Outgoing) -> String {
    let body = request
        .body
        .as_ref()
        .map(|b| short_text(&String::from_utf8_lossy(b)))
        .unwrap_or_else(|| "(no body)".into());
    format!(
        "request: {} {}  {body}",
        request.method,
        short_text(&request.target())
    )
}

/// The request and the answer, for a report.
fn exchange(request: &Outgoing, answer: &Answer) -> Vec<String> {
    let mut headers = Map::new();
    for name in ["content-type", "allow"] {
        if let Some(value) = answer.headers.get(name) {
            headers.insert(name.into(), Value::String(value.clone()));
        }
    }
    let body = answer
        .json
        .as_ref()
        .map_or_else(|| short_text(&answer.text), short);
    vec![
        request_line(request),
        format!(
            "answer:  HTTP {} {} {body}",
            answer.status,
            Value::Object(headers)
        ),
    ]
}

/// Text cut to a readable length.
fn short_text(text: &str) -> String {
    short(&Value::String(text.to_owned()))
}
