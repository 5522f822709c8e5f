//! Build orchestration for sessattr: `cargo xtask build | serve | test | size | bench | fuzz`.
//!
//! `cargo xtask` is an alias (`.cargo/config.toml`) for
//! `cargo run --locked --quiet --package xtask --`. Every step is a plain
//! command (`cargo`, `rustup`, `node`) run from the workspace root, except
//! wasm-bindgen, which runs in-process through `wasm-bindgen-cli-support`
//! (pinned to the same version as the `wasm-bindgen` crate in `Cargo.lock`).

mod bench;
mod build;
mod console;
mod fuzz;
mod secrets;
mod soak;
mod test;
mod tools;

use std::process::ExitCode;

use anyhow::{Result, bail};

const USAGE: &str = "\
cargo xtask — build orchestration for sessattr

USAGE:
    cargo xtask build           build the module (wasm32-unknown-unknown, profile
                                wasm-release), its Node.js bindings in pkg/dist/node/,
                                and target/release/sessattr with every test target
    cargo xtask serve [ARGS…]   build, then run `target/release/sessattr serve ARGS…`
                                and exit with its exit code
    cargo xtask test            build, then cargo fmt --check, clippy (host and wasm
                                targets), cargo test --release, one short pass of every
                                benchmark, the Node tests in tests/node/ and the
                                browser tests in tests/browser/, 30 s of each fuzz
                                target, and the secrets scan of every log and error
                                body of the run; stops at the first failure
    cargo xtask soak [--minutes N]
                                build, then run the host on redb under mixed traffic
                                for N minutes (default 10): fails on any error answer
                                or a growing RSS; writes its table into
                                docs/BENCHMARKS.md (host/benches/soak.rs)
    cargo xtask secrets-scan    scan the evidence the last `cargo xtask test` left in
                                target/test-evidence/ again: no value, password, key
                                or UST may appear in a log or an error body
    cargo xtask size            build, then measure the module (raw, gzip, brotli, and
                                after binaryen's wasm-opt) and rewrite the table in
                                docs/BENCHMARKS.md
    cargo xtask bench [NAME…]   install redis-server, wrk and the Node benchmarks' npm
                                packages if missing, build (the host with the
                                benchmark-only feature `bench`), then run the
                                benchmarks (all, or those named: size, micro, node,
                                load, redis-cluster); each rewrites its tables in
                                docs/BENCHMARKS.md
    cargo xtask fuzz [--seconds N] [TARGET…]
                                install cargo-fuzz if missing, build the fuzz targets
                                of fuzz/ with the nightly toolchain and run each (all,
                                or those named: request_parser, envelope_decoder,
                                record_decoder, abi_step, abi_step_structured) for N
                                seconds (default 30); fails if any crashed, naming
                                the saved input (docs/fuzzing.md)
    cargo xtask help            print this text

ARGUMENTS OF serve:
    Everything after `serve` goes to `sessattr serve` unchanged; one leading `--`
    is dropped, so these two are the same:
        cargo xtask serve --listen 127.0.0.1:18000 --data-dir /tmp/sa
        cargo xtask serve -- --listen 127.0.0.1:18000 --data-dir /tmp/sa
    Defaults are the binary's own (data dir ./sessattr-data relative to the
    current directory, listen 127.0.0.1:17010); see `cargo xtask serve --help`.

ENVIRONMENT:
    CARGO              the cargo to run (set by cargo itself for `cargo xtask`)
    CARGO_TARGET_DIR   honoured when looking for build outputs
";

/// What the command line asked for.
#[derive(Debug, PartialEq, Eq)]
enum Command {
    Build,
    Serve(Vec<String>),
    Test,
    Size,
    Bench(Vec<String>),
    Fuzz(fuzz::Options),
    SecretsScan,
    Soak(u64),
    Help,
}

/// Parses the arguments after the program name.
fn parse(args: &[String]) -> Result<Command> {
    let Some((first, rest)) = args.split_first() else {
        return Ok(Command::Help);
    };
    let command = match first.as_str() {
        "build" => Command::Build,
        "test" => Command::Test,
        "size" => Command::Size,
        "secrets-scan" => Command::SecretsScan,
        "help" | "--help" | "-h" => Command::Help,
        "bench" => return Ok(Command::Bench(rest.to_vec())),
        "fuzz" => return Ok(Command::Fuzz(fuzz::parse(rest)?)),
        "soak" => return Ok(Command::Soak(soak::parse(rest)?)),
        "serve" => {
            let rest = match rest.split_first() {
                Some((dashes, tail)) if dashes == "--" => tail,
                _ => rest,
            };
            return Ok(Command::Serve(rest.to_vec()));
        }
        other => bail!("unknown command `{other}`\n\n{USAGE}"),
    };
    if let Some(extra) = rest.first() {
        bail!("`cargo xtask {first}` takes no arguments (got `{extra}`)\n\n{USAGE}");
    }
    Ok(command)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = parse(&args).and_then(|command| match command {
        Command::Build => build::build(),
        Command::Serve(args) => build::serve(&args),
        Command::Test => test::test(),
        Command::Size => build::size(),
        Command::Bench(only) => bench::bench(&only),
        Command::Fuzz(options) => fuzz::fuzz(&options),
        Command::SecretsScan => secrets::scan(),
        Command::Soak(minutes) => soak::soak(minutes),
        Command::Help => {
            print!("{USAGE}");
            Ok(())
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("xtask: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn parses_commands() {
        assert!(matches!(parse(&args(&[])), Ok(Command::Help)));
        assert!(matches!(parse(&args(&["build"])), Ok(Command::Build)));
        assert!(matches!(parse(&args(&["test"])), Ok(Command::Test)));
        assert!(matches!(parse(&args(&["size"])), Ok(Command::Size)));
        assert!(matches!(parse(&args(&["--help"])), Ok(Command::Help)));
        assert!(parse(&args(&["test", "extra"])).is_err());
        assert!(parse(&args(&["bogus"])).is_err());
        assert_eq!(
            parse(&args(&["bench"])).expect("bench"),
            Command::Bench(vec![])
        );
        assert_eq!(
            parse(&args(&["bench", "redis-cluster"])).expect("bench NAME"),
            Command::Bench(args(&["redis-cluster"]))
        );
        assert_eq!(
            parse(&args(&["fuzz", "--seconds", "5", "abi_step"])).expect("fuzz"),
            Command::Fuzz(fuzz::Options {
                seconds: 5,
                targets: args(&["abi_step"])
            })
        );
        assert!(parse(&args(&["fuzz", "bogus"])).is_err());
    }

    #[test]
    fn serve_forwards_arguments_and_drops_one_leading_double_dash() {
        let want = Command::Serve(args(&["--listen", "127.0.0.1:18000"]));
        assert_eq!(
            parse(&args(&["serve", "--listen", "127.0.0.1:18000"])).ok(),
            Some(Command::Serve(args(&["--listen", "127.0.0.1:18000"])))
        );
        assert_eq!(
            parse(&args(&["serve", "--", "--listen", "127.0.0.1:18000"])).ok(),
            Some(want)
        );
        assert_eq!(
            parse(&args(&["serve", "--", "--"])).ok(),
            Some(Command::Serve(args(&["--"])))
        );
        assert_eq!(parse(&args(&["serve"])).ok(), Some(Command::Serve(vec![])));
    }
}
