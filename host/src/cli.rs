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
}

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
