//! The effective settings: defaults, then `sessattr.toml` (in the data dir,
//! or `--config FILE`), then `SESSATTR_*` environment variables, then
//! command-line flags — each layer overriding the one before, setting by
//! setting.
//!
//! Every setting has one name, used as the TOML key (dotted for tables),
//! the environment variable (`SESSATTR_` + upper case, `.` → `_`) and the
//! flag (`--` + `-` for `_` and `.`): `limits.value_max_bytes`,
//! `SESSATTR_LIMITS_VALUE_MAX_BYTES`, `--limits-value-max-bytes`.
//! No setting is secret: the encryption keys live in the key file, and a
//! Redis password belongs in `SESSATTR_REDIS_PASSWORD` (one in the `store`
//! URL works too, and is never shown).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sessattr_core::config::{Argon2Params, Config, KeyEntry, Limits};

use crate::Error;
use crate::cli::LogFormat;
use crate::engine::GuestLimits;
use crate::store::{RedisOptions, RedisTarget};

/// Name of the config file looked for in the data dir.
pub const CONFIG_FILE: &str = "sessattr.toml";
/// Longest session lifetime and sweeper interval: ten years, in seconds.
pub const MAX_SECS: u64 = 315_360_000;

/// Everything configurable, with where each value came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Address `serve` listens on.
    pub listen: SocketAddr,
    /// Log line format.
    pub log_format: LogFormat,
    /// Seconds between sweeper runs.
    pub sweep_interval: u64,
    /// Lifetime of a new or renewed session, in seconds.
    pub session_lifetime: u64,
    /// Applications allowed in `current_app`.
    pub apps: Vec<String>,
    /// The limits of SPEC 3.
    pub limits: Limits,
    /// argon2id costs of new password hashes.
    pub argon2: Argon2Params,
    /// Encryptions each key may make before it refuses to seal (the nonce
    /// budget; warning at half).
    pub key_encryption_limit: u64,
    /// Where the records live.
    pub store: StoreSetting,
    /// How the Redis store connects (when `store` is Redis).
    pub redis: RedisSettings,
    /// `serve`'s connection and request timeouts, limits and shutdown.
    pub http: HttpSettings,
    /// What one module instance may use (`guest.*`).
    pub guest: GuestSettings,
    /// The config file read, if any.
    pub file: Option<PathBuf>,
    /// Setting name → where its value came from (`file`, `env NAME`,
    /// `flag --name`); defaults are absent.
    pub sources: BTreeMap<&'static str, String>,
}

/// The `store` setting.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum StoreSetting {
    /// `redb`: the embedded store, `sessattr.redb` in the data directory.
    #[default]
    Redb,
    /// A Redis URL: one server or a cluster.
    Redis(RedisTarget),
}

/// The `redis.*` settings.
#[derive(Debug, Clone, PartialEq)]
pub struct RedisSettings {
    /// `redis.timeout_ms`: connect, answer and pool waits.
    pub timeout_ms: u64,
    /// `redis.pool_size`: most connections per process.
    pub pool_size: u32,
    /// `redis.tls_ca_file`.
    pub tls_ca_file: Option<PathBuf>,
    /// `redis.tls_cert_file` (with `redis.tls_key_file`).
    pub tls_cert_file: Option<PathBuf>,
    /// `redis.tls_key_file`.
    pub tls_key_file: Option<PathBuf>,
}

impl Default for RedisSettings {
    fn default() -> Self {
        Self {
            timeout_ms: 1_000,
            pool_size: 32,
            tls_ca_file: None,
            tls_cert_file: None,
            tls_key_file: None,
        }
    }
}

/// Longest of the `http.*` times, in milliseconds: an hour.
pub const MAX_HTTP_MS: u64 = 3_600_000;

/// The `http.*` settings of `serve`: how long a client may take, how many
/// it may be, and how long a shutdown waits for requests in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpSettings {
    /// `http.header_timeout_ms`: from a connection's start, or from the
    /// first byte of a request on a kept-alive connection, until its
    /// request line and headers have all arrived; then the connection is
    /// closed without an answer.
    pub header_timeout_ms: u64,
    /// `http.body_timeout_ms`: the whole body of one request, from the
    /// end of its headers; then `408 E008002` (nothing is run) and the
    /// connection closes.
    pub body_timeout_ms: u64,
    /// `http.idle_timeout_ms`: a kept-alive connection with no request in
    /// progress and nothing written for this long is closed.
    pub idle_timeout_ms: u64,
    /// `http.shutdown_grace_ms`: on SIGTERM or SIGINT, how long requests
    /// in flight may take to finish before the process exits anyway.
    pub shutdown_grace_ms: u64,
    /// `http.max_connections`: connections open at once; further ones
    /// wait in the listen backlog until one closes.
    pub max_connections: u32,
    /// `http.max_queued`: operations waiting for a turn in the module
    /// (beyond the ones running); one more is answered `503 E008004` with
    /// `Retry-After` at once.
    pub max_queued: u32,
    /// `http.queue_timeout_ms`: the longest an operation waits for a turn
    /// before it is answered `503 E008004` with `Retry-After`.
    pub queue_timeout_ms: u64,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            header_timeout_ms: 10_000,
            body_timeout_ms: 30_000,
            idle_timeout_ms: 75_000,
            shutdown_grace_ms: 30_000,
            max_connections: 4_096,
            max_queued: 1_024,
            queue_timeout_ms: 60_000,
        }
    }
}

/// The `guest.*` settings: what one instance of the module may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GuestSettings {
    /// `guest.time_limit_ms`: longest run of one step of the module.
    pub time_limit_ms: u64,
    /// `guest.memory_mib`: largest linear memory of one instance.
    pub memory_mib: u64,
}

/// Bounds of `guest.time_limit_ms` (one epoch tick … ten minutes).
pub const GUEST_TIME_LIMIT_MS: (u64, u64) = (10, 600_000);
/// Bounds of `guest.memory_mib` (up to the 4 GiB a 32-bit module can address).
pub const GUEST_MEMORY_MIB: (u64, u64) = (16, 4_096);

impl Default for GuestSettings {
    fn default() -> Self {
        let limits = GuestLimits::default();
        Self {
            time_limit_ms: u64::try_from(limits.time_limit.as_millis()).unwrap_or(u64::MAX),
            memory_mib: (limits.memory_bytes >> 20) as u64,
        }
    }
}

impl GuestSettings {
    /// The engine's limits: these, and the default pool size.
    pub fn limits(&self) -> GuestLimits {
        GuestLimits {
            memory_bytes: usize::try_from(self.memory_mib << 20).unwrap_or(usize::MAX),
            time_limit: std::time::Duration::from_millis(self.time_limit_ms),
            ..GuestLimits::default()
        }
    }
}

impl RedisSettings {
    /// The Redis store's options, with the password from
    /// [`crate::store::redis::PASSWORD_ENV`] when it is set.
    pub fn options(&self) -> RedisOptions {
        RedisOptions {
            timeout: std::time::Duration::from_millis(self.timeout_ms),
            pool_size: self.pool_size,
            tls_ca_file: self.tls_ca_file.clone(),
            tls_client: self.tls_cert_file.clone().zip(self.tls_key_file.clone()),
            password: std::env::var(crate::store::redis::PASSWORD_ENV)
                .ok()
                .filter(|p| !p.is_empty()),
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        let core = Config::default();
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 17010)),
            log_format: LogFormat::Text,
            sweep_interval: 60,
            session_lifetime: 3600,
            apps: core.apps,
            limits: core.limits,
            argon2: core.argon2,
            key_encryption_limit: crate::keys::budget::DEFAULT_LIMIT,
            store: StoreSetting::Redb,
            redis: RedisSettings::default(),
            http: HttpSettings::default(),
            guest: GuestSettings::default(),
            file: None,
            sources: BTreeMap::new(),
        }
    }
}

/// The names of every setting, in display order.
pub const NAMES: [&str; 29] = [
    "listen",
    "log_format",
    "sweep_interval",
    "session_lifetime",
    "apps",
    "limits.name_max_bytes",
    "limits.value_max_bytes",
    "limits.data_max_items",
    "limits.body_max_bytes",
    "limits.attrs_per_session",
    "argon2.m_cost",
    "argon2.t_cost",
    "argon2.p_cost",
    "key_encryption_limit",
    "store",
    "redis.timeout_ms",
    "redis.pool_size",
    "redis.tls_ca_file",
    "redis.tls_cert_file",
    "redis.tls_key_file",
    "http.header_timeout_ms",
    "http.body_timeout_ms",
    "http.idle_timeout_ms",
    "http.shutdown_grace_ms",
    "http.max_connections",
    "http.max_queued",
    "http.queue_timeout_ms",
    "guest.time_limit_ms",
    "guest.memory_mib",
];

/// The environment variable of a setting.
pub fn env_name(name: &str) -> String {
    format!("SESSATTR_{}", name.replace('.', "_").to_ascii_uppercase())
}

/// The flag of a setting.
pub fn flag_name(name: &str) -> String {
    format!("--{}", name.replace(['.', '_'], "-"))
}

/// The config file's shape: every key optional, unknown keys refused (a
/// typo must not be ignored).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    listen: Option<String>,
    log_format: Option<String>,
    sweep_interval: Option<u64>,
    session_lifetime: Option<u64>,
    apps: Option<Vec<String>>,
    #[serde(default)]
    limits: FileLimits,
    #[serde(default)]
    argon2: FileArgon2,
    key_encryption_limit: Option<u64>,
    store: Option<String>,
    #[serde(default)]
    redis: FileRedis,
    #[serde(default)]
    http: FileHttp,
    #[serde(default)]
    guest: FileGuest,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileHttp {
    header_timeout_ms: Option<u64>,
    body_timeout_ms: Option<u64>,
    idle_timeout_ms: Option<u64>,
    shutdown_grace_ms: Option<u64>,
    max_connections: Option<u64>,
    max_queued: Option<u64>,
    queue_timeout_ms: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileGuest {
    time_limit_ms: Option<u64>,
    memory_mib: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileRedis {
    timeout_ms: Option<u64>,
    pool_size: Option<u64>,
    tls_ca_file: Option<String>,
    tls_cert_file: Option<String>,
    tls_key_file: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileLimits {
    name_max_bytes: Option<u64>,
    value_max_bytes: Option<u64>,
    data_max_items: Option<u64>,
    body_max_bytes: Option<u64>,
    attrs_per_session: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileArgon2 {
    m_cost: Option<u64>,
    t_cost: Option<u64>,
    p_cost: Option<u64>,
}

impl FileSettings {
    /// The file's values as text by setting name, so that every layer is
    /// parsed and checked by the same code.
    fn into_texts(self) -> Vec<(&'static str, String)> {
        let num = |v: Option<u64>| v.map(|n| n.to_string());
        [
            ("listen", self.listen),
            ("log_format", self.log_format),
            ("sweep_interval", num(self.sweep_interval)),
            ("session_lifetime", num(self.session_lifetime)),
            // Joined like SESSATTR_APPS; a name with a comma is refused
            // (`set` would split it) rather than silently split.
            ("apps", self.apps.map(|apps| apps.join(","))),
            ("limits.name_max_bytes", num(self.limits.name_max_bytes)),
            ("limits.value_max_bytes", num(self.limits.value_max_bytes)),
            ("limits.data_max_items", num(self.limits.data_max_items)),
            ("limits.body_max_bytes", num(self.limits.body_max_bytes)),
            (
                "limits.attrs_per_session",
                num(self.limits.attrs_per_session),
            ),
            ("argon2.m_cost", num(self.argon2.m_cost)),
            ("argon2.t_cost", num(self.argon2.t_cost)),
            ("argon2.p_cost", num(self.argon2.p_cost)),
            ("key_encryption_limit", num(self.key_encryption_limit)),
            ("store", self.store),
            ("redis.timeout_ms", num(self.redis.timeout_ms)),
            ("redis.pool_size", num(self.redis.pool_size)),
            ("redis.tls_ca_file", self.redis.tls_ca_file),
            ("redis.tls_cert_file", self.redis.tls_cert_file),
            ("redis.tls_key_file", self.redis.tls_key_file),
            ("http.header_timeout_ms", num(self.http.header_timeout_ms)),
            ("http.body_timeout_ms", num(self.http.body_timeout_ms)),
            ("http.idle_timeout_ms", num(self.http.idle_timeout_ms)),
            ("http.shutdown_grace_ms", num(self.http.shutdown_grace_ms)),
            ("http.max_connections", num(self.http.max_connections)),
            ("http.max_queued", num(self.http.max_queued)),
            ("http.queue_timeout_ms", num(self.http.queue_timeout_ms)),
            ("guest.time_limit_ms", num(self.guest.time_limit_ms)),
            ("guest.memory_mib", num(self.guest.memory_mib)),
        ]
        .into_iter()
        .filter_map(|(name, value)| value.map(|v| (name, v)))
        .collect()
    }
}

impl Settings {
    /// Loads the layers: `file` (or `sessattr.toml` in `data_dir` when it
    /// exists), the environment, then `flags` (setting name → text).
    pub fn load(
        data_dir: &Path,
        file: Option<&Path>,
        flags: &[(&'static str, String)],
    ) -> Result<Self, Error> {
        let mut settings = Self::default();
        let path = match file {
            Some(path) => Some(path.to_path_buf()),
            None => Some(data_dir.join(CONFIG_FILE)).filter(|p| p.is_file()),
        };
        if let Some(path) = &path {
            let text = std::fs::read_to_string(path).map_err(|err| Error::Config {
                what: format!("cannot read {}", path.display()),
                reason: err.to_string(),
            })?;
            let parsed: FileSettings = toml::from_str(&text).map_err(|err| Error::Config {
                what: format!("{} is not a valid config file", path.display()),
                reason: toml_reason(&err, &text),
            })?;
            if parsed.apps.iter().flatten().any(|app| app.contains(',')) {
                return Err(Error::Config {
                    what: format!("apps from file {}", path.display()),
                    reason: "an application name cannot contain a comma".into(),
                });
            }
            for (name, value) in parsed.into_texts() {
                settings.set(name, &value, format!("file {}", path.display()))?;
            }
            settings.file = Some(path.clone());
        }
        for name in NAMES {
            let var = env_name(name);
            if let Ok(value) = std::env::var(&var) {
                settings.set(name, &value, format!("env {var}"))?;
            }
        }
        for (name, value) in flags {
            settings.set(name, value, format!("flag {}", flag_name(name)))?;
        }
        settings.check()?;
        Ok(settings)
    }

    /// Sets one setting from text, checking it.
    fn set(&mut self, name: &'static str, text: &str, source: String) -> Result<(), Error> {
        let bad = |reason: &str| Error::Config {
            what: format!("{name} from {source}"),
            reason: reason.to_owned(),
        };
        let secs = |text: &str| match text.trim().parse::<u64>() {
            Ok(n) if (1..=MAX_SECS).contains(&n) => Ok(n),
            _ => Err(bad("a whole number of seconds from 1 to 315360000")),
        };
        let count = |text: &str| match text.trim().parse::<usize>() {
            Ok(n) if n >= 1 => Ok(n),
            _ => Err(bad("a whole number of at least 1")),
        };
        let cost = |text: &str| match text.trim().parse::<u32>() {
            Ok(n) if n >= 1 => Ok(n),
            _ => Err(bad("a whole number from 1 to 4294967295")),
        };
        match name {
            "listen" => {
                self.listen = text
                    .trim()
                    .parse()
                    .map_err(|_| bad("an address such as 127.0.0.1:17010"))?;
            }
            "log_format" => {
                self.log_format = match text.trim() {
                    "text" => LogFormat::Text,
                    "json" => LogFormat::Json,
                    _ => return Err(bad("text or json")),
                };
            }
            "sweep_interval" => self.sweep_interval = secs(text)?,
            "session_lifetime" => self.session_lifetime = secs(text)?,
            "apps" => {
                let apps: Vec<String> = text
                    .split(',')
                    .map(|a| a.trim().to_owned())
                    .filter(|a| !a.is_empty())
                    .collect();
                if apps.is_empty() {
                    return Err(bad("at least one application name"));
                }
                self.apps = apps;
            }
            "limits.name_max_bytes" => self.limits.name_max_bytes = count(text)?,
            "limits.value_max_bytes" => self.limits.value_max_bytes = count(text)?,
            "limits.data_max_items" => self.limits.data_max_items = count(text)?,
            "limits.body_max_bytes" => self.limits.body_max_bytes = count(text)?,
            "limits.attrs_per_session" => self.limits.attrs_per_session = count(text)?,
            "argon2.m_cost" => self.argon2.m_cost = cost(text)?,
            "argon2.t_cost" => self.argon2.t_cost = cost(text)?,
            "argon2.p_cost" => self.argon2.p_cost = cost(text)?,
            "key_encryption_limit" => {
                self.key_encryption_limit = match text.trim().parse::<u64>() {
                    Ok(n) if (1..=crate::keys::budget::DEFAULT_LIMIT).contains(&n) => n,
                    _ => return Err(bad("a whole number from 1 to 4294967296 (2^32)")),
                };
            }
            "store" => {
                let text = text.trim();
                self.store = if text == "redb" {
                    StoreSetting::Redb
                } else {
                    match RedisTarget::parse(text) {
                        Some(Ok(target)) => StoreSetting::Redis(target),
                        Some(Err(reason)) => return Err(bad(reason)),
                        None => {
                            return Err(bad(
                                "redb, redis://HOST:PORT/DB or redis+cluster://H1:P1,H2:P2,… \
                                 (rediss for TLS)",
                            ));
                        }
                    }
                };
            }
            "redis.timeout_ms" => {
                self.redis.timeout_ms = match text.trim().parse::<u64>() {
                    Ok(n) if (1..=60_000).contains(&n) => n,
                    _ => return Err(bad("a whole number of milliseconds from 1 to 60000")),
                };
            }
            "redis.pool_size" => {
                self.redis.pool_size = match text.trim().parse::<u32>() {
                    Ok(n) if (1..=1_024).contains(&n) => n,
                    _ => return Err(bad("a whole number from 1 to 1024")),
                };
            }
            "guest.time_limit_ms" => {
                let (low, high) = GUEST_TIME_LIMIT_MS;
                self.guest.time_limit_ms = match text.trim().parse::<u64>() {
                    Ok(n) if (low..=high).contains(&n) => n,
                    _ => {
                        return Err(bad(&format!(
                            "a whole number of milliseconds from {low} to {high}"
                        )));
                    }
                };
            }
            "guest.memory_mib" => {
                let (low, high) = GUEST_MEMORY_MIB;
                self.guest.memory_mib = match text.trim().parse::<u64>() {
                    Ok(n) if (low..=high).contains(&n) => n,
                    _ => return Err(bad(&format!("a whole number of MiB from {low} to {high}"))),
                };
            }
            "redis.tls_ca_file" | "redis.tls_cert_file" | "redis.tls_key_file" => {
                let path = Some(PathBuf::from(text.trim())).filter(|p| !p.as_os_str().is_empty());
                match name {
                    "redis.tls_ca_file" => self.redis.tls_ca_file = path,
                    "redis.tls_cert_file" => self.redis.tls_cert_file = path,
                    _ => self.redis.tls_key_file = path,
                }
            }
            "http.header_timeout_ms" | "http.body_timeout_ms" | "http.idle_timeout_ms" => {
                let ms = match text.trim().parse::<u64>() {
                    Ok(n) if (100..=MAX_HTTP_MS).contains(&n) => n,
                    _ => return Err(bad("a whole number of milliseconds from 100 to 3600000")),
                };
                match name {
                    "http.header_timeout_ms" => self.http.header_timeout_ms = ms,
                    "http.body_timeout_ms" => self.http.body_timeout_ms = ms,
                    _ => self.http.idle_timeout_ms = ms,
                }
            }
            "http.shutdown_grace_ms" => {
                self.http.shutdown_grace_ms = match text.trim().parse::<u64>() {
                    Ok(n) if n <= MAX_HTTP_MS => n,
                    _ => return Err(bad("a whole number of milliseconds from 0 to 3600000")),
                };
            }
            "http.queue_timeout_ms" => {
                self.http.queue_timeout_ms = match text.trim().parse::<u64>() {
                    Ok(n) if (1..=MAX_HTTP_MS).contains(&n) => n,
                    _ => return Err(bad("a whole number of milliseconds from 1 to 3600000")),
                };
            }
            "http.max_connections" => {
                self.http.max_connections = match text.trim().parse::<u32>() {
                    Ok(n) if (1..=1_000_000).contains(&n) => n,
                    _ => return Err(bad("a whole number from 1 to 1000000")),
                };
            }
            "http.max_queued" => {
                self.http.max_queued = match text.trim().parse::<u32>() {
                    Ok(n) if n <= 1_000_000 => n,
                    _ => return Err(bad("a whole number from 0 to 1000000")),
                };
            }
            _ => return Err(bad("no such setting")),
        }
        self.sources.insert(name, source);
        Ok(())
    }

    /// Checks what one setting alone cannot tell.
    fn check(&self) -> Result<(), Error> {
        use sessattr_core::password::{MAX_M_COST, MAX_P_COST, MAX_WORK};
        if self.redis.tls_cert_file.is_some() != self.redis.tls_key_file.is_some() {
            return Err(Error::Config {
                what: "redis.tls_cert_file and redis.tls_key_file".into(),
                reason: "a client certificate needs its key: give both or neither".into(),
            });
        }
        sessattr_core::password::check_params(self.argon2).map_err(|_| Error::Config {
            what: "argon2".into(),
            reason: format!(
                "m_cost must be 8 × p_cost to {MAX_M_COST} KiB, m_cost × t_cost at most \
                 {MAX_WORK}, p_cost at most {MAX_P_COST}"
            ),
        })?;
        // A password hash takes m_cost KiB of the module's memory at once,
        // beside what the login itself uses: it must fit twice over.
        let needed_mib = (u64::from(self.argon2.m_cost) * 2).div_ceil(1024);
        if needed_mib > self.guest.memory_mib {
            return Err(Error::Config {
                what: "argon2.m_cost and guest.memory_mib".into(),
                reason: format!(
                    "a password hash of m_cost {} KiB needs guest.memory_mib of at least \
                     {needed_mib} (twice the hash's memory); raise guest.memory_mib or lower \
                     argon2.m_cost",
                    self.argon2.m_cost
                ),
            });
        }
        Ok(())
    }

    /// The core's configuration, with the keyring.
    pub fn core_config(&self, keys: Vec<KeyEntry>) -> Config {
        Config {
            apps: self.apps.clone(),
            limits: self.limits,
            session_lifetime_secs: i64::try_from(self.session_lifetime).unwrap_or(i64::MAX),
            keys,
            argon2: self.argon2,
        }
    }

    /// The effective settings as a TOML document that `--config` accepts,
    /// each line commented with its source (`config show`).
    pub fn show(&self, data_dir: &Path) -> String {
        let mut out = String::new();
        let from = |name: &str| {
            self.sources
                .get(name)
                .map_or_else(|| String::from("default"), Clone::clone)
        };
        let _ = writeln!(out, "# sessattr effective configuration");
        let _ = writeln!(out, "# data dir: {}", data_dir.display());
        let file = self
            .file
            .as_ref()
            .map_or_else(|| String::from("none"), |p| p.display().to_string());
        let _ = writeln!(out, "# config file: {file}");
        let _ = writeln!(
            out,
            "# encryption keys: {} (never shown)\n",
            data_dir.join(crate::datadir::KEY_FILE).display()
        );
        let line = |out: &mut String, key: &str, name: &str, value: String| {
            let _ = writeln!(out, "{key} = {value}  # {}", from(name));
        };
        let quoted = |text: &str| toml::Value::String(text.to_owned()).to_string();
        line(
            &mut out,
            "listen",
            "listen",
            quoted(&self.listen.to_string()),
        );
        let format = match self.log_format {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        };
        line(&mut out, "log_format", "log_format", quoted(format));
        let store = match &self.store {
            StoreSetting::Redb => String::from("redb"),
            StoreSetting::Redis(target) => target.redacted(),
        };
        line(&mut out, "store", "store", quoted(&store));
        for (name, value) in [
            ("sweep_interval", self.sweep_interval),
            ("session_lifetime", self.session_lifetime),
            ("key_encryption_limit", self.key_encryption_limit),
        ] {
            line(&mut out, name, name, value.to_string());
        }
        let apps: Vec<String> = self.apps.iter().map(|a| quoted(a)).collect();
        line(&mut out, "apps", "apps", format!("[{}]", apps.join(", ")));
        let _ = writeln!(out, "\n[limits]");
        let limits = self.limits;
        for (key, value) in [
            ("name_max_bytes", limits.name_max_bytes),
            ("value_max_bytes", limits.value_max_bytes),
            ("data_max_items", limits.data_max_items),
            ("body_max_bytes", limits.body_max_bytes),
            ("attrs_per_session", limits.attrs_per_session),
        ] {
            line(&mut out, key, &format!("limits.{key}"), value.to_string());
        }
        let _ = writeln!(out, "\n[argon2]");
        for (key, value) in [
            ("m_cost", self.argon2.m_cost),
            ("t_cost", self.argon2.t_cost),
            ("p_cost", self.argon2.p_cost),
        ] {
            line(&mut out, key, &format!("argon2.{key}"), value.to_string());
        }
        let _ = writeln!(out, "\n[guest]");
        for (key, value) in [
            ("time_limit_ms", self.guest.time_limit_ms),
            ("memory_mib", self.guest.memory_mib),
        ] {
            line(&mut out, key, &format!("guest.{key}"), value.to_string());
        }
        let _ = writeln!(out, "\n[redis]");
        let redis = &self.redis;
        line(
            &mut out,
            "timeout_ms",
            "redis.timeout_ms",
            redis.timeout_ms.to_string(),
        );
        line(
            &mut out,
            "pool_size",
            "redis.pool_size",
            redis.pool_size.to_string(),
        );
        for (key, value) in [
            ("tls_ca_file", &redis.tls_ca_file),
            ("tls_cert_file", &redis.tls_cert_file),
            ("tls_key_file", &redis.tls_key_file),
        ] {
            let name = format!("redis.{key}");
            match value {
                Some(path) => line(&mut out, key, &name, quoted(&path.display().to_string())),
                None => {
                    let _ = writeln!(out, "# {key} = \"\"  # {}", from(&name));
                }
            }
        }
        let _ = writeln!(out, "\n[http]");
        let http = self.http;
        for (key, value) in [
            ("header_timeout_ms", http.header_timeout_ms),
            ("body_timeout_ms", http.body_timeout_ms),
            ("idle_timeout_ms", http.idle_timeout_ms),
            ("shutdown_grace_ms", http.shutdown_grace_ms),
            ("max_connections", u64::from(http.max_connections)),
            ("max_queued", u64::from(http.max_queued)),
            ("queue_timeout_ms", http.queue_timeout_ms),
        ] {
            line(&mut out, key, &format!("http.{key}"), value.to_string());
        }
        out
    }
}

/// A TOML error without the file's text: the parser's message with every
/// quoted value elided (the `store` URL may hold a password), and where.
fn toml_reason(err: &toml::de::Error, text: &str) -> String {
    let mut message = String::new();
    let mut quoted = false;
    for c in crate::error::one_line(err.message()).chars() {
        if c == '"' {
            if !quoted {
                message.push_str("\"…\"");
            }
            quoted = !quoted;
        } else if !quoted {
            message.push(c);
        }
    }
    match err.span() {
        Some(span) => {
            let before = text.get(..span.start).unwrap_or(text);
            let line = before.matches('\n').count() + 1;
            let line_start = before.rfind('\n').map_or(0, |i| i + 1);
            let column = before.len() - line_start + 1;
            // The setting's name, when the line starts with one.
            let key = text[line_start..]
                .split('=')
                .next()
                .map(str::trim)
                .filter(|k| {
                    !k.is_empty()
                        && k.chars()
                            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
                });
            match key {
                Some(key) => format!("{message} at `{key}` (line {line}, column {column})"),
                None => format!("{message} (line {line}, column {column})"),
            }
        }
        None => message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_spec_defaults() {
        let settings = Settings::default();
        assert_eq!(settings.listen.to_string(), crate::cli::DEFAULT_LISTEN);
        assert_eq!(settings.listen.to_string(), "127.0.0.1:17010");
        assert_eq!(settings.session_lifetime, 3600);
        assert_eq!(settings.apps, ["CRM"]);
        assert_eq!(settings.limits, Limits::default());
    }

    #[test]
    fn guest_limits_default_to_the_engine_s_and_are_layered() {
        let defaults = Settings::default().guest;
        assert_eq!((defaults.time_limit_ms, defaults.memory_mib), (10_000, 512));
        let limits = defaults.limits();
        assert_eq!(limits.memory_bytes, 512 << 20);
        assert_eq!(limits.time_limit, std::time::Duration::from_secs(10));
        assert_eq!(limits.max_instances, GuestLimits::default().max_instances);

        let tmp = tempfile::tempdir().expect("tmp");
        std::fs::write(
            tmp.path().join(CONFIG_FILE),
            "[guest]\ntime_limit_ms = 500\nmemory_mib = 64\n",
        )
        .expect("write");
        let flags = [("guest.memory_mib", String::from("128"))];
        let settings = Settings::load(tmp.path(), None, &flags).expect("loads");
        assert_eq!(settings.guest.time_limit_ms, 500);
        assert_eq!(settings.guest.memory_mib, 128);
        assert_eq!(
            settings.guest.limits().time_limit,
            std::time::Duration::from_millis(500)
        );
        assert_eq!(settings.guest.limits().memory_bytes, 128 << 20);
        let shown = settings.show(tmp.path());
        assert!(
            shown.contains("\n[guest]\ntime_limit_ms = 500  # file "),
            "{shown}"
        );
        assert!(shown.contains("memory_mib = 128  # flag --guest-memory-mib"));

        // The default argon2 cost (19 MiB) needs 38 MiB of guest memory.
        let err = Settings::load(tmp.path(), None, &[("guest.memory_mib", "32".into())])
            .expect_err("a hash would not fit")
            .to_string();
        assert!(err.contains("guest.memory_mib of at least 38"), "{err}");
        let flags = [
            ("guest.memory_mib", String::from("32")),
            ("argon2.m_cost", String::from("8192")),
        ];
        assert!(Settings::load(tmp.path(), None, &flags).is_ok());
    }

    #[test]
    fn names_map_to_env_and_flags() {
        assert_eq!(
            env_name("limits.value_max_bytes"),
            "SESSATTR_LIMITS_VALUE_MAX_BYTES"
        );
        assert_eq!(
            flag_name("limits.value_max_bytes"),
            "--limits-value-max-bytes"
        );
        assert_eq!(env_name("listen"), "SESSATTR_LISTEN");
    }

    #[test]
    fn each_layer_overrides_the_one_before() {
        let tmp = tempfile::tempdir().expect("tmp");
        std::fs::write(
            tmp.path().join(CONFIG_FILE),
            "session_lifetime = 600\napps = [\"CRM\", \"ERP\"]\n[limits]\nvalue_max_bytes = 10\n\
             [http]\nmax_queued = 0\nbody_timeout_ms = 2000\n",
        )
        .expect("write");
        let flags = [
            ("session_lifetime", String::from("900")),
            ("http.body_timeout_ms", String::from("3000")),
        ];
        let settings = Settings::load(tmp.path(), None, &flags).expect("loads");
        assert_eq!(settings.session_lifetime, 900);
        assert_eq!(settings.apps, ["CRM", "ERP"]);
        assert_eq!(settings.limits.value_max_bytes, 10);
        assert_eq!(settings.limits.name_max_bytes, 191, "default");
        assert_eq!(
            settings.sources["session_lifetime"],
            "flag --session-lifetime"
        );
        assert!(settings.sources["apps"].starts_with("file "));
        assert_eq!(settings.http.max_queued, 0, "file");
        assert_eq!(settings.http.body_timeout_ms, 3000, "flag over file");
        assert_eq!(settings.http.header_timeout_ms, 10_000, "default");
        let shown = settings.show(tmp.path());
        assert!(shown.contains("session_lifetime = 900  # flag --session-lifetime"));
        assert!(shown.contains("name_max_bytes = 191  # default"));
        // What `show` prints is a config file that gives the same settings.
        let again_path = tmp.path().join("again.toml");
        std::fs::write(&again_path, &shown).expect("write");
        let again = Settings::load(tmp.path(), Some(&again_path), &[]).expect("reloads");
        assert_eq!(again.session_lifetime, 900);
        assert_eq!(again.apps, settings.apps);
        assert_eq!(again.limits, settings.limits);
        assert_eq!(again.http, settings.http);
    }

    #[test]
    fn bad_values_and_unknown_keys_are_refused_with_their_source() {
        let tmp = tempfile::tempdir().expect("tmp");
        let file = tmp.path().join("c.toml");
        // A broken file never shows its text: a password in it stays there.
        for text in [
            "store = \"redis://u:TOMLs3cret@h:1/0\" x\n",
            "store = redis://u:TOMLs3cret@h:1/0\n",
            "store = \"redis://u:TOMLs3cret@h:1/0\"\nstore = \"redb\"\n",
            "session_lifetime = \"redis://u:TOMLs3cret@h:1/0\"\n",
        ] {
            std::fs::write(&file, text).expect("write");
            let err = Settings::load(tmp.path(), Some(&file), &[]).expect_err(text);
            let shown = err.to_string();
            assert!(
                !shown.contains("TOMLs3cret") && shown.contains("line"),
                "{shown}"
            );
        }
        std::fs::write(&file, "sesion_lifetime = 5\n").expect("write");
        let err = Settings::load(tmp.path(), Some(&file), &[]).expect_err("typo");
        assert!(err.to_string().contains("not a valid config file"), "{err}");
        std::fs::write(&file, "session_lifetime = \"5\"\n").expect("write");
        let err = Settings::load(tmp.path(), Some(&file), &[])
            .expect_err("type")
            .to_string();
        assert!(
            err.contains("session_lifetime") && !err.contains('\n'),
            "{err}"
        );
        std::fs::write(&file, "apps = [\"A,B\"]\n").expect("write");
        let err = Settings::load(tmp.path(), Some(&file), &[])
            .expect_err("comma")
            .to_string();
        assert!(err.contains("comma"), "{err}");
        for (name, value) in [
            ("sweep_interval", "0"),
            ("session_lifetime", "315360001"),
            ("listen", "nowhere"),
            ("log_format", "xml"),
            ("apps", " , "),
            ("limits.body_max_bytes", "0"),
            ("argon2.t_cost", "-1"),
            ("http.header_timeout_ms", "99"),
            ("http.body_timeout_ms", "3600001"),
            ("http.idle_timeout_ms", "x"),
            ("http.shutdown_grace_ms", "-1"),
            ("http.max_connections", "0"),
            ("http.max_queued", "1000001"),
            ("http.queue_timeout_ms", "0"),
        ] {
            let err = Settings::load(tmp.path(), None, &[(name, value.into())])
                .expect_err(name)
                .to_string();
            assert!(err.contains(name) && err.contains("flag"), "{err}");
        }
        for (name, value) in [
            ("guest.time_limit_ms", "9"),
            ("guest.time_limit_ms", "600001"),
            ("guest.memory_mib", "15"),
            ("guest.memory_mib", "4097"),
            ("guest.memory_mib", "lots"),
        ] {
            let err = Settings::load(tmp.path(), None, &[(name, value.into())])
                .expect_err(name)
                .to_string();
            assert!(err.contains(name) && err.contains("flag"), "{err}");
        }
        let err =
            Settings::load(tmp.path(), None, &[("argon2.m_cost", "1".into())]).expect_err("argon2");
        assert!(err.to_string().contains("argon2"), "{err}");
        let missing = tmp.path().join("missing.toml");
        assert!(Settings::load(tmp.path(), Some(&missing), &[]).is_err());
    }
}
