//! The external tools xtask drives (cargo, rustup, node, redis) and the paths it uses.

use std::ffi::OsString;
use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

/// The one target the module is built for.
pub const WASM_TARGET: &str = "wasm32-unknown-unknown";

/// The oldest Node.js major version the Node tests run on (the module needs
/// `globalThis.crypto.getRandomValues`; `node --test` with ESM).
const NODE_MIN_MAJOR: u32 = 20;

/// Prints a progress line on stderr.
pub fn progress(message: &str) {
    eprintln!("xtask: {message}");
}

/// The workspace root (the parent of this crate's folder).
pub fn root() -> PathBuf {
    let xtask_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    xtask_dir.parent().unwrap_or(xtask_dir).to_path_buf()
}

/// Cargo's target directory: `$CARGO_TARGET_DIR` (relative to the root) or
/// `target/` under the root.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => root().join(dir),
        None => root().join("target"),
    }
}

/// A `cargo` command run from the workspace root: the cargo that runs this
/// xtask (`$CARGO`) when there is one, so the toolchain stays the same.
pub fn cargo() -> Command {
    let program = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let mut command = Command::new(program);
    command.current_dir(root());
    command
}

/// A `rustup` command acting on the toolchain in use (`$RUSTUP_TOOLCHAIN`,
/// which rustup sets for everything it starts, else `rust-toolchain.toml`).
fn rustup(args: &[&str]) -> Command {
    let mut command = Command::new("rustup");
    command.current_dir(root()).args(args);
    if let Some(toolchain) = std::env::var_os("RUSTUP_TOOLCHAIN") {
        command.arg("--toolchain").arg(toolchain);
    }
    command
}

/// Runs `command` with inherited stdio; fails unless it exits with 0.
pub fn run(command: &mut Command) -> Result<()> {
    let status = command
        .status()
        .with_context(|| format!("could not start `{}`", show(command)))?;
    if !status.success() {
        bail!("`{}` failed ({status})", show(command));
    }
    Ok(())
}

/// Runs `command` and returns its stdout; `None` when the program does not exist.
fn output(command: &mut Command) -> Result<Option<String>> {
    let out = match command.output() {
        Ok(out) => out,
        Err(err) if err.kind() == ErrorKind::NotFound => return Ok(None),
        Err(err) => {
            return Err(err).with_context(|| format!("could not start `{}`", show(command)));
        }
    };
    if !out.status.success() {
        bail!(
            "`{}` failed ({}): {}",
            show(command),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(Some(String::from_utf8_lossy(&out.stdout).into_owned()))
}

/// The command line, for messages.
fn show(command: &Command) -> String {
    let mut line = command.get_program().to_string_lossy().into_owned();
    for arg in command.get_args() {
        line.push(' ');
        line.push_str(&arg.to_string_lossy());
    }
    line
}

/// Makes sure the toolchain can build for [`WASM_TARGET`], installing the
/// target with rustup if needed (automatic installation may be off).
pub fn ensure_wasm_target() -> Result<()> {
    match output(&mut rustup(&["target", "list", "--installed"]))? {
        Some(list) if list.lines().any(|line| line.trim() == WASM_TARGET) => Ok(()),
        Some(_) => {
            progress(&format!("installing the {WASM_TARGET} target with rustup…"));
            run(&mut rustup(&["target", "add", WASM_TARGET]))
        }
        None => {
            // No rustup: the toolchain came some other way; look in its sysroot.
            let sysroot = output(Command::new("rustc").args(["--print", "sysroot"]))?
                .context("neither rustup nor rustc was found on PATH")?;
            let lib = Path::new(sysroot.trim())
                .join("lib/rustlib")
                .join(WASM_TARGET);
            if !lib.is_dir() {
                bail!(
                    "the {WASM_TARGET} target is not installed ({} is missing) and rustup \
                     is not on PATH to install it",
                    lib.display()
                );
            }
            Ok(())
        }
    }
}

/// Makes sure rustup components (e.g. `rustfmt`, `clippy`) are installed.
/// Without rustup this does nothing: cargo then reports what is missing.
pub fn ensure_components(components: &[&str]) -> Result<()> {
    let Some(list) = output(&mut rustup(&["component", "list", "--installed"]))? else {
        return Ok(());
    };
    // Lines look like `clippy-x86_64-unknown-linux-gnu` or `rustfmt`.
    let installed = |name: &str| {
        list.lines()
            .any(|line| line == name || line.starts_with(&format!("{name}-")))
    };
    let missing: Vec<&str> = components
        .iter()
        .copied()
        .filter(|c| !installed(c))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    progress(&format!(
        "installing rustup components {}…",
        missing.join(", ")
    ));
    let mut args = vec!["component", "add"];
    args.extend(&missing);
    run(&mut rustup(&args))
}

/// Runs `npm ci` in `dir` unless its `node_modules/` was installed from the
/// current `package-lock.json` (npm's own record of it is newer).
pub fn npm_ci(dir: &Path) -> Result<()> {
    let modified = |path: PathBuf| fs::metadata(path).and_then(|m| m.modified()).ok();
    let lock = modified(dir.join("package-lock.json"))
        .with_context(|| format!("{} has no package-lock.json", dir.display()))?;
    let installed = modified(dir.join("node_modules/.package-lock.json"));
    if installed.is_some_and(|installed| installed >= lock) {
        return Ok(());
    }
    progress(&format!("installing npm packages in {}…", dir.display()));
    run(Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(dir))
}

/// Checks that `node` (and so `npm`) is on PATH, at least version 20.
pub fn check_node() -> Result<()> {
    let hint =
        format!("the build and the Node tests need Node.js {NODE_MIN_MAJOR} or newer on PATH");
    let Some(version) = output(Command::new("node").arg("--version"))? else {
        bail!("{hint}, but `node` was not found (Debian: `apt-get install nodejs`)");
    };
    let version = version.trim();
    match node_major(version) {
        Some(major) if major >= NODE_MIN_MAJOR => Ok(()),
        _ => bail!("{hint}, but `node --version` says {version}"),
    }
}

/// Installs Debian's `redis-server` (redis-server and redis-cli) when
/// missing: the Redis tests start real servers.
pub fn ensure_redis() -> Result<()> {
    let installed = ensure_debian_package(
        "redis-server",
        &["redis-server", "redis-cli"],
        "the Redis tests",
    )?;
    if installed {
        // Where the package started its service anyway, stop it (errors
        // do not matter): the tests never use port 6379.
        let _ = as_root(&["service", "redis-server", "stop"])?
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
    Ok(())
}

/// Installs Debian's `openssl` command when missing: the Redis TLS test
/// makes its certificates with it.
pub fn ensure_openssl() -> Result<()> {
    ensure_debian_package("openssl", &["openssl"], "the Redis TLS test").map(|_| ())
}

/// Installs Debian's `chromium` when missing: the web console's browser
/// tests drive it with playwright-core (which downloads no browser of its own).
pub fn ensure_chromium() -> Result<()> {
    ensure_debian_package("chromium", &["chromium"], "the web console's browser tests").map(|_| ())
}

/// Installs Debian's `wrk` when missing: the load runs use it.
pub fn ensure_wrk() -> Result<()> {
    ensure_debian_package("wrk", &["wrk"], "the load benchmarks").map(|_| ())
}

/// Installs Debian `package` with apt-get unless every one of `programs`
/// is on PATH; `needed_by` says who needs it, in errors. Answers whether
/// it installed the package.
fn ensure_debian_package(package: &str, programs: &[&str], needed_by: &str) -> Result<bool> {
    // Found on PATH is enough (`wrk` has no option that exits 0).
    let found = |program: &&str| {
        Command::new(program)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok()
    };
    if programs.iter().all(found) {
        return Ok(false);
    }
    progress(&format!(
        "installing Debian's {package} package with apt-get…"
    ));
    // Checked up front, so that a refusal names the install, not the update.
    let install = ["apt-get", "install", "-y", package];
    as_root(&install)?;
    run(&mut as_root(&["apt-get", "update"])?)
        .and_then(|()| run(&mut as_root(&install)?))
        .with_context(|| format!("could not install Debian's {package}, which {needed_by} need"))?;
    if !programs.iter().all(found) {
        bail!(
            "{} still missing after installing Debian's {package}",
            programs.join(" or ")
        );
    }
    Ok(true)
}

/// `args` as a command run as root: directly when root, else with sudo;
/// with `DEBIAN_FRONTEND=noninteractive` and `RUNLEVEL=1` (invoke-rc.d then
/// starts no service, without systemd).
fn as_root(args: &[&str]) -> Result<Command> {
    let root = output(Command::new("id").arg("-u"))?.is_some_and(|uid| uid.trim() == "0");
    let sudo = !root && output(Command::new("sudo").arg("--version"))?.is_some();
    if !root && !sudo {
        bail!(
            "this needs root or sudo, which are not available; as root, run `{}`",
            args.join(" ")
        );
    }
    let mut command = Command::new(if sudo { "sudo" } else { "env" });
    if sudo {
        command.arg("env");
    }
    command
        .args(["DEBIAN_FRONTEND=noninteractive", "RUNLEVEL=1"])
        .args(args);
    Ok(command)
}

/// The major version in `node --version` output such as `v20.20.2`.
fn node_major(version: &str) -> Option<u32> {
    version.strip_prefix('v')?.split('.').next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_node_major_versions() {
        assert_eq!(node_major("v20.20.2"), Some(20));
        assert_eq!(node_major("v18.19.0"), Some(18));
        assert_eq!(node_major("20.1.0"), None);
        assert_eq!(node_major("vx"), None);
    }

    #[test]
    fn root_holds_the_workspace_manifest() {
        assert!(root().join("Cargo.toml").is_file());
        assert!(root().join("xtask").is_dir());
    }
}
