//! The subcommands: `serve`, the user commands, the store commands and
//! `config show`.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufWriter, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::http::HeaderValue;
use serde_json::Value;
use sessattr_core::protocol::Operation;

use crate::Error;
use crate::cli::ServeArgs;
use crate::clock::{self, Clock};
use crate::console;
use crate::datadir::{self, DataDir};
use crate::engine::{GuestLimits, Runtime};
use crate::http::{self, AppState};
use crate::keyfile::{self, KeySource};
use crate::keys::watch;
use crate::metrics::{During, Metrics};
use crate::module_source::ModuleSource;
use crate::server::{self, Drained, ServerLimits};
use crate::service::Service;
use crate::settings::Settings;
use crate::settings::StoreSetting;
use crate::store::{RedbStore, RedisStore, Store, StoreError, StoredRecord};
use crate::test_clock;
use crate::transfer::{self, ImportSummary};

/// Most records purged in one store transaction.
pub const SWEEP_BATCH: usize = 1_000;

/// Loads and checks the module (`--module FILE` or the built-in one), its
/// instances to run under `limits` (the `guest.*` settings).
pub fn load_module(file: Option<&Path>, limits: GuestLimits) -> Result<Runtime, Error> {
    let source = ModuleSource::resolve(file)?;
    Runtime::load(&source, limits)
}

/// Opens the data directory, the key file (generated on first use) and the
/// store, and builds the core's configuration from `settings`; operations
/// read `now` from `clock`.
pub fn open_service(
    data_dir: &Path,
    settings: &Settings,
    runtime: Runtime,
    clock: Clock,
) -> Result<Service, Error> {
    let dir = DataDir::open(data_dir)?;
    let store = open_store(&dir, settings)?;
    let keyring = load_keyring(&dir, store.as_ref())?;
    tracing::debug!(data_dir = %dir.path().display(), key_id = %keyring.primary_id, "data directory open");
    let config = settings.core_config(keyring.keys);
    Ok(Service::new(
        runtime,
        store,
        config,
        clock,
        settings.key_encryption_limit,
    ))
}

/// The data dir's keyring. A missing key file is generated only while the
/// store holds no attribute and no encryption count, which a new key could
/// not open or would hide: otherwise losing the file must be noticed (and
/// the file restored), not papered over with a fresh key.
pub fn load_keyring(dir: &DataDir, store: &dyn Store) -> Result<keyfile::Keyring, Error> {
    let source = KeySource::choose(dir.key_path());
    if let KeySource::File(path) = &source
        && !keyfile::exists(path)
    {
        let used = |prefix| {
            store
                .scan_keys(prefix, None, 1)
                .map(|keys| !keys.is_empty())
        };
        if used("sa:i:")? || used(crate::keys::budget::COUNTER_PREFIX)? {
            return Err(Error::KeyFile {
                path: path.clone(),
                reason: "is missing, but the store holds attributes or encryption counts that a \
                         new key could not open: restore the key file (or pass it in SESSATTR_KEYS)"
                    .into(),
            });
        }
    }
    let keyring = source.load()?;
    if keyring.generated {
        tracing::info!(
            "generated encryption key {} in {}",
            keyring.primary_id,
            source.describe()
        );
    }
    Ok(keyring)
}

/// `sessattr serve`.
pub fn serve(data_dir: &Path, settings: &Settings, args: &ServeArgs) -> Result<(), Error> {
    let runtime = load_module(args.module.as_deref(), settings.guest.limits())?;
    tracing::info!(
        module = %runtime.label(),
        sha256 = %runtime.sha256(),
        pooling = runtime.pooling(),
        "module loaded"
    );
    let clock = if args.test_clock {
        tracing::warn!(
            "test clock enabled: POST {} moves this server's clock forward for every client; \
             for tests only, never in production",
            test_clock::PATH
        );
        Clock::test()
    } else {
        Clock::system()
    };
    #[allow(unused_mut)]
    let mut service = open_service(data_dir, settings, runtime, clock)?;
    #[cfg(feature = "bench")]
    if args.bench_native_core {
        tracing::warn!("benchmark build: the core runs natively, not in the module");
        service.use_native_core();
    }
    let service = Arc::new(service);
    if let Some(file) = &settings.file {
        tracing::info!(config = %file.display(), "config file read");
    }
    let key_id = service.primary_id().unwrap_or_default();
    tracing::info!(data_dir = %data_dir.display(), key_id = %key_id, "data directory ready");
    match &settings.store {
        StoreSetting::Redb => tracing::info!(
            store = %data_dir.join(datadir::STORE_FILE).display(),
            "store: redb"
        ),
        StoreSetting::Redis(target) => tracing::info!(
            store = %target.redacted(),
            "store: redis (records expire in Redis itself; the sweeper has nothing to do)"
        ),
    }

    let tokio = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|source| Error::Io {
            what: "cannot start the async runtime",
            source,
        })?;
    tokio.block_on(async move {
        let listener = tokio::net::TcpListener::bind(settings.listen)
            .await
            .map_err(|source| Error::Listen {
                addr: settings.listen.to_string(),
                source,
            })?;
        let local = listener.local_addr().map_err(|source| Error::Io {
            what: "cannot read the listen address",
            source,
        })?;
        let (store_kind, probe_timeout) = match &settings.store {
            StoreSetting::Redb => ("redb", Duration::from_millis(settings.redis.timeout_ms)),
            StoreSetting::Redis(target) if target.cluster => (
                "redis-cluster",
                Duration::from_millis(settings.redis.timeout_ms),
            ),
            StoreSetting::Redis(_) => ("redis", Duration::from_millis(settings.redis.timeout_ms)),
        };
        let origins = args
            .allow_origins
            .iter()
            .filter_map(|origin| HeaderValue::from_str(origin).ok())
            .collect();
        let state = Arc::new(
            AppState::new(Arc::clone(&service))
                .with_http(&settings.http)
                .with_store_probe(store_kind, probe_timeout)
                .with_console(!args.no_console)
                .with_allowed_origins(origins),
        );
        let http_settings = &settings.http;
        tracing::info!(
            listen = %local,
            header_timeout_ms = http_settings.header_timeout_ms,
            body_timeout_ms = http_settings.body_timeout_ms,
            idle_timeout_ms = http_settings.idle_timeout_ms,
            max_connections = http_settings.max_connections,
            max_running = state.pool().max_running,
            max_queued = http_settings.max_queued,
            queue_timeout_ms = http_settings.queue_timeout_ms,
            "listening on http://{local}"
        );
        let every = Duration::from_secs(settings.sweep_interval);
        let sweeper = (!service.store().expires_by_itself()).then(|| {
            tracing::info!(every_secs = settings.sweep_interval, "sweeper started");
            tokio::spawn(sweep_forever(
                Arc::clone(service.store()),
                service.clock().clone(),
                every,
                Arc::clone(state.metrics()),
            ))
        });
        let key_source = KeySource::choose(DataDir::open(data_dir)?.key_path());
        match &key_source {
            KeySource::File(path) => tracing::info!(
                key_file = %path.display(),
                poll_ms = u64::try_from(watch::POLL.as_millis()).unwrap_or(u64::MAX),
                "watching the key file (reloaded on change and on SIGHUP)"
            ),
            KeySource::Env => tracing::info!(
                "the keyring comes from ${}, fixed for the life of the process",
                keyfile::KEYS_ENV
            ),
        }
        let watcher = tokio::spawn(watch::watch_keys(
            Arc::clone(&service),
            key_source,
            watch::hangups(),
        ));
        if args.no_console {
            tracing::info!("web console off (--no-console)");
        } else if console::embedded().is_empty() {
            tracing::warn!(
                "the web console is not built into this binary; /console/ answers 404 \
                 (build it with `cargo xtask build`, or pass --no-console)"
            );
        } else {
            tracing::info!("web console at http://{local}{}", console::PREFIX);
        }
        if !args.allow_origins.is_empty() {
            tracing::info!(origins = %args.allow_origins.join(","), "cross-origin requests (CORS) allowed");
        }
        let limits = ServerLimits::new(&settings.http);
        let shutdown = async {
            http::shutdown_signal().await;
            tracing::info!("shutting down (a second SIGTERM or SIGINT stops at once)");
        };
        let drained = server::serve(
            listener,
            Arc::clone(&state),
            limits,
            shutdown,
            http::shutdown_signal(),
        )
        .await;
        if let Some(sweeper) = sweeper {
            sweeper.abort();
        }
        watcher.abort();
        match drained {
            Drained::Clean => tracing::info!("every request in flight finished"),
            Drained::CutShort(open) => tracing::warn!(
                connections = open,
                "stopping with requests still in flight (grace period over, or a second signal)"
            ),
        }
        // Operations still running hold what they claimed; only what no
        // operation holds goes back, so this is safe beside them.
        service.release_budget();
        Ok::<(), Error>(())
    })?;
    // Blocking work still running (an operation cut short, a sweep) gets a
    // moment to end; the process then exits whatever it does.
    tokio.shutdown_timeout(Duration::from_secs(1));
    tracing::info!("stopped");
    Ok(())
}

/// Purges records whose expiry has passed by `clock`, at start and then
/// every `every`.
async fn sweep_forever(
    store: Arc<dyn Store>,
    clock: Clock,
    every: Duration,
    metrics: Arc<Metrics>,
) {
    let mut interval = tokio::time::interval(every);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        let store = Arc::clone(&store);
        let now = clock.now_micros();
        let purged = tokio::task::spawn_blocking(move || purge_all(store.as_ref(), now)).await;
        match purged {
            Ok(Ok(0)) => {}
            Ok(Ok(n)) => tracing::info!(purged = n, "purged expired records"),
            Ok(Err(err)) => {
                metrics.store_error(During::Sweep);
                tracing::warn!(error = %err, "sweeper failed");
            }
            Err(_) => tracing::warn!("sweeper panicked"),
        }
    }
}

/// Purges every record due at `now`, [`SWEEP_BATCH`] per transaction;
/// answers how many.
pub fn purge_all(store: &dyn Store, now: i64) -> Result<usize, StoreError> {
    let mut total = 0;
    loop {
        let n = store.purge_expired(now, SWEEP_BATCH)?;
        total += n;
        if n < SWEEP_BATCH {
            return Ok(total);
        }
    }
}

/// The answer to an administrative command (`user …`).
#[derive(Debug, Clone, PartialEq)]
pub struct AdminAnswer {
    /// HTTP-style status of the module's answer (200 when done).
    pub status: u16,
    /// The answer body (`status`, result fields or `sub_status`).
    pub body: Value,
}

impl AdminAnswer {
    /// Whether the command was carried out.
    pub fn ok(&self) -> bool {
        self.body.get("status").and_then(Value::as_str) == Some("ok")
    }

    /// The sub-status codes of a refusal.
    pub fn codes(&self) -> Vec<String> {
        self.body
            .get("sub_status")
            .and_then(Value::as_array)
            .map(|list| {
                list.iter()
                    .filter_map(|c| c.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Runs an administrative command through the module against the data
/// directory's store. The store admits several processes, so this works
/// while a server runs on the same directory.
pub fn admin(
    data_dir: &Path,
    settings: &Settings,
    module: Option<&Path>,
    op: &Operation,
) -> Result<AdminAnswer, Error> {
    let runtime = load_module(module, settings.guest.limits())?;
    let service = open_service(data_dir, settings, runtime, Clock::system())?;
    let outcome = service.execute(op);
    service.release_budget();
    if let Some(failure) = &outcome.failure {
        tracing::error!(cid = %outcome.log.cid, op = %outcome.log.op, error = %failure, "command failed in the host");
    }
    let body = serde_json::from_str(&outcome.response.body).unwrap_or_default();
    Ok(AdminAnswer {
        status: outcome.response.status,
        body,
    })
}

/// What `store export` wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExportSummary {
    /// Records written to the document.
    pub exported: usize,
    /// Records stored but already expired (not purged yet), left out.
    pub expired: usize,
}

/// What `store import` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImportReport {
    /// Records written and skipped.
    pub summary: ImportSummary,
    /// Whether the data directory has a key file (without one, `serve`
    /// generates a new key, which opens none of the imported encrypted
    /// values).
    pub has_key_file: bool,
}

/// Opens the store `settings` name: the redb file of `dir` (made private,
/// in multi-process mode, so a running server is no obstacle), or Redis.
pub fn open_store(dir: &DataDir, settings: &Settings) -> Result<Arc<dyn Store>, Error> {
    Ok(match &settings.store {
        StoreSetting::Redb => Arc::new(RedbStore::open(&dir.prepare_store()?)?),
        StoreSetting::Redis(target) => {
            Arc::new(RedisStore::open(target, &settings.redis.options())?)
        }
    })
}

/// `sessattr store export`: the records under `prefix` live now, to the
/// new file `output` (mode 0600) or to standard output. A data directory
/// without a store is an error, not an empty export.
pub fn store_export(
    data_dir: &Path,
    settings: &Settings,
    prefix: &str,
    output: Option<&Path>,
) -> Result<ExportSummary, Error> {
    let store_path = data_dir.join(datadir::STORE_FILE);
    if settings.store == StoreSetting::Redb && !store_path.is_file() {
        return Err(Error::NoStore { path: store_path });
    }
    let store = open_store(&DataDir::open(data_dir)?, settings)?;
    let export = transfer::live_records(store.as_ref(), prefix, clock::system_micros())?;
    drop(store);
    match output {
        Some(path) => write_new_file(path, &export.records)?,
        None => write_stdout(&export.records)?,
    }
    Ok(ExportSummary {
        exported: export.records.len(),
        expired: export.expired,
    })
}

/// Writes the document to `path`, which must not exist; a file left
/// half-written by a failure is removed.
fn write_new_file(path: &Path, records: &[StoredRecord]) -> Result<(), Error> {
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|cause| match cause.kind() {
            std::io::ErrorKind::AlreadyExists => Error::OutputExists {
                path: path.to_path_buf(),
            },
            _ => Error::File {
                path: path.to_path_buf(),
                cause,
            },
        })?;
    write_and_sync(file, records).map_err(|cause| {
        // Best effort: the write already failed, and that is the error.
        let _ = std::fs::remove_file(path);
        Error::File {
            path: path.to_path_buf(),
            cause,
        }
    })
}

/// Writes the document to `file` and waits until it is on disk.
fn write_and_sync(file: File, records: &[StoredRecord]) -> std::io::Result<()> {
    let mut out = BufWriter::new(file);
    transfer::write_document(records, &mut out)?;
    out.into_inner()
        .map_err(std::io::IntoInnerError::into_error)?
        .sync_all()
}

/// Writes the document to standard output.
fn write_stdout(records: &[StoredRecord]) -> Result<(), Error> {
    let mut out = BufWriter::new(std::io::stdout().lock());
    transfer::write_document(records, &mut out)
        .and_then(|()| out.flush())
        .map_err(|cause| Error::File {
            path: "-".into(),
            cause,
        })
}

/// `sessattr store import`: reads the document `file` (`-` for standard
/// input) and checks it whole, then writes its live records into the
/// store of `data_dir` in one write set, each only if its key is absent.
/// A refused document creates no data directory and no store.
pub fn store_import(
    data_dir: &Path,
    settings: &Settings,
    file: &Path,
) -> Result<ImportReport, Error> {
    let records = transfer::parse_document(&read_input(file)?)?;
    let dir = DataDir::open(data_dir)?;
    let store = open_store(&dir, settings)?;
    let summary = transfer::import_records(store.as_ref(), records, clock::system_micros())?;
    Ok(ImportReport {
        summary,
        has_key_file: dir.key_path().is_file(),
    })
}

/// The bytes of `file`, or of standard input for `-`.
fn read_input(file: &Path) -> Result<Vec<u8>, Error> {
    let fail = |cause| Error::File {
        path: file.to_path_buf(),
        cause,
    };
    if file == Path::new("-") {
        let mut bytes = Vec::new();
        std::io::stdin()
            .lock()
            .read_to_end(&mut bytes)
            .map_err(fail)?;
        Ok(bytes)
    } else {
        std::fs::read(file).map_err(fail)
    }
}

/// Reads the password: the first line of standard input, or a prompt without
/// echo (asked twice) on the terminal.
pub fn read_password(from_stdin: bool) -> Result<String, Error> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|err| Error::Password(err.to_string()))?;
        return Ok(strip_newline(line));
    }
    let first = rpassword::prompt_password("Password: ").map_err(|err| {
        Error::Password(format!("{err} (use --password-stdin without a terminal)"))
    })?;
    let second = rpassword::prompt_password("Password again: ")
        .map_err(|err| Error::Password(err.to_string()))?;
    if first != second {
        return Err(Error::Password("the two passwords differ".into()));
    }
    Ok(first)
}

/// Removes one trailing `\n` or `\r\n`.
fn strip_newline(mut line: String) -> String {
    if line.ends_with('\n') {
        line.pop();
        if line.ends_with('\r') {
            line.pop();
        }
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_one_trailing_newline() {
        assert_eq!(strip_newline("pw\n".into()), "pw");
        assert_eq!(strip_newline("pw\r\n".into()), "pw");
        assert_eq!(strip_newline("pw".into()), "pw");
        assert_eq!(strip_newline("pw \n\n".into()), "pw \n");
    }
}
