//! Helpers of the host's integration tests: start the real `sessattr` binary
//! on a free loopback port with its own data dir, capture its output, speak HTTP.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub mod evidence;
pub mod redis;

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_sessattr");

/// How long a server may take to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// The module `cargo xtask build` produces (what the binary embeds).
pub fn built_module() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../pkg/dist/node/sessattr_wasm_bg.wasm")
}

/// A free loopback port (bound then released).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind port 0");
    listener.local_addr().expect("local addr").port()
}

/// The address in the first `listening on http://ADDR` line written to
/// `log` after its first `offset` bytes.
fn listening_since(log: &Path, offset: u64) -> Option<SocketAddr> {
    let text = read_to_string(log);
    let fresh = text.get(usize::try_from(offset).ok()?..)?;
    let line = fresh.lines().find(|l| l.contains("listening on http://"))?;
    let rest = &line[line.find("listening on http://")? + "listening on http://".len()..];
    let addr: String = rest
        .chars()
        .take_while(|c| !c.is_whitespace() && *c != '"')
        .collect();
    addr.parse().ok()
}

/// A log file both stdout and stderr of a child append to.
fn log_handles(log: &Path) -> (File, File) {
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("open log file");
    let other = file.try_clone().expect("clone log handle");
    (file, other)
}

/// A running `sessattr serve`.
pub struct Server {
    child: Option<Child>,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// Where its stdout and stderr go.
    pub log: PathBuf,
    /// Its data dir.
    data_dir: PathBuf,
}

impl Server {
    /// Starts `sessattr --data-dir DATA serve --listen 127.0.0.1:PORT EXTRA…`
    /// and waits until it accepts connections.
    pub fn start(data_dir: &Path, log: &Path, extra: &[&str]) -> Server {
        Self::start_with_env(data_dir, log, extra, &[])
    }

    /// [`Server::start`] with these environment variables set.
    pub fn start_with_env(
        data_dir: &Path,
        log: &Path,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Server {
        // Port 0: the server picks a free port and logs it, so that two
        // tests can never race for one (a port probed free and released
        // may be taken by another test before this server binds it).
        let logged_before = std::fs::metadata(log).map(|m| m.len()).unwrap_or(0);
        let (out, err) = log_handles(log);
        let mut command = Command::new(BIN);
        command
            .arg("--data-dir")
            .arg(data_dir)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(extra)
            .env_remove("SESSATTR_DATA_DIR")
            .env_remove("SESSATTR_LOG")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err));
        let mut child = command.spawn().expect("spawn sessattr serve");
        let started = Instant::now();
        let addr: SocketAddr = loop {
            if let Some(addr) = listening_since(log, logged_before)
                && TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
            {
                break addr;
            }
            if let Some(status) = child.try_wait().expect("try_wait") {
                panic!(
                    "sessattr serve exited early with {status}; log:\n{}",
                    read_to_string(log)
                );
            }
            if started.elapsed() > START_TIMEOUT {
                let _ = child.kill();
                panic!(
                    "sessattr serve did not listen within {START_TIMEOUT:?}; log:\n{}",
                    read_to_string(log)
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        Server {
            child: Some(child),
            base: format!("http://{addr}"),
            log: log.to_path_buf(),
            data_dir: data_dir.to_path_buf(),
        }
    }

    /// Keeps its log and its key file's keys for the secrets scan
    /// ([`evidence`]).
    fn keep_evidence(&self) {
        evidence::log_file(&self.log);
        evidence::key_file(&self.data_dir);
    }

    /// Stops the server with SIGTERM and returns its exit status.
    pub fn stop(mut self) -> ExitStatus {
        let mut child = self.child.take().expect("running");
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let started = Instant::now();
        loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                self.keep_evidence();
                return status;
            }
            if started.elapsed() > Duration::from_secs(20) {
                let _ = child.kill();
                panic!("sessattr serve ignored SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Kills the server with SIGKILL (no chance to clean up, like a crash
    /// or the OOM killer) and returns its exit status.
    pub fn kill(mut self) -> ExitStatus {
        let mut child = self.child.take().expect("running");
        child.kill().expect("SIGKILL");
        child.wait().expect("wait")
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// The full URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
            self.keep_evidence();
        }
    }
}

/// Reads a file as text (lossy), empty when missing.
pub fn read_to_string(path: &Path) -> String {
    let mut bytes = Vec::new();
    if let Ok(mut file) = File::open(path) {
        let _ = file.read_to_end(&mut bytes);
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Runs `sessattr --data-dir DATA ARGS…` with `stdin` as standard input,
/// appending its log (stderr) to `log` as well.
pub fn run_cli(data_dir: &Path, log: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(BIN)
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env_remove("SESSATTR_DATA_DIR")
        .env_remove("SESSATTR_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sessattr");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    let output = child.wait_with_output().expect("wait");
    // Passwords are given on stdin; what the command printed on stderr is
    // its log (stdout is its output: `store export` prints records there
    // on purpose).
    for line in stdin.lines() {
        evidence::secret(evidence::Secret::Password, line.trim());
    }
    evidence::log_text(&String::from_utf8_lossy(&output.stderr));
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("log");
    // Its log only: stdout is the command's output (`store export` prints
    // records, values in clear among them, there on purpose).
    file.write_all(&output.stderr).expect("log stderr");
    output
}

/// `sessattr user add NAME [--super-user] --password-stdin`, which must succeed.
pub fn add_user(data_dir: &Path, log: &Path, name: &str, password: &str, super_user: bool) {
    let mut args = vec!["user", "add", name, "--password-stdin"];
    if super_user {
        args.push("--super-user");
    }
    let output = run_cli(data_dir, log, &args, &format!("{password}\n"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "user add {name} failed: {}{}",
        stdout,
        String::from_utf8_lossy(&output.stderr)
    );
    let expected = if super_user {
        format!("added user {name} (super-user)")
    } else {
        format!("added user {name}")
    };
    assert_eq!(stdout.trim_end(), expected);
}

/// A server on a fresh data dir with a super-user `admin` and a user
/// `alice`, both logged in.
pub struct TwoUsers {
    /// Holds the data dir and the log.
    pub tmp: tempfile::TempDir,
    /// The data dir.
    pub data: PathBuf,
    /// The server's log.
    pub log: PathBuf,
    /// The running server.
    pub server: Server,
    /// A client.
    pub client: reqwest::blocking::Client,
    /// The UST of admin's session.
    pub admin: String,
    /// The UST of alice's session.
    pub alice: String,
}

impl TwoUsers {
    /// Starts the server with `extra` serve flags; the passwords are the
    /// test's own.
    pub fn start(admin_password: &str, alice_password: &str, extra: &[&str]) -> Self {
        let tmp = tempfile::tempdir().expect("tempdir");
        let data = tmp.path().join("data");
        let log = tmp.path().join("server.log");
        add_user(&data, &log, "admin", admin_password, true);
        add_user(&data, &log, "alice", alice_password, false);
        let server = Server::start(&data, &log, extra);
        let client = client();
        let admin = login(&client, &server, "admin", admin_password);
        let alice = login(&client, &server, "alice", alice_password);
        Self {
            tmp,
            data,
            log,
            server,
            client,
            admin,
            alice,
        }
    }
}

/// Logs `username` in with `current_app` CRM; answers the UST.
pub fn login(
    client: &reqwest::blocking::Client,
    server: &Server,
    username: &str,
    password: &str,
) -> String {
    let answer = send_json(
        client,
        "POST",
        &server.url("/zato/sso/user/login"),
        &serde_json::json!({"username": username, "password": password, "current_app": "CRM"}),
    );
    answer.assert_ok();
    answer.body["ust"].as_str().expect("ust").to_owned()
}

/// A blocking HTTP client.
pub fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("client")
}

/// An answer: HTTP status and JSON body.
#[derive(Debug)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// The body, parsed.
    pub body: Value,
    /// `content-type` of the answer.
    pub content_type: String,
}

impl Answer {
    /// `sub_status` as strings.
    pub fn codes(&self) -> Vec<String> {
        self.body["sub_status"]
            .as_array()
            .map(|l| {
                l.iter()
                    .filter_map(|c| c.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Asserts an error answer with exactly this status and sub-status.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(
            (self.status, self.codes()),
            (status, vec![code.to_owned()]),
            "{:?}",
            self.body
        );
        assert_eq!(self.body["status"], "error", "{:?}", self.body);
        assert_cid(&self.body);
    }

    /// Asserts a plain ok answer.
    #[track_caller]
    pub fn assert_ok(&self) {
        assert_eq!(self.status, 200, "{:?}", self.body);
        assert_eq!(self.body["status"], "ok", "{:?}", self.body);
        assert!(self.body.get("sub_status").is_none(), "{:?}", self.body);
        assert_cid(&self.body);
    }
}

/// Asserts `cid` is 24 lowercase hex characters.
#[track_caller]
pub fn assert_cid(body: &Value) {
    let cid = body["cid"].as_str().unwrap_or_default();
    assert!(
        cid.len() == 24
            && cid
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        "bad cid in {body:?}"
    );
}

/// Sends `method url` with `body` as raw bytes and `content_type`.
pub fn send(
    client: &reqwest::blocking::Client,
    method: &str,
    url: &str,
    body: Vec<u8>,
    content_type: &str,
) -> Answer {
    evidence::request(&body, url);
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let response = client
        .request(method, url)
        .header("content-type", content_type)
        .body(body)
        .send()
        .expect("request");
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let text = response.text().expect("body");
    evidence::answer(status, &text);
    let body =
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("answer is not JSON: {text:?}"));
    Answer {
        status,
        body,
        content_type,
    }
}

/// Sends `method url` with a JSON body.
pub fn send_json(
    client: &reqwest::blocking::Client,
    method: &str,
    url: &str,
    body: &Value,
) -> Answer {
    send(
        client,
        method,
        url,
        body.to_string().into_bytes(),
        "application/json",
    )
}

/// Every byte of every file under `dir`, with its path.
pub fn files_under(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        for entry in std::fs::read_dir(&current).expect("read_dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push((path.clone(), std::fs::read(&path).expect("read file")));
            }
        }
    }
    out
}

/// Whether `needle` occurs in `haystack`.
pub fn contains_bytes(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// Escapes bytes for a WAT data string.
fn wat_bytes(text: &str) -> String {
    text.bytes().map(|b| format!("\\{b:02x}")).collect()
}

/// The fake module's answer to `sessattr_configure`.
const CONFIGURED: &str = r#"{"configured":true}"#;

/// A fake sessattr module (this ABI) that needs no core: in each instance, its
/// first step asks for `fake:k` and a scan of `fake:`; every later step
/// answers `done` with a 201 response and a put-if-absent of `fake:k`.
pub fn fake_module(done_body: &str) -> Vec<u8> {
    let need = r#"{"need":{"get":["fake:k"],"scan":["fake:"]}}"#;
    let done = serde_json::json!({"done": {
        "response": {"status": 201, "headers": [["x-fake", "yes"], ["content-type", "text/plain"]],
                     "body": done_body},
        "writes": {"ops": [{"key": "fake:k", "action": {"put": {"value": "v", "expires_at": null}},
                            "expect": "absent"}]},
        "log": {"cid": "0123456789abcdef01234567", "op": "fake.op", "app": "CRM", "status": "ok",
                "sub_status": [], "names": ["fake-name"]}
    }})
    .to_string();
    let text = format!(
        r#"(module
            (import "__wbindgen_placeholder__" "__wbg_getRandomValues_abc" (func $js (param i32 i32)))
            (memory (export "memory") 16)
            (global $next (mut i32) (i32.const 65536))
            (global $calls (mut i32) (i32.const 0))
            (data (i32.const 16) "{need_data}")
            (data (i32.const 4096) "{done_data}")
            (func (export "sessattr_abi_version") (result i32) i32.const {abi})
            (func (export "sessattr_alloc") (param $len i32) (result i32)
                (local $ptr i32)
                global.get $next
                local.set $ptr
                global.get $next
                local.get $len
                i32.add
                global.set $next
                local.get $ptr)
            (func (export "sessattr_free") (param i32 i32))
            (data (i32.const 2048) "{configured_data}")
            (func (export "sessattr_configure") (param i32 i32) (result i64)
                i64.const {configured_packed})
            (func (export "sessattr_step") (param $ptr i32) (param $len i32) (result i64)
                global.get $calls
                i32.const 1
                i32.add
                global.set $calls
                global.get $calls
                i32.const 1
                i32.eq
                if (result i64)
                    i64.const {need_packed}
                else
                    i64.const {done_packed}
                end)
        )"#,
        abi = sessattr_core::ABI_VERSION,
        need_data = wat_bytes(need),
        done_data = wat_bytes(&done),
        configured_data = wat_bytes(CONFIGURED),
        configured_packed = (2048i64 << 32) | CONFIGURED.len() as i64,
        need_packed = (16i64 << 32) | need.len() as i64,
        done_packed = (4096i64 << 32) | done.len() as i64,
    );
    wat::parse_str(text).expect("valid wat")
}
