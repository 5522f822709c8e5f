//! `sessattr`: the native host's command line.

use std::process::ExitCode;

use anyhow::Result;
use clap::Parser;
use sessattr_host::cli::{Cli, Command, LogFormat, UserCommand};
use sessattr_host::commands::{self, UserAddResult};
use sessattr_host::logging;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {}", one_line(&format!("{err:#}")));
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Serve(args) => {
            logging::init(args.log_format);
            commands::serve(&cli.data_dir, &args)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::User(UserCommand::Add(args)) => {
            logging::init(LogFormat::Text);
            let password = commands::read_password(args.password_stdin)?;
            match commands::user_add(&cli.data_dir, &args, password)? {
                UserAddResult::Added { .. } => {
                    let role = if args.super_user { " (super-user)" } else { "" };
                    println!("added user {}{role}", args.name);
                    Ok(ExitCode::SUCCESS)
                }
                UserAddResult::Refused { status, codes } => {
                    let codes = if codes.is_empty() {
                        format!("HTTP {status}")
                    } else {
                        codes.join(", ")
                    };
                    let hint = if codes.contains("E001002") {
                        " (user exists)"
                    } else {
                        ""
                    };
                    eprintln!("error: cannot add user {}: {codes}{hint}", args.name);
                    Ok(ExitCode::FAILURE)
                }
            }
        }
    }
}

/// Keeps the error on one line.
fn one_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}
