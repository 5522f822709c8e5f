//! The subcommands: `serve` and `user add`.

use std::io::BufRead;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use sessattr_core::config::Config;
use sessattr_core::protocol::{Operation, UserAdd};

use crate::Error;
use crate::cli::{ServeArgs, UserAddArgs};
use crate::clock::Clock;
use crate::datadir::DataDir;
use crate::engine::{GuestLimits, Runtime};
use crate::http::{self, AppState};
use crate::keyfile;
use crate::module_source::ModuleSource;
use crate::service::Service;
use crate::store::{RedbStore, Store, StoreError};
use crate::test_clock;

/// Most records purged in one store transaction.
pub const SWEEP_BATCH: usize = 1_000;

/// Loads and checks the module (`--module FILE` or the built-in one).
pub fn load_module(file: Option<&Path>) -> Result<Runtime, Error> {
    let source = ModuleSource::resolve(file)?;
    Runtime::load(&source, GuestLimits::default())
}

/// Opens the data directory, the key file (generated on first use) and the
/// store, and builds the effective configuration; operations read `now`
/// from `clock`.
pub fn open_service(data_dir: &Path, runtime: Runtime, clock: Clock) -> Result<Service, Error> {
    let dir = DataDir::open(data_dir)?;
    let key_path = dir.key_path();
    let keyring = keyfile::load_or_generate(&key_path)?;
    if keyring.generated {
        tracing::info!(
            "generated encryption key {} in {}",
            keyring.primary_id,
            key_path.display()
        );
    }
    let store: Arc<dyn Store> = Arc::new(RedbStore::open(&dir.store_path())?);
    tracing::debug!(data_dir = %dir.path().display(), key_id = %keyring.primary_id, "data directory open");
    let config = Config {
        keys: keyring.keys,
        ..Config::default()
    };
    Ok(Service::new(runtime, store, config, clock))
}

/// `sessattr serve`.
pub fn serve(data_dir: &Path, args: &ServeArgs) -> Result<(), Error> {
    let runtime = load_module(args.module.as_deref())?;
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
    let service = Arc::new(open_service(data_dir, runtime, clock)?);
    let key_id = service
        .config()
        .keys
        .iter()
        .find(|k| k.state == sessattr_core::config::KeyState::Primary)
        .map(|k| k.id.clone())
        .unwrap_or_default();
    tracing::info!(data_dir = %data_dir.display(), key_id = %key_id, "data directory ready");

    let tokio = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|source| Error::Io {
            what: "cannot start the async runtime",
            source,
        })?;
    tokio.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .map_err(|source| Error::Listen {
                addr: args.listen.to_string(),
                source,
            })?;
        let local = listener.local_addr().map_err(|source| Error::Io {
            what: "cannot read the listen address",
            source,
        })?;
        tracing::info!(listen = %local, "listening on http://{local}");
        let every = Duration::from_secs(args.sweep_interval);
        tracing::info!(every_secs = args.sweep_interval, "sweeper started");
        let sweeper = tokio::spawn(sweep_forever(
            Arc::clone(service.store()),
            service.clock().clone(),
            every,
        ));
        let state = Arc::new(AppState::new(service));
        let result = http::serve(listener, state, http::shutdown_signal()).await;
        sweeper.abort();
        result.map_err(|source| Error::Io {
            what: "server failed",
            source,
        })
    })?;
    tracing::info!("stopped");
    Ok(())
}

/// Purges records whose expiry has passed by `clock`, at start and then
/// every `every`.
async fn sweep_forever(store: Arc<dyn Store>, clock: Clock, every: Duration) {
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
            Ok(Err(err)) => tracing::warn!(error = %err, "sweeper failed"),
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

/// What `user add` achieved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserAddResult {
    /// The user exists now.
    Added {
        /// The new user's id, when the module reported it.
        user_id: Option<String>,
    },
    /// The module refused; its sub-status codes.
    Refused {
        /// HTTP-style status of the answer.
        status: u16,
        /// Sub-status codes (e.g. `E001002` when the name is taken).
        codes: Vec<String>,
    },
}

/// `sessattr user add`: runs the `user_add` operation through the module.
pub fn user_add(
    data_dir: &Path,
    args: &UserAddArgs,
    password: String,
) -> Result<UserAddResult, Error> {
    let runtime = load_module(args.module.as_deref())?;
    let service = open_service(data_dir, runtime, Clock::system())?;
    let op = Operation::UserAdd(UserAdd {
        username: args.name.clone(),
        password,
        is_super_user: args.super_user,
    });
    let outcome = service.execute(&op);
    if let Some(failure) = &outcome.failure {
        tracing::error!(cid = %outcome.log.cid, error = %failure, "user add failed in the host");
    }
    let body: serde_json::Value = serde_json::from_str(&outcome.response.body).unwrap_or_default();
    if body.get("status").and_then(|s| s.as_str()) == Some("ok") {
        let user_id = body
            .get("user_id")
            .and_then(|s| s.as_str())
            .map(str::to_owned);
        return Ok(UserAddResult::Added { user_id });
    }
    let codes = body
        .get("sub_status")
        .and_then(|s| s.as_array())
        .map(|list| {
            list.iter()
                .filter_map(|c| c.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    Ok(UserAddResult::Refused {
        status: outcome.response.status,
        codes,
    })
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
