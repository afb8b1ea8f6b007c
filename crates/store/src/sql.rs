//! [`SqlStore`]: the [`Store`] implementation for SQLite and PostgreSQL.
//!
//! Both backends run the same statements through `sqlx::Any`: times are Unix seconds, flags
//! are integers and parameters are written `$1, $2, …` (which SQLite also understands). Only
//! the migrations differ, one folder per backend. SQLite allows one writer at a time, so
//! writes there go through a process-wide lock instead of failing with `SQLITE_BUSY`.
//!
//! This file owns the store itself: its connections (on SQLite, a writing connection of its
//! own beside the reading pool), the migrations, the write lock and the write transaction
//! every writer opens, and how times, blind indexes and revision numbers are read from a
//! column. It holds no table's statements; those are divided by what they own:
//!
//! - `store.rs`: the [`Store`] trait, each method handed to one of the files below;
//! - `providers.rs`: data providers and their API keys;
//! - `people.rs`: enrolment, people and their sessions;
//! - `revisions.rs`: what a write stores given a record's current revision; corrections of a
//!   named revision, releases, a record's history;
//! - `batches.rs`: the transactions submissions are written in, one per batch or one across
//!   an import;
//! - `bulk.rs`: what a batch does inside its transaction;
//! - `evidence.rs`: the columns of an evidence row, and a subject's current evidence;
//! - `subjects.rs`: where a subject's evidence is found, and moving recent entries;
//! - `changes.rs`: the change feed;
//! - `meta.rs`: the master-key check and pinned values;
//! - `log.rs`: the transparency log: leaves beside each change, the sequencer, tiles,
//!   checkpoints, receipts and the inspector's audit;
//! - `venues.rs`: the [`Venues`] trait: venues, devices, check-ins, risk areas, purges and
//!   the access log;
//! - `devices.rs`: gate devices' enrolment by one-time token, and their revocation;
//! - `managers.rs`: the people who manage a venue;
//! - `residents.rs`: the [`Residents`] trait, each method handed to one of the three below;
//! - `passkeys.rs`: passkeys and WebAuthn ceremonies in progress;
//! - `dependants.rs`: a guardian's dependants and their cap;
//! - `passes.rs`: paper passes.
//!
//! [`Store`]: crate::Store
//! [`Venues`]: crate::Venues
//! [`Residents`]: crate::Residents

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{Any, AnyPool, Executor, Transaction};
use tokio::sync::{Mutex, MutexGuard, OwnedMutexGuard};

use crate::error::StoreError;
use crate::vault::{DocIndex, Vault};

mod batches;
mod bulk;
mod changes;
mod declarations;
mod dependants;
mod devices;
mod evidence;
mod log;
mod managers;
mod meta;
mod passes;
mod passkeys;
mod people;
mod providers;
mod residents;
mod revisions;
mod store;
mod subjects;
mod venues;

pub use bulk::BatchOutcome;
pub use dependants::MAX_DEPENDANTS;
pub use log::{Integrated, LogAudit};
pub use people::MAX_SESSIONS;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone)]
pub struct SqlStore {
    pool: AnyPool,
    /// Where writes go: on SQLite, a pool of one connection; otherwise `pool` itself.
    writer: AnyPool,
    /// Whether `writer` is a pool of its own rather than `pool` again.
    separate_writer: bool,
    backend: Backend,
    vault: Arc<Vault>,
    /// Serialises write transactions on SQLite; `None` on PostgreSQL.
    write_lock: Option<Arc<Mutex<()>>>,
    /// About how many entries `subject_recent` holds (sql/subjects.rs): counted at start and
    /// as writes commit.
    recent: Arc<AtomicU64>,
    /// Whether this store is moving recent entries into `subject_filed` now.
    filing: Arc<AtomicBool>,
    /// Recent entries at which they are moved.
    file_at: u64,
    /// Whether changes write their transparency-log leaves (always, except in the benchmark
    /// that measures what writing them costs: [`SqlStore::without_log_writes`]).
    log_writes: bool,
}

impl std::fmt::Debug for SqlStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SqlStore({:?})", self.backend)
    }
}

/// Page cache of each SQLite reading connection, and of the writing one, in KiB.
const SQLITE_READER_CACHE_KIB: i64 = 8 * 1024;
const SQLITE_WRITER_CACHE_KIB: i64 = 64 * 1024;

/// The writing connection checkpoints the WAL into the database file once it holds 10,000
/// pages (40 MB), not SQLite's default 1,000: a bulk import rewrites the same index pages
/// commit after commit, and a page is copied back once per checkpoint however often it was
/// written since. 8 % faster imports; the WAL file stays under about 40 MB.
const WRITER_PRAGMAS: &str = "PRAGMA wal_autocheckpoint = 10000;";

fn pool_options(backend: Backend, max: u32, sqlite_cache_kib: i64, writer: bool) -> AnyPoolOptions {
    let options = AnyPoolOptions::new();
    options
        .max_connections(max)
        .acquire_timeout(Duration::from_secs(10))
        .after_connect(move |conn, _meta| {
            Box::pin(async move {
                if backend == Backend::Sqlite {
                    conn.execute(
                        format!(
                            "{} PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                             PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000; \
                             PRAGMA cache_size = -{sqlite_cache_kib};",
                            if writer { WRITER_PRAGMAS } else { "" }
                        )
                        .as_str(),
                    )
                    .await?;
                }
                Ok(())
            })
        })
}

impl SqlStore {
    /// Connects to `url` (`sqlite://PATH`, `sqlite::memory:`, or `postgres://…`), creating a
    /// SQLite file if needed, and brings the schema up to date.
    pub async fn connect(url: &str, vault: Arc<Vault>) -> Result<SqlStore, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            return Err(StoreError::Database(
                "database URL must start with sqlite: or postgres://".into(),
            ));
        };
        let in_memory =
            backend == Backend::Sqlite && (url == "sqlite::memory:" || url.contains("mode=memory"));
        // Create the database file on first start unless the URL says otherwise.
        let url = if backend == Backend::Sqlite && !in_memory && !url.contains("mode=") {
            let sep = if url.contains('?') { '&' } else { '?' };
            format!("{url}{sep}mode=rwc")
        } else {
            url.to_owned()
        };
        let options = AnyConnectOptions::from_str(&url)?;
        let max = match backend {
            // An in-memory SQLite database exists per connection: keep exactly one.
            Backend::Sqlite if in_memory => 1,
            Backend::Sqlite => 8,
            Backend::Postgres => 16,
        };
        let pool = pool_options(backend, max, SQLITE_READER_CACHE_KIB, false)
            .connect_with(options.clone())
            .await?;
        match backend {
            Backend::Sqlite => SQLITE_MIGRATIONS.run(&pool).await?,
            Backend::Postgres => POSTGRES_MIGRATIONS.run(&pool).await?,
        }
        meta::check_master_key(&pool, &vault).await?;
        // SQLite has one writer at a time: give it one connection of its own, whose page
        // cache then holds the indexes a bulk import keeps inserting into (a batch going to
        // whichever pooled connection is free would find a cold cache, and re-read pages from
        // the file). An in-memory database exists per connection, so there it is the pool.
        let separate_writer = backend == Backend::Sqlite && !in_memory;
        let writer = if separate_writer {
            pool_options(backend, 1, SQLITE_WRITER_CACHE_KIB, true)
                .connect_with(options)
                .await?
        } else {
            pool.clone()
        };
        let store = SqlStore {
            pool,
            writer,
            separate_writer,
            backend,
            vault,
            write_lock: (backend == Backend::Sqlite).then(|| Arc::new(Mutex::new(()))),
            recent: Arc::new(AtomicU64::new(0)),
            filing: Arc::new(AtomicBool::new(false)),
            file_at: subjects::FILE_AT,
            log_writes: true,
        };
        store
            .recent
            .store(store.recent_subjects().await?, Ordering::Relaxed);
        Ok(store)
    }

    /// The same store writing no transparency-log leaves: for measuring, in one build, what
    /// writing them costs (`healthcode bench log`). Never for serving: a change without its
    /// leaf is what the inspector's audit reports.
    pub fn without_log_writes(mut self) -> SqlStore {
        self.log_writes = false;
        self
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The pools' use now: the main pool, and SQLite's writing connection where it has one
    /// of its own.
    pub fn pool_use(&self) -> Vec<crate::PoolUse> {
        let of = |name, pool: &AnyPool| crate::PoolUse {
            pool: name,
            open: pool.size(),
            idle: pool.num_idle(),
            max: pool.options().get_max_connections(),
        };
        let mut pools = vec![of("main", &self.pool)];
        if self.separate_writer {
            pools.push(of("writer", &self.writer));
        }
        pools
    }

    pub async fn close(&self) {
        self.writer.close().await;
        self.pool.close().await;
    }

    async fn write_guard(&self) -> Option<MutexGuard<'_, ()>> {
        match &self.write_lock {
            Some(m) => Some(m.lock().await),
            None => None,
        }
    }

    /// Opens a write transaction. On SQLite it holds the process's write lock, and starts with
    /// `BEGIN IMMEDIATE` so that a writer in another process makes it wait (busy timeout)
    /// instead of failing when a read inside it would have to become a write.
    async fn begin_write(
        &self,
    ) -> Result<(Option<OwnedMutexGuard<()>>, Transaction<'static, Any>), StoreError> {
        match &self.write_lock {
            Some(lock) => {
                let guard = lock.clone().lock_owned().await;
                let tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
                Ok((Some(guard), tx))
            }
            None => Ok((None, self.pool.begin().await?)),
        }
    }
}

pub(crate) fn doc_index_from(bytes: Vec<u8>) -> Result<DocIndex, StoreError> {
    let arr: [u8; 32] = bytes
        .as_slice()
        .try_into()
        .map_err(|_| StoreError::Corrupt("blind index is not 32 bytes".into()))?;
    Ok(DocIndex(arr))
}

pub(crate) fn from_secs(secs: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp(secs, 0).ok_or_else(|| StoreError::Corrupt("time out of range".into()))
}

fn to_revision(r: i64) -> Result<u32, StoreError> {
    u32::try_from(r).map_err(|_| StoreError::Corrupt("revision out of range".into()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod migration_tests {
    use std::borrow::Cow;

    use sqlx::{Connection, Executor, Row};

    use super::SQLITE_MIGRATIONS;

    /// Migration 0004 rebuilds `evidence`: rows written before it keep every value and gain
    /// their subject key, and the provider key is still enforced, at COMMIT; migration 0006
    /// files them under that key.
    #[tokio::test]
    async fn evidence_survives_the_rebuild() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("m.db").display());
        let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
        conn.execute("PRAGMA foreign_keys = ON").await.unwrap();
        let before = sqlx::migrate::Migrator {
            migrations: Cow::Owned(
                SQLITE_MIGRATIONS
                    .iter()
                    .filter(|m| m.version < 4)
                    .cloned()
                    .collect(),
            ),
            ..sqlx::migrate::Migrator::DEFAULT
        };
        before.run(&mut conn).await.unwrap();
        conn.execute(
            "INSERT INTO providers (id, kind, name, key_hash, created_at) \
             VALUES (1, 'lab', 'Lab', x'01', 0); \
             INSERT INTO evidence (provider_id, record_id, revision, is_current, subject_index, \
             category, test_kind, test_outcome, sampled_at, resulted_at, content_hash, \
             received_at) VALUES (1, 'R-1', 1, 1, x'0102030405060708090a', 'test', 'pcr', \
             'negative', 10, 20, x'ff', 30)",
        )
        .await
        .unwrap();
        SQLITE_MIGRATIONS.run(&mut conn).await.unwrap();
        let row = sqlx::query("SELECT * FROM evidence")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(
            row.get::<Vec<u8>, _>("subject_key"),
            (1..=8).collect::<Vec<u8>>()
        );
        assert_eq!(row.get::<String, _>("record_id"), "R-1");
        // Migration 0006 files it under its subject.
        let filed = sqlx::query("SELECT subject_key, evidence_id FROM subject_filed")
            .fetch_all(&mut conn)
            .await
            .unwrap();
        assert_eq!(filed.len(), 1);
        assert_eq!(
            filed[0].get::<Vec<u8>, _>("subject_key"),
            (1..=8).collect::<Vec<u8>>()
        );
        assert_eq!(
            filed[0].get::<i64, _>("evidence_id"),
            row.get::<i64, _>("id")
        );
        assert_eq!(row.get::<i64, _>("resulted_at"), 20);
        assert_eq!(row.get::<Vec<u8>, _>("content_hash"), vec![0xff]);
        let mut tx = conn.begin().await.unwrap();
        tx.execute(
            "INSERT INTO evidence (provider_id, record_id, revision, is_current, subject_index, \
             subject_key, category, content_hash, received_at) \
             VALUES (99, 'R-2', 1, 1, x'00', x'00', 'test', x'00', 0)",
        )
        .await
        .unwrap();
        assert!(tx.commit().await.is_err(), "a row naming no provider");
    }

    /// Migration 0009: a person's passkeys, ceremonies, dependants (either side) and paper
    /// passes are deleted with them, and no one else's.
    #[tokio::test]
    async fn resident_rows_go_with_the_person() {
        let mut conn = sqlx::SqliteConnection::connect("sqlite::memory:")
            .await
            .unwrap();
        conn.execute("PRAGMA foreign_keys = ON").await.unwrap();
        SQLITE_MIGRATIONS.run(&mut conn).await.unwrap();
        conn.execute(
            "INSERT INTO people (id, doc_index, doc_type, doc_number_enc, name_enc, subject, \
             created_at) VALUES (1, x'01', 'passport', x'00', x'00', x'01', 0), \
             (2, x'02', 'passport', x'00', x'00', x'02', 0), \
             (3, x'03', 'passport', x'00', x'00', x'03', 0); \
             INSERT INTO passkeys (person_id, credential_id, passkey, created_at) \
             VALUES (1, x'11', x'00', 0), (2, x'12', x'00', 0); \
             INSERT INTO ceremonies (id, kind, person_id, state, expires_at) \
             VALUES (x'21', 'register', 1, x'00', 9), (x'22', 'sign_in', NULL, x'00', 9); \
             INSERT INTO dependants (guardian_id, dependant_id, created_at) \
             VALUES (1, 2, 0), (2, 1, 0), (2, 3, 0); \
             INSERT INTO paper_passes (serial, person_id, created_at) \
             VALUES (x'31', 1, 0), (x'32', 3, 0); \
             DELETE FROM people WHERE id = 1;",
        )
        .await
        .unwrap();
        for (table, left) in [
            ("passkeys", 1),
            ("ceremonies", 1),
            ("dependants", 1),
            ("paper_passes", 1),
        ] {
            let n: i64 = sqlx::query(&format!("SELECT COUNT(*) AS n FROM {table}"))
                .fetch_one(&mut conn)
                .await
                .unwrap()
                .get("n");
            assert_eq!(n, left, "{table}");
        }
    }

    /// Migration 0011: a device added before it was handed its key when it was added, so it
    /// counts as enrolled then; a person's venue assignments are deleted with them.
    #[tokio::test]
    async fn gate_app_rows_before_and_after_the_migration() {
        let mut conn = sqlx::SqliteConnection::connect("sqlite::memory:")
            .await
            .unwrap();
        conn.execute("PRAGMA foreign_keys = ON").await.unwrap();
        let before = sqlx::migrate::Migrator {
            migrations: Cow::Owned(
                SQLITE_MIGRATIONS
                    .iter()
                    .filter(|m| m.version < 11)
                    .cloned()
                    .collect(),
            ),
            ..sqlx::migrate::Migrator::DEFAULT
        };
        before.run(&mut conn).await.unwrap();
        conn.execute(
            "INSERT INTO venues (id, name, kind, district, address, created_at) \
             VALUES (1, 'A', 'mall', 'D', '', 0); \
             INSERT INTO devices (id, venue_id, name, key_hash, created_at) \
             VALUES (1, 1, 'gate', x'01', 5);",
        )
        .await
        .unwrap();
        SQLITE_MIGRATIONS.run(&mut conn).await.unwrap();
        let row = sqlx::query("SELECT enrolled_at, revoked_at FROM devices WHERE id = 1")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(row.get::<Option<i64>, _>("enrolled_at"), Some(5));
        assert_eq!(row.get::<Option<i64>, _>("revoked_at"), None);

        conn.execute(
            "INSERT INTO people (id, doc_index, doc_type, doc_number_enc, name_enc, subject, \
             created_at) VALUES (1, x'01', 'passport', x'00', x'00', x'01', 0), \
             (2, x'02', 'passport', x'00', x'00', x'02', 0); \
             INSERT INTO venue_managers (venue_id, person_id, assigned_at) \
             VALUES (1, 1, 0), (1, 2, 0); \
             DELETE FROM people WHERE id = 1;",
        )
        .await
        .unwrap();
        let left: Vec<i64> = sqlx::query("SELECT person_id FROM venue_managers")
            .fetch_all(&mut conn)
            .await
            .unwrap()
            .iter()
            .map(|r| r.get("person_id"))
            .collect();
        assert_eq!(left, vec![2]);
    }
}
