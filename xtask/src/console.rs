//! The web console's static folder, `www/dist/`: the sources of `www/src/`
//! and, under `vendor/sessattr/`, the npm package's browser build (its
//! `src/` and the module), laid out as in the package so that
//! `src/browser.js` finds `../dist/node/sessattr_wasm_bg.wasm` where it
//! looks. The host embeds this folder (`host/build.rs`) and serves it at
//! `/console/`; any static web server can serve it as it is.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::build::{NODE_OUT_DIR, PKG_DIR};
use crate::tools::root;

/// The console's sources, relative to the root.
const SOURCES: &str = "www/src";
/// The built static folder, relative to the root.
pub const DIST: &str = "www/dist";
/// Where the package's browser build goes inside [`DIST`].
const VENDOR: &str = "vendor/sessattr";
/// The package's entry files for other runtimes, left out of [`VENDOR`].
const NOT_FOR_BROWSERS: [&str; 3] = ["node.js", "workerd.js", "portable.js"];
/// The module file, in [`NODE_OUT_DIR`].
const MODULE: &str = "sessattr_wasm_bg.wasm";

/// Writes `www/dist/` from `www/src/`, `pkg/src/` and the module (which
/// `cargo xtask build` has just made), touching only files that changed
/// so that an unchanged console does not rebuild the host.
pub fn build_console() -> Result<()> {
    let root = root();
    let mut files = Vec::new();
    list_files(&root.join(SOURCES), Path::new(""), &mut files)?;
    let pkg = root.join(PKG_DIR);
    let mut vendored = Vec::new();
    list_files(&pkg.join("src"), Path::new("src"), &mut vendored)?;
    // The entries of other runtimes, which a browser never loads.
    vendored.retain(|(_, rel)| !NOT_FOR_BROWSERS.iter().any(|name| rel.ends_with(name)));
    vendored.push((
        root.join(NODE_OUT_DIR).join(MODULE),
        Path::new("dist/node").join(MODULE),
    ));
    files.extend(
        vendored
            .into_iter()
            .map(|(from, rel)| (from, Path::new(VENDOR).join(rel))),
    );
    sync_tree(&files, &root.join(DIST))
}

/// Every file under `dir` (recursively, sorted, symbolic links followed,
/// names starting with `.` left out) as (path, path relative to `dir`
/// under `rel`).
pub fn list_files(dir: &Path, rel: &Path, out: &mut Vec<(PathBuf, PathBuf)>) -> Result<()> {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .collect::<Result<_, _>>()?;
    entries.sort_by_key(fs::DirEntry::file_name);
    for entry in entries {
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let (path, rel) = (entry.path(), rel.join(entry.file_name()));
        if fs::metadata(&path)?.is_dir() {
            list_files(&path, &rel, out)?;
        } else {
            out.push((path, rel));
        }
    }
    Ok(())
}

/// Makes the folder `to` hold exactly `files` ((source, relative path)
/// pairs): writes the files whose bytes differ, removes every other file
/// and the folders left empty.
pub fn sync_tree(files: &[(PathBuf, PathBuf)], to: &Path) -> Result<()> {
    for (from, rel) in files {
        let bytes = fs::read(from).with_context(|| format!("reading {}", from.display()))?;
        let dest = to.join(rel);
        if fs::read(&dest).ok().as_deref() != Some(bytes.as_slice()) {
            if let Some(parent) = dest.parent() {
                fs::create_dir_all(parent)
                    .with_context(|| format!("creating {}", parent.display()))?;
            }
            fs::write(&dest, &bytes).with_context(|| format!("writing {}", dest.display()))?;
        }
    }
    let wanted: Vec<PathBuf> = files.iter().map(|(_, rel)| to.join(rel)).collect();
    remove_unwanted(to, &wanted)?;
    Ok(())
}

/// Removes every file under `dir` not in `wanted`, and folders left empty;
/// whether `dir` is empty afterwards.
fn remove_unwanted(dir: &Path, wanted: &[PathBuf]) -> Result<bool> {
    let mut empty = true;
    for entry in fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            if remove_unwanted(&path, wanted)? {
                fs::remove_dir(&path).with_context(|| format!("removing {}", path.display()))?;
            } else {
                empty = false;
            }
        } else if wanted.contains(&path) {
            empty = false;
        } else {
            fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
        }
    }
    Ok(empty)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::target_dir;

    #[test]
    fn sync_tree_writes_only_what_changed_and_removes_stale_files_and_folders() -> Result<()> {
        let base = target_dir().join("xtask").join("test-sync-tree");
        let (from, to) = (base.join("from"), base.join("to"));
        let _ = fs::remove_dir_all(&base);
        fs::create_dir_all(from.join("js"))?;
        fs::create_dir_all(to.join("old/deeper"))?;
        fs::create_dir_all(to.join("js"))?;
        fs::write(from.join("index.html"), "new")?;
        fs::write(from.join("js/app.js"), "same")?;
        fs::write(to.join("js/app.js"), "same")?;
        fs::write(to.join("old/deeper/stale.js"), "stale")?;
        fs::write(to.join("stale.css"), "stale")?;
        let before = fs::metadata(to.join("js/app.js"))?.modified()?;
        let files = vec![
            (from.join("index.html"), PathBuf::from("index.html")),
            (from.join("js/app.js"), PathBuf::from("js/app.js")),
        ];

        sync_tree(&files, &to)?;

        assert_eq!(fs::read_to_string(to.join("index.html"))?, "new");
        assert_eq!(fs::metadata(to.join("js/app.js"))?.modified()?, before);
        assert!(!to.join("stale.css").exists());
        assert!(!to.join("old").exists(), "emptied folders are removed");
        fs::remove_dir_all(&base)?;
        Ok(())
    }
}
