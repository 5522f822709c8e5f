//! `cargo xtask fuzz [--seconds N] [TARGET…]`: the cargo-fuzz targets of
//! `fuzz/` (docs/fuzzing.md), each run for N seconds with the nightly
//! toolchain.
//!
//! libFuzzer writes what it learns into its corpus folder, so every target
//! runs on `fuzz/corpus/TARGET/` (git-ignored), into which the committed
//! seeds of `fuzz/seeds/TARGET/` are copied first; the committed
//! `fuzz/regressions/TARGET/` is read too, never written. A crash is saved
//! in `fuzz/artifacts/TARGET/` (git-ignored) and fails the command, which
//! says where it is and how to make it a regression test.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Instant, SystemTime};

use anyhow::{Context, Result, bail};

use crate::tools::{self, progress, root, run};

/// The fuzz targets (the bins of `fuzz/Cargo.toml`), in the order they run.
pub const TARGETS: [&str; 5] = [
    "request_parser",
    "envelope_decoder",
    "record_decoder",
    "abi_step",
    "abi_step_structured",
];

/// Seconds per target in `cargo xtask test`, and when `--seconds` is not given.
pub const CI_SECONDS: u64 = 30;

/// The toolchain cargo-fuzz needs (`-Z` flags, sanitizer coverage).
const NIGHTLY: &str = "nightly";

/// The cargo-fuzz release installed when it is missing (builds on the
/// stable toolchain in about a minute).
const CARGO_FUZZ_VERSION: &str = "0.13.2";

/// Most seconds one input may take before libFuzzer calls it a hang (the
/// dearest step, an argon2 hash at the largest costs accepted, takes ~3 s).
const INPUT_TIMEOUT_SECS: u64 = 10;

/// What `cargo xtask fuzz` was asked for.
#[derive(Debug, PartialEq, Eq)]
pub struct Options {
    /// Seconds each target runs.
    pub seconds: u64,
    /// The targets to run (all when none was named).
    pub targets: Vec<String>,
}

/// Parses the arguments after `fuzz`: `--seconds N` (or `--seconds=N`)
/// and target names.
pub fn parse(args: &[String]) -> Result<Options> {
    let mut seconds = None;
    let mut targets = Vec::new();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let value = if arg == "--seconds" {
            Some(args.next().context("--seconds needs a number")?.as_str())
        } else {
            arg.strip_prefix("--seconds=")
        };
        if let Some(value) = value {
            let n: u64 = value.parse().ok().filter(|&n| n > 0).with_context(|| {
                format!("--seconds takes a whole number above 0, not `{value}`")
            })?;
            seconds = Some(n);
        } else if arg.starts_with('-') {
            bail!("unknown option `{arg}` of `cargo xtask fuzz`");
        } else if TARGETS.contains(&arg.as_str()) {
            if !targets.contains(arg) {
                targets.push(arg.clone());
            }
        } else {
            bail!(
                "unknown fuzz target `{arg}` (the targets: {})",
                TARGETS.join(", ")
            );
        }
    }
    if targets.is_empty() {
        targets = TARGETS.iter().map(|t| t.to_string()).collect();
    }
    Ok(Options {
        seconds: seconds.unwrap_or(CI_SECONDS),
        targets,
    })
}

/// The step of `cargo xtask test`: every target for [`CI_SECONDS`].
pub fn ci() -> Result<()> {
    fuzz(&Options {
        seconds: CI_SECONDS,
        targets: TARGETS.iter().map(|t| t.to_string()).collect(),
    })
}

/// Installs what is missing, builds the targets, runs each for the time
/// asked; fails when any target crashed, naming every crashing input.
pub fn fuzz(options: &Options) -> Result<()> {
    check_nightly()?;
    ensure_cargo_fuzz()?;
    let started = Instant::now();
    progress("building the fuzz targets (nightly, release with debug assertions)…");
    run(&mut cargo_fuzz(&["build", "--sanitizer", "none"]))?;
    progress(&format!(
        "fuzz targets built in {:.0}s",
        started.elapsed().as_secs_f64()
    ));
    let mut crashes = Vec::new();
    for target in &options.targets {
        let outcome = run_target(target, options.seconds)?;
        progress(&format!("fuzz {target}: {}", outcome.summary));
        if let Some(found) = outcome.crash {
            crashes.push(found);
        }
    }
    if !crashes.is_empty() {
        let list: Vec<String> = crashes.iter().map(|c| format!("  {c}")).collect();
        bail!(
            "fuzzing found {} crash(es); the inputs are saved at\n{}\n\
             Replay one with `cd fuzz && cargo +nightly fuzz run --sanitizer none TARGET FILE`; \
             once fixed, copy it to fuzz/regressions/TARGET/ (a name that says what it \
             was) so that `cargo test -p sessattr-core --test fuzz_regressions` keeps \
             checking it (docs/fuzzing.md).",
            crashes.len(),
            list.join("\n")
        );
    }
    Ok(())
}

/// How one target's run went.
struct Outcome {
    /// One line: runs, executions per second, corpus size.
    summary: String,
    /// Where the crashing input was saved, and why it crashed.
    crash: Option<String>,
}

/// Runs `target` for `seconds` on its corpus (seeds copied in first).
fn run_target(target: &str, seconds: u64) -> Result<Outcome> {
    let dir = fuzz_dir();
    let corpus = dir.join("corpus").join(target);
    fs::create_dir_all(&corpus).with_context(|| format!("creating {}", corpus.display()))?;
    let seeds = dir.join("seeds").join(target);
    for seed in files(&seeds)? {
        let name = seed.file_name().context("a seed file has a name")?;
        fs::copy(&seed, corpus.join(name))
            .with_context(|| format!("copying {} into the corpus", seed.display()))?;
    }
    let artifacts = dir.join("artifacts").join(target);
    let started = SystemTime::now();
    progress(&format!("fuzz {target} for {seconds}s…"));
    let mut command = cargo_fuzz(&["run", "--sanitizer", "none", target]);
    command.arg(&corpus);
    let regressions = dir.join("regressions").join(target);
    if regressions.is_dir() {
        command.arg(&regressions);
    }
    command.args([
        "--".to_string(),
        format!("-max_total_time={seconds}"),
        format!("-timeout={INPUT_TIMEOUT_SECS}"),
        "-print_final_stats=1".to_string(),
    ]);
    let output = command
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("could not start cargo fuzz run {target}"))?;
    let log = String::from_utf8_lossy(&output.stderr);
    let summary = summary(&log, files(&corpus)?.len());
    if output.status.success() {
        return Ok(Outcome {
            summary,
            crash: None,
        });
    }
    // What went wrong: the panic message (or libFuzzer's own word for a
    // hang or out-of-memory), and the file libFuzzer saved.
    let lines: Vec<&str> = log.lines().collect();
    let tail = &lines[lines.len().saturating_sub(40)..];
    eprintln!("{}", tail.join("\n"));
    let why = lines
        .iter()
        .position(|line| line.contains("panicked at"))
        .and_then(|at| lines.get(at + 1))
        .or_else(|| lines.iter().find(|l| l.contains("ERROR: libFuzzer")))
        .map(|line| line.trim().to_string())
        .unwrap_or_else(|| format!("cargo fuzz exited with {}", output.status));
    let saved = newest_since(&artifacts, started)?
        .map(|path| path.display().to_string())
        .unwrap_or_else(|| format!("(no new file in {})", artifacts.display()));
    Ok(Outcome {
        summary: format!("CRASHED: {why}"),
        crash: Some(format!("{target}: {saved}\n    {why}")),
    })
}

/// `N runs, M exec/s, K corpus files` from libFuzzer's final stats.
fn summary(log: &str, corpus_files: usize) -> String {
    let stat = |name: &str| {
        log.lines()
            .filter_map(|line| line.strip_prefix(&format!("stat::{name}:")))
            .map(|value| value.trim().to_string())
            .next_back()
            .unwrap_or_else(|| "?".into())
    };
    format!(
        "{} runs, {} exec/s, {corpus_files} corpus files",
        stat("number_of_executed_units"),
        stat("average_exec_per_sec")
    )
}

/// The newest file of `dir` written since `since`.
fn newest_since(dir: &Path, since: SystemTime) -> Result<Option<PathBuf>> {
    let mut newest: Option<(SystemTime, PathBuf)> = None;
    for path in files(dir)? {
        let modified = fs::metadata(&path)?.modified()?;
        if modified >= since && newest.as_ref().is_none_or(|(at, _)| modified > *at) {
            newest = Some((modified, path));
        }
    }
    Ok(newest.map(|(_, path)| path))
}

/// The files of `dir`, sorted (none when it does not exist).
fn files(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => return Err(err).with_context(|| format!("reading {}", dir.display())),
    };
    let mut files = Vec::new();
    for entry in entries {
        let path = entry?.path();
        if path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// The cargo-fuzz project.
fn fuzz_dir() -> PathBuf {
    root().join("fuzz")
}

/// `cargo +nightly fuzz ARGS` in `fuzz/`, through rustup's `cargo` proxy
/// (not `$CARGO`, which is the pinned toolchain's own cargo), with the
/// project's own target folder `fuzz/target/`.
fn cargo_fuzz(args: &[&str]) -> Command {
    let mut command = Command::new("cargo");
    command
        .arg(format!("+{NIGHTLY}"))
        .arg("fuzz")
        .args(args)
        .current_dir(fuzz_dir())
        .env_remove("RUSTUP_TOOLCHAIN")
        .env_remove("CARGO")
        .env_remove("CARGO_TARGET_DIR");
    command
}

/// Fails early, with what to do, when the nightly toolchain is missing
/// (rustup's automatic installation may be off).
pub fn check_nightly() -> Result<()> {
    let out = Command::new("rustup")
        .args(["toolchain", "list"])
        .output()
        .context("fuzzing needs rustup (for `cargo +nightly`), which was not found")?;
    let list = String::from_utf8_lossy(&out.stdout);
    if list.lines().any(|line| line.starts_with(NIGHTLY)) {
        return Ok(());
    }
    bail!(
        "fuzzing needs the {NIGHTLY} toolchain, which is not installed \
         (`rustup toolchain install {NIGHTLY}`; installed: {})",
        list.split_whitespace().collect::<Vec<_>>().join(" ")
    )
}

/// Installs cargo-fuzz ([`CARGO_FUZZ_VERSION`]) with `cargo install` when
/// `cargo +nightly fuzz` does not run.
fn ensure_cargo_fuzz() -> Result<()> {
    let found = cargo_fuzz(&["--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if found {
        return Ok(());
    }
    progress(&format!(
        "installing cargo-fuzz {CARGO_FUZZ_VERSION} with cargo install…"
    ));
    run(tools::cargo().args([
        "install",
        "cargo-fuzz",
        "--locked",
        "--version",
        CARGO_FUZZ_VERSION,
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn parses_seconds_and_targets() {
        let all: Vec<String> = args(&TARGETS);
        assert_eq!(
            parse(&args(&[])).expect("no arguments"),
            Options {
                seconds: CI_SECONDS,
                targets: all.clone()
            }
        );
        assert_eq!(
            parse(&args(&["--seconds", "5", "abi_step"])).expect("one target"),
            Options {
                seconds: 5,
                targets: args(&["abi_step"])
            }
        );
        assert_eq!(
            parse(&args(&["record_decoder", "--seconds=7", "record_decoder"]))
                .expect("= form, a target named twice"),
            Options {
                seconds: 7,
                targets: args(&["record_decoder"])
            }
        );
        for bad in [
            &["--seconds"][..],
            &["--seconds", "0"],
            &["--seconds", "x"],
            &["--minutes", "1"],
            &["no_such_target"],
        ] {
            assert!(parse(&args(bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_targets_are_the_bins_of_the_fuzz_crate() {
        let manifest = fs::read_to_string(fuzz_dir().join("Cargo.toml")).expect("fuzz/Cargo.toml");
        let bins = manifest.matches("[[bin]]").count();
        assert_eq!(bins, TARGETS.len(), "one [[bin]] per target");
        for target in TARGETS {
            assert!(
                manifest.contains(&format!("name = \"{target}\"")),
                "{target} is not a bin of fuzz/Cargo.toml"
            );
            assert!(
                !files(&fuzz_dir().join("seeds").join(target))
                    .expect("seeds")
                    .is_empty(),
                "{target} has no seeds"
            );
        }
    }

    #[test]
    fn summary_reads_libfuzzers_final_stats() {
        let log = "#1 INITED\nstat::number_of_executed_units: 1234\n\
                   stat::average_exec_per_sec:     41\nstat::new_units_added: 3\n";
        assert_eq!(summary(log, 9), "1234 runs, 41 exec/s, 9 corpus files");
        assert_eq!(summary("", 0), "? runs, ? exec/s, 0 corpus files");
    }
}
