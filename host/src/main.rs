//! `sessattr`: the native host's command line.

use std::process::ExitCode;

/// jemalloc, not glibc's malloc: under a soak of mixed traffic glibc's
/// per-thread arenas fragmented and the host's RSS grew by about 10 MiB a
/// minute; with jemalloc it stays flat (docs/decisions.md, "Memory").
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use anyhow::Result;
use clap::Parser;
use serde_json::Value;
use sessattr_core::protocol::{Operation, UserAdd, UserList, UserName, UserPasswd};
use sessattr_host::cli::{
    Cli, Command, ConfigCommand, KeysCommand, LogFormat, StoreCommand, UserCommand,
};
use sessattr_host::commands::{self, AdminAnswer};
use sessattr_host::engine::GuestLimits;
use sessattr_host::keys::commands as keys;
use sessattr_host::logging;
use sessattr_host::settings::Settings;

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
    let data_dir = cli.data_dir.as_path();
    let config = cli.config.as_deref();
    // `--store` is global: every command works on the store it names.
    let with_store = |mut flags: Vec<(&'static str, String)>| {
        flags.extend(cli.store.clone().map(|store| ("store", store)));
        flags
    };
    match cli.command {
        Command::Serve(args) => {
            let settings = Settings::load(data_dir, config, &with_store(args.settings.given()))?;
            logging::init(settings.log_format);
            commands::serve(data_dir, &settings, &args)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Config(ConfigCommand::Show(args)) => {
            let settings = Settings::load(data_dir, config, &with_store(args.settings.given()))?;
            print!("{}", settings.show(data_dir));
            Ok(ExitCode::SUCCESS)
        }
        Command::ModuleInfo(args) => {
            // Loaded only to be described: the default limits do.
            let runtime = commands::load_module(args.module.as_deref(), GuestLimits::default())?;
            let info = serde_json::json!({
                "module": runtime.label(),
                "bytes": runtime.size(),
                "sha256": runtime.sha256(),
                "abi_version": sessattr_core::ABI_VERSION,
            });
            if args.json {
                println!("{info}");
            } else {
                println!("module: {}", runtime.label());
                println!("bytes: {}", runtime.size());
                println!("sha256: {}", runtime.sha256());
                println!("abi: {}", sessattr_core::ABI_VERSION);
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::User(command) => {
            logging::init(LogFormat::Text);
            let settings = Settings::load(data_dir, config, &with_store(Vec::new()))?;
            user(data_dir, &settings, command)
        }
        Command::Store(command) => {
            logging::init(LogFormat::Text);
            let settings = Settings::load(data_dir, config, &with_store(Vec::new()))?;
            store(data_dir, &settings, command)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Keys(command) => {
            logging::init(LogFormat::Text);
            let settings = Settings::load(data_dir, config, &with_store(Vec::new()))?;
            keys_command(data_dir, &settings, command)
        }
    }
}

/// Runs a key command and reports it (ids and counts only, never a key).
fn keys_command(
    data_dir: &std::path::Path,
    settings: &Settings,
    command: KeysCommand,
) -> Result<ExitCode> {
    const RUNNING: &str = "running servers pick this up within a second (or at once on SIGHUP)";
    match command {
        KeysCommand::Generate => {
            let key = keys::generate(data_dir, settings)?;
            println!(
                "added key {} (decrypt-only); make it primary with `sessattr keys promote {}`",
                key.id, key.id
            );
            println!("{}", key.id);
        }
        KeysCommand::Promote(args) => {
            let former = keys::promote(data_dir, &args.id)?;
            println!(
                "{} is now the primary key; {former} is decrypt-only; {RUNNING}",
                args.id
            );
            println!("next: `sessattr keys rotate` re-encrypts the values still under {former}");
        }
        KeysCommand::Retire(args) => {
            keys::retire(data_dir, settings, args.admin.module.as_deref(), &args.id)?;
            println!("retired key {}; {RUNNING}", args.id);
        }
        KeysCommand::Status(args) => {
            let rows = keys::status(data_dir, settings, args.admin.module.as_deref())?;
            if args.json {
                println!("{}", serde_json::json!({ "keys": rows }));
            } else {
                println!(
                    "{:<20} {:<13} {:>10} {:>12}",
                    "KEY", "STATE", "VALUES", "ENCRYPTIONS"
                );
                for row in rows {
                    println!(
                        "{:<20} {:<13} {:>10} {:>12}",
                        row.id, row.state, row.values, row.encryptions
                    );
                }
            }
        }
        KeysCommand::Rotate(args) => {
            let report = keys::rotate(data_dir, settings, args.module.as_deref())?;
            println!(
                "re-encrypted {} value(s) under the primary key in {} pass(es); {} already were",
                report.rewritten, report.passes, report.already
            );
            if report.left > 0 {
                eprintln!(
                    "error: {} value(s) are still under other keys ({} no key of the keyring opens)",
                    report.left, report.unreadable
                );
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs a store command and reports it with counts only (never a key or a
/// value): on stdout, unless the document itself goes there.
fn store(data_dir: &std::path::Path, settings: &Settings, command: StoreCommand) -> Result<()> {
    match command {
        StoreCommand::Export(args) => {
            let output = args.output.as_deref();
            let done = commands::store_export(data_dir, settings, &args.prefix, output)?;
            let line = format!(
                "exported {} records ({} expired, skipped)",
                done.exported, done.expired
            );
            match output {
                Some(file) => println!("{line} to {}", file.display()),
                None => eprintln!("{line}"),
            }
        }
        StoreCommand::Import(args) => {
            let report = commands::store_import(data_dir, settings, &args.file)?;
            let done = report.summary;
            println!(
                "imported {} records ({} expired, skipped)",
                done.imported, done.expired
            );
            if !report.has_key_file && done.imported > 0 {
                eprintln!(
                    "note: {} has no keys.json; copy the source's key file there before \
                     the first `serve` (which would generate a new key), or its encrypted \
                     values cannot be opened",
                    data_dir.display()
                );
            }
        }
    }
    Ok(())
}

/// Runs a user command and reports it: a line on success (a table for
/// `list`), the codes on stderr and a failing exit code when refused.
fn user(data_dir: &std::path::Path, settings: &Settings, command: UserCommand) -> Result<ExitCode> {
    let (admin, op, done) = match command {
        UserCommand::Add(args) => {
            let password = commands::read_password(args.password_stdin)?;
            let role = if args.super_user { " (super-user)" } else { "" };
            let op = Operation::UserAdd(UserAdd {
                username: args.name.clone(),
                password,
                is_super_user: args.super_user,
            });
            (
                args.admin,
                op,
                Done::Line(format!("added user {}{role}", args.name)),
            )
        }
        UserCommand::List(args) => {
            let done = if args.json { Done::Json } else { Done::Table };
            (args.admin, Operation::UserList(UserList {}), done)
        }
        UserCommand::Lock(args) => named(
            args,
            Operation::UserLock,
            "locked user {}; their sessions ended",
        ),
        UserCommand::Unlock(args) => named(args, Operation::UserUnlock, "unlocked user {}"),
        UserCommand::Delete(args) => named(
            args,
            Operation::UserDelete,
            "deleted user {}; their sessions ended",
        ),
        UserCommand::Passwd(args) => {
            let password = commands::read_password(args.password_stdin)?;
            let op = Operation::UserPasswd(UserPasswd {
                username: args.name.clone(),
                password,
            });
            let line = format!(
                "changed the password of {}; their sessions ended",
                args.name
            );
            (args.admin, op, Done::Line(line))
        }
    };
    let answer = commands::admin(data_dir, settings, admin.module.as_deref(), &op)?;
    if !answer.ok() {
        eprintln!("error: {}", refusal(&answer));
        return Ok(ExitCode::FAILURE);
    }
    match done {
        Done::Line(line) => println!("{line}"),
        Done::Json => println!("{}", answer.body),
        Done::Table => print!("{}", user_table(&answer.body)),
    }
    Ok(ExitCode::SUCCESS)
}

/// What to print when a user command succeeds.
enum Done {
    Line(String),
    Table,
    Json,
}

/// A command on one named user.
fn named(
    args: sessattr_host::cli::UserNameArgs,
    op: fn(UserName) -> Operation,
    line: &str,
) -> (sessattr_host::cli::AdminArgs, Operation, Done) {
    let done = Done::Line(line.replace("{}", &args.name));
    let op = op(UserName {
        username: args.name,
    });
    (args.admin, op, done)
}

/// `E001002 user name already exists` and the like.
fn refusal(answer: &AdminAnswer) -> String {
    let codes = answer.codes();
    let message = answer
        .body
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or("refused");
    if codes.is_empty() {
        format!("{message} (HTTP {})", answer.status)
    } else {
        format!("{}: {message}", codes.join(", "))
    }
}

/// The users as an aligned table.
fn user_table(body: &Value) -> String {
    let users = body
        .get("users")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let text = |user: &Value, key: &str| {
        user.get(key)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    let yes_no = |user: &Value, key: &str| {
        if user.get(key).and_then(Value::as_bool).unwrap_or(false) {
            String::from("yes")
        } else {
            String::from("no")
        }
    };
    let mut rows = vec![[
        String::from("USERNAME"),
        String::from("SUPER-USER"),
        String::from("LOCKED"),
        String::from("CREATED (UTC)"),
        String::from("USER ID"),
    ]];
    for user in &users {
        rows.push([
            text(user, "username"),
            yes_no(user, "is_super_user"),
            yes_no(user, "is_locked"),
            text(user, "creation_time"),
            text(user, "user_id"),
        ]);
    }
    let widths: Vec<usize> = (0..5)
        .map(|col| {
            rows.iter()
                .map(|r| r[col].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in &rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out.push_str(&format!("{} user(s)\n", users.len()));
    out
}

/// Keeps the error on one line.
fn one_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}
