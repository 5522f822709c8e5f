//! The Redis / Valkey store: one server or a Redis Cluster, shared by any
//! number of host processes (docs/deploy.md).
//!
//! * Records are Redis strings under the core's keys. Every key of a session
//!   carries the session id as a hash tag, and every write set keeps to one
//!   tag (the core guarantees it; [`RedisStore::apply`] refuses anything
//!   else), so one Lua script (`apply.lua`, by EVALSHA, loaded again on
//!   NOSCRIPT) checks every precondition and makes every write on one slot.
//! * A record with an expiry carries `PXAT` / `PEXPIREAT` in milliseconds
//!   (rounded up from the core's microseconds), so Redis forgets it by
//!   itself; [`Store::purge_expired`] has nothing to do. The core still
//!   checks expiry on every read.
//! * Scans (`user list`, `keys rotate`, `store export`) use `SCAN` on every
//!   master and are not a snapshot: records written meanwhile may or may
//!   not be seen.
//! * Any failed command drops its connection (an answer that timed out may
//!   still arrive on it), and the pool connects again on the next request:
//!   when Redis comes back, the host works again without a restart.

mod connect;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::PoisonError;

use redis::cluster_routing::{RoutingInfo, SingleNodeRoutingInfo};
use redis::{RedisResult, Value};
use sessattr_core::protocol::{Expect, WriteAction, WriteSet};
use sessattr_core::store::layout;

use super::{ApplyOutcome, Store, StoreError, StoredRecord};
use connect::{Link, Manager};
pub use connect::{PASSWORD_ENV, RedisOptions, RedisTarget};

/// Keys asked for per `SCAN` call, and records read per pipeline.
const BATCH: usize = 1_000;

/// Most times a command is sent again after a cluster's "not here now"
/// (within two timeouts: a node may answer with a stale slot map for a
/// while after a slot moved, until the cluster's gossip reaches it).
const RETRY_ROUNDS: u32 = 50;

/// The script that applies a write set.
const APPLY_SCRIPT: &str = include_str!("apply.lua");
/// Longest wait for a pooled connection, in timeouts, while the server is
/// not known to be unreachable.
const CONNECT_WAIT_TIMEOUTS: u32 = 5;
/// How often a wait for a connection looks whether the latest attempt to
/// connect failed.
const CONNECT_POLL: std::time::Duration = std::time::Duration::from_millis(20);
/// How often, while connecting fails, one request tries to connect itself.
const PROBE_EVERY: std::time::Duration = std::time::Duration::from_millis(50);

/// Hands out a turn to probe an unreachable server, at most once every
/// [`PROBE_EVERY`] (whichever request comes first takes it).
#[derive(Debug)]
struct Probe {
    started: std::time::Instant,
    /// Milliseconds since `started` when the next turn is due.
    next_ms: std::sync::atomic::AtomicU64,
}

impl Default for Probe {
    fn default() -> Self {
        Self {
            started: std::time::Instant::now(),
            next_ms: std::sync::atomic::AtomicU64::new(0),
        }
    }
}

impl Probe {
    /// Whether the caller got the turn.
    fn claim(&self) -> bool {
        use std::sync::atomic::Ordering;
        let now = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let next = self.next_ms.load(Ordering::Relaxed);
        let every = u64::try_from(PROBE_EVERY.as_millis()).unwrap_or(u64::MAX);
        now >= next
            && self
                .next_ms
                .compare_exchange(
                    next,
                    now.saturating_add(every),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_ok()
    }
}

/// A store in Redis.
pub struct RedisStore {
    pool: r2d2::Pool<Manager>,
    apply: redis::Script,
    target: RedisTarget,
    /// `redis.timeout_ms`: also the most time spent retrying.
    timeout: std::time::Duration,
    /// Set by the connection manager while connecting fails.
    unreachable: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// When a request may next try to connect while connecting fails.
    probe: Probe,
    /// The keys of the walk in progress ([`Store::scan_keys`]): its prefix
    /// and every key under it, sorted, as scanned when the walk began.
    walk: std::sync::Mutex<Option<(String, Vec<String>)>>,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

fn backend(err: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(format!(
        "redis: {}",
        crate::error::one_line(&err.to_string())
    ))
}

/// Whether the first node of a cluster `target` answers as a Redis that is
/// not in cluster mode (the cluster client's own error does not say so).
fn not_a_cluster(target: &RedisTarget, options: &RedisOptions) -> bool {
    let single = RedisTarget {
        cluster: false,
        nodes: target.nodes.iter().take(1).cloned().collect(),
    };
    let Ok(manager) = Manager::new(&single, options) else {
        return false;
    };
    let Ok(mut pooled) = r2d2::ManageConnection::connect(&manager) else {
        return false;
    };
    redis::cmd("INFO")
        .arg("cluster")
        .query::<String>(pooled.link.as_dyn())
        .is_ok_and(|info| info.contains("cluster_enabled:0"))
}

impl RedisStore {
    /// Connects to `target` and checks that it answers. Later outages are
    /// per request (503), not fatal.
    pub fn open(target: &RedisTarget, options: &RedisOptions) -> Result<Self, StoreError> {
        // rediss:// needs a process-wide rustls provider; a second call
        // (another store in the process) finds it installed, which is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let manager = Manager::new(target, options)?;
        let unreachable = manager.unreachable();
        let pool = r2d2::Pool::builder()
            .max_size(options.pool_size)
            .min_idle(Some(0))
            // Making a cluster connection asks every master: one frozen
            // master costs a timeout, so waiting for a fresh connection may
            // take a few (the requests of the other masters' slots then
            // still get through, later).
            .connection_timeout(options.timeout.saturating_mul(CONNECT_WAIT_TIMEOUTS))
            .test_on_check_out(false)
            .error_handler(Box::new(r2d2::NopErrorHandler))
            .build_unchecked(manager);
        let store = Self {
            pool,
            apply: redis::Script::new(APPLY_SCRIPT),
            target: target.clone(),
            timeout: options.timeout,
            unreachable,
            probe: Probe::default(),
            walk: std::sync::Mutex::new(None),
        };
        store
            .with(|link| redis::cmd("PING").query::<()>(link.as_dyn()))
            .map_err(|err| StoreError::Open {
                path: target.redacted(),
                reason: match target.cluster && not_a_cluster(target, options) {
                    true => "this Redis is not in cluster mode: name it with redis://HOST:PORT/DB"
                        .into(),
                    false => err.to_string(),
                },
            })?;
        // A node of a cluster named as one server would see only its own
        // slots' keys (and refuse the others'). `INFO` may be denied by an
        // ACL: then there is nothing to check.
        if !target.cluster {
            let info = store.with(|link| {
                redis::cmd("INFO")
                    .arg("cluster")
                    .query::<String>(link.as_dyn())
            });
            if info.is_ok_and(|info| info.contains("cluster_enabled:1")) {
                return Err(StoreError::Open {
                    path: target.redacted(),
                    reason: "this Redis is a node of a Redis Cluster: name the cluster with \
                             redis+cluster://HOST:PORT,…"
                        .into(),
                });
            }
        }
        Ok(store)
    }

    /// A pooled connection: an idle one, or a new one. While the latest
    /// attempt to connect failed (the server refuses or does not answer),
    /// this fails at once instead of waiting for a connection that cannot
    /// come; r2d2 keeps trying in the background, so the store recovers by
    /// itself when the server is back. Otherwise it waits for a connection
    /// up to [`CONNECT_WAIT_TIMEOUTS`] timeouts (a cluster connection asks
    /// every master, and one frozen master costs a timeout).
    fn connection(&self) -> Result<r2d2::PooledConnection<Manager>, StoreError> {
        let deadline =
            std::time::Instant::now() + self.timeout.saturating_mul(CONNECT_WAIT_TIMEOUTS);
        loop {
            if let Some(pooled) = self.pool.try_get() {
                return Ok(pooled);
            }
            if self.unreachable.load(std::sync::atomic::Ordering::Relaxed) {
                // Now and then a request asks for a connection itself (which
                // makes r2d2 try at once), so that the store is back as soon
                // as the server is, not at r2d2's next retry.
                let probed = self
                    .probe
                    .claim()
                    .then(|| self.pool.get_timeout(CONNECT_POLL).ok())
                    .flatten();
                return probed.ok_or_else(|| {
                    backend(
                        "cannot connect (the latest attempt failed; retrying in the background)",
                    )
                });
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.pool.get_timeout(left.min(CONNECT_POLL)) {
                Ok(pooled) => return Ok(pooled),
                Err(err) if left <= CONNECT_POLL => return Err(backend(err)),
                Err(_) => {}
            }
        }
    }

    /// Runs `work` on a pooled connection.
    ///
    /// * A cluster's "not here now" answers (MOVED, ASK, TRYAGAIN,
    ///   CLUSTERDOWN while slots move) mean the command did not run: `work`
    ///   runs again on a fresh connection, a few ms later, for at most
    ///   [`RETRY_ROUNDS`] rounds and two timeouts' time.
    /// * Any other failure drops the connection and is never retried: after
    ///   a timeout the command may still have run.
    /// * A panic inside the client is a store failure too (503, nothing
    ///   written), not a crash of the request.
    fn with<T>(&self, work: impl Fn(&mut Link) -> RedisResult<T>) -> Result<T, StoreError> {
        let started = std::time::Instant::now();
        let mut round = 0;
        loop {
            let mut pooled = self.connection()?;
            let link = &mut pooled.link;
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(link)));
            match result {
                Ok(Ok(value)) => return Ok(value),
                Ok(Err(err))
                    if err.is_cluster_error()
                        && round < RETRY_ROUNDS
                        && started.elapsed() < self.timeout.saturating_mul(2) =>
                {
                    // The command did not run. A new connection reads the
                    // slot map afresh (after MOVED; ASK and TRYAGAIN pass
                    // once the slot's keys have moved).
                    pooled.broken = true;
                    round += 1;
                    std::thread::sleep(std::time::Duration::from_millis(2 << round.min(5)));
                }
                Ok(Err(err)) => {
                    pooled.broken = true;
                    return Err(backend(err));
                }
                Err(_) => {
                    pooled.broken = true;
                    return Err(backend("the Redis client panicked"));
                }
            }
        }
    }

    /// Every key that starts with `prefix`, sorted, from every master.
    fn keys_with_prefix(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let pattern = format!("{}*", glob_escape(prefix));
        self.with(|link| {
            let mut keys = BTreeSet::new();
            match link {
                Link::Single(con) => scan_node(con, &pattern, &mut keys, None)?,
                Link::Cluster(con) => {
                    for (host, port) in masters(con)? {
                        let route = RoutingInfo::SingleNode(SingleNodeRoutingInfo::ByAddress {
                            host,
                            port,
                        });
                        scan_node(con.as_mut(), &pattern, &mut keys, Some(&route))?;
                    }
                }
            }
            Ok(keys.into_iter().collect())
        })
    }
}

/// `prefix` with Redis glob specials escaped.
fn glob_escape(prefix: &str) -> String {
    let mut out = String::with_capacity(prefix.len());
    for c in prefix.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Adds every key of one node matching `pattern` to `keys` (`route`: the
/// node of a cluster; `None`: the one server).
fn scan_node(
    con: &mut dyn ScanTarget,
    pattern: &str,
    keys: &mut BTreeSet<String>,
    route: Option<&RoutingInfo>,
) -> RedisResult<()> {
    let mut cursor = String::from("0");
    loop {
        let mut cmd = redis::cmd("SCAN");
        cmd.arg(&cursor)
            .arg("MATCH")
            .arg(pattern)
            .arg("COUNT")
            .arg(BATCH);
        let (next, page): (String, Vec<String>) = con.run(&cmd, route)?;
        keys.extend(page);
        if next == "0" {
            return Ok(());
        }
        cursor = next;
    }
}

/// A connection that runs a command, routed on a cluster.
trait ScanTarget {
    fn run(
        &mut self,
        cmd: &redis::Cmd,
        route: Option<&RoutingInfo>,
    ) -> RedisResult<(String, Vec<String>)>;
}

impl ScanTarget for redis::Connection {
    fn run(
        &mut self,
        cmd: &redis::Cmd,
        _: Option<&RoutingInfo>,
    ) -> RedisResult<(String, Vec<String>)> {
        cmd.query(self)
    }
}

impl ScanTarget for redis::cluster::ClusterConnection {
    fn run(
        &mut self,
        cmd: &redis::Cmd,
        route: Option<&RoutingInfo>,
    ) -> RedisResult<(String, Vec<String>)> {
        match route {
            Some(route) => Ok(redis::from_redis_value(
                self.route_command(cmd, route.clone())?,
            )?),
            None => cmd.query(self),
        }
    }
}

/// The address of every master of the cluster, from `CLUSTER SLOTS`.
fn masters(con: &mut redis::cluster::ClusterConnection) -> RedisResult<BTreeSet<(String, u16)>> {
    let slots: Vec<Value> = redis::cmd("CLUSTER").arg("SLOTS").query(con)?;
    let mut found = BTreeSet::new();
    for range in slots {
        let Value::Array(fields) = range else {
            continue;
        };
        if let Some(Value::Array(master)) = fields.get(2)
            && let (Some(host), Some(port)) = (master.first(), master.get(1))
        {
            let host: String = redis::from_redis_value_ref(host)?;
            let port: u16 = redis::from_redis_value_ref(port)?;
            found.insert((host, port));
        }
    }
    Ok(found)
}

/// The answers to `cmds`, sent as one pipeline (split by node on a cluster).
fn pipeline(link: &mut Link, cmds: &[redis::Cmd]) -> RedisResult<Vec<Value>> {
    match link {
        Link::Single(con) => {
            let mut pipe = redis::pipe();
            for cmd in cmds {
                pipe.add_command(cmd.clone());
            }
            pipe.query(con)
        }
        Link::Cluster(con) => {
            let mut pipe = redis::cluster::cluster_pipe();
            for cmd in cmds {
                pipe.add_command(cmd.clone());
            }
            pipe.query(con.as_mut())
        }
    }
}

/// Unix micros to Redis's unix milliseconds, rounded up: Redis never
/// forgets a record before the core would.
fn millis(micros: i64) -> i64 {
    micros.div_euclid(1_000) + i64::from(micros.rem_euclid(1_000) != 0)
}

impl Store for RedisStore {
    /// `PING`, to the server or to every master of a cluster, on a pooled
    /// connection waited for at most `redis.timeout_ms` (not the five
    /// timeouts a request may wait for a fresh cluster connection); the
    /// answer itself is bounded by the connection's own timeout. Never
    /// retried: a probe answers what it found.
    fn ping(&self) -> Result<(), StoreError> {
        let mut pooled = self.pool.get_timeout(self.timeout).map_err(backend)?;
        let link = &mut pooled.link;
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            redis::cmd("PING").query::<()>(link.as_dyn())
        }));
        match result {
            Ok(Ok(())) => Ok(()),
            Ok(Err(err)) => {
                pooled.broken = true;
                Err(backend(err))
            }
            Err(_) => {
                pooled.broken = true;
                Err(backend("the Redis client panicked"))
            }
        }
    }

    fn get_many(&self, keys: &[String]) -> Result<Vec<Option<String>>, StoreError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        self.with(|link| match link {
            Link::Single(con) => redis::cmd("MGET").arg(keys).query(con),
            // One MGET per hash tag, each on one slot: the client follows
            // MOVED / ASK for those (its own split of a multi-slot MGET
            // fails while slots move).
            Link::Cluster(con) => {
                let mut by_tag: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
                for (index, key) in keys.iter().enumerate() {
                    by_tag.entry(layout::hash_tag(key)).or_default().push(index);
                }
                let mut values = vec![None; keys.len()];
                for indexes in by_tag.values() {
                    let mut mget = redis::cmd("MGET");
                    for &index in indexes {
                        mget.arg(&keys[index]);
                    }
                    let got: Vec<Option<String>> = mget.query(con.as_mut())?;
                    if got.len() != indexes.len() {
                        return Err(redis::RedisError::from((
                            redis::ErrorKind::UnexpectedReturnType,
                            "MGET answered another number of values",
                        )));
                    }
                    for (&index, value) in indexes.iter().zip(got) {
                        values[index] = value;
                    }
                }
                Ok(values)
            }
        })
    }

    fn scan_keys(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        // SCAN has no order: a walk's first page scans and sorts every key
        // under the prefix, and its later pages continue in that snapshot
        // (keys made since are not seen; `keys rotate` makes passes until
        // one finds nothing to do).
        let mut walk = self.walk.lock().unwrap_or_else(PoisonError::into_inner);
        let fresh = match (&*walk, after) {
            (Some((walked, _)), Some(_)) => walked != prefix,
            _ => true,
        };
        if fresh {
            *walk = Some((prefix.to_owned(), self.keys_with_prefix(prefix)?));
        }
        let keys = walk.as_ref().map_or(&[][..], |(_, keys)| keys.as_slice());
        let start = after.map_or(0, |after| keys.partition_point(|key| key.as_str() <= after));
        Ok(keys[start..].iter().take(limit).cloned().collect())
    }

    fn scan_records(&self, prefix: &str) -> Result<Vec<StoredRecord>, StoreError> {
        let keys = self.keys_with_prefix(prefix)?;
        let mut records = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(BATCH) {
            let cmds: Vec<redis::Cmd> = chunk
                .iter()
                .flat_map(|key| {
                    let mut get = redis::cmd("GET");
                    get.arg(key);
                    let mut expiry = redis::cmd("PEXPIRETIME");
                    expiry.arg(key);
                    [get, expiry]
                })
                .collect();
            let answers = self.with(|link| pipeline(link, &cmds))?;
            for (key, pair) in chunk.iter().zip(answers.chunks(2)) {
                let [value, expiry] = pair else {
                    return Err(backend("a pipeline answer is missing"));
                };
                // Gone since the scan: not a record any more.
                let Some(value): Option<String> =
                    redis::from_redis_value_ref(value).map_err(backend)?
                else {
                    continue;
                };
                let at: i64 = redis::from_redis_value_ref(expiry).map_err(backend)?;
                records.push(StoredRecord {
                    key: key.clone(),
                    value,
                    expires_at: (at >= 0).then(|| at.saturating_mul(1_000)),
                });
            }
        }
        Ok(records)
    }

    fn apply(&self, writes: &WriteSet) -> Result<ApplyOutcome, StoreError> {
        let Some(first) = writes.ops.first() else {
            return Ok(ApplyOutcome::Applied);
        };
        let tag = layout::hash_tag(&first.key);
        if writes.ops.iter().any(|op| layout::hash_tag(&op.key) != tag) {
            return Err(StoreError::Backend(
                "redis: a write set spans several hash tags (a bug: nothing was written)".into(),
            ));
        }
        let mut invocation = self.apply.prepare_invoke();
        for op in &writes.ops {
            let (action, value, at) = match &op.action {
                WriteAction::Put { value, expires_at } => ("p", value.as_str(), *expires_at),
                WriteAction::Delete => ("d", "", None),
                WriteAction::Expire { expires_at } => ("e", "", *expires_at),
                WriteAction::Check => ("c", "", None),
            };
            let (expect, expected) = match &op.expect {
                Expect::Any => ("a", ""),
                Expect::Absent => ("n", ""),
                Expect::Value(value) => ("v", value.as_str()),
            };
            let at = at.map_or_else(String::new, |at| millis(at).max(0).to_string());
            invocation
                .key(&op.key)
                .arg(action)
                .arg(expect)
                .arg(expected)
                .arg(value)
                .arg(at);
        }
        let applied: i64 = self.with(|link| invocation.invoke(link.as_dyn()))?;
        Ok(if applied == 1 {
            ApplyOutcome::Applied
        } else {
            ApplyOutcome::PreconditionFailed
        })
    }

    fn one_tag_per_write_set(&self) -> bool {
        true
    }

    fn expires_by_itself(&self) -> bool {
        true
    }

    fn purge_expired(&self, _now: i64, _limit: usize) -> Result<usize, StoreError> {
        // Redis forgets each record at its PXAT by itself.
        Ok(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn micros_round_up_to_millis() {
        assert_eq!(millis(1_000), 1);
        assert_eq!(millis(1_001), 2);
        assert_eq!(millis(999), 1);
        assert_eq!(millis(0), 0);
        assert_eq!(millis(-1), 0);
        assert_eq!(millis(-1_000), -1);
        assert_eq!(millis(i64::MAX), i64::MAX / 1_000 + 1);
    }

    #[test]
    fn glob_specials_are_escaped() {
        assert_eq!(glob_escape("sa:a:{x}:"), "sa:a:{x}:");
        assert_eq!(glob_escape("a*b?[c]\\"), "a\\*b\\?\\[c\\]\\\\");
    }
}

#[cfg(test)]
#[path = "../../../tests/common/redis.rs"]
#[allow(dead_code, clippy::unwrap_used, clippy::expect_used, missing_docs)]
mod servers;

#[cfg(test)]
mod against_real_servers {
    //! The store contract and Redis's own expiry, on a real `redis-server`
    //! and a real 3-master cluster.

    use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

    use super::servers::{RedisCluster, RedisServer};
    use super::*;
    use crate::store::contract;

    fn options() -> RedisOptions {
        RedisOptions {
            timeout: Duration::from_millis(500),
            ..RedisOptions::default()
        }
    }

    fn open(url: &str) -> RedisStore {
        let target = RedisTarget::parse(url).expect("redis url").expect("valid");
        RedisStore::open(&target, &options()).expect("open")
    }

    /// A whole millisecond a day ahead of now, in unix micros.
    fn a_day_ahead() -> i64 {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock");
        let ms = i64::try_from(now.as_millis()).expect("ms") + 86_400_000;
        ms * 1_000
    }

    /// Runs every contract test, each on a fresh database (`store_for(n)`).
    fn contract_on(store_for: &dyn Fn(u8) -> RedisStore) {
        contract::preconditions_are_atomic(&store_for(1));
        contract::get_and_scan(&store_for(2));
        contract::scan_keys_pages_in_key_order(&store_for(3));
        contract::scan_records_carry_expiry(&store_for(4), a_day_ahead());
        contract::expire_and_check(&store_for(5), a_day_ahead());
    }

    #[test]
    fn one_server_keeps_the_contract() {
        let tmp = tempfile::tempdir().expect("tmp");
        let server = RedisServer::start(tmp.path());
        let base = server.url();
        let base = base.trim_end_matches("/0");
        contract_on(&|db| open(&format!("{base}/{db}")));
    }

    #[test]
    fn a_cluster_keeps_the_contract() {
        let tmp = tempfile::tempdir().expect("tmp");
        let cluster = RedisCluster::start(tmp.path());
        let url = cluster.url();
        contract_on(&|_| {
            let mut con = cluster.connection();
            redis::cmd("FLUSHALL")
                .query::<()>(&mut con)
                .expect("flushall");
            open(&url)
        });
    }

    #[test]
    fn a_cluster_node_named_as_one_server_is_refused() {
        let tmp = tempfile::tempdir().expect("tmp");
        let cluster = RedisCluster::start(tmp.path());
        let url = cluster.nodes()[0].url();
        let target = RedisTarget::parse(&url).expect("url").expect("valid");
        let err = RedisStore::open(&target, &options()).expect_err("a cluster node");
        assert!(err.to_string().contains("redis+cluster://"), "{err}");
    }

    #[test]
    fn a_single_server_named_as_a_cluster_is_refused_with_the_right_hint() {
        let tmp = tempfile::tempdir().expect("tmp");
        let server = RedisServer::start(tmp.path());
        let address = server
            .url()
            .trim_start_matches("redis://")
            .trim_end_matches("/0")
            .to_owned();
        let target = RedisTarget::parse(&format!("redis+cluster://{address}"))
            .expect("url")
            .expect("valid");
        let err = RedisStore::open(&target, &options()).expect_err("not a cluster");
        assert!(err.to_string().contains("not in cluster mode"), "{err}");
        assert!(err.to_string().contains("redis://HOST:PORT/DB"), "{err}");
    }

    #[test]
    fn redis_forgets_records_at_their_expiry_and_refuses_sets_of_two_tags() {
        let tmp = tempfile::tempdir().expect("tmp");
        let server = RedisServer::start(tmp.path());
        let store = open(&server.url());
        // No sweeper is needed on Redis (`serve` starts none).
        assert!(store.expires_by_itself());
        assert!(!crate::store::MemoryStore::new().expires_by_itself());
        let now = a_day_ahead() - 86_400_000_000;
        let soon = now + 300_000;
        let set = contract::set(vec![
            contract::put("{s}soon", "1", Some(soon), Expect::Absent),
            contract::put("{s}past", "2", Some(now - 1_000_000), Expect::Absent),
            contract::put("{s}never", "3", None, Expect::Absent),
        ]);
        assert_eq!(store.apply(&set).expect("apply"), ApplyOutcome::Applied);
        let keys = ["{s}soon".to_owned(), "{s}past".into(), "{s}never".into()];
        assert_eq!(
            store.get_many(&keys).expect("get"),
            [Some("1".into()), None, Some("3".into())]
        );
        let started = Instant::now();
        while store.get_many(&keys[..1]).expect("get")[0].is_some() {
            assert!(started.elapsed() < Duration::from_secs(5), "never expired");
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(started.elapsed() >= Duration::from_millis(150));
        assert_eq!(server.keys_matching("*"), ["{s}never"]);

        // A Redis that lost its scripts (restart, SCRIPT FLUSH, failover)
        // answers NOSCRIPT: the script is loaded again and applied.
        redis::cmd("SCRIPT")
            .arg("FLUSH")
            .query::<()>(&mut server.connection())
            .expect("flush");
        let again = contract::set(vec![contract::put("{s}again", "4", None, Expect::Absent)]);
        assert_eq!(store.apply(&again).expect("apply"), ApplyOutcome::Applied);
        assert_eq!(server.keys_matching("*"), ["{s}again", "{s}never"]);

        let two_tags = contract::set(vec![
            contract::put("{a}x", "1", None, Expect::Any),
            contract::put("{b}x", "1", None, Expect::Any),
        ]);
        let err = store.apply(&two_tags).expect_err("two tags");
        assert!(err.to_string().contains("hash tags"), "{err}");
        assert_eq!(server.keys_matching("*"), ["{s}again", "{s}never"]);
    }

    #[test]
    fn an_outage_fails_within_the_timeout_and_the_store_recovers() {
        let tmp = tempfile::tempdir().expect("tmp");
        let mut server = RedisServer::start(tmp.path());
        let store = open(&server.url());
        let put =
            |value: &str| contract::set(vec![contract::put("{k}v", value, None, Expect::Any)]);
        assert_eq!(
            store.apply(&put("1")).expect("apply"),
            ApplyOutcome::Applied
        );
        server.kill();
        for _ in 0..3 {
            let started = Instant::now();
            let err = store.apply(&put("2")).expect_err("down");
            // A refused connection fails at once, not after the pool's
            // wait for a connection (5 timeouts, 2.5 s).
            assert!(
                started.elapsed() < Duration::from_secs(2),
                "{:?}",
                started.elapsed()
            );
            assert!(matches!(err, StoreError::Backend(_)), "{err}");
            assert!(store.get_many(&["{k}v".into()]).is_err());
        }
        server.restart();
        // Data of a killed server without persistence is gone; the store
        // object connects again by itself (at once, or by its next probe or
        // background retry).
        let healing = Instant::now();
        let applied = loop {
            match store.apply(&put("3")) {
                Err(_) if healing.elapsed() < Duration::from_secs(10) => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                other => break other,
            }
        };
        assert_eq!(applied.expect("apply"), ApplyOutcome::Applied);
        assert_eq!(
            store.get_many(&["{k}v".into()]).expect("get"),
            [Some("3".into())]
        );
    }

    /// A CA, a server certificate for 127.0.0.1 and a client certificate,
    /// made with the `openssl` command in `dir`.
    fn certificates(dir: &std::path::Path) {
        let openssl = |args: &[&str]| {
            let out = std::process::Command::new("openssl")
                .args(args)
                .current_dir(dir)
                .output()
                .expect("the openssl command");
            assert!(out.status.success(), "openssl {args:?}: {out:?}");
        };
        std::fs::write(dir.join("ext.cnf"), "subjectAltName=IP:127.0.0.1\n").expect("ext");
        openssl(
            &[
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key",
            ]
            .into_iter()
            .chain([
                "-out",
                "ca.pem",
                "-days",
                "2",
                "-subj",
                "/CN=sessattr-test-ca",
            ])
            .collect::<Vec<_>>(),
        );
        for (name, cn) in [("server", "127.0.0.1"), ("client", "sessattr-test")] {
            let (key, csr, pem) = (
                format!("{name}.key"),
                format!("{name}.csr"),
                format!("{name}.pem"),
            );
            let subject = format!("/CN={cn}");
            openssl(&[
                "req", "-newkey", "rsa:2048", "-nodes", "-keyout", &key, "-out", &csr, "-subj",
                &subject,
            ]);
            openssl(&[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                &pem,
                "-days",
                "2",
                "-extfile",
                "ext.cnf",
            ]);
        }
    }

    #[test]
    fn tls_with_a_private_ca_and_a_client_certificate() {
        let tmp = tempfile::tempdir().expect("tmp");
        let dir = tmp.path();
        certificates(dir);
        let tls_port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("port")
            .port();
        let path = |name: &str| dir.join(name).display().to_string();
        let _server = RedisServer::start_with(
            &dir.join("redis"),
            &[
                "--tls-port",
                &tls_port.to_string(),
                "--tls-cert-file",
                &path("server.pem"),
                "--tls-key-file",
                &path("server.key"),
                "--tls-ca-cert-file",
                &path("ca.pem"),
                "--tls-auth-clients",
                "yes",
            ],
        );
        let target = RedisTarget::parse(&format!("rediss://127.0.0.1:{tls_port}/0"))
            .expect("url")
            .expect("valid");
        let client = Some((dir.join("client.pem"), dir.join("client.key")));
        let with =
            |ca: bool, client: Option<(std::path::PathBuf, std::path::PathBuf)>| RedisOptions {
                tls_ca_file: ca.then(|| dir.join("ca.pem")),
                tls_client: client,
                ..options()
            };
        // The server's certificate is not signed by a system root.
        assert!(RedisStore::open(&target, &with(false, client.clone())).is_err());
        // The server requires a client certificate.
        assert!(RedisStore::open(&target, &with(true, None)).is_err());
        let store = RedisStore::open(&target, &with(true, client)).expect("tls");
        let set = contract::set(vec![contract::put("k", "v", None, Expect::Absent)]);
        assert_eq!(store.apply(&set).expect("apply"), ApplyOutcome::Applied);
        assert_eq!(
            store.get_many(&["k".into()]).expect("get"),
            [Some("v".into())]
        );
    }

    #[test]
    fn a_password_from_the_options_is_used_and_never_shown() {
        let tmp = tempfile::tempdir().expect("tmp");
        let server = RedisServer::start_with(tmp.path(), &["--requirepass", "pw-s3cret"]);
        let target = RedisTarget::parse(&server.url())
            .expect("url")
            .expect("valid");
        let err = RedisStore::open(&target, &options()).expect_err("no password");
        assert!(!err.to_string().contains("pw-s3cret"));
        let with = RedisOptions {
            password: Some("pw-s3cret".into()),
            ..options()
        };
        let store = RedisStore::open(&target, &with).expect("password");
        assert!(!format!("{store:?}").contains("pw-s3cret"));
        let set = contract::set(vec![contract::put("k", "v", None, Expect::Any)]);
        assert_eq!(store.apply(&set).expect("apply"), ApplyOutcome::Applied);
    }
}
