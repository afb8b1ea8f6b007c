//! Where screenshots go: `<target>/e2e/`, beside the build, so CI can keep them.

use std::path::{Path, PathBuf};

use anyhow::{Result, ensure};

/// The folder screenshots are saved in: `e2e` inside cargo's target directory, which is
/// `CARGO_TARGET_DIR` when set (relative to the workspace root), else the directory cargo
/// marked with `CACHEDIR.TAG` above the running test binary, else the workspace's `target`.
pub fn screenshot_dir() -> PathBuf {
    target_dir().join("e2e")
}

/// The file for a screenshot named `name` (letters, digits, `-`, `_`, `.`, and `/` between
/// non-empty parts that are not `.` or `..`).
pub(crate) fn path(name: &str) -> Result<PathBuf> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/');
    ensure!(
        name.chars().all(allowed)
            && name
                .split('/')
                .all(|part| !part.is_empty() && part != "." && part != ".."),
        "a screenshot name is a relative path of letters, digits, '-', '_' and '.': {name:?}"
    );
    Ok(screenshot_dir().join(format!("{name}.png")))
}

fn target_dir() -> PathBuf {
    // crates/e2e → the workspace root.
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .unwrap_or(Path::new("."))
        .to_path_buf();
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return workspace.join(dir);
    }
    if let Ok(exe) = std::env::current_exe()
        && let Some(dir) = exe
            .ancestors()
            .skip(1)
            .find(|dir| dir.join("CACHEDIR.TAG").is_file())
    {
        return dir.to_path_buf();
    }
    workspace.join("target")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_stay_inside_the_folder() {
        assert!(
            path("passkey/created")
                .unwrap()
                .ends_with("e2e/passkey/created.png")
        );
        assert!(path("narrow-320").is_ok());
        for bad in ["", "/etc/passwd", "../x", "a//b", "a/./b", "a b", "x/"] {
            assert!(path(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
