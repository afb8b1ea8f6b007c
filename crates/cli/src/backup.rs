//! `healthcode backup` and `healthcode restore`: a consistent copy of the embedded SQLite
//! database taken while the server runs, and putting such a copy back into a data directory
//! after checking that it is this project's database, undamaged, and readable with the
//! directory's keys (docs/OPERATIONS.md, "Backup and restore").
//!
//! A backup holds the database only. The key files are backed up separately (docs/SECURITY.md,
//! "Backing up keys"): a database copy with `master.key` beside it would let anyone holding the
//! one file read every personal field. A restore therefore needs the directory's `keys/` to be
//! the ones the database was made with, and checks it: the master-key check every start makes
//! (table `meta`), and the code-signing and root key ids the database pinned.
//!
//! PostgreSQL is backed up with `pg_dump` and restored with `pg_restore`; this module refuses
//! a PostgreSQL URL and names the commands.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Utc};
use sqlx::{AnyConnection, Connection, Row};

use healthcode_store::{SqlStore, Store};

use crate::setup::DataDir;

/// The embedded database's file name in a data directory.
const DATABASE_FILE: &str = "healthcode.db";

/// What to say when asked to copy a PostgreSQL database.
const POSTGRES_BACKUP: &str = "the database is PostgreSQL: back it up with \
     `pg_dump -Fc -f FILE.dump URL` and restore it with `pg_restore -d URL FILE.dump` \
     (docs/OPERATIONS.md, \"Backup and restore\")";

/// Which database a backup copies: the data directory's own file, or a `sqlite:` URL.
pub fn source_url(data_dir: &Path, database_url: Option<&str>) -> Result<String> {
    match database_url {
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            bail!("{POSTGRES_BACKUP}")
        }
        Some(url) if url.starts_with("sqlite:") => Ok(url.to_owned()),
        Some(url) => bail!("database URL must start with sqlite: or postgres://: {url}"),
        None => {
            let path = data_dir.join(DATABASE_FILE);
            if !path.is_file() {
                bail!("no database at {}", path.display());
            }
            Ok(sqlite_url(&path))
        }
    }
}

/// Restore writes the data directory's embedded database: a URL naming PostgreSQL, or another
/// SQLite file, is refused with what to do instead.
pub fn restorable(dir: &DataDir, database_url: Option<&str>) -> Result<()> {
    match database_url {
        None => Ok(()),
        Some(url) if url == dir.default_database_url() => Ok(()),
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            bail!("{POSTGRES_BACKUP}")
        }
        Some(url) => bail!(
            "restore writes {}; to restore {url}, stop the server and copy the backup file there",
            dir.path.join(DATABASE_FILE).display()
        ),
    }
}

/// Copies the database at `source` (a `sqlite:` URL) to `out`, owner-only (0600), while other
/// connections may be reading and writing it, and returns the copy's size in bytes.
///
/// `VACUUM INTO` reads the database in one read transaction, so the copy is the database as of
/// one commit, whatever the server writes meanwhile; in WAL mode it sees the committed pages
/// still in the WAL. It writes a compacted database with no WAL of its own. The copy goes to a
/// temporary owner-only file beside `out`, is synced, and is renamed into place; without
/// `force` an existing `out` is never replaced, even one created while the copy ran.
pub async fn backup(source: &str, out: &Path, force: bool) -> Result<u64> {
    if !force && out.exists() {
        bail!(
            "{} exists: choose another name, or replace it with --force",
            out.display()
        );
    }
    let dir = match out.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    // tempfile creates the file owner-only (0600); SQLite keeps the mode of a file it opens.
    let tmp = tempfile::Builder::new()
        .prefix(".healthcode-backup-")
        .tempfile_in(dir)
        .with_context(|| format!("cannot create a file in {}", dir.display()))?;
    let tmp_path = utf8(tmp.path())?.to_owned();
    sqlx::any::install_default_drivers();
    let mut conn = AnyConnection::connect(&with_mode(source, "rw"))
        .await
        .context("cannot open the database")?;
    sqlx::query("PRAGMA busy_timeout = 10000")
        .execute(&mut conn)
        .await?;
    // VACUUM INTO writes into an empty existing file; the temporary file is one.
    sqlx::query("VACUUM INTO $1")
        .bind(tmp_path)
        .execute(&mut conn)
        .await
        .context("cannot copy the database")?;
    conn.close().await.ok();
    tmp.as_file().sync_all()?;
    let size = tmp.as_file().metadata()?.len();
    let persisted = if force {
        tmp.persist(out)
    } else {
        tmp.persist_noclobber(out)
    };
    persisted.map_err(|e| {
        anyhow::Error::new(e.error).context(format!("cannot write {}", out.display()))
    })?;
    sync_dir(dir);
    Ok(size)
}

/// What `restore` did.
pub struct Restored {
    /// Where the database that was there before now is, if there was one.
    pub set_aside: Option<PathBuf>,
}

/// Puts the backup `from` in place as `dir`'s database (see the module header). Without
/// `force` a directory that already has a database is refused; with it, the old database (and
/// its WAL) is renamed aside with `now` in its name, never deleted.
pub async fn restore(
    dir: &DataDir,
    from: &Path,
    force: bool,
    now: DateTime<Utc>,
) -> Result<Restored> {
    for key in ["master.key", "code-signing.key", "root.key"] {
        let path = dir.path.join("keys").join(key);
        if !path.is_file() {
            bail!(
                "{} is missing: put back the keys/ the backup's database was made with first \
                 (docs/SECURITY.md, \"Backing up keys\"); a restore never creates keys",
                path.display()
            );
        }
    }
    let target = dir.path.join(DATABASE_FILE);
    let companions = ["-wal", "-shm"].map(|s| PathBuf::from(format!("{}{s}", target.display())));
    let occupied = std::fs::metadata(&target).is_ok_and(|m| m.len() > 0) || companions[0].exists();
    if occupied && !force {
        bail!(
            "{} already holds a database: stop the server, then restore with --force \
             (the current database is kept, renamed aside)",
            target.display()
        );
    }

    // Work on a private copy in the data directory, so the final rename stays on one file
    // system and a damaged or foreign file never takes the database's name.
    let mut tmp = tempfile::Builder::new()
        .prefix(".healthcode-restore-")
        .tempfile_in(&dir.path)
        .with_context(|| format!("cannot create a file in {}", dir.path.display()))?;
    let mut source =
        std::fs::File::open(from).with_context(|| format!("cannot read {}", from.display()))?;
    std::io::copy(&mut source, tmp.as_file_mut())
        .with_context(|| format!("cannot copy {}", from.display()))?;
    tmp.as_file_mut().flush()?;
    tmp.as_file().sync_all()?;
    let url = sqlite_url(tmp.path());
    check_database(&url)
        .await
        .with_context(|| format!("{} is not a usable healthcode backup", from.display()))?;
    check_keys(dir, &url, now).await?;
    // The checks opened the copy in WAL mode; the last connection closing folded the WAL back
    // and removed it. Anything left is removed with the copy's own name.
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", tmp.path().display()));
    }
    tmp.as_file().sync_all()?;

    if !occupied && target.exists() {
        // The empty file a data directory's first open creates holds nothing to keep.
        std::fs::remove_file(&target)
            .with_context(|| format!("cannot remove {}", target.display()))?;
    }
    let set_aside = if occupied {
        let aside = dir.path.join(format!(
            "{DATABASE_FILE}.replaced-{}",
            now.format("%Y%m%dT%H%M%SZ")
        ));
        if aside.exists() {
            bail!("{} exists: try again in a second", aside.display());
        }
        std::fs::rename(&target, &aside)
            .with_context(|| format!("cannot rename {}", target.display()))?;
        // A WAL belongs to its database: it moves with it, and never meets the restored one.
        for (companion, suffix) in companions.iter().zip(["-wal", "-shm"]) {
            if companion.exists() {
                std::fs::rename(companion, format!("{}{suffix}", aside.display()))
                    .with_context(|| format!("cannot rename {}", companion.display()))?;
            }
        }
        Some(aside)
    } else {
        None
    };
    tmp.persist_noclobber(&target).map_err(|e| {
        anyhow::Error::new(e.error).context(format!("cannot write {}", target.display()))
    })?;
    sync_dir(&dir.path);
    Ok(Restored { set_aside })
}

/// The file is a SQLite database, SQLite finds nothing wrong in it, and it is this project's:
/// it has the migrations table and the master-key check value.
async fn check_database(url: &str) -> Result<()> {
    sqlx::any::install_default_drivers();
    let mut conn = AnyConnection::connect(&with_mode(url, "rw"))
        .await
        .context("cannot open it as a SQLite database")?;
    let found: Result<()> = async {
        let rows = sqlx::query("PRAGMA integrity_check")
            .fetch_all(&mut conn)
            .await
            .context("it is not a SQLite database, or it is damaged")?;
        let problems: Vec<String> = rows
            .iter()
            .filter_map(|r| r.try_get::<String, _>(0).ok())
            .filter(|line| line != "ok")
            .take(3)
            .collect();
        if rows.is_empty() || !problems.is_empty() {
            bail!("SQLite finds it damaged: {}", problems.join("; "));
        }
        let tables: i64 = sqlx::query(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' \
             AND name IN ('_sqlx_migrations', 'meta')",
        )
        .fetch_one(&mut conn)
        .await?
        .try_get(0)?;
        if tables != 2 {
            bail!(
                "it is a SQLite database, but not a healthcode one (no migrations or meta table)"
            );
        }
        let checks: i64 = sqlx::query("SELECT count(*) FROM meta WHERE key = 'vault_check'")
            .fetch_one(&mut conn)
            .await?
            .try_get(0)?;
        if checks != 1 {
            bail!("it has no master-key check value: it was never opened by a healthcode server");
        }
        Ok(())
    }
    .await;
    conn.close().await.ok();
    found
}

/// Opens the copy as a server start would: migrations (an older backup is brought up to
/// date; one from a newer version is refused), the master-key check, then the code-signing
/// and root key ids the database pinned.
async fn check_keys(dir: &DataDir, url: &str, now: DateTime<Utc>) -> Result<()> {
    let store = SqlStore::connect(url, dir.vault()?)
        .await
        .with_context(|| {
            format!(
                "the keys in {} do not open this backup",
                dir.path.join("keys").display()
            )
        })?;
    let keys = dir.keys(now);
    let checked: Result<()> = async {
        let keys = keys?;
        for (what, kid) in [
            ("code_signing_kid", keys.code.kid()),
            ("root_kid", keys.root.kid()),
        ] {
            if let Some(other) = store.pin(what, &kid).await? {
                bail!(
                    "this directory's {what} is {} but the backup's region's is {}: put back \
                     the keys/ the backup was made with (docs/SECURITY.md)",
                    hex::encode(kid),
                    hex::encode(other)
                );
            }
        }
        Ok(())
    }
    .await;
    store.close().await;
    checked
}

fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}

/// `url` with SQLite's open mode set, unless it names one already.
fn with_mode(url: &str, mode: &str) -> String {
    if url.contains("mode=") {
        url.to_owned()
    } else {
        let sep = if url.contains('?') { '&' } else { '?' };
        format!("{url}{sep}mode={mode}")
    }
}

fn utf8(path: &Path) -> Result<&str> {
    path.to_str()
        .with_context(|| format!("{} is not UTF-8", path.display()))
}

/// Makes a rename in `dir` survive a power cut; some file systems refuse, and the rename has
/// happened either way.
fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(d) = std::fs::File::open(dir) {
        d.sync_all().ok();
    }
    #[cfg(not(unix))]
    let _ = dir;
}
