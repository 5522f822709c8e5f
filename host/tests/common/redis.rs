//! Real `redis-server` processes for the host's integration tests: one
//! server ([`RedisServer`]) or a cluster of three masters
//! ([`RedisCluster`]), on free loopback ports, with their files (log, pid
//! file, `nodes.conf`) in a dir of the test's. Every wait is bounded.
//!
//! Self-contained (std and the `redis` crate only), so that the host's unit
//! tests can include it too (`#[path]`); its includer allows `dead_code`.

use std::fs::{self, File, OpenOptions};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a server may take to answer, a cluster to become ok, a
/// `redis-cli` run or a SIGTERM to end.
const TIMEOUT: Duration = Duration::from_secs(20);

/// How many fresh starts (with fresh ports) are tried before giving up.
const ATTEMPTS: usize = 3;

/// How many lines of a log a failure message shows.
const TAIL_LINES: usize = 40;

/// The hash slots of a Redis Cluster.
const CLUSTER_SLOTS: usize = 16384;

/// The masters of a [`RedisCluster`].
pub const CLUSTER_NODES: usize = 3;

/// Panics with a hint unless `program --version` runs.
fn require(program: &str) {
    match Command::new(program)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
    {
        Ok(out) if out.status.success() => {}
        Ok(out) => panic!(
            "`{program} --version` failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ),
        Err(err) => panic!(
            "cannot run `{program}` ({err}): the Redis tests need `redis-server` and \
             `redis-cli` on PATH (Debian package redis-server); `cargo xtask test` \
             installs it with apt-get"
        ),
    }
}

/// `n` distinct free loopback ports (all bound at once, then released, so
/// another process may take one before it is used).
fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind port 0"))
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().expect("local addr").port())
        .collect()
}

/// Whether a process with this id exists (`/proc/PID`; a reaped child is gone).
pub fn process_exists(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// SIGKILLs `child` and reaps it.
fn kill_now(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// SIGTERMs `child` and waits for it to end; SIGKILL and a panic after [`TIMEOUT`].
fn terminate(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .stdin(Stdio::null())
        .status();
    let started = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(_)) | Err(_) => return,
            Ok(None) if started.elapsed() > TIMEOUT => {
                kill_now(child);
                panic!(
                    "redis-server (pid {}) ignored SIGTERM for {TIMEOUT:?}",
                    child.id()
                );
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

/// The last [`TAIL_LINES`] lines of a file, empty when missing.
fn tail(path: &Path) -> String {
    tail_since(path, 0)
}

/// The last [`TAIL_LINES`] lines written to a file after its first `offset` bytes.
fn tail_since(path: &Path, offset: u64) -> String {
    let text = fs::read(path)
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .unwrap_or_default();
    let start = usize::try_from(offset).unwrap_or(usize::MAX);
    let fresh = text.get(start..).unwrap_or(&text);
    let lines: Vec<&str> = fresh.lines().collect();
    lines[lines.len().saturating_sub(TAIL_LINES)..].join("\n")
}

/// The size of a file, 0 when missing.
fn file_len(path: &Path) -> u64 {
    fs::metadata(path).map_or(0, |meta| meta.len())
}

/// A file that a child's stdout and stderr both append to.
fn output_handles(path: &Path) -> (Stdio, Stdio) {
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("open output file");
    let other = file.try_clone().expect("clone output handle");
    (Stdio::from(file), Stdio::from(other))
}

/// Runs `command` with its output in the file `out`, for at most
/// [`TIMEOUT`]; the error tells the exit status and the output.
fn run_bounded(command: &mut Command, out: &Path) -> Result<(), String> {
    File::create(out).expect("create output file");
    let (stdout, stderr) = output_handles(out);
    let mut child = command
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .spawn()
        .map_err(|err| format!("cannot spawn {command:?}: {err}"))?;
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            if status.success() {
                return Ok(());
            }
            return Err(format!("{command:?} failed ({status}):\n{}", tail(out)));
        }
        if started.elapsed() > TIMEOUT {
            kill_now(&mut child);
            return Err(format!(
                "{command:?} did not end within {TIMEOUT:?}:\n{}",
                tail(out)
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Every key matching `pattern` on the node behind `con`
/// (`SCAN 0 MATCH pattern COUNT 1000` to the end), unsorted.
fn scan(con: &mut redis::Connection, pattern: &str) -> Vec<String> {
    let mut keys = Vec::new();
    let mut cursor = "0".to_owned();
    loop {
        let (next, batch): (String, Vec<Vec<u8>>) = redis::cmd("SCAN")
            .arg(&cursor)
            .arg("MATCH")
            .arg(pattern)
            .arg("COUNT")
            .arg(1000)
            .query(con)
            .expect("SCAN");
        keys.extend(
            batch
                .iter()
                .map(|key| String::from_utf8_lossy(key).into_owned()),
        );
        if next == "0" {
            return keys;
        }
        cursor = next;
    }
}

/// The value after `--requirepass` in server arguments.
fn password_in(args: &[String]) -> Option<String> {
    args.iter()
        .position(|arg| arg == "--requirepass")
        .and_then(|at| args.get(at + 1).cloned())
}

/// A `redis-server` on `127.0.0.1:PORT` (not daemonized, no persistence:
/// `--save '' --appendonly no`), its working dir, log (`redis.log`),
/// output (`redis.out`) and pid file (`redis.pid`) in its dir. Dropping it
/// SIGKILLs it.
pub struct RedisServer {
    /// The running process, `None` once stopped or killed.
    child: Option<Child>,
    /// Its port, kept across [`RedisServer::restart`].
    port: u16,
    /// Its dir (absolute).
    dir: PathBuf,
    /// The arguments after the test options, e.g. `--requirepass PW`.
    extra: Vec<String>,
    /// The `--requirepass` among them; the helpers' own connections use it.
    password: Option<String>,
}

impl RedisServer {
    /// Starts a server with its files in `dir` (created if missing) and
    /// waits until it answers.
    pub fn start(dir: &Path) -> RedisServer {
        Self::start_with(dir, &[])
    }

    /// [`RedisServer::start`] with more `redis-server` arguments, e.g.
    /// `&["--requirepass", "pw"]` (the helpers' own connections then
    /// authenticate with it; [`RedisServer::url`] holds no password).
    pub fn start_with(dir: &Path, extra: &[&str]) -> RedisServer {
        let extra: Vec<String> = extra.iter().map(|arg| (*arg).to_owned()).collect();
        Self::start_fresh(dir, 0, |_| extra.clone())
    }

    /// Starts a fresh server (no `nodes.conf` left over) on a free port,
    /// with the arguments `args` makes of `spare` more free ports; tries
    /// [`ATTEMPTS`] times with fresh ports (a probed port may be taken in
    /// between), then panics with every attempt's log tail.
    fn start_fresh(dir: &Path, spare: usize, args: impl Fn(&[u16]) -> Vec<String>) -> RedisServer {
        require("redis-server");
        fs::create_dir_all(dir).expect("create redis dir");
        let dir = dir.canonicalize().expect("canonical redis dir");
        let mut failures = Vec::new();
        for attempt in 1..=ATTEMPTS {
            let ports = free_ports(1 + spare);
            let _ = fs::remove_file(dir.join("nodes.conf"));
            let extra = args(&ports[1..]);
            let mut server = RedisServer {
                child: None,
                port: ports[0],
                dir: dir.clone(),
                password: password_in(&extra),
                extra,
            };
            match server.launch() {
                Ok(()) => return server,
                Err(why) => {
                    eprintln!(
                        "redis-server attempt {attempt} on port {} failed: {why}",
                        ports[0]
                    );
                    failures.push(format!("attempt {attempt}, port {}: {why}", ports[0]));
                }
            }
        }
        panic!(
            "redis-server in {} did not come up in {ATTEMPTS} attempts:\n{}",
            dir.display(),
            failures.join("\n\n")
        );
    }

    /// Spawns the server on its port and waits until it answers as itself
    /// (`INFO server` names its pid: another server that took the port
    /// does not count); the error has the log tail.
    fn launch(&mut self) -> Result<(), String> {
        let since = (file_len(&self.log_path()), file_len(&self.out_path()));
        let (stdout, stderr) = output_handles(&self.out_path());
        let mut child = Command::new("redis-server")
            .arg("--port")
            .arg(self.port.to_string())
            .args(["--bind", "127.0.0.1", "--protected-mode", "no"])
            .args(["--daemonize", "no", "--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .arg("--logfile")
            .arg(self.log_path())
            .arg("--pidfile")
            .arg(self.dir.join("redis.pid"))
            .args(&self.extra)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .map_err(|err| format!("cannot spawn redis-server: {err}"))?;
        let started = Instant::now();
        loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                return Err(format!(
                    "exited with {status}\n{}",
                    self.log_tail_since(since)
                ));
            }
            if self.answers_as(child.id()) {
                self.child = Some(child);
                return Ok(());
            }
            if started.elapsed() > TIMEOUT {
                kill_now(&mut child);
                return Err(format!(
                    "no answer within {TIMEOUT:?}\n{}",
                    self.log_tail_since(since)
                ));
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// Whether the server on the port answers `INFO server` with this pid.
    fn answers_as(&self, pid: u32) -> bool {
        let Ok(mut con) = self.try_connection(Duration::from_millis(500)) else {
            return false;
        };
        let Ok(info) = redis::cmd("INFO").arg("server").query::<String>(&mut con) else {
            return false;
        };
        let expected = format!("process_id:{pid}");
        info.lines().any(|line| line.trim() == expected)
    }

    /// A connection with read and write timeouts of `timeout`,
    /// authenticated when the server has a password.
    fn try_connection(&self, timeout: Duration) -> redis::RedisResult<redis::Connection> {
        let client = redis::Client::open(self.url())?;
        let mut con = client.get_connection_with_timeout(timeout)?;
        con.set_read_timeout(Some(timeout))?;
        con.set_write_timeout(Some(timeout))?;
        if let Some(password) = &self.password {
            redis::cmd("AUTH").arg(password).query::<()>(&mut con)?;
        }
        Ok(con)
    }

    /// A new connection (5 s timeouts, authenticated when the server has a
    /// password), for tests that look at the server directly.
    pub fn connection(&self) -> redis::Connection {
        self.try_connection(Duration::from_secs(5))
            .unwrap_or_else(|err| panic!("connect to redis on port {}: {err}", self.port))
    }

    /// `redis://127.0.0.1:PORT/0` (no password in it).
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The pid of the running server; panics when it is stopped.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("redis-server is running").id()
    }

    /// The `--requirepass` it was started with.
    pub fn password(&self) -> Option<&str> {
        self.password.as_deref()
    }

    /// Its dir.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Its log file.
    pub fn log_path(&self) -> PathBuf {
        self.dir.join("redis.log")
    }

    /// Where its stdout and stderr go (early errors, before the log opens).
    fn out_path(&self) -> PathBuf {
        self.dir.join("redis.out")
    }

    /// The tails of its log and output, for failure messages.
    pub fn log_tail(&self) -> String {
        self.log_tail_since((0, 0))
    }

    /// The tails of what its log and output got after their first
    /// `(log, output)` bytes; an empty one is left out.
    fn log_tail_since(&self, (log, out): (u64, u64)) -> String {
        [(self.log_path(), log), (self.out_path(), out)]
            .iter()
            .map(|(path, offset)| (path, tail_since(path, *offset)))
            .filter(|(_, text)| !text.trim().is_empty())
            .map(|(path, text)| format!("--- {}:\n{text}", path.display()))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Whether its process is still running.
    pub fn is_running(&mut self) -> bool {
        match &mut self.child {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// Stops it with SIGTERM and waits until it has ended (a no-op when
    /// already stopped).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            terminate(&mut child);
        }
    }

    /// Kills it with SIGKILL (an outage; a no-op when already stopped).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            kill_now(&mut child);
        }
    }

    /// Starts it again on the same port with the same arguments and dir
    /// (stopping it first if it runs), retrying for up to [`TIMEOUT`] while
    /// the port is briefly unavailable. Its data is gone (no persistence);
    /// a cluster node keeps its identity and slots (`nodes.conf`).
    pub fn restart(&mut self) {
        self.stop();
        let started = Instant::now();
        loop {
            match self.launch() {
                Ok(()) => return,
                Err(why) if started.elapsed() > TIMEOUT => panic!(
                    "redis-server did not restart on port {} within {TIMEOUT:?}: {why}",
                    self.port
                ),
                Err(_) => std::thread::sleep(Duration::from_millis(200)),
            }
        }
    }

    /// Every key matching the glob `pattern`, sorted (SCAN to the end).
    pub fn keys_matching(&self, pattern: &str) -> Vec<String> {
        let mut keys = scan(&mut self.connection(), pattern);
        keys.sort();
        keys
    }

    /// Whether it is a master (`role:master` in `INFO replication`).
    fn is_master(&self) -> bool {
        let info: String = redis::cmd("INFO")
            .arg("replication")
            .query(&mut self.connection())
            .expect("INFO replication");
        info.lines().any(|line| line.trim() == "role:master")
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A Redis Cluster of [`CLUSTER_NODES`] masters and no replicas, each node a
/// [`RedisServer`] in its own subdir `nodeN` (with an explicit, probed
/// `--cluster-port`, so bus ports never collide), all 16384 slots assigned.
/// Dropping it SIGKILLs every node.
pub struct RedisCluster {
    /// The nodes, in the order of [`RedisCluster::url`].
    nodes: Vec<RedisServer>,
    /// The `--requirepass` of every node.
    password: Option<String>,
}

impl RedisCluster {
    /// Starts the nodes under `dir`, creates the cluster with
    /// `redis-cli --cluster create` and waits until every node reports
    /// `cluster_state:ok`, knows every node and has all slots assigned.
    pub fn start(dir: &Path) -> RedisCluster {
        Self::start_with(dir, &[])
    }

    /// [`RedisCluster::start`] with more arguments for every node, e.g.
    /// `&["--requirepass", "pw", "--masterauth", "pw"]` (`redis-cli` and the
    /// helpers' own connections then use that password).
    pub fn start_with(dir: &Path, extra: &[&str]) -> RedisCluster {
        require("redis-server");
        require("redis-cli");
        let mut failures = Vec::new();
        for attempt in 1..=ATTEMPTS {
            match Self::try_start(dir, extra) {
                Ok(cluster) => return cluster,
                Err(why) => {
                    eprintln!("redis cluster attempt {attempt} failed: {why}");
                    failures.push(format!("attempt {attempt}: {why}"));
                }
            }
        }
        panic!(
            "the redis cluster in {} did not come up in {ATTEMPTS} attempts:\n{}",
            dir.display(),
            failures.join("\n\n")
        );
    }

    /// One try of [`RedisCluster::start_with`], from empty node dirs.
    fn try_start(dir: &Path, extra: &[&str]) -> Result<RedisCluster, String> {
        let extra: Vec<String> = extra.iter().map(|arg| (*arg).to_owned()).collect();
        let nodes = (1..=CLUSTER_NODES)
            .map(|index| {
                let node_dir = dir.join(format!("node{index}"));
                let _ = fs::remove_dir_all(&node_dir);
                RedisServer::start_fresh(&node_dir, 1, |spare| {
                    let mut args: Vec<String> = [
                        "--cluster-enabled",
                        "yes",
                        "--cluster-config-file",
                        "nodes.conf",
                        "--cluster-node-timeout",
                        "2000",
                        "--cluster-port",
                    ]
                    .map(str::to_owned)
                    .to_vec();
                    args.push(spare[0].to_string());
                    args.extend(extra.iter().cloned());
                    args
                })
            })
            .collect();
        let cluster = RedisCluster {
            nodes,
            password: password_in(&extra),
        };
        cluster.create(dir)?;
        cluster.wait_until_ok()?;
        Ok(cluster)
    }

    /// `redis-cli --cluster create … --cluster-replicas 0 --cluster-yes`,
    /// its output in `dir/cluster-create.log`.
    fn create(&self, dir: &Path) -> Result<(), String> {
        let mut command = Command::new("redis-cli");
        if let Some(password) = &self.password {
            command.args(["-a", password, "--no-auth-warning"]);
        }
        command
            .args(["--cluster", "create"])
            .args(self.addresses())
            .args(["--cluster-replicas", "0", "--cluster-yes"]);
        run_bounded(&mut command, &dir.join("cluster-create.log"))
    }

    /// Waits until every node is ok (see [`RedisCluster::start`]); the
    /// error has the last `CLUSTER INFO` of a node that was not.
    fn wait_until_ok(&self) -> Result<(), String> {
        let wanted = [
            "cluster_state:ok".to_owned(),
            format!("cluster_slots_assigned:{CLUSTER_SLOTS}"),
            format!("cluster_known_nodes:{CLUSTER_NODES}"),
        ];
        let started = Instant::now();
        loop {
            let not_ok = self.nodes.iter().find_map(|node| {
                let info = node
                    .try_connection(Duration::from_secs(2))
                    .and_then(|mut con| redis::cmd("CLUSTER").arg("INFO").query::<String>(&mut con))
                    .unwrap_or_else(|err| format!("(no answer: {err})"));
                let ok = wanted
                    .iter()
                    .all(|line| info.lines().any(|l| l.trim() == line));
                (!ok).then_some((node, info))
            });
            let Some((node, info)) = not_ok else {
                return Ok(());
            };
            if started.elapsed() > TIMEOUT {
                return Err(format!(
                    "node {} not ok within {TIMEOUT:?}; CLUSTER INFO:\n{}\n{}",
                    node.port(),
                    info.trim(),
                    node.log_tail()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `127.0.0.1:PORT` of every node.
    fn addresses(&self) -> Vec<String> {
        self.nodes
            .iter()
            .map(|node| format!("127.0.0.1:{}", node.port()))
            .collect()
    }

    /// `redis+cluster://127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3` (no password in it).
    pub fn url(&self) -> String {
        format!("redis+cluster://{}", self.addresses().join(","))
    }

    /// The nodes (each with its `port()`, `pid()`, `url()`, …).
    pub fn nodes(&self) -> &[RedisServer] {
        &self.nodes
    }

    /// One node, to stop, kill or restart it (an outage of part of the cluster).
    pub fn node_mut(&mut self, index: usize) -> &mut RedisServer {
        &mut self.nodes[index]
    }

    /// A new cluster connection (5 s timeouts, with the password if any).
    pub fn connection(&self) -> redis::cluster::ClusterConnection {
        let urls: Vec<String> = self.nodes.iter().map(RedisServer::url).collect();
        let mut builder = redis::cluster::ClusterClient::builder(urls)
            .connection_timeout(Duration::from_secs(5))
            .response_timeout(Duration::from_secs(5));
        if let Some(password) = &self.password {
            builder = builder.password(password);
        }
        builder
            .build()
            .and_then(|client| client.get_connection())
            .unwrap_or_else(|err| panic!("connect to the redis cluster {}: {err}", self.url()))
    }

    /// Every key matching the glob `pattern` on every running master, sorted.
    pub fn keys_matching(&self, pattern: &str) -> Vec<String> {
        let mut keys: Vec<String> = self
            .nodes
            .iter()
            .filter(|node| node.child.is_some() && node.is_master())
            .flat_map(|node| scan(&mut node.connection(), pattern))
            .collect();
        keys.sort();
        keys.dedup();
        keys
    }

    /// Stops every node with SIGTERM and waits until they have ended.
    pub fn stop(&mut self) {
        for node in &mut self.nodes {
            node.stop();
        }
    }
}
