//! TEST ONLY: the module misbehaving on request, so that the host's guest
//! limits (time, memory) are tested against the real module. Compiled only
//! with the cargo feature `hostile-test`, which no shipped build enables:
//! `cargo xtask build` makes `target/test-modules/hostile.wasm` from it for
//! `host/tests/guest_limits.rs`.
//!
//! A step of an HTTP request to
//! * [`LOOP_PATH`] never returns: it spins until the host interrupts it;
//! * [`GROW_PATH`] allocates (and writes) 1 MiB after 1 MiB without end,
//!   until an allocation fails, which aborts (a trap);
//! * [`GROW_PATH`]`?mib=N` allocates and writes N MiB, frees them, and then
//!   goes on like the real module (which answers `404` for the path), so a
//!   test can tell a limit that is in force from one that is not.
//!
//! Every other step is the real module's. An instance that was stopped in
//! the middle of one of these answers every later step with `rejected`, so
//! a host that reused it instead of dropping it is caught.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};

/// The path whose step never returns.
pub const LOOP_PATH: &str = "/_sessattr/test/loop";
/// The path whose step allocates without end (or `?mib=N` MiB).
pub const GROW_PATH: &str = "/_sessattr/test/grow";
/// What a reused instance answers.
pub const REUSED: &[u8] =
    br#"{"rejected":"hostile-test: an instance stopped in the middle of a step was used again"}"#;

/// Set while a misbehaving step runs: still set at the next step means the
/// host reused an instance it had stopped.
static MISBEHAVING: AtomicBool = AtomicBool::new(false);

/// What the step answers instead of the real module, if anything; may
/// never return.
pub fn before_step(input: &[u8]) -> Option<Vec<u8>> {
    if MISBEHAVING.load(Ordering::Relaxed) {
        return Some(REUSED.to_vec());
    }
    let (path, query) = http_target(input)?;
    match path.as_str() {
        LOOP_PATH => {
            MISBEHAVING.store(true, Ordering::Relaxed);
            spin()
        }
        GROW_PATH => {
            MISBEHAVING.store(true, Ordering::Relaxed);
            match mib(&query) {
                Some(mib) => {
                    grow_by(mib);
                    MISBEHAVING.store(false, Ordering::Relaxed);
                    None
                }
                None => grow_without_end(),
            }
        }
        _ => None,
    }
}

/// The path and query of the step's HTTP request, when it is one.
fn http_target(input: &[u8]) -> Option<(String, String)> {
    let input: serde_json::Value = serde_json::from_slice(input).ok()?;
    let http = input.get("op")?.get("http")?;
    let path = http.get("path")?.as_str()?.to_owned();
    let query = http.get("query").and_then(|q| q.as_str()).unwrap_or("");
    Some((path, query.to_owned()))
}

/// `N` of a `mib=N` query parameter.
fn mib(query: &str) -> Option<usize> {
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix("mib="))
        .and_then(|n| n.parse().ok())
}

/// Runs until the host interrupts it.
fn spin() -> ! {
    let mut turns = 0u64;
    loop {
        turns = black_box(turns.wrapping_add(1));
    }
}

/// One MiB, every byte written (so that the memory is really used).
fn one_mib() -> Vec<u8> {
    black_box(vec![0xA5; 1 << 20])
}

/// Allocates and writes `mib` MiB, then frees them.
fn grow_by(mib: usize) {
    let held: Vec<Vec<u8>> = (0..mib).map(|_| one_mib()).collect();
    drop(black_box(held));
}

/// Allocates until an allocation fails (which aborts).
fn grow_without_end() -> ! {
    let mut held = Vec::new();
    loop {
        held.push(one_mib());
        black_box(&held);
    }
}
