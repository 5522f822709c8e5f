//! Every seed and every saved crash of the fuzz targets (docs/fuzzing.md),
//! run through the very checks the targets run (`fuzz/src/checks.rs`,
//! included by path), on the stable toolchain: a crash fuzzing found once
//! stays fixed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../fuzz/src/checks.rs"]
#[allow(dead_code)]
mod checks;

use std::fs;
use std::path::{Path, PathBuf};

/// The fuzz crate's folder.
fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

/// The files of `dir` (none when it does not exist), sorted.
fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    files
}

/// Runs target `target` on every file of `fuzz/<folder>/<target>/`;
/// answers how many there were.
fn replay(folder: &str, target: &str) -> usize {
    let found = files(&fuzz_dir().join(folder).join(target));
    for path in &found {
        let data = fs::read(path).expect("readable");
        eprintln!("{target}: {}", path.display());
        assert!(checks::run(target, &data), "unknown target {target}");
    }
    found.len()
}

#[test]
fn every_seed_passes_its_target() {
    for target in checks::TARGETS {
        let count = replay("seeds", target);
        assert!(count > 0, "no seeds for {target} in fuzz/seeds/{target}/");
    }
}

#[test]
fn every_saved_crash_passes_its_target() {
    for target in checks::TARGETS {
        replay("regressions", target);
    }
}

#[test]
fn the_targets_are_the_fuzz_crates_bins_and_only_they_have_folders() {
    let manifest = fs::read_to_string(fuzz_dir().join("Cargo.toml")).expect("fuzz/Cargo.toml");
    for target in checks::TARGETS {
        assert!(
            manifest.contains(&format!("name = \"{target}\"")),
            "{target} is not a bin of fuzz/Cargo.toml"
        );
    }
    for folder in ["seeds", "regressions"] {
        for entry in fs::read_dir(fuzz_dir().join(folder)).into_iter().flatten() {
            let name = entry.expect("entry").file_name();
            let name = name.to_string_lossy();
            assert!(
                checks::TARGETS.contains(&name.as_ref())
                    || name.starts_with('.')
                    || name == "README.md",
                "fuzz/{folder}/{name} is not a target's folder"
            );
        }
    }
    assert!(!checks::run("no_such_target", b""));
}

#[test]
fn empty_and_tiny_inputs_pass_every_target() {
    for target in checks::TARGETS {
        for data in [&b""[..], b"\0", b"\n\n\n\n", b"{}", b"\xff"] {
            assert!(checks::run(target, data));
        }
    }
}
