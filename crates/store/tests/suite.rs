//! One store test suite, run against SQLite and against PostgreSQL.
//!
//! PostgreSQL comes from `HEALTHCODE_TEST_DATABASE_URL` (for example
//! `postgres://postgres@127.0.0.1:5432/test`); each test creates and drops a database of its
//! own. Without the variable the PostgreSQL half is skipped — unless `CI` is set, when it
//! fails, so CI can never pass without having run it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use healthcode_domain::{
    DesignationKind, DocumentNumber, DocumentType, PersonName, PhoneNumber, TestKind, TestOutcome,
};
use healthcode_store::{
    DocIndex, EvidenceBody, Outcome, ProviderKind, SqlStore, Store, StoreError, Submission, Vault,
};
use rand::RngCore;
use sqlx::{Connection, Executor};

struct Fixture {
    store: Arc<SqlStore>,
    _dir: Option<tempfile::TempDir>,
    drop_db: Option<(String, String)>,
}

impl Fixture {
    async fn finish(self) {
        self.store.close().await;
        if let Some((admin_url, name)) = self.drop_db
            && let Ok(mut c) = sqlx::PgConnection::connect(&admin_url).await
        {
            let _ = c
                .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
                .await;
        }
    }
}

fn vault() -> Arc<Vault> {
    Arc::new(Vault::from_master_key(&[42; 32]))
}

async fn sqlite() -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("test.db").display());
    let store = SqlStore::connect(&url, vault())
        .await
        .expect("sqlite store");
    Fixture {
        store: Arc::new(store),
        _dir: Some(dir),
        drop_db: None,
    }
}

async fn postgres() -> Option<Fixture> {
    let Ok(admin_url) = std::env::var("HEALTHCODE_TEST_DATABASE_URL") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but HEALTHCODE_TEST_DATABASE_URL is not: the PostgreSQL suite must run"
        );
        eprintln!("HEALTHCODE_TEST_DATABASE_URL not set: skipping the PostgreSQL run");
        return None;
    };
    let mut suffix = [0u8; 6];
    rand::thread_rng().fill_bytes(&mut suffix);
    let name = format!("hc_test_{}", hex_lower(&suffix));
    let mut admin = sqlx::PgConnection::connect(&admin_url)
        .await
        .expect("connect to HEALTHCODE_TEST_DATABASE_URL");
    admin
        .execute(format!("CREATE DATABASE {name}").as_str())
        .await
        .expect("create test database");
    let (base, _) = admin_url.rsplit_once('/').expect("URL has a database path");
    let url = format!("{base}/{name}");
    let store = SqlStore::connect(&url, vault())
        .await
        .expect("postgres store");
    Some(Fixture {
        store: Arc::new(store),
        _dir: None,
        drop_db: Some((admin_url, name)),
    })
}

/// Adds a provider with key hash `[1; 32]`.
async fn provider(store: &SqlStore, kind: ProviderKind, name: &str) -> healthcode_store::Provider {
    store
        .add_provider(kind, name, &[1; 32], t(8))
        .await
        .expect("add")
}

fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Runs `$name(store)` once on SQLite and once on PostgreSQL.
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let f = super::sqlite().await;
                super::$name(f.store.clone()).await;
                f.finish().await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(f) = super::postgres().await {
                    super::$name(f.store.clone()).await;
                    f.finish().await;
                }
            }
        }
    )*};
}

#[tokio::test]
async fn urls_with_options_and_pins() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!(
        "sqlite://{}?cache=private",
        dir.path().join("memory-notes.db").display()
    );
    let store = SqlStore::connect(&url, vault())
        .await
        .expect("file with options");
    assert!(dir.path().join("memory-notes.db").exists());
    assert_eq!(store.pin("k", b"one").await.expect("pin"), None);
    assert_eq!(store.pin("k", b"one").await.expect("pin"), None);
    assert_eq!(
        store.pin("k", b"two").await.expect("pin"),
        Some(b"one".to_vec())
    );
    store.close().await;
}

#[tokio::test]
async fn a_wrong_master_key_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("k.db").display());
    let first = SqlStore::connect(&url, vault()).await.expect("first open");
    first.close().await;
    let again = SqlStore::connect(&url, vault()).await.expect("same key");
    again.close().await;
    let other = Arc::new(Vault::from_master_key(&[7; 32]));
    let err = SqlStore::connect(&url, other).await.expect_err("wrong key");
    assert!(
        err.to_string().contains("master key does not match"),
        "{err}"
    );
}

on_both!(
    people_are_encrypted_and_unique,
    providers_have_unique_names,
    submissions_are_idempotent_and_corrections_keep_history,
    evidence_before_registration_applies,
    sessions_expire,
    racing_submissions_make_one_revision,
    change_feed_names_every_affected_subject,
    a_record_keeps_its_category_and_its_release,
    a_late_retry_cannot_revert_a_correction,
    releases_are_checked_and_atomic,
);

fn t(h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 5, 1, h, 0, 0)
        .single()
        .expect("valid time")
}

fn doc(n: &str) -> DocumentNumber {
    DocumentNumber::parse(DocumentType::ResidentId, n).expect("valid")
}

const ID_A: &str = "11010519491231002X";
const ID_B: &str = "110101199003070011";

fn pcr(outcome: TestOutcome, h: u32) -> EvidenceBody {
    EvidenceBody::Test {
        kind: TestKind::Pcr,
        outcome,
        sampled_at: t(h),
        resulted_at: t(h + 1),
    }
}

async fn people_are_encrypted_and_unique(store: Arc<SqlStore>) {
    let name = PersonName::parse("张三").expect("name");
    let phone = PhoneNumber::parse("13800138000").expect("phone");
    let p = store
        .register(&doc(ID_A), &name, Some(&phone), t(8))
        .await
        .expect("register");
    let back = store.person(p.id).await.expect("read back");
    assert_eq!(back.document.expose(), ID_A);
    assert_eq!(back.name.expose(), "张三");
    assert_eq!(back.phone.as_ref().map(|p| p.expose()), Some("13800138000"));
    assert_eq!(back.subject, p.subject);
    let found = store
        .person_by_document(&doc(ID_A))
        .await
        .expect("lookup")
        .expect("found");
    assert_eq!(found.id, p.id);
    assert!(
        store
            .person_by_document(&doc(ID_B))
            .await
            .expect("lookup")
            .is_none()
    );

    let again = store.register(&doc(ID_A), &name, None, t(9)).await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    assert_eq!(store.count_people().await.expect("count"), 1);
}

async fn providers_have_unique_names(store: Arc<SqlStore>) {
    let lab = provider(&store, ProviderKind::Lab, "Lab One").await;
    let by_key = store.provider_by_key(&[1; 32]).await.expect("lookup");
    assert_eq!(by_key, Some(lab));
    assert!(
        store
            .provider_by_key(&[2; 32])
            .await
            .expect("lookup")
            .is_none()
    );
    let dup = store
        .add_provider(ProviderKind::Cdc, "Lab One", &[3; 32], t(8))
        .await;
    assert!(matches!(dup, Err(StoreError::Conflict(_))));
}

async fn submissions_are_idempotent_and_corrections_keep_history(store: Arc<SqlStore>) {
    let lab = provider(&store, ProviderKind::Lab, "Lab").await;
    let subject = store.blind_index(&doc(ID_A));
    let first = Submission {
        provider_id: lab.id,
        record_id: "R-1".into(),
        subject,
        body: pcr(TestOutcome::Positive, 8),
    };
    let s1 = store.submit(&first, t(10)).await.expect("submit");
    assert_eq!((s1.outcome, s1.revision), (Outcome::Created, 1));
    let s2 = store.submit(&first, t(11)).await.expect("resubmit");
    assert_eq!(
        (s2.outcome, s2.revision, s2.id),
        (Outcome::Unchanged, 1, s1.id)
    );

    let corrected = Submission {
        body: pcr(TestOutcome::Negative, 8),
        ..first.clone()
    };
    let s3 = store.submit(&corrected, t(12)).await.expect("correct");
    assert_eq!((s3.outcome, s3.revision), (Outcome::Corrected, 2));
    assert_eq!(s3.previous_subject, None);

    let history = store.history(lab.id, "R-1").await.expect("history");
    assert_eq!(history.len(), 2);
    assert_eq!(history[0].body, first.body);
    assert!(!history[0].current);
    assert_eq!(history[1].body, corrected.body);
    assert!(history[1].current);

    let ev = store.evidence_for(&subject).await.expect("evidence");
    assert_eq!(ev.tests.len(), 1);
    assert_eq!(ev.tests[0].outcome, TestOutcome::Negative);
    assert_eq!(ev.tests[0].meta.revision, 2);
    assert_eq!(ev.tests[0].meta.provider, "Lab");

    // Moving a record to another person is a correction that names the earlier subject.
    let other = store.blind_index(&doc(ID_B));
    let moved = Submission {
        subject: other,
        ..corrected
    };
    let s4 = store.submit(&moved, t(13)).await.expect("move");
    assert_eq!(s4.previous_subject, Some(subject));
    assert!(store.evidence_for(&subject).await.expect("ev").is_empty());
    assert_eq!(store.evidence_for(&other).await.expect("ev").tests.len(), 1);
}

async fn evidence_before_registration_applies(store: Arc<SqlStore>) {
    let cdc = provider(&store, ProviderKind::Cdc, "CDC").await;
    let subject = store.blind_index(&doc(ID_B));
    store
        .submit(
            &Submission {
                provider_id: cdc.id,
                record_id: "D-1".into(),
                subject,
                body: EvidenceBody::Designation {
                    kind: DesignationKind::CloseContact,
                    started_at: t(8),
                    ends_at: Some(t(8) + Duration::days(7)),
                    released_at: None,
                },
            },
            t(9),
        )
        .await
        .expect("submit");
    let p = store
        .register(
            &doc(ID_B),
            &PersonName::parse("李四").expect("name"),
            None,
            t(10),
        )
        .await
        .expect("register");
    let ev = store.evidence_for(&p.doc_index).await.expect("evidence");
    assert_eq!(ev.designations.len(), 1);
    assert_eq!(ev.designations[0].kind, DesignationKind::CloseContact);
    assert!(
        store
            .evidence_for(&DocIndex([0; 32]))
            .await
            .expect("ev")
            .is_empty()
    );
}

async fn sessions_expire(store: Arc<SqlStore>) {
    let p = store
        .register(
            &doc(ID_A),
            &PersonName::parse("王五").expect("n"),
            None,
            t(8),
        )
        .await
        .expect("register");
    store
        .create_session(p.id, &[7; 32], t(8), t(9))
        .await
        .expect("session");
    assert_eq!(
        store.session_person(&[7; 32], t(8)).await.expect("q"),
        Some((p.id, t(9)))
    );
    assert_eq!(store.session_person(&[7; 32], t(9)).await.expect("q"), None);
    assert_eq!(store.session_person(&[8; 32], t(8)).await.expect("q"), None);
}

async fn racing_submissions_make_one_revision(store: Arc<SqlStore>) {
    let lab = provider(&store, ProviderKind::Lab, "Lab").await;
    let subject = store.blind_index(&doc(ID_A));
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let store = store.clone();
        let s = Submission {
            provider_id: lab.id,
            record_id: "R-race".into(),
            subject,
            body: pcr(TestOutcome::Negative, 8),
        };
        tasks.push(tokio::spawn(async move { store.submit(&s, t(10)).await }));
    }
    let mut created = 0;
    for task in tasks {
        let stored = task.await.expect("join").expect("submit");
        assert_eq!(stored.revision, 1);
        if stored.outcome == Outcome::Created {
            created += 1;
        }
    }
    assert_eq!(created, 1);
    assert_eq!(store.history(lab.id, "R-race").await.expect("h").len(), 1);
}

async fn change_feed_names_every_affected_subject(store: Arc<SqlStore>) {
    let lab = provider(&store, ProviderKind::Lab, "Lab").await;
    let start = store.evidence_high_water().await.expect("high water");
    assert!(
        store
            .evidence_changes(start, 100)
            .await
            .expect("feed")
            .is_empty()
    );
    let a = store.blind_index(&doc(ID_A));
    let b = store.blind_index(&doc(ID_B));
    let s = Submission {
        provider_id: lab.id,
        record_id: "R-1".into(),
        subject: a,
        body: pcr(TestOutcome::Negative, 8),
    };
    let first = store.submit(&s, t(9)).await.expect("submit");
    let changes = store.evidence_changes(start, 100).await.expect("feed");
    assert_eq!(changes.len(), 1);
    assert_eq!((changes[0].id, &changes[0].subjects), (first.id, &vec![a]));
    assert_eq!(store.evidence_high_water().await.expect("hw"), first.id);
    // An unchanged resubmission adds nothing to the feed.
    store.submit(&s, t(9)).await.expect("resubmit");
    assert!(
        store
            .evidence_changes(first.id, 100)
            .await
            .expect("feed")
            .is_empty()
    );
    // A correction that moves the record to B names both people.
    let moved = store
        .submit(&Submission { subject: b, ..s }, t(10))
        .await
        .expect("move");
    let changes = store.evidence_changes(first.id, 100).await.expect("feed");
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].subjects, vec![b, a]);
    // Looking rows up by id (for gaps) reports the same, and skips ids that do not exist.
    let at = store
        .evidence_changes_at(&[moved.id, moved.id + 1000, first.id])
        .await
        .expect("at");
    assert_eq!(
        at.iter().map(|c| c.id).collect::<Vec<_>>(),
        vec![first.id, moved.id]
    );
}

async fn a_record_keeps_its_category_and_its_release(store: Arc<SqlStore>) {
    let cdc = provider(&store, ProviderKind::Cdc, "CDC").await;
    let subject = store.blind_index(&doc(ID_A));
    let designation = |released_at| Submission {
        provider_id: cdc.id,
        record_id: "D-1".into(),
        subject,
        body: EvidenceBody::Designation {
            kind: DesignationKind::CloseContact,
            started_at: t(8),
            ends_at: None,
            released_at,
        },
    };
    store
        .submit(&designation(None), t(9))
        .await
        .expect("designate");
    let released = store
        .submit(&designation(Some(t(10))), t(10))
        .await
        .expect("release");
    assert_eq!(released.revision, 2);
    let again = store
        .submit(&designation(None), t(11))
        .await
        .expect("again");
    assert_eq!((again.outcome, again.revision), (Outcome::Unchanged, 2));
    let ev = store.evidence_for(&subject).await.expect("evidence");
    assert_eq!(ev.designations[0].released_at, Some(t(10)));

    // Designated again from a later start: a new period, in force again.
    let renewed = Submission {
        body: EvidenceBody::Designation {
            kind: DesignationKind::CloseContact,
            started_at: t(12),
            ends_at: None,
            released_at: None,
        },
        ..designation(None)
    };
    let stored = store.submit(&renewed, t(12)).await.expect("renew");
    assert_eq!((stored.outcome, stored.revision), (Outcome::Corrected, 3));
    let ev = store.evidence_for(&subject).await.expect("evidence");
    assert_eq!(ev.designations[0].released_at, None);
    assert_eq!(ev.designations[0].started_at, t(12));

    let as_test = Submission {
        body: pcr(TestOutcome::Negative, 8),
        ..designation(None)
    };
    let err = store.submit(&as_test, t(12)).await;
    assert!(matches!(err, Err(StoreError::WrongCategory(_))), "{err:?}");
    assert_eq!(
        store.history(cdc.id, "D-1").await.expect("history").len(),
        3
    );
}

async fn a_late_retry_cannot_revert_a_correction(store: Arc<SqlStore>) {
    let lab = provider(&store, ProviderKind::Lab, "Lab").await;
    let subject = store.blind_index(&doc(ID_A));
    let positive = Submission {
        provider_id: lab.id,
        record_id: "R-1".into(),
        subject,
        body: pcr(TestOutcome::Positive, 8),
    };
    let negative = Submission {
        body: pcr(TestOutcome::Negative, 8),
        ..positive.clone()
    };
    store.submit(&positive, t(10)).await.expect("first");
    store.submit(&negative, t(11)).await.expect("correction");
    let late = store.submit(&positive, t(12)).await;
    assert!(
        matches!(
            late,
            Err(StoreError::Superseded {
                matched: 1,
                current: 2
            })
        ),
        "{late:?}"
    );
    let ev = store.evidence_for(&subject).await.expect("evidence");
    assert_eq!(ev.tests[0].outcome, TestOutcome::Negative);
    assert_eq!(store.history(lab.id, "R-1").await.expect("h").len(), 2);
    // The current content again is still just unchanged.
    let same = store.submit(&negative, t(13)).await.expect("same");
    assert_eq!(same.outcome, Outcome::Unchanged);
}

async fn releases_are_checked_and_atomic(store: Arc<SqlStore>) {
    let cdc = provider(&store, ProviderKind::Cdc, "CDC").await;
    let a = store.blind_index(&doc(ID_A));
    let b = store.blind_index(&doc(ID_B));
    let all = DesignationKind::ALL;
    let missing = store.release(cdc.id, "nope", t(10), &all, t(10)).await;
    assert!(matches!(missing, Err(StoreError::NotFound)), "{missing:?}");
    let designation = Submission {
        provider_id: cdc.id,
        record_id: "D-1".into(),
        subject: a,
        body: EvidenceBody::Designation {
            kind: DesignationKind::ConfirmedCase,
            started_at: t(9),
            ends_at: None,
            released_at: None,
        },
    };
    store.submit(&designation, t(9)).await.expect("designate");
    // A correction moves the record to B; the release then applies to B's revision.
    store
        .submit(
            &Submission {
                subject: b,
                ..designation
            },
            t(10),
        )
        .await
        .expect("move");
    let early = store.release(cdc.id, "D-1", t(8), &all, t(11)).await;
    assert!(matches!(
        early,
        Err(StoreError::Rejected {
            code: "end_before_start",
            ..
        })
    ));
    let forbidden = store
        .release(
            cdc.id,
            "D-1",
            t(11),
            &[DesignationKind::HomeObservation],
            t(11),
        )
        .await;
    assert!(matches!(forbidden, Err(StoreError::Rejected { .. })));
    let released = store
        .release(cdc.id, "D-1", t(11), &all, t(11))
        .await
        .expect("release");
    assert_eq!((released.revision, released.subject), (3, b));
    let ev = store.evidence_for(&b).await.expect("evidence");
    assert_eq!(ev.designations[0].released_at, Some(t(11)));
    assert!(store.evidence_for(&a).await.expect("evidence").is_empty());
}
