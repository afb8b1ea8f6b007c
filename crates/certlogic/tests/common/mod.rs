//! Finding and reading the external test data (see shared/testdata/README.md).

#![allow(dead_code)] // each test binary uses a different part

use std::path::{Path, PathBuf};

use serde_json::Value;

/// The folder `sub` of the test data: `$HEALTHCODE_TESTDATA/sub`, by default
/// `shared/testdata/sub` beside the repository. `None` (the test skips) when it is missing,
/// unless `CI` is set: there missing data is a failure, not a skip.
pub fn testdata(sub: &str) -> Option<PathBuf> {
    let root = std::env::var_os("HEALTHCODE_TESTDATA").map_or_else(
        || {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../../shared/testdata"
            ))
        },
        PathBuf::from,
    );
    let dir = root.join(sub);
    if dir.is_dir() {
        return Some(dir);
    }
    let message = format!(
        "test data folder {} is missing (set HEALTHCODE_TESTDATA to the shared/testdata folder)",
        dir.display()
    );
    if std::env::var_os("CI").is_some() {
        panic!("{message}");
    }
    eprintln!("SKIPPED: {message}");
    None
}

pub fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// The entries of `dir` that `keep` accepts, sorted by name.
pub fn entries(dir: &Path, keep: impl Fn(&Path) -> bool) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| keep(path))
        .collect();
    paths.sort();
    paths
}

/// The `.json` files directly in `dir`, sorted by name.
pub fn json_files(dir: &Path) -> Vec<PathBuf> {
    entries(dir, |path| {
        path.is_file() && path.extension().is_some_and(|ext| ext == "json")
    })
}

pub fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default()
}
