//! Replacing a file whole, for every file the binary rewrites (`trust-list.json`, the trust
//! folder, a gate's configuration, queue and sequence number): a reader, or a crash at any
//! moment, sees the old content or the new, never a mix; and once the call returns, the new
//! content and its name are on disk.
//!
//! The bytes go to a temporary file with a name of its own in the same directory (two files
//! written side by side never share one), which is synced and renamed over the target; then
//! the directory is synced, so that the rename itself survives a power cut (a gate's sequence
//! number must never come back). A failure leaves the target as it was and removes the
//! temporary file.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};

/// Who may read a file written here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// What any new file of this process gets (0666 less the umask on Unix).
    Default,
    /// The owner only (0600 on Unix): the file holds a key.
    OwnerOnly,
}

/// Replaces `path` with `bytes` (see the module header).
pub fn write_atomically(path: &Path, bytes: &[u8], access: Access) -> Result<()> {
    replace(path, bytes, access).with_context(|| format!("cannot write {}", path.display()))
}

fn replace(path: &Path, bytes: &[u8], access: Access) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut builder = tempfile::Builder::new();
    // tempfile creates owner-only files; a file for anyone gets what a new file gets.
    #[cfg(unix)]
    if access == Access::Default {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    #[cfg(not(unix))]
    let _ = access;
    let mut tmp = builder.tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    // Some file systems refuse to sync a directory; the rename has happened either way.
    #[cfg(unix)]
    if let Ok(d) = std::fs::File::open(dir) {
        d.sync_all().ok();
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn content_is_replaced_whole_and_no_temporary_file_stays() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("seq");
        write_atomically(&path, b"a much longer first content\n", Access::Default).unwrap();
        write_atomically(&path, b"2\n", Access::Default).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"2\n");
        assert_eq!(names(tmp.path()), ["seq"]);
    }

    #[test]
    fn files_side_by_side_do_not_share_a_temporary_name() {
        // The trust folder writes REGION.json and REGION.source next to each other.
        let tmp = tempfile::tempdir().unwrap();
        let json = tmp.path().join("CN-TJ.json");
        let source = tmp.path().join("CN-TJ.source");
        write_atomically(&json, b"{}", Access::Default).unwrap();
        write_atomically(&source, b"https://example.org/list", Access::Default).unwrap();
        assert_eq!(std::fs::read(&json).unwrap(), b"{}");
        assert_eq!(std::fs::read(&source).unwrap(), b"https://example.org/list");
        assert_eq!(names(tmp.path()), ["CN-TJ.json", "CN-TJ.source"]);
    }

    #[test]
    fn a_failed_write_keeps_the_old_file_and_leaves_nothing_behind() {
        let tmp = tempfile::tempdir().unwrap();
        // A directory cannot be replaced by a file.
        let path = tmp.path().join("taken");
        std::fs::create_dir(&path).unwrap();
        let err = write_atomically(&path, b"x", Access::Default).unwrap_err();
        assert!(format!("{err:#}").contains("cannot write"), "{err:#}");
        assert!(path.is_dir());
        assert_eq!(names(tmp.path()), ["taken"]);
        let missing = tmp.path().join("no-such-dir/file");
        assert!(write_atomically(&missing, b"x", Access::Default).is_err());
    }

    #[cfg(unix)]
    #[test]
    fn owner_only_files_are_0600_and_others_get_what_a_new_file_gets() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let private = tmp.path().join("config.json");
        write_atomically(&private, b"{\"key\": \"hcd_x\"}", Access::OwnerOnly).unwrap();
        assert_eq!(mode(&private), 0o600);
        // Replacing keeps it private: the mode comes with the new file, not the old one.
        write_atomically(&private, b"{}", Access::OwnerOnly).unwrap();
        assert_eq!(mode(&private), 0o600);

        let plain = tmp.path().join("trust-list.json");
        write_atomically(&plain, b"{}", Access::Default).unwrap();
        let reference = tmp.path().join("reference");
        std::fs::write(&reference, b"{}").unwrap();
        assert_eq!(mode(&plain), mode(&reference));
    }
}
