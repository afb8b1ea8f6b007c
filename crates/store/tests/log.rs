//! The transparency log's store side, on SQLite and on PostgreSQL: every change writes its
//! leaf in its own transaction, the sequencer builds tiles that give the signed root, receipts
//! check, two sequencers on one database take each leaf once, the inspector's audit names
//! a record edited behind the store's back, and witnesses' cosignatures join the checkpoint
//! they cosigned and no other.
//!
//! PostgreSQL comes from `HEALTHCODE_TEST_DATABASE_URL`, as in suite.rs (required when `CI`
//! is set).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use healthcode_domain::{
    Declared, DesignationKind, DocumentNumber, DocumentType, RiskLevel, Symptom, TestKind,
    TestOutcome,
};
use healthcode_store::leaf::Entry;
use healthcode_store::{
    DocIndex, EvidenceBody, Log, NewRiskArea, ProviderKind, SqlStore, Store, Submission, Vault,
    Venues,
};
use healthcode_tlog::{
    Checkpoint, CosignatureSigner, Hash, MemoryTree, Note, NoteSigner, Tile, TlogProof, leaf_hash,
    parse_entry_bundle, root_from_tiles, tile_from_bytes, tiles_for_root, tiles_for_size,
    witnessed,
};
use rand::RngCore;
use sqlx::{Connection, Executor};

const ORIGIN: &str = "example.test/log";

fn signer() -> NoteSigner {
    NoteSigner::from_seed(ORIGIN, &[9; 32]).expect("key name")
}

fn vault() -> Arc<Vault> {
    Arc::new(Vault::from_master_key(&[42; 32]))
}

struct Db {
    url: String,
    _dir: Option<tempfile::TempDir>,
    drop_db: Option<(String, String)>,
}

impl Db {
    async fn sqlite() -> Db {
        let dir = tempfile::tempdir().expect("tempdir");
        Db {
            url: format!("sqlite://{}", dir.path().join("log.db").display()),
            _dir: Some(dir),
            drop_db: None,
        }
    }

    async fn postgres() -> Option<Db> {
        let Ok(admin_url) = std::env::var("HEALTHCODE_TEST_DATABASE_URL") else {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI is set but HEALTHCODE_TEST_DATABASE_URL is not"
            );
            return None;
        };
        let mut suffix = [0u8; 6];
        rand::thread_rng().fill_bytes(&mut suffix);
        let name = format!(
            "hc_log_{}",
            suffix
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        );
        let mut admin = sqlx::PgConnection::connect(&admin_url).await.unwrap();
        admin
            .execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .unwrap();
        let (base, _) = admin_url.rsplit_once('/').unwrap();
        Some(Db {
            url: format!("{base}/{name}"),
            _dir: None,
            drop_db: Some((admin_url, name)),
        })
    }

    async fn store(&self) -> Arc<SqlStore> {
        Arc::new(SqlStore::connect(&self.url, vault()).await.expect("store"))
    }

    async fn finish(self) {
        if let Some((admin_url, name)) = self.drop_db
            && let Ok(mut c) = sqlx::PgConnection::connect(&admin_url).await
        {
            let _ = c
                .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
                .await;
        }
    }
}

macro_rules! on_both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let db = super::Db::sqlite().await;
                super::$name(&db).await;
                db.finish().await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(db) = super::Db::postgres().await {
                    super::$name(&db).await;
                    db.finish().await;
                }
            }
        }
    )*};
}

on_both!(
    every_change_is_a_leaf_and_the_tiles_give_the_signed_root,
    a_batch_of_new_existing_and_corrected_records_logs_each_new_revision_once,
    key_events_are_leaves_and_an_edited_one_is_named,
    reads_of_personal_data_are_leaves_naming_no_one,
    a_policy_put_in_force_is_a_leaf_once,
    two_sequencers_take_each_leaf_once,
    an_edited_record_is_named_and_its_receipt_still_proves_the_original,
    cosignatures_are_added_to_their_own_checkpoint_only,
);

fn t(h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 5, 1, h, 0, 0).single().unwrap()
}

fn subject(n: u32) -> DocIndex {
    let mut b = [7u8; 32];
    b[..4].copy_from_slice(&n.to_be_bytes());
    DocIndex(b)
}

fn pcr(subject: DocIndex, lab: i64, record: &str, outcome: TestOutcome) -> Submission {
    Submission {
        provider_id: lab,
        record_id: record.into(),
        subject,
        body: EvidenceBody::Test {
            kind: TestKind::Pcr,
            outcome,
            sampled_at: t(1),
            // Sub-second times are stored to the second; the record is committed as stored.
            resulted_at: t(2) + chrono::Duration::milliseconds(250),
        },
    }
}

/// A batch larger than one statement whose first statement holds records that exist (so not
/// every row of it goes in, and the leaves written ahead for it are written again for the
/// rows that did), corrections and new records: one leaf per new revision, each matching its
/// record, none for an unchanged row.
async fn a_batch_of_new_existing_and_corrected_records_logs_each_new_revision_once(db: &Db) {
    let store = db.store().await;
    let lab = store
        .add_provider(ProviderKind::Lab, "Lab", &[1; 32], t(0))
        .await
        .unwrap();
    let existing: Vec<Submission> = (0..1_000)
        .map(|i| {
            pcr(
                subject(i),
                lab.id,
                &format!("E-{i:04}"),
                TestOutcome::Negative,
            )
        })
        .collect();
    let first = store.submit_batch(&existing, t(3)).await.unwrap();
    assert!(first.iter().all(|r| r.is_ok()));
    // In key order the 1,000 existing records come first: half of them corrected, half
    // unchanged; then 2,200 new records.
    let mut mixed: Vec<Submission> = (0..1_000)
        .map(|i| {
            let outcome = if i % 2 == 0 {
                TestOutcome::Positive
            } else {
                TestOutcome::Negative
            };
            pcr(subject(i), lab.id, &format!("E-{i:04}"), outcome)
        })
        .collect();
    mixed.extend((0..2_200).map(|i| {
        pcr(
            subject(5_000 + i),
            lab.id,
            &format!("N-{i:04}"),
            TestOutcome::Negative,
        )
    }));
    let outcome = store.submit_batch(&mixed, t(4)).await.unwrap();
    let stored: Vec<_> = outcome.iter().map(|r| r.as_ref().unwrap()).collect();
    assert_eq!(
        stored.iter().filter(|s| s.revision == 2).count(),
        500,
        "corrections"
    );
    let audit = store.audit_log().await.unwrap();
    assert_eq!(audit.problems, Vec::<String>::new());
    assert_eq!(audit.leaves, 1_000 + 500 + 2_200);
    // Every revision stored has its own leaf: a receipt for each of a corrected person's
    // two revisions, one for an unchanged person's one.
    assert_eq!(store.log_receipts(&subject(0)).await.unwrap().len(), 2);
    assert_eq!(store.log_receipts(&subject(1)).await.unwrap().len(), 1);
    let new = store.log_receipts(&subject(5_000 + 2_199)).await.unwrap();
    assert_eq!(new.len(), 1);
    new[0].check_record().expect("record matches");
    assert!(
        new[0].record.contains("\"record\":\"N-2199\""),
        "{}",
        new[0].record
    );
}

/// A key rotation's three events are leaves whose records the audit checks; a key event
/// rewritten behind the store's back (another key claimed) is named.
async fn key_events_are_leaves_and_an_edited_one_is_named(db: &Db) {
    use healthcode_store::KeyEvent;
    let store = db.store().await;
    let (old, new) = ([1u8; 32], [2u8; 32]);
    store
        .record_key_event(KeyEvent::Staged, &new, &[2; 8], t(1))
        .await
        .unwrap();
    store
        .record_key_event(KeyEvent::Retired, &old, &[1; 8], t(2))
        .await
        .unwrap();
    let activated = store
        .record_key_event(KeyEvent::Activated, &new, &[2; 8], t(2))
        .await
        .unwrap();
    let size = store
        .integrate_log(&signer(), ORIGIN, 1000, t(3))
        .await
        .unwrap()
        .size;
    let (_, entries) = read_back(&store).await;
    let kinds: Vec<String> = entries
        .iter()
        .map(|e| Entry::parse(e).unwrap().kind)
        .collect();
    for kind in ["key-staged", "key-retired", "key-activated"] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} in {kinds:?}");
    }
    let audit = store.audit_log().await.unwrap();
    assert_eq!(audit.problems, Vec::<String>::new());
    assert_eq!(audit.sequenced, size);

    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    sqlx::query("UPDATE key_events SET public_key = $1 WHERE id = $2")
        .bind(vec![9u8; 32])
        .bind(activated)
        .execute(&mut conn)
        .await
        .unwrap();
    let audit = store.audit_log().await.unwrap();
    assert_eq!(audit.problems.len(), 1, "{:?}", audit.problems);
    assert!(
        audit.problems[0].starts_with(&format!("key_event {activated} ")),
        "{:?}",
        audit.problems
    );
}

/// Every row of the access log (a read of personal data, or its refusal) is a `read` leaf by
/// its actor; the record names no one, and an access-log row rewritten behind the store's back
/// is named by the audit.
async fn reads_of_personal_data_are_leaves_naming_no_one(db: &Db) {
    use healthcode_store::Access;
    let store = db.store().await;
    for (outcome, records) in [("ok", 1), ("not_found", 0)] {
        store
            .record_access(&Access {
                actor: "device:7".into(),
                action: "sentinel_lookup".into(),
                purpose: "entry check at venue 3".into(),
                outcome: outcome.into(),
                records,
                at: t(4),
            })
            .await
            .unwrap();
    }
    store
        .integrate_log(&signer(), ORIGIN, 1000, t(5))
        .await
        .unwrap();
    let (_, entries) = read_back(&store).await;
    let reads: Vec<Entry> = entries
        .iter()
        .map(|e| Entry::parse(e).unwrap())
        .filter(|e| e.kind == "read")
        .collect();
    assert_eq!(reads.len(), 2);
    assert!(
        reads
            .iter()
            .all(|e| e.actor == "device:7" && e.time == t(4).timestamp())
    );
    let audit = store.audit_log().await.unwrap();
    assert_eq!(audit.problems, Vec::<String>::new());

    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    sqlx::query("UPDATE access_log SET purpose = 'nothing to see' WHERE outcome = 'ok'")
        .execute(&mut conn)
        .await
        .unwrap();
    let audit = store.audit_log().await.unwrap();
    assert_eq!(audit.problems.len(), 1, "{:?}", audit.problems);
    assert!(
        audit.problems[0].starts_with("access_log "),
        "{:?}",
        audit.problems
    );
}

/// A policy is a leaf when it is put in force: again at the next start only if its version or
/// its document changed.
async fn a_policy_put_in_force_is_a_leaf_once(db: &Db) {
    let store = db.store().await;
    assert!(store.record_policy("2026.1", &[1; 32], t(1)).await.unwrap());
    assert!(!store.record_policy("2026.1", &[1; 32], t(2)).await.unwrap());
    // The same version with another document, then back: each a change.
    assert!(store.record_policy("2026.1", &[2; 32], t(3)).await.unwrap());
    assert!(store.record_policy("2026.1", &[1; 32], t(4)).await.unwrap());
    assert!(store.record_policy("2026.2", &[1; 32], t(5)).await.unwrap());
    store
        .integrate_log(&signer(), ORIGIN, 1000, t(6))
        .await
        .unwrap();
    let (_, entries) = read_back(&store).await;
    let policies = entries
        .iter()
        .filter(|e| Entry::parse(e).unwrap().kind == "policy")
        .count();
    assert_eq!(policies, 4);
    let audit = store.audit_log().await.unwrap();
    assert_eq!(audit.problems, Vec::<String>::new());
    assert!(store.record_policy("bad\0", &[1; 32], t(7)).await.is_err());
}

/// Reads every tile of the log's newest checkpoint back, checks the checkpoint's signature,
/// rebuilds the root from the tiles, and checks the entry bundles against level 0. Returns
/// the entries.
async fn read_back(store: &SqlStore) -> (Checkpoint, Vec<Vec<u8>>) {
    let (size, signed) = store.log_checkpoint().await.unwrap().expect("checkpoint");
    let checkpoint = Checkpoint::open(signed.as_bytes(), ORIGIN, &[signer().verifier()]).unwrap();
    assert_eq!(checkpoint.size(), size);
    let mut tiles: BTreeMap<Tile, Vec<Hash>> = BTreeMap::new();
    let mut entries = Vec::new();
    for tile in tiles_for_size(size) {
        let data = store
            .log_tile(i64::from(tile.level()), tile.index(), tile.width())
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{} is served", tile.path()));
        tiles.insert(tile, tile_from_bytes(&tile, &data).unwrap());
        if tile.level() == 0 {
            let bundle = store
                .log_tile(-1, tile.index(), tile.width())
                .await
                .unwrap()
                .expect("entry bundle");
            let parsed = parse_entry_bundle(&bundle, tile.width()).unwrap();
            let hashes: Vec<Hash> = parsed.iter().map(|e| leaf_hash(e)).collect();
            assert_eq!(
                hashes,
                tiles[&tile],
                "bundle {} hashes to its tile",
                tile.index()
            );
            entries.extend(parsed);
        }
        // A narrower width of the same tile is its first hashes.
        if tile.width() > 1 {
            let narrower = store
                .log_tile(i64::from(tile.level()), tile.index(), 1)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(narrower, data[..32]);
        }
    }
    for t in tiles_for_root(size).unwrap() {
        assert!(tiles.contains_key(&t));
    }
    assert_eq!(&root_from_tiles(size, &tiles).unwrap(), checkpoint.root());
    // Nothing beyond the tree is served.
    let beyond = Tile::new(0, size / 256, (size % 256) as u16 + 1);
    if let Ok(beyond) = beyond
        && beyond.width() <= 256
    {
        assert_eq!(
            store
                .log_tile(0, beyond.index(), beyond.width())
                .await
                .unwrap(),
            None
        );
    }
    (checkpoint, entries)
}

async fn every_change_is_a_leaf_and_the_tiles_give_the_signed_root(db: &Db) {
    let store = db.store().await;
    // The first run gives an empty log its checkpoint.
    let first = store
        .integrate_log(&signer(), ORIGIN, 1000, t(3))
        .await
        .unwrap();
    assert_eq!((first.size, first.added), (0, 0));
    let lab = store
        .add_provider(ProviderKind::Lab, "Lab", &[1; 32], t(0))
        .await
        .unwrap();
    let cdc = store
        .add_provider(ProviderKind::Cdc, "CDC", &[2; 32], t(0))
        .await
        .unwrap();
    let a = subject(1);
    store
        .submit(&pcr(a, lab.id, "R-1", TestOutcome::Negative), t(3))
        .await
        .unwrap();
    // Unchanged: no new leaf. A correction: one.
    store
        .submit(&pcr(a, lab.id, "R-1", TestOutcome::Negative), t(3))
        .await
        .unwrap();
    store
        .submit(&pcr(a, lab.id, "R-1", TestOutcome::Positive), t(4))
        .await
        .unwrap();
    // A batch of 700 (crossing tile boundaries), one of them a second revision in the batch.
    let mut batch: Vec<Submission> = (0..699)
        .map(|i| {
            pcr(
                subject(100 + i),
                lab.id,
                &format!("B-{i}"),
                TestOutcome::Negative,
            )
        })
        .collect();
    batch.push(pcr(subject(100), lab.id, "B-0", TestOutcome::Invalid));
    let outcome = store.submit_batch(&batch, t(5)).await.unwrap();
    assert!(outcome.iter().all(|r| r.is_ok()));
    let designation = Submission {
        provider_id: cdc.id,
        record_id: "D-1".into(),
        subject: a,
        body: EvidenceBody::Designation {
            kind: DesignationKind::CloseContact,
            started_at: t(4),
            ends_at: None,
            released_at: None,
            exposure: None,
        },
    };
    store.submit(&designation, t(5)).await.unwrap();
    store
        .release(cdc.id, "D-1", t(6), &DesignationKind::ALL, t(6))
        .await
        .unwrap();
    store
        .declare(
            &a,
            "decl-1",
            &Declared::Symptoms {
                symptoms: vec![Symptom::Fever],
                onset: t(5).date_naive(),
            },
            t(6),
        )
        .await
        .unwrap();
    let venue = store.add_venue("V", "mall", "D", "A", t(0)).await.unwrap();
    let area = store
        .add_risk_area(
            &NewRiskArea {
                name: "area".into(),
                level: RiskLevel::Medium,
                district: None,
                venue_ids: vec![venue.id],
                starts_at: t(1),
                ends_at: None,
                provider_id: cdc.id,
            },
            t(6),
        )
        .await
        .unwrap();
    store.release_risk_area(area.id, t(7)).await.unwrap();
    // Released twice: the second changes nothing, and logs nothing.
    store.release_risk_area(area.id, t(8)).await.unwrap();
    store
        .purge_checkins(t(0), "2026-05-01", t(9))
        .await
        .unwrap();

    // 2 test revisions + 700 in the batch + designation + release + declaration + area +
    // area release + purge.
    let expected = 2 + 700 + 2 + 1 + 2 + 1;
    // Several runs of at most 300: the tiles carry over from run to run.
    let size = loop {
        let done = store
            .integrate_log(&signer(), ORIGIN, 300, t(10))
            .await
            .unwrap();
        if done.added == 0 {
            break done.size;
        }
    };
    assert_eq!(size, expected);
    let (checkpoint, entries) = read_back(&store).await;
    assert_eq!(checkpoint.size(), expected);
    // The same entries in memory give the same root.
    let tree = MemoryTree::from_entries(entries.iter());
    assert_eq!(&tree.root(), checkpoint.root());
    let kinds: Vec<String> = entries
        .iter()
        .map(|e| Entry::parse(e).unwrap().kind)
        .collect();
    for kind in [
        "test",
        "designation",
        "release",
        "declaration",
        "risk-area",
        "risk-area-release",
        "purge",
    ] {
        assert!(kinds.iter().any(|k| k == kind), "{kind}");
    }
    // No entry carries a subject or a record id.
    let text = String::from_utf8(entries.concat()).unwrap();
    assert!(!text.contains("R-1") && !text.contains("0707070707"));

    let audit = store.audit_log().await.unwrap();
    assert_eq!(audit.problems, Vec::<String>::new());
    assert_eq!((audit.leaves, audit.sequenced), (expected, expected));

    // A's receipts: both test revisions, the designation, its release, the declaration.
    let receipts = store.log_receipts(&a).await.unwrap();
    assert_eq!(receipts.len(), 5);
    for r in &receipts {
        let entry = r.check_record().expect("record matches");
        assert!(r.index.is_some());
        assert!(r.record.contains(&format!("\"subject\":\"{}", "00000001")));
        assert_eq!(entry.kind, r.kind);
        let index = r.index.unwrap();
        assert_eq!(tree.leaf_hash(index), Some(leaf_hash(r.entry.as_bytes())));
    }
    assert_eq!(
        receipts.iter().map(|r| r.kind.as_str()).collect::<Vec<_>>(),
        ["test", "test", "designation", "release", "declaration"]
    );
}

async fn two_sequencers_take_each_leaf_once(db: &Db) {
    let one = db.store().await;
    let two = db.store().await;
    let lab = one
        .add_provider(ProviderKind::Lab, "Lab", &[1; 32], t(0))
        .await
        .unwrap();
    let writer = {
        let one = one.clone();
        tokio::spawn(async move {
            for round in 0..20u32 {
                let batch: Vec<Submission> = (0..50)
                    .map(|i| {
                        pcr(
                            subject(round * 100 + i),
                            lab.id,
                            &format!("R-{round}-{i}"),
                            TestOutcome::Negative,
                        )
                    })
                    .collect();
                one.submit_batch(&batch, t(3)).await.unwrap();
            }
        })
    };
    let sequence = |store: Arc<SqlStore>| {
        tokio::spawn(async move {
            let mut added = 0;
            for _ in 0..60 {
                added += store
                    .integrate_log(&signer(), ORIGIN, 120, t(4))
                    .await
                    .unwrap()
                    .added;
                tokio::task::yield_now().await;
            }
            added
        })
    };
    let (a, b) = (sequence(one.clone()), sequence(two.clone()));
    writer.await.unwrap();
    let (a, b) = (a.await.unwrap(), b.await.unwrap());
    // Whatever is left, either finishes.
    let rest = two
        .integrate_log(&signer(), ORIGIN, 10_000, t(5))
        .await
        .unwrap();
    assert_eq!(a + b + rest.added, 1000, "each leaf taken once");
    assert_eq!(rest.size, 1000);
    let (checkpoint, entries) = read_back(&one).await;
    assert_eq!(checkpoint.size(), 1000);
    assert_eq!(
        &MemoryTree::from_entries(entries.iter()).root(),
        checkpoint.root()
    );
    assert_eq!(
        one.audit_log().await.unwrap().problems,
        Vec::<String>::new()
    );
}

async fn an_edited_record_is_named_and_its_receipt_still_proves_the_original(db: &Db) {
    let store = db.store().await;
    let lab = store
        .add_provider(ProviderKind::Lab, "Lab", &[1; 32], t(0))
        .await
        .unwrap();
    let a = vault().blind_index(
        &DocumentNumber::parse(DocumentType::ResidentId, "11010519491231002X").unwrap(),
    );
    for (i, outcome) in [TestOutcome::Positive, TestOutcome::Negative]
        .into_iter()
        .enumerate()
    {
        store
            .submit(&pcr(a, lab.id, &format!("R-{i}"), outcome), t(3))
            .await
            .unwrap();
    }
    store
        .integrate_log(&signer(), ORIGIN, 1000, t(4))
        .await
        .unwrap();
    let (checkpoint, _) = read_back(&store).await;
    let before = store.log_receipts(&a).await.unwrap();
    let positive = before
        .iter()
        .find(|r| r.record.contains("positive"))
        .unwrap()
        .clone();
    // The receipt's proof, as the server would attach it, built here from the entries.
    let tree = MemoryTree::from_entries(read_back(&store).await.1.iter());
    let index = positive.index.unwrap();
    let signed = store.log_checkpoint().await.unwrap().unwrap().1;
    let proof = TlogProof::new(
        index,
        tree.inclusion_proof(index, checkpoint.size()).unwrap(),
        &signed,
    )
    .unwrap();

    // Someone with database access turns the positive result negative.
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    let changed = conn
        .execute("UPDATE evidence SET test_outcome = 'negative' WHERE record_id = 'R-0'")
        .await
        .unwrap();
    assert_eq!(changed.rows_affected(), 1);
    let audit = store.audit_log().await.unwrap();
    assert_eq!(audit.problems.len(), 1, "{:?}", audit.problems);
    assert!(
        audit.problems[0].contains("does not match its leaf's commitment"),
        "{:?}",
        audit.problems
    );
    let row: (i64,) = sqlx::query_as("SELECT id FROM evidence WHERE record_id = 'R-0'")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert!(audit.problems[0].starts_with(&format!("evidence {} ", row.0)));

    // The record as stored now no longer matches; the resident's earlier receipt still does,
    // and its proof still leads to the signed root: it shows the original, positive.
    let after = store.log_receipts(&a).await.unwrap();
    let edited = after.iter().find(|r| r.index == positive.index).unwrap();
    assert!(edited.check_record().is_err());
    let entry = positive.check_record().unwrap();
    assert!(positive.record.contains("\"outcome\":\"positive\""));
    proof
        .verify(
            &leaf_hash(positive.entry.as_bytes()),
            ORIGIN,
            &[signer().verifier()],
        )
        .unwrap();
    assert_eq!(entry.kind, "test");

    // A row deleted outright, and a row written without its leaf, are named too.
    conn.execute("DELETE FROM subject_recent").await.unwrap();
    conn.execute("DELETE FROM evidence WHERE record_id = 'R-1'")
        .await
        .unwrap();
    let audit = store.audit_log().await.unwrap();
    assert!(
        audit
            .problems
            .iter()
            .any(|p| p.contains("the record is missing")),
        "{:?}",
        audit.problems
    );
    conn.close().await.unwrap();
}

async fn cosignatures_are_added_to_their_own_checkpoint_only(db: &Db) {
    let store = db.store().await;
    let lab = store
        .add_provider(ProviderKind::Lab, "Lab", &[1; 32], t(0))
        .await
        .unwrap();
    store
        .submit(&pcr(subject(1), lab.id, "R-1", TestOutcome::Negative), t(3))
        .await
        .unwrap();
    let done = store
        .integrate_log(&signer(), ORIGIN, 1000, t(4))
        .await
        .unwrap();
    let (size, signed) = store.log_checkpoint().await.unwrap().unwrap();
    assert_eq!(size, done.size);
    let note = Note::parse(signed.as_bytes()).unwrap();
    let checkpoint = Checkpoint::parse_text(note.text()).unwrap();
    let w1 = CosignatureSigner::from_seed("witness.test/w1", &[21; 32]).unwrap();
    let w2 = CosignatureSigner::from_seed("witness.test/w2", &[22; 32]).unwrap();
    let witnesses = [w1.verifier(), w2.verifier()];

    // Each witness's line is added on its own; a newer line of one replaces its older one.
    for (w, time) in [(&w1, 100), (&w2, 100), (&w1, 200)] {
        let line = w.cosign(&checkpoint, time).unwrap();
        assert!(
            store
                .add_log_cosignatures(size, note.text(), &[line])
                .await
                .unwrap()
        );
    }
    let (_, cosigned) = store.log_checkpoint().await.unwrap().unwrap();
    let cosigned = Note::parse(cosigned.as_bytes()).unwrap();
    assert_eq!(cosigned.text(), note.text());
    assert_eq!(
        cosigned.signatures().len(),
        3,
        "the log's and two witnesses'"
    );
    let found = witnessed(&cosigned, &witnesses, 2).unwrap();
    assert_eq!(found[0].timestamp(), 200);
    Checkpoint::open(
        cosigned.to_string().as_bytes(),
        ORIGIN,
        &[signer().verifier()],
    )
    .unwrap();

    // Another text at that size (a tree signed again), or a size the log has not, is left
    // alone.
    let other = Checkpoint::new(ORIGIN, size, Hash::from_slice(&[7; 32]).unwrap()).unwrap();
    let line = w1.cosign(&other, 300).unwrap();
    assert!(
        !store
            .add_log_cosignatures(size, &other.to_text(), std::slice::from_ref(&line))
            .await
            .unwrap()
    );
    assert!(
        !store
            .add_log_cosignatures(size + 1, &other.to_text(), &[line])
            .await
            .unwrap()
    );
    let (_, after) = store.log_checkpoint().await.unwrap().unwrap();
    assert_eq!(after, cosigned.to_string());
}
