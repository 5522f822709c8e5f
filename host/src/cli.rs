//! The command line of `sessattr`.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// The default listen address (SPEC 2).
pub const DEFAULT_LISTEN: &str = "127.0.0.1:17010";

/// sessattr: attributes of SSO user sessions, served over HTTP.
#[derive(Debug, Parser)]
#[command(name = "sessattr", version, about)]
pub struct Cli {
    /// Folder holding the store (`sessattr.redb`) and the key file (`keys.json`).
    #[arg(
        long,
        global = true,
        env = "SESSATTR_DATA_DIR",
        default_value = "./sessattr-data",
        value_name = "DIR"
    )]
    pub data_dir: PathBuf,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the REST API over HTTP.
    Serve(ServeArgs),
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
}

/// Options of `serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = DEFAULT_LISTEN, value_name = "ADDR")]
    pub listen: SocketAddr,
    /// Run this WebAssembly module instead of the built-in one.
    #[arg(long, value_name = "FILE")]
    pub module: Option<PathBuf>,
    /// Log line format.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Seconds between two runs of the sweeper, which purges records whose
    /// expiry has passed (1 … 315360000). Expired records are invisible
    /// whether or not they have been purged yet.
    #[arg(
        long,
        env = "SESSATTR_SWEEP_INTERVAL",
        default_value_t = DEFAULT_SWEEP_INTERVAL_SECS,
        value_parser = clap::value_parser!(u64).range(1..=MAX_SWEEP_INTERVAL_SECS),
        value_name = "SECS"
    )]
    pub sweep_interval: u64,
    /// TEST ONLY, never in production: run on a test clock (system time plus
    /// an offset) that `POST /_sessattr/test/clock` with
    /// `{"advance_secs": N}` moves forward, for every client. Off by default.
    #[arg(long)]
    pub test_clock: bool,
}

/// Default of `serve --sweep-interval`, in seconds.
pub const DEFAULT_SWEEP_INTERVAL_SECS: u64 = 60;
/// Largest `serve --sweep-interval`, in seconds (ten years).
pub const MAX_SWEEP_INTERVAL_SECS: u64 = 315_360_000;

/// `user` subcommands.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user.
    Add(UserAddArgs),
}

/// Options of `user add`.
#[derive(Debug, clap::Args)]
pub struct UserAddArgs {
    /// The new user's name.
    pub name: String,
    /// Make the user a super-user (may act on other users' sessions).
    #[arg(long)]
    pub super_user: bool,
    /// Read the password from the first line of standard input instead of
    /// prompting for it.
    #[arg(long)]
    pub password_stdin: bool,
    /// Run this WebAssembly module instead of the built-in one.
    #[arg(long, value_name = "FILE")]
    pub module: Option<PathBuf>,
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
    fn parses_serve_with_defaults() {
        let cli = Cli::try_parse_from(["sessattr", "serve"]).expect("parses");
        let Command::Serve(args) = cli.command else {
            panic!("not serve")
        };
        assert_eq!(args.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(args.log_format, LogFormat::Text);
        assert!(args.module.is_none());
        assert_eq!(args.sweep_interval, DEFAULT_SWEEP_INTERVAL_SECS);
        assert!(!args.test_clock);
    }

    #[test]
    fn parses_sweep_interval_and_test_clock() {
        let cli =
            Cli::try_parse_from(["sessattr", "serve", "--sweep-interval", "1", "--test-clock"])
                .expect("parses");
        let Command::Serve(args) = cli.command else {
            panic!("not serve")
        };
        assert_eq!(args.sweep_interval, 1);
        assert!(args.test_clock);
        for bad in ["0", "-1", "1.5", "x", "315360001"] {
            assert!(
                Cli::try_parse_from(["sessattr", "serve", "--sweep-interval", bad]).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn parses_user_add() {
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
    }
}
