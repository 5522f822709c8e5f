//! `cargo xtask soak [--minutes N]`: the host on redb under mixed traffic
//! for N minutes (`host/benches/soak.rs`); fails on any error answer or a
//! growing RSS, and writes its table into docs/BENCHMARKS.md. Not part of
//! `cargo xtask test`, whose benchmarks' short pass runs it for 10 s.

use anyhow::{Context, Result, bail};

use crate::tools::{self, cargo, progress, run};

/// Minutes when none are given.
const DEFAULT_MINUTES: u64 = 10;
/// Fewest minutes: the memory check compares the peak RSS of rounds 3 and
/// later with round 2's (round 1 warms up), so it needs three rounds.
const MIN_MINUTES: u64 = 3;

/// Parses the arguments after `soak`: `--minutes N` (or `--minutes=N`).
pub fn parse(args: &[String]) -> Result<u64> {
    let mut minutes = DEFAULT_MINUTES;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let value = match arg.strip_prefix("--minutes=") {
            Some(value) => value.to_owned(),
            None if arg == "--minutes" => args
                .next()
                .context("--minutes needs a number of minutes")?
                .clone(),
            None => bail!("`cargo xtask soak` takes only --minutes N (got `{arg}`)"),
        };
        minutes = value
            .parse()
            .ok()
            .filter(|&m| m >= MIN_MINUTES)
            .with_context(|| {
                format!(
                    "--minutes must be a whole number of at least {MIN_MINUTES}: the memory check \
                     compares rounds 3 and later with round 2 (got `{value}`)"
                )
            })?;
    }
    Ok(minutes)
}

/// Builds, then runs the soak for `minutes`.
pub fn soak(minutes: u64) -> Result<()> {
    tools::ensure_wrk()?;
    crate::build::build()?;
    progress(&format!("soaking the host for {minutes} minute(s)…"));
    run(cargo()
        .args(["bench", "--locked", "--workspace", "--bench", "soak"])
        .env("SESSATTR_SOAK_MINUTES", minutes.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn minutes_are_parsed_and_checked() {
        assert_eq!(parse(&args(&[])).expect("default"), DEFAULT_MINUTES);
        assert_eq!(parse(&args(&["--minutes", "3"])).expect("3"), 3);
        assert_eq!(parse(&args(&["--minutes=45"])).expect("45"), 45);
        assert!(parse(&args(&["--minutes", "0"])).is_err());
        assert!(parse(&args(&["--minutes", "2"])).is_err());
        assert!(parse(&args(&["--minutes"])).is_err());
        assert!(parse(&args(&["--hours", "1"])).is_err());
    }
}
