//! The command line of `sessattr`.
//!
//! Settings (listen address, limits, lifetimes…) come from defaults, then
//! `sessattr.toml`, then `SESSATTR_*` variables, then the flags of
//! [`SettingFlags`]; [`crate::settings`] merges them. The flags here carry
//! no defaults of their own, so that an absent flag lets the layers below
//! speak.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// The default listen address (SPEC 2).
pub const DEFAULT_LISTEN: &str = "127.0.0.1:17010";

/// sessattr: attributes of SSO user sessions, served over HTTP.
///
/// Every command works on a data directory (the store `sessattr.redb`, the
/// key file `keys.json` and an optional `sessattr.toml`). User commands
/// work whether or not a server runs on the same directory: the store
/// admits several processes.
#[derive(Debug, Parser)]
#[command(name = "sessattr", version, about, long_about = None)]
pub struct Cli {
    /// Folder holding the store (`sessattr.redb`), the key file (`keys.json`)
    /// and the optional config file (`sessattr.toml`).
    #[arg(
        long,
        global = true,
        env = "SESSATTR_DATA_DIR",
        default_value = "./sessattr-data",
        value_name = "DIR"
    )]
    pub data_dir: PathBuf,
    /// Config file to read instead of `DIR/sessattr.toml` (which is read
    /// when it exists). Environment variables and flags override it.
    #[arg(long, global = true, env = "SESSATTR_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Where the records live: `redb` (the embedded store `DIR/sessattr.redb`,
    /// the default), `redis://HOST:PORT/DB` or `redis+cluster://H1:P1,H2:P2,…`
    /// (`rediss` for TLS), shared by every host [env: SESSATTR_STORE]. Put a
    /// Redis password in SESSATTR_REDIS_PASSWORD rather than in the URL.
    #[arg(long, global = true, value_name = "STORE")]
    pub store: Option<String>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the REST API over HTTP.
    Serve(ServeArgs),
    /// Manage users: add, list, lock, unlock, delete, passwd.
    #[command(subcommand)]
    User(UserCommand),
    /// Show the effective configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Copy the store's records out to a JSON document, or into a store:
    /// export, import.
    #[command(subcommand)]
    Store(StoreCommand),
    /// Manage the encryption keys: generate, promote, rotate, retire, status.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Print what module `serve` runs: where it comes from, its size, its
    /// SHA-256 and its ABI version (it is loaded and checked like `serve`
    /// does).
    ModuleInfo(ModuleInfoArgs),
}

/// Options of `module-info`.
#[derive(Debug, clap::Args)]
pub struct ModuleInfoArgs {
    /// Describe this WebAssembly module instead of the built-in one.
    #[arg(long, value_name = "FILE")]
    pub module: Option<PathBuf>,
    /// Print JSON instead of lines of text.
    #[arg(long)]
    pub json: bool,
}

/// The settings any layer may set, as flags (none is secret). Each flag
/// overrides its `SESSATTR_*` variable, which overrides the config file.
#[derive(Debug, Default, Clone, clap::Args)]
pub struct SettingFlags {
    /// Address to listen on [env: SESSATTR_LISTEN] [default: 127.0.0.1:17010].
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// Log line format: text or json [env: SESSATTR_LOG_FORMAT] [default: text].
    #[arg(long, value_name = "FORMAT")]
    pub log_format: Option<String>,
    /// Seconds between two runs of the sweeper, which purges expired
    /// records, 1 … 315360000 [env: SESSATTR_SWEEP_INTERVAL] [default: 60].
    /// Expired records are invisible whether or not they are purged yet.
    #[arg(long, value_name = "SECS")]
    pub sweep_interval: Option<String>,
    /// Lifetime of a new or renewed session in seconds, 1 … 315360000
    /// [env: SESSATTR_SESSION_LIFETIME] [default: 3600].
    #[arg(long, value_name = "SECS")]
    pub session_lifetime: Option<String>,
    /// Applications allowed in `current_app`, comma-separated
    /// [env: SESSATTR_APPS] [default: CRM].
    #[arg(long, value_name = "APP,…")]
    pub apps: Option<String>,
    /// Longest attribute name in bytes [env: SESSATTR_LIMITS_NAME_MAX_BYTES] [default: 191].
    #[arg(long, value_name = "BYTES")]
    pub limits_name_max_bytes: Option<String>,
    /// Longest attribute value in bytes [env: SESSATTR_LIMITS_VALUE_MAX_BYTES] [default: 65536].
    #[arg(long, value_name = "BYTES")]
    pub limits_value_max_bytes: Option<String>,
    /// Most items in one `data` list [env: SESSATTR_LIMITS_DATA_MAX_ITEMS] [default: 1000].
    #[arg(long, value_name = "N")]
    pub limits_data_max_items: Option<String>,
    /// Largest request body in bytes [env: SESSATTR_LIMITS_BODY_MAX_BYTES] [default: 1048576].
    #[arg(long, value_name = "BYTES")]
    pub limits_body_max_bytes: Option<String>,
    /// Most live attributes in one session [env: SESSATTR_LIMITS_ATTRS_PER_SESSION] [default: 10000].
    #[arg(long, value_name = "N")]
    pub limits_attrs_per_session: Option<String>,
    /// argon2id memory cost of new password hashes, KiB
    /// [env: SESSATTR_ARGON2_M_COST] [default: 19456].
    #[arg(long, value_name = "KIB")]
    pub argon2_m_cost: Option<String>,
    /// argon2id passes [env: SESSATTR_ARGON2_T_COST] [default: 2].
    #[arg(long, value_name = "N")]
    pub argon2_t_cost: Option<String>,
    /// argon2id lanes [env: SESSATTR_ARGON2_P_COST] [default: 1].
    #[arg(long, value_name = "N")]
    pub argon2_p_cost: Option<String>,
    /// Encryptions each key may make; at half, every reservation warns to
    /// rotate; at the limit encrypting is refused (E008004) until a new key
    /// is promoted [env: SESSATTR_KEY_ENCRYPTION_LIMIT] [default: 4294967296].
    #[arg(long, value_name = "N")]
    pub key_encryption_limit: Option<String>,
    /// Milliseconds to wait for Redis to connect, answer or free a pooled
    /// connection, before a request fails with 503
    /// [env: SESSATTR_REDIS_TIMEOUT_MS] [default: 1000].
    #[arg(long, value_name = "MS")]
    pub redis_timeout_ms: Option<String>,
    /// Most connections to Redis per process [env: SESSATTR_REDIS_POOL_SIZE]
    /// [default: 32].
    #[arg(long, value_name = "N")]
    pub redis_pool_size: Option<String>,
    /// PEM file of the CA that signed the Redis server's certificate
    /// (rediss://) [env: SESSATTR_REDIS_TLS_CA_FILE].
    #[arg(long, value_name = "FILE")]
    pub redis_tls_ca_file: Option<String>,
    /// PEM client certificate for Redis, with --redis-tls-key-file
    /// [env: SESSATTR_REDIS_TLS_CERT_FILE].
    #[arg(long, value_name = "FILE")]
    pub redis_tls_cert_file: Option<String>,
    /// PEM key of the client certificate [env: SESSATTR_REDIS_TLS_KEY_FILE].
    #[arg(long, value_name = "FILE")]
    pub redis_tls_key_file: Option<String>,
    /// Milliseconds a client may take to send a request's line and headers
    /// (from the connection's start, or the request's first byte), 100 …
    /// 3600000; then the connection closes [env: SESSATTR_HTTP_HEADER_TIMEOUT_MS]
    /// [default: 10000].
    #[arg(long, value_name = "MS")]
    pub http_header_timeout_ms: Option<String>,
    /// Milliseconds a client may take to send a request's whole body, 100 …
    /// 3600000; then 408 and the connection closes
    /// [env: SESSATTR_HTTP_BODY_TIMEOUT_MS] [default: 30000].
    #[arg(long, value_name = "MS")]
    pub http_body_timeout_ms: Option<String>,
    /// Milliseconds a kept-alive connection may sit idle, 100 … 3600000
    /// [env: SESSATTR_HTTP_IDLE_TIMEOUT_MS] [default: 75000].
    #[arg(long, value_name = "MS")]
    pub http_idle_timeout_ms: Option<String>,
    /// Milliseconds requests in flight may take to finish after SIGTERM or
    /// SIGINT, 0 … 3600000 [env: SESSATTR_HTTP_SHUTDOWN_GRACE_MS] [default: 30000].
    #[arg(long, value_name = "MS")]
    pub http_shutdown_grace_ms: Option<String>,
    /// Most connections open at once, 1 … 1000000; more wait in the listen
    /// backlog [env: SESSATTR_HTTP_MAX_CONNECTIONS] [default: 4096].
    #[arg(long, value_name = "N")]
    pub http_max_connections: Option<String>,
    /// Most operations waiting for a turn in the module, 0 … 1000000; one
    /// more is answered 503 with Retry-After [env: SESSATTR_HTTP_MAX_QUEUED]
    /// [default: 1024].
    #[arg(long, value_name = "N")]
    pub http_max_queued: Option<String>,
    /// Longest wait of an operation for a turn in the module, in
    /// milliseconds, 1 … 3600000; then 503 with Retry-After
    /// [env: SESSATTR_HTTP_QUEUE_TIMEOUT_MS] [default: 60000].
    #[arg(long, value_name = "MS")]
    pub http_queue_timeout_ms: Option<String>,
    /// Longest run of one step of the module, in milliseconds, 10 … 600000;
    /// a step that runs longer is interrupted and its request answers 500
    /// E008004 [env: SESSATTR_GUEST_TIME_LIMIT_MS] [default: 10000].
    #[arg(long, value_name = "MS")]
    pub guest_time_limit_ms: Option<String>,
    /// Largest memory of one module instance, in MiB, 16 … 4096; a request
    /// that needs more answers 500 E008004. At least twice argon2.m_cost
    /// [env: SESSATTR_GUEST_MEMORY_MIB] [default: 512].
    #[arg(long, value_name = "MIB")]
    pub guest_memory_mib: Option<String>,
}

impl SettingFlags {
    /// The flags given, by setting name (see [`crate::settings::NAMES`]);
    /// `store` is the global `--store` of [`Cli`], for every command.
    pub fn given(&self) -> Vec<(&'static str, String)> {
        [
            ("listen", &self.listen),
            ("log_format", &self.log_format),
            ("sweep_interval", &self.sweep_interval),
            ("session_lifetime", &self.session_lifetime),
            ("apps", &self.apps),
            ("limits.name_max_bytes", &self.limits_name_max_bytes),
            ("limits.value_max_bytes", &self.limits_value_max_bytes),
            ("limits.data_max_items", &self.limits_data_max_items),
            ("limits.body_max_bytes", &self.limits_body_max_bytes),
            ("limits.attrs_per_session", &self.limits_attrs_per_session),
            ("argon2.m_cost", &self.argon2_m_cost),
            ("argon2.t_cost", &self.argon2_t_cost),
            ("argon2.p_cost", &self.argon2_p_cost),
            ("key_encryption_limit", &self.key_encryption_limit),
            ("redis.timeout_ms", &self.redis_timeout_ms),
            ("redis.pool_size", &self.redis_pool_size),
            ("redis.tls_ca_file", &self.redis_tls_ca_file),
            ("redis.tls_cert_file", &self.redis_tls_cert_file),
            ("redis.tls_key_file", &self.redis_tls_key_file),
            ("http.header_timeout_ms", &self.http_header_timeout_ms),
            ("http.body_timeout_ms", &self.http_body_timeout_ms),
            ("http.idle_timeout_ms", &self.http_idle_timeout_ms),
            ("http.shutdown_grace_ms", &self.http_shutdown_grace_ms),
            ("http.max_connections", &self.http_max_connections),
            ("http.max_queued", &self.http_max_queued),
            ("http.queue_timeout_ms", &self.http_queue_timeout_ms),
            ("guest.time_limit_ms", &self.guest_time_limit_ms),
            ("guest.memory_mib", &self.guest_memory_mib),
        ]
        .into_iter()
        .filter_map(|(name, value)| value.clone().map(|v| (name, v)))
        .collect()
    }
}

/// Options of `serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// The settings.
    #[command(flatten)]
    pub settings: SettingFlags,
    /// Run this WebAssembly module instead of the built-in one.
    #[arg(long, value_name = "FILE")]
    pub module: Option<PathBuf>,
    /// TEST ONLY, never in production: run on a test clock (system time plus
    /// an offset) that `POST /_sessattr/test/clock` with
    /// `{"advance_secs": N}` moves forward, for every client. Off by default.
    #[arg(long)]
    pub test_clock: bool,
    /// Do not serve the web console at /console/ (it is on by default); the
    /// path then goes to the module like any other, which answers 404.
    #[arg(long)]
    pub no_console: bool,
    /// Let pages of this origin (`https://console.example`, no path) call
    /// the API from a browser (CORS), e.g. the web console served as a
    /// static site elsewhere. Repeat it, or separate origins with commas;
    /// none by default [env: SESSATTR_ALLOW_ORIGIN].
    #[arg(long = "allow-origin", value_name = "ORIGIN", env = "SESSATTR_ALLOW_ORIGIN",
          hide_env = true, value_delimiter = ',', value_parser = crate::cors::parse_origin)]
    pub allow_origins: Vec<String>,
    /// BENCHMARK ONLY (built with the `bench` feature): run the core
    /// natively instead of the module, to measure the module's cost.
    #[cfg(feature = "bench")]
    #[arg(long, hide = true)]
    pub bench_native_core: bool,
}

/// What every user command takes besides its own arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct AdminArgs {
    /// Run this WebAssembly module instead of the built-in one.
    #[arg(long, value_name = "FILE")]
    pub module: Option<PathBuf>,
}

/// `user` subcommands. Each works on the data directory directly, also
/// while `serve` runs on it; locking, deleting and changing a password end
/// the user's sessions at once.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user.
    Add(UserAddArgs),
    /// List the users (name, role, lock state, creation time, id; never a
    /// password hash).
    List(UserListArgs),
    /// Lock a user: no more logins, and every session of theirs ends.
    Lock(UserNameArgs),
    /// Unlock a user (sessions ended by the lock stay ended).
    Unlock(UserNameArgs),
    /// Delete a user; every session of theirs ends.
    Delete(UserNameArgs),
    /// Set a new password; every session of the user ends.
    Passwd(UserPasswdArgs),
}

/// Options of `user add`.
#[derive(Debug, clap::Args)]
pub struct UserAddArgs {
    /// The new user's name (1 to 191 characters, no whitespace).
    pub name: String,
    /// Make the user a super-user (may act on other users' sessions).
    #[arg(long)]
    pub super_user: bool,
    /// Read the password from the first line of standard input instead of
    /// prompting for it (without echo, twice).
    #[arg(long)]
    pub password_stdin: bool,
    /// Common options.
    #[command(flatten)]
    pub admin: AdminArgs,
}

/// Options of `user list`.
#[derive(Debug, clap::Args)]
pub struct UserListArgs {
    /// Print JSON (one object with `users`) instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Common options.
    #[command(flatten)]
    pub admin: AdminArgs,
}

/// Options of `user lock`, `unlock` and `delete`.
#[derive(Debug, clap::Args)]
pub struct UserNameArgs {
    /// The user's name.
    pub name: String,
    /// Common options.
    #[command(flatten)]
    pub admin: AdminArgs,
}

/// Options of `user passwd`.
#[derive(Debug, clap::Args)]
pub struct UserPasswdArgs {
    /// The user's name.
    pub name: String,
    /// Read the new password from the first line of standard input instead
    /// of prompting for it (without echo, twice).
    #[arg(long)]
    pub password_stdin: bool,
    /// Common options.
    #[command(flatten)]
    pub admin: AdminArgs,
}

/// `keys` subcommands. They work on the data directory's key file
/// (`keys.json`, or `keys.toml`; refused when the keyring comes from
/// `SESSATTR_KEYS`) and its store, also while `serve` runs on it: a running
/// server re-reads the key file within a second of a change (and at once on
/// SIGHUP), so `generate`, `promote` and `retire` need no restart, and
/// `rotate` re-encrypts through the module while API traffic goes on.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Add a new random key as decrypt-only; prints its id alone on the
    /// last line of standard output.
    Generate,
    /// Make a key the primary one (it encrypts new values); the former
    /// primary becomes decrypt-only.
    Promote(KeyPromoteArgs),
    /// Re-encrypt every live encrypted value under the primary key, page by
    /// page (each page atomic: safe to interrupt and run again), with
    /// progress on standard error. If the key file changed in the last two
    /// seconds it first waits that long, so that running servers seal with
    /// the new primary before the walk.
    Rotate(AdminArgs),
    /// Retire a key: it opens nothing any more. Refused for the primary key
    /// and while any stored value still uses it.
    Retire(KeyIdArgs),
    /// Per key: its state (`missing` for an id that seals stored values but
    /// is not in the keyring), how many stored values use it, and how many
    /// encryptions were counted for it (out of `key_encryption_limit`).
    Status(KeyStatusArgs),
}

/// Options of `keys promote` (it edits the key file only).
#[derive(Debug, clap::Args)]
pub struct KeyPromoteArgs {
    /// The key's id, as `keys status` shows it.
    pub id: String,
}

/// Options of `keys retire`.
#[derive(Debug, clap::Args)]
pub struct KeyIdArgs {
    /// The key's id, as `keys status` shows it.
    pub id: String,
    /// Common options.
    #[command(flatten)]
    pub admin: AdminArgs,
}

/// Options of `keys status`.
#[derive(Debug, clap::Args)]
pub struct KeyStatusArgs {
    /// Print JSON (`{"keys":[{id, state, values, encryptions}]}`) instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Common options.
    #[command(flatten)]
    pub admin: AdminArgs,
}

/// `store` subcommands. They work on the store file directly, with or
/// without a server on the data directory, and need neither the module nor
/// the key file: records are copied as stored, so encrypted values stay
/// sealed and the target data directory needs the source's `keys.json` to
/// open them.
#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Write every live record as one JSON document, in key order.
    ///
    /// The document is `{"format":"sessattr-records","version":1,
    /// "records":[{"key":…,"value":…,"expires_at":…},…]}`: each value as
    /// stored, each expiry in unix microseconds or null. It holds password
    /// hashes, encrypted values and the values stored in clear: keep it as
    /// private as the data directory.
    Export(StoreExportArgs),
    /// Add the records of an exported document to the store, all or nothing.
    ///
    /// The document is checked whole first; records already expired are
    /// skipped and counted; if any key is stored already, nothing is
    /// written and the error says how many.
    Import(StoreImportArgs),
}

/// Options of `store export`.
#[derive(Debug, clap::Args)]
pub struct StoreExportArgs {
    /// Write the document to this new file (created with mode 0600; an
    /// existing file is never replaced) instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Export only the records whose key starts with this; it must start
    /// with `sa:`, e.g. `sa:user:` for the users alone.
    #[arg(long, value_name = "PREFIX", default_value = crate::transfer::KEY_PREFIX, value_parser = record_prefix)]
    pub prefix: String,
}

/// Options of `store import`.
#[derive(Debug, clap::Args)]
pub struct StoreImportArgs {
    /// The document to read, `-` for standard input.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
}

/// Accepts a key prefix of `store export --prefix` only if it starts with
/// `sa:`, so that every document exported can be imported again.
fn record_prefix(prefix: &str) -> Result<String, String> {
    if prefix.starts_with(crate::transfer::KEY_PREFIX) {
        Ok(prefix.to_owned())
    } else {
        Err(format!(
            "must start with `{}`, the prefix of every sessattr key",
            crate::transfer::KEY_PREFIX
        ))
    }
}

/// `config` subcommands.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the effective configuration as a config file, each value
    /// commented with where it came from (default, file, env or flag).
    /// Nothing in it is secret; the encryption keys are only named.
    Show(ConfigShowArgs),
}

/// Options of `config show`: the same setting flags as `serve`.
#[derive(Debug, clap::Args)]
pub struct ConfigShowArgs {
    /// The settings, as `serve` would take them.
    #[command(flatten)]
    pub settings: SettingFlags,
}

/// Format of log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable text.
    Text,
    /// One JSON object per line.
    Json,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn every_setting_has_a_flag_and_serve_sets_none_by_default() {
        let cli = Cli::try_parse_from(["sessattr", "serve"]).expect("parses");
        let Command::Serve(args) = cli.command else {
            panic!("not serve")
        };
        assert!(args.settings.given().is_empty());
        assert!(args.module.is_none() && !args.test_clock);

        let mut argv = vec![String::from("sessattr"), String::from("serve")];
        for name in crate::settings::NAMES {
            argv.push(crate::settings::flag_name(name));
            argv.push(format!("value-of-{name}"));
        }
        let cli = Cli::try_parse_from(&argv).expect("every flag exists");
        // `--store` is global: given after `serve` too, it is the Cli's.
        assert_eq!(cli.store.as_deref(), Some("value-of-store"));
        let Command::Serve(args) = cli.command else {
            panic!("not serve")
        };
        let given: Vec<&str> = args.settings.given().iter().map(|(n, _)| *n).collect();
        let serve_names: Vec<&str> = crate::settings::NAMES
            .into_iter()
            .filter(|name| *name != "store")
            .collect();
        assert_eq!(given, serve_names);
        let cli = Cli::try_parse_from(["sessattr", "--store", "redb", "user", "list"])
            .expect("--store before any command");
        assert_eq!(cli.store.as_deref(), Some("redb"));
        assert!(
            args.settings
                .given()
                .iter()
                .all(|(name, value)| *value == format!("value-of-{name}"))
        );
    }

    /// `sessattr --help` and each subcommand's `--help` describe every
    /// command and flag.
    #[test]
    fn every_command_and_argument_has_help() {
        fn walk(command: &clap::Command, path: &str, missing: &mut Vec<String>) {
            if command.get_about().is_none() && path != "sessattr" {
                missing.push(path.to_owned());
            }
            for arg in command.get_arguments() {
                let builtin = matches!(arg.get_id().as_str(), "help" | "version");
                if !builtin && arg.get_help().is_none() && arg.get_long_help().is_none() {
                    missing.push(format!("{path} {}", arg.get_id()));
                }
            }
            for sub in command.get_subcommands() {
                if sub.get_name() != "help" {
                    walk(sub, &format!("{path} {}", sub.get_name()), missing);
                }
            }
        }
        let mut missing = Vec::new();
        walk(&Cli::command(), "sessattr", &mut missing);
        assert!(missing.is_empty(), "without help: {missing:?}");
    }

    #[test]
    fn help_names_the_environment_variable_of_every_setting() {
        // Built first, so that global flags (`--store`) reach the subcommands.
        let mut command = Cli::command();
        command.build();
        let help = command
            .find_subcommand_mut("serve")
            .expect("serve")
            .render_long_help()
            .to_string();
        for name in crate::settings::NAMES {
            let var = crate::settings::env_name(name);
            assert!(help.contains(&var), "{var} missing from serve --help");
        }
    }

    #[test]
    fn parses_user_commands() {
        let cli = Cli::try_parse_from([
            "sessattr",
            "--data-dir",
            "/tmp/d",
            "user",
            "add",
            "bob",
            "--super-user",
            "--password-stdin",
        ])
        .expect("parses");
        assert_eq!(cli.data_dir, PathBuf::from("/tmp/d"));
        let Command::User(UserCommand::Add(args)) = cli.command else {
            panic!("not user add")
        };
        assert_eq!(args.name, "bob");
        assert!(args.super_user && args.password_stdin);
        for command in ["lock", "unlock", "delete", "passwd"] {
            let cli = Cli::try_parse_from(["sessattr", "user", command, "bob"]).expect(command);
            assert!(matches!(cli.command, Command::User(_)));
        }
        assert!(Cli::try_parse_from(["sessattr", "user", "lock"]).is_err());
        let cli = Cli::try_parse_from(["sessattr", "user", "list", "--json"]).expect("list");
        assert!(matches!(
            cli.command,
            Command::User(UserCommand::List(UserListArgs { json: true, .. }))
        ));
    }

    #[test]
    fn parses_store_commands() {
        let cli = Cli::try_parse_from(["sessattr", "store", "export"]).expect("export");
        let Command::Store(StoreCommand::Export(args)) = cli.command else {
            panic!("not store export")
        };
        assert_eq!((args.output, args.prefix.as_str()), (None, "sa:"));
        let cli = Cli::try_parse_from([
            "sessattr",
            "store",
            "export",
            "--output",
            "/tmp/x.json",
            "--prefix",
            "sa:user:",
        ])
        .expect("export with options");
        let Command::Store(StoreCommand::Export(args)) = cli.command else {
            panic!("not store export")
        };
        assert_eq!(args.output, Some(PathBuf::from("/tmp/x.json")));
        assert_eq!(args.prefix, "sa:user:");
        let err = Cli::try_parse_from(["sessattr", "store", "export", "--prefix", "user:"])
            .expect_err("prefix without sa:");
        assert!(err.to_string().contains("must start with `sa:`"), "{err}");

        let cli = Cli::try_parse_from(["sessattr", "--data-dir", "/d", "store", "import", "-"])
            .expect("import");
        let Command::Store(StoreCommand::Import(args)) = cli.command else {
            panic!("not store import")
        };
        assert_eq!(args.file, PathBuf::from("-"));
        assert!(Cli::try_parse_from(["sessattr", "store", "import"]).is_err());
    }
}
