//! The transparency log's tables (migration 0012): the leaves written beside each change, in
//! its transaction ([`append`]); the sequencer that takes them into the tree, writes the tiles
//! and signs a checkpoint ([`integrate`]); reading tiles, checkpoints and a subject's
//! receipts back; and the inspector's check that every record matches its leaf
//! ([`audit`]).
//!
//! What a leaf's bytes are is `crate::leaf`'s, and the tree's arithmetic `healthcode-tlog`'s.
//! Where the log's signing key comes from, when to sequence and how tiles are served over
//! HTTP are the server's.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rand::RngCore;
use serde::Serialize;
use sqlx::{AnyConnection, Row};

use healthcode_tlog::{
    Checkpoint, Hash, Note, NoteSignature, NoteSigner, TILE_WIDTH, Tile, empty_root, leaf_hash,
    root_from_tiles, root_of, tile_from_bytes, tiles_for_root,
};

use super::bulk::placeholders;
use super::evidence::{as_stored, body_from_row};
use super::subjects::{EVIDENCE_IDS, subject_key};
use super::{Backend, SqlStore, doc_index_from};
use crate::error::StoreError;
use crate::leaf::{Entry, Receipt, SALT_LEN};
use crate::model::EvidenceBody;
use crate::vault::DocIndex;

/// The level under which entry bundles are kept in `log_tiles`.
const ENTRIES_LEVEL: i64 = -1;

/// Leaves per `INSERT`: four parameters each.
const INSERT_LEAVES: usize = 4_000;

/// Tiles per upsert: four parameters each.
const UPSERT_TILES: usize = 1_000;

/// The PostgreSQL advisory lock the sequencer holds while it integrates, so that of several
/// nodes on one database one integrates at a time ("hclog" in ASCII).
const SEQUENCER_LOCK: i64 = 0x68_63_6c_6f_67;

/// Tile levels a tree with a 64-bit size can have.
const LEVELS: usize = 8;

/// Where a leaf's record lives.
pub(super) const EVIDENCE: &str = "evidence";
pub(super) const RISK_AREA: &str = "risk_area";
pub(super) const RISK_AREA_RELEASE: &str = "risk_area_release";
pub(super) const PURGE: &str = "purge";
pub(super) const KEY_EVENT: &str = "key_event";
pub(super) const ACCESS: &str = "access_log";
pub(super) const POLICY: &str = "policy_version";

/// A leaf to write beside the change it records.
pub(super) struct NewLeaf {
    pub(super) kind: &'static str,
    pub(super) time: i64,
    pub(super) actor: String,
    pub(super) source: &'static str,
    pub(super) source_id: i64,
    pub(super) record: Vec<u8>,
}

/// The record of an evidence revision, as docs/FORMAT.md §10.2 lays it out.
#[derive(Serialize)]
struct EvidenceRecord<'a> {
    table: &'static str,
    id: i64,
    provider: i64,
    record: &'a str,
    revision: i64,
    subject: String,
    body: &'a EvidenceBody,
    received_at: i64,
}

/// The record bytes of an evidence revision.
#[allow(clippy::too_many_arguments)]
pub(super) fn evidence_record(
    id: i64,
    provider_id: i64,
    record_id: &str,
    revision: i64,
    subject: &DocIndex,
    body: &EvidenceBody,
    received_at: i64,
) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(&EvidenceRecord {
        table: "evidence",
        id,
        provider: provider_id,
        record: record_id,
        revision,
        subject: hex::encode(subject.0),
        body,
        received_at,
    })
    .map_err(|e| StoreError::Corrupt(format!("an evidence record does not serialise: {e}")))
}

/// The leaf of an evidence revision: its category's kind, or `release` for a release. The
/// body is taken as it will read back once stored ([`as_stored`]).
#[allow(clippy::too_many_arguments)]
pub(super) fn evidence_leaf(
    id: i64,
    provider_id: i64,
    record_id: &str,
    revision: i64,
    subject: &DocIndex,
    body: &EvidenceBody,
    received_at: i64,
    release: bool,
) -> Result<NewLeaf, StoreError> {
    Ok(NewLeaf {
        kind: if release { "release" } else { body.category() },
        time: received_at,
        actor: format!("provider/{provider_id}"),
        source: EVIDENCE,
        source_id: id,
        record: evidence_record(
            id,
            provider_id,
            record_id,
            revision,
            subject,
            &as_stored(body),
            received_at,
        )?,
    })
}

/// A leaf as `log_leaves` stores it: where its record lives, its salt and its entry.
pub(super) struct LeafRow {
    source: &'static str,
    source_id: i64,
    salt: [u8; SALT_LEN],
    entry: Vec<u8>,
}

/// Salts `leaves`, each with a fresh salt, and writes their entries.
pub(super) fn leaf_rows(leaves: Vec<NewLeaf>) -> Result<Vec<LeafRow>, StoreError> {
    let mut rng = rand::thread_rng();
    leaves
        .into_iter()
        .map(|leaf| {
            let mut salt = [0u8; SALT_LEN];
            rng.fill_bytes(&mut salt);
            let entry =
                crate::leaf::entry_bytes(leaf.kind, leaf.time, &leaf.actor, &salt, &leaf.record)
                    .map_err(|e| StoreError::Corrupt(format!("a log entry: {e}")))?;
            Ok(LeafRow {
                source: leaf.source,
                source_id: leaf.source_id,
                salt,
                entry,
            })
        })
        .collect()
}

/// The `INSERT` of `count` leaves.
pub(super) fn insert_leaves_sql(backend: Backend, count: usize) -> String {
    let mut sql = String::with_capacity(80 + count * 24);
    sql.push_str("INSERT INTO log_leaves (source, source_id, salt, entry) VALUES ");
    for n in 0..count {
        if n > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        sql.push_str(&placeholders(backend, n * 4 + 1, 4));
        sql.push(')');
    }
    sql
}

/// Binds `rows` to their `INSERT` ([`insert_leaves_sql`] of as many).
pub(super) fn bind_leaves<'q>(
    mut q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    rows: Vec<LeafRow>,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    for row in rows {
        q = q
            .bind(row.source)
            .bind(row.source_id)
            .bind(row.salt.to_vec())
            .bind(row.entry);
    }
    q
}

/// Writes `leaves` inside the caller's transaction, each with a fresh salt.
pub(super) async fn append(
    backend: Backend,
    conn: &mut AnyConnection,
    leaves: Vec<NewLeaf>,
) -> Result<(), StoreError> {
    let mut rows = leaf_rows(leaves)?;
    while !rows.is_empty() {
        let rest = rows.split_off(rows.len().min(INSERT_LEAVES));
        let chunk = std::mem::replace(&mut rows, rest);
        let sql = insert_leaves_sql(backend, chunk.len());
        bind_leaves(sqlx::query(&sql), chunk)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// What one run of the sequencer did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Integrated {
    /// The tree's size after the run.
    pub size: u64,
    /// How many leaves it took in.
    pub added: u64,
}

/// The right edge of the tree: at each level the hashes of the tile being filled, and the
/// entries of the bundle being filled.
struct Edge {
    size: u64,
    /// `hashes[level]`: the partial tile's hashes, `index[level]` its index.
    hashes: Vec<Vec<Hash>>,
    index: Vec<u64>,
    bundle: Vec<u8>,
    bundle_count: u16,
    /// Tiles written by this run, by (level, index): (width, bytes).
    dirty: BTreeMap<(i64, u64), (u16, Vec<u8>)>,
}

fn to_u64(n: i64) -> Result<u64, StoreError> {
    u64::try_from(n).map_err(|_| StoreError::Corrupt("a log size is negative".into()))
}

fn to_i64(n: u64) -> Result<i64, StoreError> {
    i64::try_from(n).map_err(|_| StoreError::Corrupt("a log size is out of range".into()))
}

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("the log's tiles: {e}"))
}

impl Edge {
    /// Reads the right edge of the tree of `size` leaves.
    async fn load(conn: &mut AnyConnection, size: u64) -> Result<Edge, StoreError> {
        let mut edge = Edge {
            size,
            hashes: Vec::with_capacity(LEVELS),
            index: Vec::with_capacity(LEVELS),
            bundle: Vec::new(),
            bundle_count: 0,
            dirty: BTreeMap::new(),
        };
        for level in 0..LEVELS {
            let at_level = size >> (8 * level);
            let index = at_level >> 8;
            let width = (at_level % 256) as u16;
            let hashes = if width > 0 {
                let data = stored_tile(conn, level as i64, index, width).await?;
                let tile = Tile::new(level as u8, index, width).map_err(corrupt)?;
                tile_from_bytes(&tile, &data).map_err(corrupt)?
            } else {
                Vec::new()
            };
            edge.hashes.push(hashes);
            edge.index.push(index);
        }
        let width = (size % 256) as u16;
        if width > 0 {
            edge.bundle = stored_tile(conn, ENTRIES_LEVEL, size >> 8, width).await?;
            edge.bundle_count = width;
        }
        Ok(edge)
    }

    fn push_entry(&mut self, entry: &[u8]) -> Result<(), StoreError> {
        let len = u16::try_from(entry.len())
            .map_err(|_| StoreError::Corrupt("a log entry is longer than 65,535 bytes".into()))?;
        self.bundle.extend_from_slice(&len.to_be_bytes());
        self.bundle.extend_from_slice(entry);
        self.bundle_count += 1;
        if self.bundle_count == TILE_WIDTH {
            let index = self.size >> 8;
            self.dirty.insert(
                (ENTRIES_LEVEL, index),
                (TILE_WIDTH, std::mem::take(&mut self.bundle)),
            );
            self.bundle_count = 0;
        }
        self.push_hash(0, leaf_hash(entry));
        self.size += 1;
        Ok(())
    }

    fn push_hash(&mut self, level: usize, hash: Hash) {
        let Some(hashes) = self.hashes.get_mut(level) else {
            return;
        };
        hashes.push(hash);
        if hashes.len() == usize::from(TILE_WIDTH) {
            let full = std::mem::take(hashes);
            let root = root_of(&full);
            self.dirty.insert(
                (level as i64, self.index[level]),
                (TILE_WIDTH, tile_bytes(&full)),
            );
            self.index[level] += 1;
            self.push_hash(level + 1, root);
        }
    }

    /// Marks the partial tiles dirty and returns the root of the tree.
    fn finish(&mut self) -> Result<Hash, StoreError> {
        let mut tiles = BTreeMap::new();
        for level in 0..LEVELS {
            let hashes = &self.hashes[level];
            if hashes.is_empty() {
                continue;
            }
            let width = hashes.len() as u16;
            self.dirty.insert(
                (level as i64, self.index[level]),
                (width, tile_bytes(hashes)),
            );
            tiles.insert(
                Tile::new(level as u8, self.index[level], width).map_err(corrupt)?,
                hashes.clone(),
            );
        }
        if self.bundle_count > 0 {
            self.dirty.insert(
                (ENTRIES_LEVEL, self.size >> 8),
                (self.bundle_count, self.bundle.clone()),
            );
        }
        if self.size == 0 {
            return Ok(empty_root());
        }
        // Every tile the root reads is a partial one of the right edge.
        debug_assert!(
            tiles_for_root(self.size)
                .map(|t| t.iter().all(|t| tiles.contains_key(t)))
                .unwrap_or(false)
        );
        root_from_tiles(self.size, &tiles).map_err(corrupt)
    }
}

fn tile_bytes(hashes: &[Hash]) -> Vec<u8> {
    let mut out = Vec::with_capacity(hashes.len() * 32);
    for h in hashes {
        out.extend_from_slice(h.as_bytes());
    }
    out
}

/// A stored tile of exactly `width` (the width the latest checkpoint gives it).
async fn stored_tile(
    conn: &mut AnyConnection,
    level: i64,
    index: u64,
    width: u16,
) -> Result<Vec<u8>, StoreError> {
    let row = sqlx::query("SELECT width, data FROM log_tiles WHERE level = $1 AND idx = $2")
        .bind(level)
        .bind(to_i64(index)?)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| corrupt(format!("tile {level}/{index} is missing")))?;
    let stored: i64 = row.try_get("width")?;
    if stored != i64::from(width) {
        return Err(corrupt(format!(
            "tile {level}/{index} has width {stored}, not {width}"
        )));
    }
    Ok(row.try_get("data")?)
}

/// The newest checkpoint's size, or `None` before the first.
async fn current_size(conn: &mut AnyConnection) -> Result<Option<u64>, StoreError> {
    let row = sqlx::query("SELECT MAX(size) AS size FROM log_checkpoints")
        .fetch_one(&mut *conn)
        .await?;
    row.try_get::<Option<i64>, _>("size")?
        .map(to_u64)
        .transpose()
}

/// Takes up to `max` leaves written since the last run into the tree, in the order they were
/// written, writes the tiles they change and a checkpoint signed by `signer` for log
/// `origin`, all in one transaction. Several nodes may run it at once: one integrates at a
/// time (the embedded database's write lock; on PostgreSQL an advisory lock) and the others
/// then find the leaves taken. With nothing new it changes nothing, except that an empty log
/// gets its first checkpoint, of size 0.
pub(super) async fn integrate(
    store: &SqlStore,
    signer: &NoteSigner,
    origin: &str,
    max: i64,
    now: DateTime<Utc>,
) -> Result<Integrated, StoreError> {
    // Most runs find nothing new: they are told so by a read, without the write lock.
    let waiting = sqlx::query("SELECT id FROM log_leaves WHERE leaf_index IS NULL LIMIT 1")
        .fetch_optional(&store.pool)
        .await?
        .is_some();
    if !waiting && let Some((size, _)) = checkpoint(store).await? {
        return Ok(Integrated { size, added: 0 });
    }
    let (guard, mut tx) = store.begin_write().await?;
    if store.backend == Backend::Postgres {
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(SEQUENCER_LOCK)
            .execute(&mut *tx)
            .await?;
    }
    let start = current_size(&mut tx).await?;
    let pending = sqlx::query(
        "SELECT id, entry FROM log_leaves WHERE leaf_index IS NULL ORDER BY id LIMIT $1",
    )
    .bind(max)
    .fetch_all(&mut *tx)
    .await?;
    let size = start.unwrap_or(0);
    if pending.is_empty() && start.is_some() {
        tx.rollback().await?;
        return Ok(Integrated { size, added: 0 });
    }
    let mut edge = Edge::load(&mut tx, size).await?;
    let mut ids = Vec::with_capacity(pending.len());
    for row in &pending {
        let entry: Vec<u8> = row.try_get("entry")?;
        edge.push_entry(&entry)?;
        ids.push(row.try_get::<i64, _>("id")?);
    }
    let root = edge.finish()?;
    let new_size = edge.size;
    write_tiles(store.backend, &mut tx, &edge.dirty).await?;
    // Consecutive ids take consecutive indexes: one statement per run.
    let mut i = 0;
    while i < ids.len() {
        let mut j = i + 1;
        while j < ids.len() && ids[j] == ids[j - 1] + 1 {
            j += 1;
        }
        let first_index = to_i64(size + i as u64)?;
        sqlx::query("UPDATE log_leaves SET leaf_index = id + $1 WHERE id BETWEEN $2 AND $3")
            .bind(first_index - ids[i])
            .bind(ids[i])
            .bind(ids[j - 1])
            .execute(&mut *tx)
            .await?;
        i = j;
    }
    let checkpoint = Checkpoint::new(origin, new_size, root)
        .map_err(|e| StoreError::Corrupt(format!("a checkpoint: {e}")))?;
    let signed = checkpoint
        .sign(&[signer])
        .map_err(|e| StoreError::Corrupt(format!("signing a checkpoint: {e}")))?;
    sqlx::query(
        "INSERT INTO log_checkpoints (size, root, signed, created_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(to_i64(new_size)?)
    .bind(root.as_bytes().to_vec())
    .bind(signed)
    .bind(now.timestamp())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    drop(guard);
    Ok(Integrated {
        size: new_size,
        added: ids.len() as u64,
    })
}

async fn write_tiles(
    backend: Backend,
    conn: &mut AnyConnection,
    dirty: &BTreeMap<(i64, u64), (u16, Vec<u8>)>,
) -> Result<(), StoreError> {
    let tiles: Vec<_> = dirty.iter().collect();
    for chunk in tiles.chunks(UPSERT_TILES) {
        let mut sql = String::from("INSERT INTO log_tiles (level, idx, width, data) VALUES ");
        for n in 0..chunk.len() {
            if n > 0 {
                sql.push_str(", ");
            }
            sql.push('(');
            sql.push_str(&placeholders(backend, n * 4 + 1, 4));
            sql.push(')');
        }
        sql.push_str(
            " ON CONFLICT (level, idx) DO UPDATE SET width = excluded.width, data = excluded.data",
        );
        let mut q = sqlx::query(&sql);
        for ((level, index), (width, data)) in chunk {
            q = q
                .bind(*level)
                .bind(to_i64(*index)?)
                .bind(i64::from(*width))
                .bind(data.clone());
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// The newest signed checkpoint, if the log has one.
pub(super) async fn checkpoint(store: &SqlStore) -> Result<Option<(u64, String)>, StoreError> {
    let row = sqlx::query("SELECT size, signed FROM log_checkpoints ORDER BY size DESC LIMIT 1")
        .fetch_optional(&store.pool)
        .await?;
    row.map(|r| Ok((to_u64(r.try_get("size")?)?, r.try_get("signed")?)))
        .transpose()
}

/// Adds `cosignatures` to the stored checkpoint of `size` whose note text is `text`, each in
/// place of an earlier line by the same key, in one transaction so that nodes adding
/// different witnesses' lines at once keep them all. False, changing nothing, when no stored
/// checkpoint of that size has that text: the tree was signed again since, and a cosignature
/// of the old text would not verify on the new. Whether the lines verify is the caller's.
pub(super) async fn add_cosignatures(
    store: &SqlStore,
    size: u64,
    text: &str,
    cosignatures: &[NoteSignature],
) -> Result<bool, StoreError> {
    let (guard, mut tx) = store.begin_write().await?;
    let select = match store.backend {
        Backend::Postgres => "SELECT signed FROM log_checkpoints WHERE size = $1 FOR UPDATE",
        _ => "SELECT signed FROM log_checkpoints WHERE size = $1",
    };
    let Some(row) = sqlx::query(select)
        .bind(to_i64(size)?)
        .fetch_optional(&mut *tx)
        .await?
    else {
        tx.rollback().await?;
        return Ok(false);
    };
    let signed: String = row.try_get("signed")?;
    let mut note = Note::parse(signed.as_bytes())
        .map_err(|e| StoreError::Corrupt(format!("a stored checkpoint: {e}")))?;
    if note.text() != text {
        tx.rollback().await?;
        return Ok(false);
    }
    for cosignature in cosignatures {
        note.add_signature(cosignature.clone()).map_err(|e| {
            StoreError::Corrupt(format!("a checkpoint has no room for a cosignature: {e}"))
        })?;
    }
    sqlx::query("UPDATE log_checkpoints SET signed = $1 WHERE size = $2")
        .bind(note.to_string())
        .bind(to_i64(size)?)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    drop(guard);
    Ok(true)
}

/// The bytes of a hash tile (`level` 0 and up) or, at `level` -1, an entry bundle, at
/// `width`: `None` if the log does not have that many hashes or entries there yet. A tile
/// stored wider serves its first `width` hashes or entries, as tlog-tiles allows.
pub(super) async fn tile(
    store: &SqlStore,
    level: i64,
    index: u64,
    width: u16,
) -> Result<Option<Vec<u8>>, StoreError> {
    let Ok(idx) = i64::try_from(index) else {
        return Ok(None);
    };
    let row = sqlx::query("SELECT width, data FROM log_tiles WHERE level = $1 AND idx = $2")
        .bind(level)
        .bind(idx)
        .fetch_optional(&store.pool)
        .await?;
    let Some(row) = row else { return Ok(None) };
    let stored: i64 = row.try_get("width")?;
    if stored < i64::from(width) {
        return Ok(None);
    }
    let mut data: Vec<u8> = row.try_get("data")?;
    if level == ENTRIES_LEVEL {
        let mut at = 0usize;
        for _ in 0..width {
            let len = data
                .get(at..at + 2)
                .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
                .ok_or_else(|| corrupt("an entry bundle is cut short"))?;
            at += 2 + len;
        }
        if at > data.len() {
            return Err(corrupt("an entry bundle is cut short"));
        }
        data.truncate(at);
    } else {
        data.truncate(usize::from(width) * 32);
    }
    Ok(Some(data))
}

/// Every receipt part of the evidence about `subject` (each revision, oldest first): the
/// record as stored now, its salt and entry, and its index once sequenced. Proofs are added
/// by the caller.
pub(super) async fn evidence_receipts(
    store: &SqlStore,
    subject: &DocIndex,
) -> Result<Vec<Receipt>, StoreError> {
    use base64::Engine as _;
    let sql = format!(
        "SELECT e.*, l.salt, l.entry, l.leaf_index FROM evidence e \
         JOIN log_leaves l ON l.source_id = e.id AND l.source = 'evidence' \
         WHERE e.id IN ({EVIDENCE_IDS}) AND e.subject_index = $2 ORDER BY e.id"
    );
    let rows = sqlx::query(&sql)
        .bind(subject_key(subject))
        .bind(subject.0.to_vec())
        .fetch_all(&store.pool)
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let record = record_of_evidence(r)?;
        let entry: Vec<u8> = r.try_get("entry")?;
        let entry = String::from_utf8(entry).map_err(|_| corrupt("an entry is not UTF-8"))?;
        let kind = Entry::parse(entry.as_bytes())
            .map_err(|e| corrupt(format!("an entry: {e}")))?
            .kind;
        out.push(Receipt {
            kind,
            record: String::from_utf8(record).map_err(|_| corrupt("a record is not UTF-8"))?,
            salt: base64::engine::general_purpose::STANDARD
                .encode(r.try_get::<Vec<u8>, _>("salt")?),
            entry,
            index: r
                .try_get::<Option<i64>, _>("leaf_index")?
                .map(to_u64)
                .transpose()?,
            proof: None,
        });
    }
    Ok(out)
}

/// The record bytes of an evidence row as it is stored now.
fn record_of_evidence(r: &sqlx::any::AnyRow) -> Result<Vec<u8>, StoreError> {
    let body = body_from_row(r)?;
    evidence_record(
        r.try_get("id")?,
        r.try_get("provider_id")?,
        &r.try_get::<String, _>("record_id")?,
        r.try_get("revision")?,
        &doc_index_from(r.try_get("subject_index")?)?,
        &body,
        r.try_get("received_at")?,
    )
}

/// The record of a risk area as put in force (docs/FORMAT.md §10.2).
#[derive(Serialize)]
pub(super) struct RiskAreaRecord<'a> {
    pub(super) table: &'static str,
    pub(super) id: i64,
    pub(super) name: &'a str,
    pub(super) level: &'a str,
    pub(super) district: Option<&'a str>,
    /// In id order.
    pub(super) venues: &'a [i64],
    pub(super) starts_at: i64,
    pub(super) ends_at: Option<i64>,
    pub(super) provider: i64,
    pub(super) created_at: i64,
}

/// The record of a risk area's release.
#[derive(Serialize)]
pub(super) struct ReleaseRecord {
    pub(super) table: &'static str,
    pub(super) id: i64,
    pub(super) released_at: i64,
}

/// The record of a retention purge.
#[derive(Serialize)]
pub(super) struct PurgeRecord<'a> {
    pub(super) table: &'static str,
    pub(super) id: i64,
    pub(super) day: &'a str,
    pub(super) deleted: i64,
    pub(super) cutoff: i64,
    pub(super) at: i64,
}

/// The record of a read of personal data by staff or a device: who, what, why, when and how
/// many people's records, never whose.
#[derive(Serialize)]
pub(super) struct AccessRecord<'a> {
    pub(super) table: &'static str,
    pub(super) id: i64,
    pub(super) actor: &'a str,
    pub(super) action: &'a str,
    pub(super) purpose: &'a str,
    pub(super) outcome: &'a str,
    pub(super) records: i64,
    pub(super) at: i64,
}

/// The record of a policy put in force.
#[derive(Serialize)]
struct PolicyRecord<'a> {
    table: &'static str,
    id: i64,
    version: &'a str,
    digest: String,
    at: i64,
}

/// The record of a change to the code-signing keys.
#[derive(Serialize)]
struct KeyEventRecord<'a> {
    table: &'static str,
    id: i64,
    event: &'a str,
    kid: String,
    public_key: String,
    at: i64,
}

/// A record's bytes.
pub(super) fn record_bytes(record: &impl Serialize) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(record)
        .map_err(|e| StoreError::Corrupt(format!("a log record does not serialise: {e}")))
}

/// What the inspector's audit found (see [`audit`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogAudit {
    /// Leaves read, and how many of them are in the tree.
    pub leaves: u64,
    pub sequenced: u64,
    /// The newest checkpoint's size.
    pub checkpoint_size: u64,
    /// Each problem in words, naming the record or leaf: empty when all is well.
    pub problems: Vec<String>,
}

/// Problems named in full before the rest are only counted.
const MAX_NAMED: usize = 1_000;

/// Leaves read per query.
const AUDIT_CHUNK: i64 = 10_000;

impl LogAudit {
    fn problem(&mut self, what: String) {
        if self.problems.len() < MAX_NAMED {
            self.problems.push(what);
        }
    }
}

/// The root of a tree computed leaf by leaf, holding only one hash per level.
#[derive(Default)]
struct Accumulator {
    /// Roots of perfect subtrees, largest first, with their heights.
    stack: Vec<(u32, Hash)>,
}

impl Accumulator {
    fn push(&mut self, mut hash: Hash) {
        let mut height = 0;
        while let Some(&(h, left)) = self.stack.last() {
            if h != height {
                break;
            }
            self.stack.pop();
            hash = healthcode_tlog::node_hash(&left, &hash);
            height += 1;
        }
        self.stack.push((height, hash));
    }

    fn root(&self) -> Hash {
        let mut it = self.stack.iter().rev();
        let Some(&(_, mut root)) = it.next() else {
            return empty_root();
        };
        for (_, left) in it {
            root = healthcode_tlog::node_hash(left, &root);
        }
        root
    }
}

/// The inspector's check, run with database access: every leaf's record is stored and matches
/// the leaf's commitment, every evidence revision, risk area and purge has its leaf, the leaves
/// in the tree hold indexes 0 to size − 1, and their entries give the newest checkpoint's root.
pub(super) async fn audit(store: &SqlStore) -> Result<LogAudit, StoreError> {
    let mut report = LogAudit::default();
    let mut after = 0i64;
    loop {
        let rows = sqlx::query(
            "SELECT id, leaf_index, source, source_id, salt, entry FROM log_leaves \
             WHERE id > $1 ORDER BY id LIMIT $2",
        )
        .bind(after)
        .bind(AUDIT_CHUNK)
        .fetch_all(&store.pool)
        .await?;
        let Some(last) = rows.last() else { break };
        after = last.try_get("id")?;
        let evidence_ids: Vec<i64> = rows
            .iter()
            .filter(|r| r.try_get::<String, _>("source").ok().as_deref() == Some(EVIDENCE))
            .filter_map(|r| r.try_get("source_id").ok())
            .collect();
        let evidence = evidence_records(store, &evidence_ids).await?;
        for r in &rows {
            report.leaves += 1;
            let leaf_id: i64 = r.try_get("id")?;
            if r.try_get::<Option<i64>, _>("leaf_index")?.is_some() {
                report.sequenced += 1;
            }
            let source: String = r.try_get("source")?;
            let source_id: i64 = r.try_get("source_id")?;
            let entry: Vec<u8> = r.try_get("entry")?;
            let Ok(entry) = Entry::parse(&entry) else {
                report.problem(format!("leaf {leaf_id}: its entry is malformed"));
                continue;
            };
            let salt: [u8; SALT_LEN] = match r.try_get::<Vec<u8>, _>("salt")?.try_into() {
                Ok(s) => s,
                Err(_) => {
                    report.problem(format!("leaf {leaf_id}: its salt is not {SALT_LEN} bytes"));
                    continue;
                }
            };
            let record = match source.as_str() {
                EVIDENCE => match evidence.get(&source_id) {
                    Some((record, category, actor, time)) => {
                        let kind_fits = entry.kind == *category || entry.kind == "release";
                        if !kind_fits || entry.actor != *actor || entry.time != *time {
                            report.problem(format!(
                                "{source} {source_id} (leaf {leaf_id}): the leaf's kind, actor \
                                 or time is not the record's"
                            ));
                        }
                        Some(record.clone())
                    }
                    None => None,
                },
                RISK_AREA => risk_area_record(store, source_id).await?,
                RISK_AREA_RELEASE => release_record(store, source_id).await?,
                PURGE => purge_record(store, source_id).await?,
                KEY_EVENT => key_event_record(store, source_id).await?,
                ACCESS => access_record(store, source_id).await?,
                POLICY => policy_record(store, source_id).await?,
                _ => {
                    report.problem(format!("leaf {leaf_id}: unknown source {source}"));
                    continue;
                }
            };
            match record {
                None => report.problem(format!(
                    "{source} {source_id} (leaf {leaf_id}): the record is missing"
                )),
                Some(record) if !entry.commits_to(&salt, &record) => report.problem(format!(
                    "{source} {source_id} (leaf {leaf_id}): the stored record does not match \
                     its leaf's commitment"
                )),
                Some(_) => {}
            }
        }
    }
    for (source, sql) in [
        (
            EVIDENCE,
            "SELECT id FROM evidence x WHERE NOT EXISTS (SELECT 1 FROM log_leaves l \
             WHERE l.source_id = x.id AND l.source = 'evidence') ORDER BY id LIMIT 1000",
        ),
        (
            RISK_AREA,
            "SELECT id FROM risk_areas x WHERE NOT EXISTS (SELECT 1 FROM log_leaves l \
             WHERE l.source_id = x.id AND l.source = 'risk_area') ORDER BY id LIMIT 1000",
        ),
        (
            RISK_AREA_RELEASE,
            "SELECT id FROM risk_areas x WHERE released_at IS NOT NULL AND NOT EXISTS \
             (SELECT 1 FROM log_leaves l WHERE l.source_id = x.id \
             AND l.source = 'risk_area_release') ORDER BY id LIMIT 1000",
        ),
        (
            PURGE,
            "SELECT id FROM purges x WHERE NOT EXISTS (SELECT 1 FROM log_leaves l \
             WHERE l.source_id = x.id AND l.source = 'purge') ORDER BY id LIMIT 1000",
        ),
        (
            KEY_EVENT,
            "SELECT id FROM key_events x WHERE NOT EXISTS (SELECT 1 FROM log_leaves l \
             WHERE l.source_id = x.id AND l.source = 'key_event') ORDER BY id LIMIT 1000",
        ),
        (
            ACCESS,
            "SELECT id FROM access_log x WHERE NOT EXISTS (SELECT 1 FROM log_leaves l \
             WHERE l.source_id = x.id AND l.source = 'access_log') ORDER BY id LIMIT 1000",
        ),
        (
            POLICY,
            "SELECT id FROM policy_versions x WHERE NOT EXISTS (SELECT 1 FROM log_leaves l \
             WHERE l.source_id = x.id AND l.source = 'policy_version') ORDER BY id LIMIT 1000",
        ),
    ] {
        for row in sqlx::query(sql).fetch_all(&store.pool).await? {
            let id: i64 = row.try_get("id")?;
            report.problem(format!("{source} {id}: the record has no leaf"));
        }
    }
    audit_tree(store, &mut report).await?;
    Ok(report)
}

/// The leaves in the tree, by index, give the newest checkpoint's root.
async fn audit_tree(store: &SqlStore, report: &mut LogAudit) -> Result<(), StoreError> {
    let Some((size, root)) =
        sqlx::query("SELECT size, root FROM log_checkpoints ORDER BY size DESC LIMIT 1")
            .fetch_optional(&store.pool)
            .await?
            .map(|r| -> Result<(u64, Vec<u8>), StoreError> {
                Ok((to_u64(r.try_get("size")?)?, r.try_get("root")?))
            })
            .transpose()?
    else {
        return Ok(());
    };
    report.checkpoint_size = size;
    let mut acc = Accumulator::default();
    let mut next = 0u64;
    loop {
        let rows = sqlx::query(
            "SELECT leaf_index, entry FROM log_leaves WHERE leaf_index >= $1 \
             ORDER BY leaf_index LIMIT $2",
        )
        .bind(to_i64(next)?)
        .bind(AUDIT_CHUNK)
        .fetch_all(&store.pool)
        .await?;
        if rows.is_empty() {
            break;
        }
        for r in &rows {
            let index = to_u64(r.try_get("leaf_index")?)?;
            if index != next {
                report.problem(format!("the leaf at index {next} is missing"));
                return Ok(());
            }
            if index >= size {
                break;
            }
            acc.push(leaf_hash(&r.try_get::<Vec<u8>, _>("entry")?));
            next += 1;
        }
        if next >= size {
            break;
        }
    }
    if next < size {
        report.problem(format!(
            "the checkpoint has {size} leaves but the database only {next}"
        ));
    } else if acc.root().as_bytes().as_slice() != root.as_slice() {
        report.problem(format!(
            "the leaves' entries do not give the root of the checkpoint of size {size}"
        ));
    }
    Ok(())
}

/// An evidence row's record bytes, category, actor and time of receipt.
type EvidenceLeafParts = (Vec<u8>, String, String, i64);

/// What the leaves of the evidence rows among `ids` should say, by id.
async fn evidence_records(
    store: &SqlStore,
    ids: &[i64],
) -> Result<std::collections::HashMap<i64, EvidenceLeafParts>, StoreError> {
    let mut out = std::collections::HashMap::with_capacity(ids.len());
    let (Some(low), Some(high)) = (ids.iter().min(), ids.iter().max()) else {
        return Ok(out);
    };
    let rows = sqlx::query("SELECT * FROM evidence WHERE id BETWEEN $1 AND $2")
        .bind(low)
        .bind(high)
        .fetch_all(&store.pool)
        .await?;
    for r in &rows {
        let provider: i64 = r.try_get("provider_id")?;
        out.insert(
            r.try_get("id")?,
            (
                record_of_evidence(r)?,
                r.try_get("category")?,
                format!("provider/{provider}"),
                r.try_get("received_at")?,
            ),
        );
    }
    Ok(out)
}

async fn risk_area_record(store: &SqlStore, id: i64) -> Result<Option<Vec<u8>>, StoreError> {
    let Some(r) = sqlx::query("SELECT * FROM risk_areas WHERE id = $1")
        .bind(id)
        .fetch_optional(&store.pool)
        .await?
    else {
        return Ok(None);
    };
    let venues: Vec<i64> =
        sqlx::query("SELECT venue_id FROM risk_area_venues WHERE area_id = $1 ORDER BY venue_id")
            .bind(id)
            .fetch_all(&store.pool)
            .await?
            .iter()
            .map(|v| v.try_get("venue_id"))
            .collect::<Result<_, _>>()?;
    let name: String = r.try_get("name")?;
    let level: String = r.try_get("level")?;
    let district: Option<String> = r.try_get("district")?;
    Ok(Some(record_bytes(&RiskAreaRecord {
        table: "risk_areas",
        id,
        name: &name,
        level: &level,
        district: district.as_deref(),
        venues: &venues,
        starts_at: r.try_get("starts_at")?,
        ends_at: r.try_get("ends_at")?,
        provider: r.try_get("provider_id")?,
        created_at: r.try_get("created_at")?,
    })?))
}

async fn release_record(store: &SqlStore, id: i64) -> Result<Option<Vec<u8>>, StoreError> {
    let row = sqlx::query("SELECT released_at FROM risk_areas WHERE id = $1")
        .bind(id)
        .fetch_optional(&store.pool)
        .await?;
    let Some(released_at) = row
        .map(|r| r.try_get::<Option<i64>, _>("released_at"))
        .transpose()?
        .flatten()
    else {
        return Ok(None);
    };
    Ok(Some(record_bytes(&ReleaseRecord {
        table: "risk_areas",
        id,
        released_at,
    })?))
}

async fn purge_record(store: &SqlStore, id: i64) -> Result<Option<Vec<u8>>, StoreError> {
    let Some(r) = sqlx::query("SELECT * FROM purges WHERE id = $1")
        .bind(id)
        .fetch_optional(&store.pool)
        .await?
    else {
        return Ok(None);
    };
    let day: String = r.try_get("day")?;
    Ok(Some(record_bytes(&PurgeRecord {
        table: "purges",
        id,
        day: &day,
        deleted: r.try_get("deleted")?,
        cutoff: r.try_get("cutoff")?,
        at: r.try_get("at")?,
    })?))
}

async fn access_record(store: &SqlStore, id: i64) -> Result<Option<Vec<u8>>, StoreError> {
    let Some(r) = sqlx::query("SELECT * FROM access_log WHERE id = $1")
        .bind(id)
        .fetch_optional(&store.pool)
        .await?
    else {
        return Ok(None);
    };
    let (actor, action, purpose, outcome): (String, String, String, String) = (
        r.try_get("actor")?,
        r.try_get("action")?,
        r.try_get("purpose")?,
        r.try_get("outcome")?,
    );
    Ok(Some(record_bytes(&AccessRecord {
        table: "access_log",
        id,
        actor: &actor,
        action: &action,
        purpose: &purpose,
        outcome: &outcome,
        records: r.try_get("records")?,
        at: r.try_get("at")?,
    })?))
}

async fn policy_record(store: &SqlStore, id: i64) -> Result<Option<Vec<u8>>, StoreError> {
    let Some(r) = sqlx::query("SELECT * FROM policy_versions WHERE id = $1")
        .bind(id)
        .fetch_optional(&store.pool)
        .await?
    else {
        return Ok(None);
    };
    let version: String = r.try_get("version")?;
    Ok(Some(record_bytes(&PolicyRecord {
        table: "policy_versions",
        id,
        version: &version,
        digest: hex::encode(r.try_get::<Vec<u8>, _>("digest")?),
        at: r.try_get("at")?,
    })?))
}

/// Records a policy put in force, with its leaf, unless it is the last one recorded.
async fn record_policy(
    store: &SqlStore,
    version: &str,
    digest: &[u8; 32],
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    crate::error::no_nul([version])?;
    let (guard, mut tx) = store.begin_write().await?;
    if store.backend == Backend::Postgres {
        // Nodes starting together record it once.
        sqlx::query("LOCK TABLE policy_versions IN EXCLUSIVE MODE")
            .execute(&mut *tx)
            .await?;
    }
    let last = sqlx::query("SELECT version, digest FROM policy_versions ORDER BY id DESC LIMIT 1")
        .fetch_optional(&mut *tx)
        .await?;
    if let Some(last) = last {
        let (v, d): (String, Vec<u8>) = (last.try_get("version")?, last.try_get("digest")?);
        if v == version && d == digest {
            tx.rollback().await?;
            return Ok(false);
        }
    }
    let id: i64 = sqlx::query(
        "INSERT INTO policy_versions (version, digest, at) VALUES ($1, $2, $3) RETURNING id",
    )
    .bind(version)
    .bind(digest.to_vec())
    .bind(now.timestamp())
    .fetch_one(&mut *tx)
    .await?
    .try_get("id")?;
    let record = record_bytes(&PolicyRecord {
        table: "policy_versions",
        id,
        version,
        digest: hex::encode(digest),
        at: now.timestamp(),
    })?;
    let leaf = NewLeaf {
        kind: "policy",
        time: now.timestamp(),
        actor: "operator".into(),
        source: POLICY,
        source_id: id,
        record,
    };
    append(store.backend, &mut tx, vec![leaf]).await?;
    tx.commit().await?;
    drop(guard);
    Ok(true)
}

async fn key_event_record(store: &SqlStore, id: i64) -> Result<Option<Vec<u8>>, StoreError> {
    let Some(r) = sqlx::query("SELECT * FROM key_events WHERE id = $1")
        .bind(id)
        .fetch_optional(&store.pool)
        .await?
    else {
        return Ok(None);
    };
    let event: String = r.try_get("event")?;
    Ok(Some(record_bytes(&KeyEventRecord {
        table: "key_events",
        id,
        event: &event,
        kid: hex::encode(r.try_get::<Vec<u8>, _>("kid")?),
        public_key: hex::encode(r.try_get::<Vec<u8>, _>("public_key")?),
        at: r.try_get("at")?,
    })?))
}

/// Writes a key event and its leaf in one transaction.
async fn record_key_event(
    store: &SqlStore,
    event: crate::KeyEvent,
    public_key: &[u8; 32],
    kid: &[u8],
    now: DateTime<Utc>,
) -> Result<i64, StoreError> {
    let (guard, mut tx) = store.begin_write().await?;
    let id: i64 = sqlx::query(
        "INSERT INTO key_events (event, kid, public_key, at) VALUES ($1, $2, $3, $4) \
         RETURNING id",
    )
    .bind(event.as_str())
    .bind(kid.to_vec())
    .bind(public_key.to_vec())
    .bind(now.timestamp())
    .fetch_one(&mut *tx)
    .await?
    .try_get("id")?;
    let record = record_bytes(&KeyEventRecord {
        table: "key_events",
        id,
        event: event.as_str(),
        kid: hex::encode(kid),
        public_key: hex::encode(public_key),
        at: now.timestamp(),
    })?;
    let leaf = NewLeaf {
        kind: event.kind(),
        time: now.timestamp(),
        actor: "operator".into(),
        source: KEY_EVENT,
        source_id: id,
        record,
    };
    append(store.backend, &mut tx, vec![leaf]).await?;
    tx.commit().await?;
    drop(guard);
    Ok(id)
}

#[async_trait::async_trait]
impl crate::Log for SqlStore {
    async fn record_key_event(
        &self,
        event: crate::KeyEvent,
        public_key: &[u8; 32],
        kid: &[u8],
        now: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        record_key_event(self, event, public_key, kid, now).await
    }

    async fn record_policy(
        &self,
        version: &str,
        digest: &[u8; 32],
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        record_policy(self, version, digest, now).await
    }

    async fn integrate_log(
        &self,
        signer: &NoteSigner,
        origin: &str,
        max: i64,
        now: DateTime<Utc>,
    ) -> Result<Integrated, StoreError> {
        integrate(self, signer, origin, max, now).await
    }

    async fn log_checkpoint(&self) -> Result<Option<(u64, String)>, StoreError> {
        checkpoint(self).await
    }

    async fn add_log_cosignatures(
        &self,
        size: u64,
        text: &str,
        cosignatures: &[NoteSignature],
    ) -> Result<bool, StoreError> {
        add_cosignatures(self, size, text, cosignatures).await
    }

    async fn log_tile(
        &self,
        level: i64,
        index: u64,
        width: u16,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        tile(self, level, index, width).await
    }

    async fn log_receipts(&self, subject: &DocIndex) -> Result<Vec<Receipt>, StoreError> {
        evidence_receipts(self, subject).await
    }

    async fn audit_log(&self) -> Result<LogAudit, StoreError> {
        audit(self).await
    }
}
