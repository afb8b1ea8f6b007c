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
    Declared, DesignationKind, DocumentNumber, DocumentType, Exposure, ExposureSource, PersonName,
    PhoneNumber, RiskLevel, Symptom, TestKind, TestOutcome,
};
use healthcode_store::{
    CheckinMethod, DocIndex, EvidenceBody, NewCheckin, NewRiskArea, Outcome, Person, ProviderKind,
    Residents, SqlStore, Store, StoreError, Submission, Vault, Venues,
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
    nul_in_text_is_refused_alike_on_both_backends,
    sessions_end_one_all_and_beyond_the_cap,
    racing_submissions_make_one_revision,
    change_feed_names_every_affected_subject,
    a_record_keeps_its_category_and_its_release,
    a_late_retry_cannot_revert_a_correction,
    releases_are_checked_and_atomic,
    a_batch_stores_each_row_as_a_single_submission_would,
    a_batch_spans_many_statements_and_reruns_change_nothing,
    a_bulk_transaction_is_all_or_nothing,
    racing_batches_store_each_record_once,
    bulk_writes_keep_every_constraint,
    evidence_is_found_before_and_after_its_subject_is_filed,
    declarations_are_evidence_on_the_change_feed,
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
                    exposure: None,
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

/// Signing out ends one session; signing out everywhere ends every session of that person
/// and no one else's; sessions beyond the cap end oldest first; expired ones are purged.
async fn sessions_end_one_all_and_beyond_the_cap(store: Arc<SqlStore>) {
    let register = |id: &'static str| {
        let store = store.clone();
        async move {
            store
                .register(&doc(id), &PersonName::parse("王五").expect("n"), None, t(8))
                .await
                .expect("register")
        }
    };
    let (a, b) = (register(ID_A).await, register(ID_B).await);
    let live = |hash: u8| {
        let store = store.clone();
        async move {
            store
                .session_person(&[hash; 32], t(8))
                .await
                .expect("q")
                .is_some()
        }
    };
    for (hash, person) in [(1u8, a.id), (2, a.id), (3, a.id), (50, b.id)] {
        store
            .create_session(person, &[hash; 32], t(8), t(10))
            .await
            .expect("session");
    }
    assert_eq!(
        store.end_sessions(a.id, Some(&[1; 32])).await.expect("end"),
        1
    );
    assert!(!live(1).await && live(2).await && live(3).await);
    // Another person's token cannot be ended through this person.
    assert_eq!(
        store
            .end_sessions(a.id, Some(&[50; 32]))
            .await
            .expect("end"),
        0
    );
    assert_eq!(store.end_sessions(a.id, None).await.expect("end"), 2);
    assert!(!live(2).await && !live(3).await && live(50).await);

    // The cap: the oldest sessions end as new ones start.
    let cap = u8::try_from(healthcode_store::MAX_SESSIONS).expect("small");
    for i in 0..cap + 2 {
        store
            .create_session(
                a.id,
                &[100 + i; 32],
                t(8) + chrono::Duration::seconds(i64::from(i)),
                t(10),
            )
            .await
            .expect("session");
    }
    assert!(!live(100).await && !live(101).await, "the two oldest ended");
    assert!(live(102).await && live(100 + cap + 1).await);
    assert!(live(50).await, "another person's sessions are not counted");

    // Expired sessions are deleted, live ones kept.
    store
        .create_session(b.id, &[60; 32], t(8), t(9))
        .await
        .expect("session");
    let purged = store.purge_sessions(t(9)).await.expect("purge");
    assert_eq!(purged, 1);
    assert!(live(50).await);
}

/// U+0000 in a text is refused with the same error on both backends (PostgreSQL cannot store
/// it in a text column, SQLite would), before anything is written; nothing else is affected.
async fn nul_in_text_is_refused_alike_on_both_backends(store: Arc<SqlStore>) {
    let refused = |r: Result<(), StoreError>| {
        matches!(
            r,
            Err(StoreError::Rejected {
                code: "control_character",
                ..
            })
        )
    };
    assert!(refused(
        store
            .add_venue("西单\0站", "subway", "西城区", "", t(8))
            .await
            .map(|_| ())
    ));
    assert!(refused(
        store
            .add_venue("西单站", "subway", "西城\0区", "", t(8))
            .await
            .map(|_| ())
    ));
    assert!(refused(store.venues(Some("西城\0区")).await.map(|_| ())));
    assert!(refused(
        store
            .add_provider(ProviderKind::Lab, "lab\0one", &[3; 32], t(8))
            .await
            .map(|_| ())
    ));
    assert!(store.venues(None).await.expect("venues").is_empty());
    let v = store
        .add_venue("西单站", "subway", "西城区", "", t(8))
        .await
        .expect("a clean venue is stored");
    assert_eq!(store.venues(Some("西城区")).await.expect("venues").len(), 1);
    assert_eq!(v.name, "西单站");
    assert!(refused(
        store
            .add_device(v.id, "gate\0 1", &[4; 32], t(8))
            .await
            .map(|_| ())
    ));
    assert!(refused(
        store
            .add_pending_device(v.id, "gate\0 2", &[5; 32], t(9), t(8))
            .await
            .map(|_| ())
    ));
    assert!(store.devices_of(v.id).await.expect("devices").is_empty());
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

async fn declarations_are_evidence_on_the_change_feed(store: Arc<SqlStore>) {
    let lab = provider(&store, ProviderKind::Lab, "Lab").await;
    // The self-declared provider (id 0) leaves the numbering of the others as it was.
    assert_eq!(lab.id, 1);
    let a = store.blind_index(&doc(ID_A));
    let b = store.blind_index(&doc(ID_B));
    let start = store.evidence_high_water().await.expect("high water");
    let symptoms = Declared::Symptoms {
        symptoms: vec![Symptom::Fever, Symptom::LossOfTasteOrSmell],
        onset: t(0).date_naive(),
    };
    let declared_at = t(9) + Duration::milliseconds(250);
    let first = store
        .declare(&a, "d-1", &symptoms, declared_at)
        .await
        .expect("declare");
    assert_eq!((first.outcome, first.revision), (Outcome::Created, 1));
    // On the change feed like any record, so an open status page hears of it.
    let changes = store.evidence_changes(start, 100).await.expect("feed");
    assert_eq!(changes.len(), 1);
    assert_eq!((changes[0].id, &changes[0].subjects), (first.id, &vec![a]));
    // The same declaration again changes nothing.
    let again = store
        .declare(&a, "d-1", &symptoms, declared_at)
        .await
        .expect("again");
    assert_eq!((again.id, again.outcome), (first.id, Outcome::Unchanged));

    let arrival = Declared::Arrival {
        from: "上海 CN-SH".into(),
        arrived_at: t(7),
    };
    let second = store
        .declare(&a, "d-2", &arrival, t(10))
        .await
        .expect("arrival");
    store
        .submit(
            &Submission {
                provider_id: lab.id,
                record_id: "R-1".into(),
                subject: a,
                body: pcr(TestOutcome::Negative, 11),
            },
            t(13),
        )
        .await
        .expect("test");
    let ev = store.evidence_for(&a).await.expect("evidence");
    assert_eq!(ev.tests.len(), 1);
    assert_eq!(ev.declarations.len(), 2);
    let d = &ev.declarations[0];
    assert_eq!((d.meta.id, d.meta.record_id.as_str()), (first.id, "d-1"));
    assert_eq!(d.meta.provider, "(self-declared)");
    assert_eq!(d.declared, symptoms);
    // Stored to the second.
    assert_eq!(d.declared_at, t(9));
    assert_eq!(ev.declarations[1].meta.id, second.id);
    assert_eq!(ev.declarations[1].declared, arrival);
    assert!(store.evidence_for(&b).await.expect("b").is_empty());

    // A declaration's id is not a lab's: the self-declared provider has its own records.
    store
        .declare(&b, "R-1", &arrival, t(12))
        .await
        .expect("same id, another provider");
    // Nobody can add a provider that passes for the people themselves.
    let taken = store
        .add_provider(ProviderKind::Lab, "(self-declared)", &[7; 32], t(0))
        .await;
    assert!(matches!(taken, Err(StoreError::Conflict(_))), "{taken:?}");
    // The self-declared provider answers to no key.
    assert!(
        store
            .provider_by_key(&[0; 32])
            .await
            .expect("lookup")
            .is_none()
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
            exposure: None,
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
            exposure: None,
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
    let cdc = store
        .add_provider(ProviderKind::Cdc, "CDC", &[2; 32], t(8))
        .await
        .expect("add");
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
            exposure: None,
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

fn test_row(lab: i64, record: &str, subject: DocIndex, body: EvidenceBody) -> Submission {
    Submission {
        provider_id: lab,
        record_id: record.into(),
        subject,
        body,
    }
}

/// A distinct subject per row, without registering anyone.
fn subject_n(n: u32) -> DocIndex {
    let mut b = [0u8; 32];
    b[..4].copy_from_slice(&n.to_be_bytes());
    DocIndex(b)
}

async fn a_batch_stores_each_row_as_a_single_submission_would(store: Arc<SqlStore>) {
    let lab = provider(&store, ProviderKind::Lab, "Lab").await;
    let cdc = store
        .add_provider(ProviderKind::Cdc, "CDC", &[2; 32], t(8))
        .await
        .expect("add");
    let a = store.blind_index(&doc(ID_A));
    let b = store.blind_index(&doc(ID_B));
    let first = store
        .submit(
            &test_row(lab.id, "R1", a, pcr(TestOutcome::Negative, 8)),
            t(10),
        )
        .await
        .expect("submit");
    store
        .submit(
            &test_row(lab.id, "R2", a, pcr(TestOutcome::Negative, 8)),
            t(10),
        )
        .await
        .expect("submit");
    store
        .submit(
            &test_row(lab.id, "R2", a, pcr(TestOutcome::Positive, 8)),
            t(10),
        )
        .await
        .expect("correct");
    let designation = EvidenceBody::Designation {
        kind: DesignationKind::CloseContact,
        started_at: t(8),
        ends_at: None,
        released_at: None,
        exposure: None,
    };
    let batch = vec![
        // unchanged
        test_row(lab.id, "R1", a, pcr(TestOutcome::Negative, 8)),
        // new
        test_row(lab.id, "R3", b, pcr(TestOutcome::Negative, 9)),
        // the content of R2's superseded first revision: refused
        test_row(lab.id, "R2", a, pcr(TestOutcome::Negative, 8)),
        // named twice: created, then corrected (and moved to another person)
        test_row(lab.id, "R4", a, pcr(TestOutcome::Negative, 9)),
        test_row(lab.id, "R4", b, pcr(TestOutcome::Negative, 9)),
        // a test record cannot become a designation
        test_row(lab.id, "R1", a, designation.clone()),
        // the same record id under another provider is another record
        test_row(cdc.id, "R1", a, designation),
    ];
    let out = store.submit_batch(&batch, t(11)).await.expect("batch");
    assert_eq!(out.len(), batch.len());
    let ok = |i: usize| out[i].as_ref().expect("stored").clone();
    assert_eq!(ok(0).outcome, Outcome::Unchanged);
    assert_eq!(ok(0).id, first.id);
    assert_eq!((ok(1).outcome, ok(1).revision), (Outcome::Created, 1));
    assert!(matches!(
        out[2],
        Err(StoreError::Superseded {
            matched: 1,
            current: 2
        })
    ));
    assert_eq!((ok(3).outcome, ok(3).revision), (Outcome::Created, 1));
    assert_eq!((ok(4).outcome, ok(4).revision), (Outcome::Corrected, 2));
    assert_eq!(ok(4).previous_subject, Some(a));
    assert!(matches!(out[5], Err(StoreError::WrongCategory(_))));
    assert_eq!(ok(6).outcome, Outcome::Created);
    assert_eq!(
        out[2].as_ref().err().and_then(StoreError::row_code),
        Some("superseded_revision")
    );

    let history = store.history(lab.id, "R4").await.expect("history");
    assert_eq!(history.len(), 2);
    assert!(!history[0].current && history[1].current);
    let ev_a = store.evidence_for(&a).await.expect("a");
    let ev_b = store.evidence_for(&b).await.expect("b");
    let ids = |e: &healthcode_domain::Evidence| -> Vec<String> {
        let mut v: Vec<String> = e.tests.iter().map(|t| t.meta.record_id.clone()).collect();
        v.sort();
        v
    };
    assert_eq!(ids(&ev_a), ["R1", "R2"]);
    assert_eq!(ids(&ev_b), ["R3", "R4"]);
    assert_eq!(ev_a.designations.len(), 1);
    // The feed names both people R4 concerned.
    let changes = store.evidence_changes(0, 100).await.expect("feed");
    let r4 = changes
        .iter()
        .find(|c| c.id == ok(4).id)
        .expect("R4 in the feed");
    assert!(r4.subjects.contains(&a) && r4.subjects.contains(&b));
}

async fn a_batch_spans_many_statements_and_reruns_change_nothing(store: Arc<SqlStore>) {
    let lab = provider(&store, ProviderKind::Lab, "Lab").await;
    let rows: Vec<Submission> = (0..2_500)
        .map(|n| {
            test_row(
                lab.id,
                &format!("B-{n}"),
                subject_n(n),
                pcr(TestOutcome::Negative, 8),
            )
        })
        .collect();
    let out = store.submit_batch(&rows, t(10)).await.expect("batch");
    assert!(
        out.iter()
            .all(|r| matches!(r, Ok(s) if s.outcome == Outcome::Created))
    );
    let mut ids: Vec<i64> = out.iter().map(|r| r.as_ref().expect("ok").id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), rows.len(), "every row has its own id");
    for (n, r) in out.iter().enumerate().step_by(499) {
        let stored = r.as_ref().expect("ok");
        let ev = store
            .evidence_for(&subject_n(n as u32))
            .await
            .expect("read");
        assert_eq!(ev.tests.len(), 1);
        assert_eq!(
            ev.tests[0].meta.id, stored.id,
            "row {n} got its own id back"
        );
        assert_eq!(ev.tests[0].meta.record_id, format!("B-{n}"));
    }
    // Looked up again by id, as a change-feed reader does for ids it skipped: runs of ids and
    // stray ones, some that do not exist.
    let mut asked: Vec<i64> = ids.iter().copied().filter(|id| id % 7 != 3).collect();
    asked.extend([-5, 0, ids[ids.len() - 1] + 1, ids[ids.len() - 1] + 1_000]);
    let found = store.evidence_changes_at(&asked).await.expect("at");
    assert_eq!(found.len(), ids.iter().filter(|id| *id % 7 != 3).count());
    assert!(found.windows(2).all(|w| w[0].id < w[1].id));
    let again = store.submit_batch(&rows, t(11)).await.expect("again");
    assert!(
        again
            .iter()
            .all(|r| matches!(r, Ok(s) if s.outcome == Outcome::Unchanged))
    );
    assert_eq!(
        store.evidence_high_water().await.expect("hw"),
        *ids.last().expect("ids")
    );
}

async fn a_bulk_transaction_is_all_or_nothing(store: Arc<SqlStore>) {
    let lab = provider(&store, ProviderKind::Lab, "Lab").await;
    let rows = |from: u32| -> Vec<Submission> {
        (from..from + 10)
            .map(|n| {
                test_row(
                    lab.id,
                    &format!("A-{n}"),
                    subject_n(n),
                    pcr(TestOutcome::Negative, 8),
                )
            })
            .collect()
    };
    let mut bulk = store.begin_bulk().await.expect("begin");
    bulk.write(&rows(0), t(10)).await.expect("write");
    bulk.write(&rows(10), t(10)).await.expect("write");
    bulk.rollback().await.expect("rollback");
    assert_eq!(store.evidence_high_water().await.expect("hw"), 0);

    let mut bulk = store.begin_bulk().await.expect("begin");
    bulk.write(&rows(0), t(10)).await.expect("write");
    let second = bulk.write(&rows(0), t(10)).await.expect("write");
    assert!(
        second
            .iter()
            .all(|r| matches!(r, Ok(s) if s.outcome == Outcome::Unchanged))
    );
    bulk.commit().await.expect("commit");
    assert_eq!(
        store.evidence_changes(0, 100).await.expect("feed").len(),
        10
    );

    // Dropped without a commit: rolled back, and the write lock is free again.
    {
        let mut bulk = store.begin_bulk().await.expect("begin");
        bulk.write(&rows(20), t(10)).await.expect("write");
    }
    store
        .submit(
            &test_row(
                lab.id,
                "after",
                subject_n(99),
                pcr(TestOutcome::Negative, 8),
            ),
            t(10),
        )
        .await
        .expect("a write after the dropped import");
    assert_eq!(
        store.evidence_changes(0, 100).await.expect("feed").len(),
        11
    );
}

/// A subject whose key starts with every byte in turn, so that rows fall in every slice the
/// store files by.
fn spread_subject(n: u32) -> DocIndex {
    let mut b = [0u8; 32];
    b[0] = (n.wrapping_mul(37) % 256) as u8;
    b[1..5].copy_from_slice(&n.to_be_bytes());
    DocIndex(b)
}

async fn evidence_is_found_before_and_after_its_subject_is_filed(store: Arc<SqlStore>) {
    // Recent entries are filed once there are 300 of them, not a million.
    let store = (*store).clone().file_subjects_at(300);
    let lab = provider(&store, ProviderKind::Lab, "Lab").await;
    let rows = |from: u32, to: u32, prefix: &str| -> Vec<Submission> {
        (from..to)
            .map(|n| {
                test_row(
                    lab.id,
                    &format!("{prefix}-{n}"),
                    spread_subject(n),
                    pcr(TestOutcome::Negative, 8),
                )
            })
            .collect()
    };
    let found = |n: u32| {
        let store = store.clone();
        async move {
            store
                .evidence_for(&spread_subject(n))
                .await
                .expect("read")
                .tests
                .len()
        }
    };
    // 250 rows: below the threshold, found in the recent entries.
    store
        .submit_batch(&rows(0, 250, "F"), t(9))
        .await
        .expect("batch");
    for n in (0..250).step_by(17) {
        assert_eq!(found(n).await, 1, "row {n} while recent");
    }
    // A correction moving F-0 to another subject: the old entry stays but names a superseded
    // revision, which is not the subject's any more.
    let moved = test_row(
        lab.id,
        "F-0",
        spread_subject(9_000),
        pcr(TestOutcome::Positive, 9),
    );
    let stored = store.submit(&moved, t(10)).await.expect("correction");
    assert_eq!(stored.outcome, Outcome::Corrected);
    assert_eq!(found(0).await, 0);
    assert_eq!(found(9_000).await, 1);
    // 100 more cross the threshold: the commit starts filing every recent entry, in the
    // background; every row is found meanwhile.
    assert!(store.recent_subjects().await.expect("count") >= 250);
    store
        .submit_batch(&rows(250, 350, "F"), t(9))
        .await
        .expect("batch");
    let mut waited = 0;
    while store.recent_subjects().await.expect("count") > 0 {
        for n in [1, 200, 349] {
            assert_eq!(found(n).await, 1, "row {n} while being filed");
        }
        waited += 1;
        assert!(waited < 500, "the recent entries are never filed");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    for n in (1..350).step_by(13) {
        assert_eq!(found(n).await, 1, "row {n} once filed");
    }
    assert_eq!(found(0).await, 0);
    assert_eq!(found(9_000).await, 1);

    // An all-or-nothing import of more rows than the threshold files inside its transaction;
    // rolled back, nothing of it is found, and what was filed before stays.
    let mut bulk = store.begin_bulk().await.expect("begin");
    bulk.write(&rows(1_000, 1_400, "G"), t(9))
        .await
        .expect("write");
    bulk.rollback().await.expect("rollback");
    assert_eq!(found(1_000).await, 0);
    assert_eq!(found(1_399).await, 0);
    assert_eq!(found(349).await, 1);
    // Committed, all of it is found, filed, and a row written after it is found too.
    let mut bulk = store.begin_bulk().await.expect("begin");
    bulk.write(&rows(1_000, 1_400, "G"), t(9))
        .await
        .expect("write");
    bulk.write(&rows(1_400, 1_410, "G"), t(9))
        .await
        .expect("write");
    bulk.commit().await.expect("commit");
    for n in (1_000..1_410).step_by(11) {
        assert_eq!(found(n).await, 1, "row {n} of the bulk import");
    }
    store
        .submit(&rows(2_000, 2_001, "H")[0], t(9))
        .await
        .expect("one more");
    assert_eq!(found(2_000).await, 1);
    // Filing by hand moves what is left, and changes no answer.
    assert!(store.file_subjects().await.expect("file") >= 1);
    assert_eq!(store.recent_subjects().await.expect("count"), 0);
    assert_eq!(found(2_000).await, 1);
    assert_eq!(found(1_409).await, 1);
    // On PostgreSQL, where writers do not wait for one another, an all-or-nothing import that
    // moved entries inside its open transaction (others' among them) does not hold up a move
    // elsewhere: that one passes over the entries the import holds.
    if store.backend() == healthcode_store::Backend::Postgres {
        store
            .submit_batch(&rows(3_000, 3_100, "P"), t(9))
            .await
            .expect("batch");
        let mut bulk = store.begin_bulk().await.expect("begin");
        bulk.write(&rows(3_100, 3_500, "P"), t(9))
            .await
            .expect("write");
        let other = tokio::time::timeout(std::time::Duration::from_secs(10), store.file_subjects())
            .await
            .expect("a move waited for the open import")
            .expect("file");
        let _ = other;
        assert_eq!(found(3_000).await, 1, "committed before the import");
        assert_eq!(found(3_100).await, 0, "not committed yet");
        bulk.commit().await.expect("commit");
        assert_eq!(found(3_100).await, 1);
        assert_eq!(found(3_499).await, 1);
    }
}

async fn racing_batches_store_each_record_once(store: Arc<SqlStore>) {
    let lab = provider(&store, ProviderKind::Lab, "Lab").await;
    // Four imports of overlapping slices of one file, at once.
    let rows: Arc<Vec<Submission>> = Arc::new(
        (0..3_000)
            .map(|n| {
                test_row(
                    lab.id,
                    &format!("X-{n}"),
                    subject_n(n),
                    pcr(TestOutcome::Negative, 8),
                )
            })
            .collect(),
    );
    let mut tasks = Vec::new();
    for k in 0..4usize {
        let store = store.clone();
        let rows = rows.clone();
        tasks.push(tokio::spawn(async move {
            let slice = &rows[k * 500..k * 500 + 1_500];
            store.submit_batch(slice, t(10)).await
        }));
    }
    let mut created = 0;
    for task in tasks {
        for r in task.await.expect("join").expect("batch") {
            let s = r.expect("stored");
            assert_eq!(s.revision, 1);
            if s.outcome == Outcome::Created {
                created += 1;
            }
        }
    }
    assert_eq!(created, 3_000, "each record created exactly once");
    assert_eq!(
        store.evidence_changes(0, 10_000).await.expect("feed").len(),
        3_000
    );
}

/// Bulk writes refuse a batch naming an unknown provider (on SQLite their foreign key is
/// deferred to COMMIT, migration 0004), and leave every foreign key enforced.
async fn bulk_writes_keep_every_constraint(store: Arc<SqlStore>) {
    let lab = provider(&store, ProviderKind::Lab, "Lab").await;
    let row = |provider: i64, n: u32| {
        test_row(
            provider,
            &format!("K-{n}"),
            subject_n(n),
            pcr(TestOutcome::Negative, 8),
        )
    };
    // A batch naming a provider that does not exist is refused whole.
    let unknown = vec![row(lab.id, 1), row(lab.id + 1_000, 2)];
    assert!(matches!(
        store.submit_batch(&unknown, t(10)).await,
        Err(StoreError::NotFound)
    ));
    let mut bulk = store.begin_bulk().await.expect("begin");
    assert!(matches!(
        bulk.write(&unknown, t(10)).await,
        Err(StoreError::NotFound)
    ));
    bulk.rollback().await.expect("rollback");
    assert!(
        store
            .evidence_changes(0, 100)
            .await
            .expect("feed")
            .is_empty(),
        "nothing of a refused batch is stored"
    );

    // After a batch, an all-or-nothing import and a rolled-back one, a write that breaks a
    // foreign key is still refused by the database.
    store
        .submit_batch(&[row(lab.id, 3)], t(10))
        .await
        .expect("batch")[0]
        .as_ref()
        .expect("stored");
    let mut bulk = store.begin_bulk().await.expect("begin");
    bulk.write(&[row(lab.id, 4)], t(10)).await.expect("write");
    bulk.commit().await.expect("commit");
    let bulk = store.begin_bulk().await.expect("begin");
    drop(bulk);
    assert!(
        store
            .create_session(9_999_999, &[9; 32], t(8), t(9))
            .await
            .is_err(),
        "a session for nobody"
    );
    assert_eq!(store.evidence_changes(0, 100).await.expect("feed").len(), 2);
}

on_both!(
    checkins_are_idempotent_per_device_and_purged_for_good,
    co_presence_finds_overlapping_visits_only,
    flagged_checkins_are_kept_but_count_as_no_ones_presence,
    risk_areas_and_prefixed_designations,
);

fn subject_bytes(n: u8) -> [u8; 16] {
    [n; 16]
}

fn checkin(venue: i64, who: u8, at: DateTime<Utc>, device: Option<(i64, i64)>) -> NewCheckin {
    NewCheckin {
        venue_id: venue,
        subject: subject_bytes(who),
        at,
        method: if device.is_some() {
            CheckinMethod::Gate
        } else {
            CheckinMethod::SelfScan
        },
        passed: true,
        device,
        flagged: false,
    }
}

async fn checkins_are_idempotent_per_device_and_purged_for_good(store: Arc<SqlStore>) {
    let venue = store
        .add_venue("西单站", "subway", "西城区", "西单北大街", t(0))
        .await
        .unwrap();
    let device = store
        .add_device(venue.id, "gate 1", &[7; 32], t(0))
        .await
        .unwrap();
    assert_eq!(
        store.device_by_key(&[7; 32]).await.unwrap(),
        Some(device.clone())
    );
    assert!(matches!(
        store.add_device(9_999, "nowhere", &[8; 32], t(0)).await,
        Err(StoreError::NotFound)
    ));
    // 5,000 rows: two statements. Sent twice, stored once.
    let batch: Vec<NewCheckin> = (0..5_000)
        .map(|i| {
            checkin(
                venue.id,
                (i % 200) as u8,
                t(1) + Duration::seconds(i),
                Some((device.id, i)),
            )
        })
        .collect();
    let first = store.add_checkins(&batch, t(3)).await.unwrap();
    assert_eq!((first.stored, first.duplicates), (5_000, 0));
    let again = store.add_checkins(&batch, t(3)).await.unwrap();
    assert_eq!((again.stored, again.duplicates), (0, 5_000));
    // Self check-ins have no device: never duplicates of each other.
    let own = [
        checkin(venue.id, 1, t(21), None),
        checkin(venue.id, 1, t(21), None),
    ];
    assert_eq!(store.add_checkins(&own, t(21)).await.unwrap().stored, 2);
    let history = store.checkins_of(&subject_bytes(1), t(0)).await.unwrap();
    assert_eq!(history.len(), 25 + 2);
    assert!(
        history.windows(2).all(|w| w[0].at >= w[1].at),
        "newest first"
    );

    // Everything before t(20) goes; the rows are gone, not flagged.
    let purge = store
        .purge_checkins(t(20), "2022-05-02", t(22))
        .await
        .unwrap();
    assert_eq!(purge.deleted, 5_000);
    assert_eq!(
        store
            .checkins_of(&subject_bytes(1), t(0))
            .await
            .unwrap()
            .len(),
        2
    );
    let purges = store.purges(10).await.unwrap();
    assert_eq!(purges.len(), 1);
    assert_eq!(purges[0].deleted, 5_000);
    assert_eq!(purges[0].day, "2022-05-02");
    // Purging again deletes nothing and says so.
    assert_eq!(
        store
            .purge_checkins(t(20), "2022-05-02", t(23))
            .await
            .unwrap()
            .deleted,
        0
    );
}

async fn co_presence_finds_overlapping_visits_only(store: Arc<SqlStore>) {
    let a = store
        .add_venue("A", "mall", "东城区", "1", t(0))
        .await
        .unwrap();
    let b = store
        .add_venue("B", "mall", "东城区", "2", t(0))
        .await
        .unwrap();
    let case = subject_bytes(1);
    let mut rows = vec![
        checkin(a.id, 1, t(10), None),
        // At A within the window of the case's visit: contacts.
        checkin(a.id, 2, t(10) + Duration::minutes(89), None),
        checkin(a.id, 3, t(10) - Duration::minutes(30), None),
        // At A but 90 minutes later (window 90 minutes, strict): not a contact.
        checkin(a.id, 4, t(10) + Duration::minutes(90), None),
        // Same time, other venue: not a contact.
        checkin(b.id, 5, t(10), None),
    ];
    let mut stopped = checkin(a.id, 6, t(10), None);
    stopped.passed = false;
    stopped.method = CheckinMethod::Gate;
    rows.push(stopped);
    // A self check-in counts as presence whatever the door policy said.
    let mut present = checkin(a.id, 7, t(10), None);
    present.passed = false;
    rows.push(present);
    store.add_checkins(&rows, t(12)).await.unwrap();
    let found = store
        .co_present(&[case], t(0), Duration::minutes(90))
        .await
        .unwrap();
    let mut who: Vec<u8> = found.iter().map(|c| c.subject[0]).collect();
    who.sort_unstable();
    assert_eq!(who, vec![2, 3, 7]);
    assert!(
        found
            .iter()
            .all(|c| c.case_subject == case && c.venue_id == a.id)
    );
    // Visits before `since` do not count.
    assert!(
        store
            .co_present(&[case], t(11), Duration::minutes(90))
            .await
            .unwrap()
            .is_empty()
    );
    let visitors = store.visitors(&[a.id], t(9), t(12)).await.unwrap();
    assert_eq!(visitors.len(), 5, "present at A between t(9) and t(12)");
    assert!(
        visitors
            .iter()
            .all(|c| c.venue_id == a.id && c.subject[0] != 6)
    );
}

/// A check-in a device dated well before its earlier uploads is stored flagged, for review:
/// the subject's history shows it, but neither risk areas (`visitors`) nor co-presence use
/// it, on either side. A device records its enrolment time and its upload high-water mark,
/// which only rises.
async fn flagged_checkins_are_kept_but_count_as_no_ones_presence(store: Arc<SqlStore>) {
    let a = store
        .add_venue("A", "mall", "东城区", "1", t(0))
        .await
        .unwrap();
    let device = store
        .add_device(a.id, "gate", &[9; 32], t(2))
        .await
        .unwrap();
    assert_eq!((device.created_at, device.upload_high_water), (t(2), None));
    store
        .raise_upload_high_water(device.id, t(12))
        .await
        .unwrap();
    store
        .raise_upload_high_water(device.id, t(11))
        .await
        .unwrap();
    let read = store.device_by_key(&[9; 32]).await.unwrap().unwrap();
    assert_eq!(
        (read.created_at, read.upload_high_water),
        (t(2), Some(t(12)))
    );

    let mut asserted = checkin(a.id, 2, t(10), Some((device.id, 1)));
    asserted.flagged = true;
    let mut asserted_case = checkin(a.id, 8, t(10), Some((device.id, 2)));
    asserted_case.flagged = true;
    let rows = [
        checkin(a.id, 1, t(10), None),
        asserted,
        checkin(a.id, 3, t(10), None),
        asserted_case,
        checkin(a.id, 9, t(10), None),
    ];
    store.add_checkins(&rows, t(12)).await.unwrap();
    let history = store.checkins_of(&subject_bytes(2), t(0)).await.unwrap();
    assert_eq!(history.len(), 1);
    assert!(history[0].flagged, "kept, and marked");
    assert!(!store.checkins_of(&subject_bytes(3), t(0)).await.unwrap()[0].flagged);

    let visitors = store.visitors(&[a.id], t(9), t(12)).await.unwrap();
    let mut who: Vec<u8> = visitors.iter().map(|c| c.subject[0]).collect();
    who.sort_unstable();
    assert_eq!(who, vec![1, 3, 9], "flagged rows are no one's presence");
    // As a contact: left out.
    let found = store
        .co_present(&[subject_bytes(1)], t(0), Duration::minutes(90))
        .await
        .unwrap();
    let mut who: Vec<u8> = found.iter().map(|c| c.subject[0]).collect();
    who.sort_unstable();
    assert_eq!(who, vec![3, 9]);
    // As the case: the asserted visit finds no one.
    assert!(
        store
            .co_present(&[subject_bytes(8)], t(0), Duration::minutes(90))
            .await
            .unwrap()
            .is_empty()
    );
}

async fn risk_areas_and_prefixed_designations(store: Arc<SqlStore>) {
    let op = provider(&store, ProviderKind::Operator, "operator").await;
    let v = store
        .add_venue("新发地", "mall", "丰台区", "1", t(0))
        .await
        .unwrap();
    let area = store
        .add_risk_area(
            &NewRiskArea {
                name: "新发地市场".into(),
                level: RiskLevel::High,
                district: None,
                venue_ids: vec![v.id, v.id],
                starts_at: t(1),
                ends_at: Some(t(5)),
                provider_id: op.id,
            },
            t(6),
        )
        .await
        .unwrap();
    assert_eq!(area.venue_ids, vec![v.id]);
    assert_eq!(store.open_risk_areas().await.unwrap().len(), 1);
    let bad = NewRiskArea {
        name: "x".into(),
        level: RiskLevel::Medium,
        district: None,
        venue_ids: vec![12_345],
        starts_at: t(1),
        ends_at: None,
        provider_id: op.id,
    };
    assert!(matches!(
        store.add_risk_area(&bad, t(6)).await,
        Err(StoreError::Rejected {
            code: "unknown_venue",
            ..
        })
    ));
    let released = store.release_risk_area(area.id, t(8)).await.unwrap();
    assert_eq!(released.released_at, Some(t(8)));
    assert!(store.open_risk_areas().await.unwrap().is_empty());

    for (record, n) in [("area:1:p1", 1), ("area:1:p2", 2), ("area:10:p1", 1)] {
        store
            .submit(
                &Submission {
                    provider_id: op.id,
                    record_id: record.into(),
                    subject: subject_n(n),
                    body: EvidenceBody::Designation {
                        kind: DesignationKind::RiskAreaVisit,
                        started_at: t(2),
                        ends_at: None,
                        released_at: None,
                        exposure: Some(Exposure {
                            source: ExposureSource::RiskArea {
                                id: 1,
                                name: "新发地市场".into(),
                                level: RiskLevel::High,
                            },
                            venue_id: v.id,
                            venue: "新发地".into(),
                            district: "丰台区".into(),
                            visited_at: t(2),
                        }),
                    },
                },
                t(6),
            )
            .await
            .unwrap();
    }
    let found = store
        .designations_with_prefix(op.id, "area:1:")
        .await
        .unwrap();
    let ids: Vec<&str> = found.iter().map(|r| r.record_id.as_str()).collect();
    assert_eq!(ids, vec!["area:1:p1", "area:1:p2"]);
    // The exposure survives the round trip and is what the engine sees.
    let evidence = store.evidence_for(&subject_n(2)).await.unwrap();
    let exposure = evidence.designations[0].exposure.as_ref().unwrap();
    assert_eq!(exposure.venue, "新发地");
    assert_eq!(exposure.visited_at, t(2));
}

on_both!(
    passkeys_are_kept_used_and_revoked,
    ceremonies_are_taken_once_and_purged,
    racing_takers_get_a_ceremony_once,
    dependants_are_capped_and_idempotent,
    racing_adds_cannot_pass_the_dependant_cap,
    paper_passes_one_live_per_person,
);

/// Registers `n` (up to 26) passport holders, the `k`-th (from 1) with passport `E0000000k`
/// and name `Person A`, `Person B`, ….
async fn people(store: &SqlStore, n: u32) -> Vec<Person> {
    let mut out = Vec::new();
    for k in 1..=n {
        let document =
            DocumentNumber::parse(DocumentType::Passport, &format!("E{k:08}")).expect("passport");
        let letter = char::from_u32('A' as u32 + k - 1).expect("a letter");
        let name = PersonName::parse(&format!("Person {letter}")).expect("name");
        out.push(
            store
                .register(&document, &name, None, t(1))
                .await
                .expect("register"),
        );
    }
    out
}

fn rejected(r: &Result<(), StoreError>, expected: &str) -> bool {
    matches!(r, Err(StoreError::Rejected { code, .. }) if *code == expected)
}

/// A person's passkeys are listed oldest first and found by credential id; a sign-in replaces
/// the stored bytes; revoking ends them all, for good, and a new one can then be enrolled.
async fn passkeys_are_kept_used_and_revoked(store: Arc<SqlStore>) {
    let ps = people(&store, 2).await;
    let (a, b) = (ps[0].id, ps[1].id);
    let one = store
        .add_passkey(a, b"cred-1", b"pk-1", t(8))
        .await
        .expect("add");
    let two = store
        .add_passkey(a, b"cred-2", b"pk-2", t(9))
        .await
        .expect("add");
    assert!(matches!(
        store.add_passkey(b, b"cred-1", b"pk-x", t(9)).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        store.add_passkey(9_999_999, b"cred-9", b"pk-9", t(9)).await,
        Err(StoreError::NotFound)
    ));

    let listed = store.passkeys_of(a).await.expect("list");
    assert_eq!(listed.iter().map(|p| p.id).collect::<Vec<_>>(), [one, two]);
    assert_eq!(listed[0].person_id, a);
    assert_eq!(listed[0].credential_id, b"cred-1");
    assert_eq!(listed[0].passkey, b"pk-1");
    assert_eq!(listed[0].created_at, t(8));
    assert_eq!(listed[0].last_used_at, None);
    let found = store
        .passkey_by_credential(b"cred-2")
        .await
        .expect("q")
        .expect("found");
    assert_eq!((found.id, found.person_id), (two, a));
    assert_eq!(
        store.passkey_by_credential(b"cred-x").await.expect("q"),
        None
    );
    assert!(store.has_passkey(a).await.expect("q"));
    assert!(!store.has_passkey(b).await.expect("q"));
    assert!(store.passkeys_of(b).await.expect("list").is_empty());

    // A sign-in: the counter moved, so the stored bytes change.
    assert!(store.use_passkey(one, b"pk-1b", t(10)).await.expect("use"));
    let used = store
        .passkey_by_credential(b"cred-1")
        .await
        .expect("q")
        .expect("found");
    assert_eq!(used.passkey, b"pk-1b");
    assert_eq!(used.last_used_at, Some(t(10)));
    assert!(
        !store
            .use_passkey(9_999_999, b"x", t(10))
            .await
            .expect("use")
    );

    // A lost phone: every passkey of the person goes, and only theirs.
    store
        .add_passkey(b, b"cred-b", b"pk-b", t(9))
        .await
        .expect("add");
    assert_eq!(store.revoke_passkeys(a, t(11)).await.expect("revoke"), 2);
    assert_eq!(store.revoke_passkeys(a, t(11)).await.expect("revoke"), 0);
    assert!(store.passkeys_of(a).await.expect("list").is_empty());
    assert!(!store.has_passkey(a).await.expect("q"));
    assert_eq!(
        store.passkey_by_credential(b"cred-1").await.expect("q"),
        None
    );
    assert!(!store.use_passkey(one, b"pk-1c", t(12)).await.expect("use"));
    assert!(store.has_passkey(b).await.expect("q"));
    // A revoked credential cannot come back; a new one can be enrolled.
    assert!(matches!(
        store.add_passkey(a, b"cred-1", b"pk-1", t(12)).await,
        Err(StoreError::Conflict(_))
    ));
    let three = store
        .add_passkey(a, b"cred-3", b"pk-3", t(12))
        .await
        .expect("add");
    assert_eq!(
        store
            .passkeys_of(a)
            .await
            .expect("list")
            .iter()
            .map(|p| p.id)
            .collect::<Vec<_>>(),
        [three]
    );
}

/// A ceremony is handed out once, only to its own kind and only before it expires; whatever
/// the answer, it is gone. Expired ones are purged.
async fn ceremonies_are_taken_once_and_purged(store: Arc<SqlStore>) {
    let a = people(&store, 1).await[0].id;
    store
        .put_ceremony(&[1; 16], "register", Some(a), b"state-1", t(10))
        .await
        .expect("put");
    assert_eq!(
        store
            .take_ceremony(&[1; 16], "register", t(9))
            .await
            .expect("take"),
        Some((Some(a), b"state-1".to_vec()))
    );
    assert_eq!(
        store
            .take_ceremony(&[1; 16], "register", t(9))
            .await
            .expect("take"),
        None,
        "used once"
    );
    assert_eq!(
        store
            .take_ceremony(&[9; 16], "register", t(9))
            .await
            .expect("take"),
        None
    );

    // Of another kind: refused, and used up.
    store
        .put_ceremony(&[2; 16], "sign_in", None, b"state-2", t(10))
        .await
        .expect("put");
    assert_eq!(
        store
            .take_ceremony(&[2; 16], "register", t(9))
            .await
            .expect("take"),
        None
    );
    assert_eq!(
        store
            .take_ceremony(&[2; 16], "sign_in", t(9))
            .await
            .expect("take"),
        None
    );

    // Expired (at its expiry time): refused and deleted, so the id is free again.
    store
        .put_ceremony(&[3; 16], "sign_in", None, b"state-3", t(9))
        .await
        .expect("put");
    assert_eq!(
        store
            .take_ceremony(&[3; 16], "sign_in", t(9))
            .await
            .expect("take"),
        None
    );
    store
        .put_ceremony(&[3; 16], "sign_in", None, b"state-3b", t(11))
        .await
        .expect("the expired one was deleted");
    assert!(matches!(
        store
            .put_ceremony(&[3; 16], "sign_in", None, b"again", t(11))
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        store
            .put_ceremony(&[4; 16], "register", Some(9_999_999), b"s", t(11))
            .await,
        Err(StoreError::NotFound)
    ));
    assert!(rejected(
        &store
            .put_ceremony(&[4; 16], "sign\0in", None, b"s", t(11))
            .await,
        "control_character"
    ));

    // The purge deletes what has expired and keeps the rest.
    store
        .put_ceremony(&[5; 16], "sign_in", None, b"state-5", t(10))
        .await
        .expect("put");
    assert_eq!(store.purge_ceremonies(t(10)).await.expect("purge"), 1);
    assert_eq!(store.purge_ceremonies(t(10)).await.expect("purge"), 0);
    assert_eq!(
        store
            .take_ceremony(&[3; 16], "sign_in", t(10))
            .await
            .expect("take"),
        Some((None, b"state-3b".to_vec()))
    );
}

/// Two nodes finishing the same ceremony at once: exactly one gets it, round after round.
async fn racing_takers_get_a_ceremony_once(store: Arc<SqlStore>) {
    for round in 0..20u8 {
        let id = [round; 16];
        store
            .put_ceremony(&id, "sign_in", None, &[round], t(10))
            .await
            .expect("put");
        let takers: Vec<_> = (0..2)
            .map(|_| {
                let store = store.clone();
                tokio::spawn(async move { store.take_ceremony(&id, "sign_in", t(9)).await })
            })
            .collect();
        let mut won = 0;
        for taker in takers {
            if let Some((person, state)) = taker.await.expect("join").expect("take") {
                assert_eq!((person, state), (None, vec![round]));
                won += 1;
            }
        }
        assert_eq!(won, 1, "round {round}");
    }
}

/// A guardian adds up to four dependants, in order, each once; not themselves, not a fifth,
/// not someone unknown. Removing one makes room again.
async fn dependants_are_capped_and_idempotent(store: Arc<SqlStore>) {
    assert_eq!(healthcode_store::MAX_DEPENDANTS, 4);
    let ps = people(&store, 6).await;
    let g = ps[0].id;
    let d: Vec<i64> = ps[1..].iter().map(|p| p.id).collect();
    assert!(rejected(
        &store.add_dependant(g, g, t(8)).await,
        "dependant_self"
    ));
    assert!(matches!(
        store.add_dependant(9_999_999, d[0], t(8)).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.add_dependant(g, 9_999_999, t(8)).await,
        Err(StoreError::NotFound)
    ));
    // Added in the order 3, 1, 2, 4 (of the five): listed in that order.
    for (i, k) in [2usize, 0, 1, 3].into_iter().enumerate() {
        store
            .add_dependant(
                g,
                d[k],
                t(8) + Duration::minutes(i64::try_from(i).expect("small")),
            )
            .await
            .expect("add");
    }
    store
        .add_dependant(g, d[0], t(9))
        .await
        .expect("an existing pair is fine, even at the cap");
    assert!(rejected(
        &store.add_dependant(g, d[4], t(9)).await,
        "dependants_full"
    ));
    let listed = store.dependants_of(g).await.expect("list");
    assert_eq!(
        listed.iter().map(|p| p.id).collect::<Vec<_>>(),
        [d[2], d[0], d[1], d[3]]
    );
    assert_eq!(listed[0].name.expose(), "Person D", "decrypted");
    assert_eq!(listed[0].document.expose(), "E00000004");
    assert!(store.is_dependant(g, d[0]).await.expect("q"));
    assert!(!store.is_dependant(d[0], g).await.expect("q"), "one way");
    assert!(!store.is_dependant(g, d[4]).await.expect("q"));
    assert!(store.dependants_of(d[0]).await.expect("list").is_empty());

    assert!(store.remove_dependant(g, d[1]).await.expect("remove"));
    assert!(!store.remove_dependant(g, d[1]).await.expect("remove"));
    assert!(!store.is_dependant(g, d[1]).await.expect("q"));
    store
        .add_dependant(g, d[4], t(10))
        .await
        .expect("room again");
    assert_eq!(
        store
            .dependants_of(g)
            .await
            .expect("list")
            .iter()
            .map(|p| p.id)
            .collect::<Vec<_>>(),
        [d[2], d[0], d[3], d[4]]
    );
    // A dependant may have several guardians.
    store.add_dependant(d[1], d[0], t(10)).await.expect("add");
    assert!(store.is_dependant(d[1], d[0]).await.expect("q"));
}

/// Three adds at once to a guardian who has three dependants: one gets the last place, the
/// others are refused. Two people adding each other at once both succeed (no deadlock).
async fn racing_adds_cannot_pass_the_dependant_cap(store: Arc<SqlStore>) {
    let ps = people(&store, 21).await;
    for round in ps.chunks(7) {
        let g = round[0].id;
        for p in &round[1..4] {
            store.add_dependant(g, p.id, t(8)).await.expect("add");
        }
        let adds: Vec<_> = round[4..]
            .iter()
            .map(|p| {
                let (store, d) = (store.clone(), p.id);
                tokio::spawn(async move { store.add_dependant(g, d, t(9)).await })
            })
            .collect();
        let mut ok = 0;
        for add in adds {
            match add.await.expect("join") {
                Ok(()) => ok += 1,
                refused => assert!(rejected(&refused, "dependants_full"), "{refused:?}"),
            }
        }
        assert_eq!(ok, 1);
        assert_eq!(store.dependants_of(g).await.expect("list").len(), 4);
    }
    let (a, b) = (ps[3].id, ps[4].id);
    let first = {
        let store = store.clone();
        tokio::spawn(async move { store.add_dependant(a, b, t(10)).await })
    };
    let second = {
        let store = store.clone();
        tokio::spawn(async move { store.add_dependant(b, a, t(10)).await })
    };
    first.await.expect("join").expect("add");
    second.await.expect("join").expect("add");
    assert!(
        store.is_dependant(a, b).await.expect("q") && store.is_dependant(b, a).await.expect("q")
    );
}

/// Printing a pass revokes the person's earlier one; a revoked pass is still found, with its
/// revocation, so that the caller can say so. Prints at once leave exactly one live pass.
async fn paper_passes_one_live_per_person(store: Arc<SqlStore>) {
    let ps = people(&store, 2).await;
    let (a, b) = (ps[0].id, ps[1].id);
    let first = store.issue_paper_pass(a, t(8)).await.expect("issue");
    let pass = store.paper_pass(&first).await.expect("q").expect("found");
    assert_eq!(pass.serial, first);
    assert_eq!(pass.person_id, a);
    assert_eq!(pass.created_at, t(8));
    assert_eq!(pass.revoked_at, None);
    assert_eq!(store.live_paper_pass(a).await.expect("q"), Some(pass));
    let other = store.issue_paper_pass(b, t(8)).await.expect("issue");

    let second = store.issue_paper_pass(a, t(9)).await.expect("reprint");
    assert_ne!(first, second);
    assert_eq!(
        store
            .paper_pass(&first)
            .await
            .expect("q")
            .expect("found")
            .revoked_at,
        Some(t(9))
    );
    assert_eq!(
        store.live_paper_pass(a).await.expect("q").map(|p| p.serial),
        Some(second)
    );
    assert_eq!(
        store.revoke_paper_passes(a, t(10)).await.expect("revoke"),
        1
    );
    assert_eq!(
        store.revoke_paper_passes(a, t(10)).await.expect("revoke"),
        0
    );
    assert_eq!(
        store
            .paper_pass(&second)
            .await
            .expect("q")
            .expect("found")
            .revoked_at,
        Some(t(10))
    );
    assert_eq!(store.live_paper_pass(a).await.expect("q"), None);
    assert_eq!(store.paper_pass(&[0; 16]).await.expect("q"), None);
    assert!(matches!(
        store.issue_paper_pass(9_999_999, t(10)).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(
        store.live_paper_pass(b).await.expect("q").map(|p| p.serial),
        Some(other),
        "another person's pass is untouched"
    );

    let prints: Vec<_> = (0..4)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.issue_paper_pass(a, t(11)).await })
        })
        .collect();
    let mut serials = Vec::new();
    for print in prints {
        serials.push(print.await.expect("join").expect("issue"));
    }
    let live = store
        .live_paper_pass(a)
        .await
        .expect("q")
        .expect("one live");
    assert!(serials.contains(&live.serial));
    let mut revoked = 0;
    for serial in &serials {
        let pass = store.paper_pass(serial).await.expect("q").expect("found");
        if pass.revoked_at.is_some() {
            revoked += 1;
        }
    }
    assert_eq!(revoked, 3);
}

on_both!(
    pending_devices_are_enrolled_once_before_their_link_expires,
    revoked_devices_lose_their_key_and_their_link,
    a_renewed_link_replaces_the_token_and_then_the_key,
    racing_redemptions_enrol_a_device_once,
    venue_managers_are_assigned_once_and_unassigned,
    hourly_checkins_count_visits_and_stops,
);

fn not_found<T: std::fmt::Debug>(r: Result<T, StoreError>) -> bool {
    matches!(r, Err(StoreError::NotFound))
}

/// A device added with a key is enrolled at once. A pending one has no key anyone holds until
/// its one-time token is redeemed, once, before it expires; a token hash is taken once.
async fn pending_devices_are_enrolled_once_before_their_link_expires(store: Arc<SqlStore>) {
    let v = store
        .add_venue("西单站", "subway", "西城区", "", t(0))
        .await
        .unwrap();
    let keyed = store
        .add_device(v.id, "gate 0", &[7; 32], t(1))
        .await
        .unwrap();
    assert_eq!((keyed.enrolled_at, keyed.revoked_at), (Some(t(1)), None));
    assert_eq!(
        store.device_by_key(&[7; 32]).await.unwrap(),
        Some(keyed.clone())
    );

    let pending = store
        .add_pending_device(v.id, "gate 1", &[1; 32], t(10), t(8))
        .await
        .unwrap();
    assert_eq!(
        (pending.created_at, pending.enrolled_at, pending.revoked_at),
        (t(8), None, None)
    );
    assert!(not_found(
        store
            .add_pending_device(9_999, "nowhere", &[2; 32], t(10), t(8))
            .await
    ));
    assert!(matches!(
        store
            .add_pending_device(v.id, "gate 2", &[1; 32], t(10), t(8))
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store.devices_of(v.id).await.unwrap(),
        vec![keyed.clone(), pending.clone()],
        "a refused device is not stored"
    );

    assert_eq!(
        store
            .redeem_device_enrolment(&[2; 32], &[11; 32], t(9))
            .await
            .unwrap(),
        None,
        "an unknown token"
    );
    let enrolled = store
        .redeem_device_enrolment(&[1; 32], &[11; 32], t(9))
        .await
        .unwrap()
        .expect("enrolled");
    assert_eq!(enrolled.id, pending.id);
    assert_eq!(enrolled.enrolled_at, Some(t(9)));
    assert_eq!(
        store.device_by_key(&[11; 32]).await.unwrap(),
        Some(enrolled.clone())
    );
    // Once only: a second redemption gets nothing and changes nothing.
    assert_eq!(
        store
            .redeem_device_enrolment(&[1; 32], &[12; 32], t(9))
            .await
            .unwrap(),
        None
    );
    assert_eq!(store.device_by_key(&[12; 32]).await.unwrap(), None);
    assert_eq!(
        store.device_by_key(&[11; 32]).await.unwrap(),
        Some(enrolled.clone())
    );

    // Expired at `expires_at` and after: refused, the device stays pending.
    let late = store
        .add_pending_device(v.id, "gate 3", &[3; 32], t(10), t(8))
        .await
        .unwrap();
    for at in [t(10), t(11)] {
        assert_eq!(
            store
                .redeem_device_enrolment(&[3; 32], &[13; 32], at)
                .await
                .unwrap(),
            None
        );
    }
    assert_eq!(store.device_by_key(&[13; 32]).await.unwrap(), None);
    assert_eq!(
        store.devices_of(v.id).await.unwrap(),
        vec![keyed, enrolled, late.clone()]
    );
    // A renewed link works.
    store
        .renew_device_enrolment(v.id, late.id, &[4; 32], t(13))
        .await
        .unwrap();
    let renewed = store
        .redeem_device_enrolment(&[4; 32], &[13; 32], t(12))
        .await
        .unwrap()
        .expect("enrolled");
    assert_eq!((renewed.id, renewed.enrolled_at), (late.id, Some(t(12))));
}

/// A revoked device's key stops working at once and its link with it; revoking twice says
/// so; a device is revoked, and its link renewed, only through its own venue.
async fn revoked_devices_lose_their_key_and_their_link(store: Arc<SqlStore>) {
    let v = store
        .add_venue("A", "mall", "东城区", "1", t(0))
        .await
        .unwrap();
    let w = store
        .add_venue("B", "mall", "东城区", "2", t(0))
        .await
        .unwrap();
    let keyed = store
        .add_device(v.id, "gate", &[7; 32], t(1))
        .await
        .unwrap();
    let pending = store
        .add_pending_device(v.id, "door", &[5; 32], t(10), t(1))
        .await
        .unwrap();
    let other = store
        .add_device(w.id, "gate", &[8; 32], t(1))
        .await
        .unwrap();

    assert!(not_found(store.revoke_device(w.id, keyed.id, t(2)).await));
    assert!(not_found(store.revoke_device(v.id, 9_999, t(2)).await));
    assert!(not_found(
        store
            .renew_device_enrolment(w.id, keyed.id, &[6; 32], t(10))
            .await
    ));
    assert!(store.device_by_key(&[7; 32]).await.unwrap().is_some());

    assert!(store.revoke_device(v.id, keyed.id, t(2)).await.unwrap());
    assert!(!store.revoke_device(v.id, keyed.id, t(3)).await.unwrap());
    assert_eq!(store.device_by_key(&[7; 32]).await.unwrap(), None);

    assert!(store.revoke_device(v.id, pending.id, t(2)).await.unwrap());
    assert_eq!(
        store
            .redeem_device_enrolment(&[5; 32], &[15; 32], t(3))
            .await
            .unwrap(),
        None,
        "the link of a revoked device"
    );
    assert_eq!(store.device_by_key(&[15; 32]).await.unwrap(), None);
    assert!(not_found(
        store
            .renew_device_enrolment(v.id, pending.id, &[6; 32], t(10))
            .await
    ));
    assert!(not_found(
        store
            .renew_device_enrolment(v.id, keyed.id, &[6; 32], t(10))
            .await
    ));
    assert_eq!(
        store
            .redeem_device_enrolment(&[6; 32], &[16; 32], t(3))
            .await
            .unwrap(),
        None
    );

    let listed = store.devices_of(v.id).await.unwrap();
    assert_eq!(
        listed
            .iter()
            .map(|d| (d.id, d.revoked_at))
            .collect::<Vec<_>>(),
        vec![(keyed.id, Some(t(2))), (pending.id, Some(t(2)))],
        "revoked devices are listed, the first revocation's time kept"
    );
    assert_eq!(store.devices_of(w.id).await.unwrap(), vec![other.clone()]);
    assert_eq!(store.device_by_key(&[8; 32]).await.unwrap(), Some(other));
}

/// Renewing a link replaces the device's pending token; redeeming it re-enrols the device
/// with the new key, and the old key stops working.
async fn a_renewed_link_replaces_the_token_and_then_the_key(store: Arc<SqlStore>) {
    let v = store
        .add_venue("A", "mall", "东城区", "1", t(0))
        .await
        .unwrap();
    let d = store
        .add_pending_device(v.id, "gate", &[1; 32], t(10), t(1))
        .await
        .unwrap();
    let other = store
        .add_pending_device(v.id, "door", &[9; 32], t(10), t(1))
        .await
        .unwrap();
    store
        .renew_device_enrolment(v.id, d.id, &[2; 32], t(10))
        .await
        .unwrap();
    store
        .renew_device_enrolment(v.id, d.id, &[3; 32], t(10))
        .await
        .unwrap();
    assert!(matches!(
        store
            .renew_device_enrolment(v.id, d.id, &[9; 32], t(10))
            .await,
        Err(StoreError::Conflict(_))
    ));
    for replaced in [[1; 32], [2; 32]] {
        assert_eq!(
            store
                .redeem_device_enrolment(&replaced, &[21; 32], t(2))
                .await
                .unwrap(),
            None
        );
    }
    let first = store
        .redeem_device_enrolment(&[3; 32], &[21; 32], t(2))
        .await
        .unwrap()
        .expect("enrolled");
    assert_eq!(first.enrolled_at, Some(t(2)));

    // Shown again: the old key works until the new link is redeemed, and not after.
    store
        .renew_device_enrolment(v.id, d.id, &[4; 32], t(10))
        .await
        .unwrap();
    assert_eq!(
        store.device_by_key(&[21; 32]).await.unwrap().map(|x| x.id),
        Some(d.id)
    );
    let second = store
        .redeem_device_enrolment(&[4; 32], &[22; 32], t(3))
        .await
        .unwrap()
        .expect("re-enrolled");
    assert_eq!((second.id, second.enrolled_at), (d.id, Some(t(3))));
    assert_eq!(store.device_by_key(&[21; 32]).await.unwrap(), None);
    assert_eq!(store.device_by_key(&[22; 32]).await.unwrap(), Some(second));

    // A device added with a key can be re-enrolled the same way.
    let keyed = store
        .add_device(v.id, "kiosk", &[7; 32], t(1))
        .await
        .unwrap();
    store
        .renew_device_enrolment(v.id, keyed.id, &[5; 32], t(10))
        .await
        .unwrap();
    store
        .redeem_device_enrolment(&[5; 32], &[27; 32], t(4))
        .await
        .unwrap()
        .expect("re-enrolled");
    assert_eq!(store.device_by_key(&[7; 32]).await.unwrap(), None);
    assert_eq!(
        store.device_by_key(&[27; 32]).await.unwrap().map(|x| x.id),
        Some(keyed.id)
    );
    // A key another device holds is refused, and the link is not used up.
    assert!(matches!(
        store
            .redeem_device_enrolment(&[9; 32], &[27; 32], t(4))
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store
            .redeem_device_enrolment(&[9; 32], &[29; 32], t(4))
            .await
            .unwrap()
            .map(|x| x.id),
        Some(other.id)
    );
}

/// Two browsers redeeming the same link at once: one gets the device and its key works; the
/// other's does not. A revocation racing a redemption leaves the device revoked and no key
/// working.
async fn racing_redemptions_enrol_a_device_once(store: Arc<SqlStore>) {
    let v = store
        .add_venue("A", "mall", "东城区", "1", t(0))
        .await
        .unwrap();
    for round in 0..20u8 {
        let token = [round; 32];
        let d = store
            .add_pending_device(v.id, "gate", &token, t(10), t(1))
            .await
            .unwrap();
        let redeemers: Vec<_> = [100u8, 200]
            .into_iter()
            .map(|k| {
                let store = store.clone();
                tokio::spawn(async move {
                    let key = [k.wrapping_add(round); 32];
                    (key, store.redeem_device_enrolment(&token, &key, t(2)).await)
                })
            })
            .collect();
        let mut winners = Vec::new();
        for r in redeemers {
            let (key, got) = r.await.expect("join");
            if let Some(device) = got.expect("redeem") {
                assert_eq!(device.id, d.id);
                winners.push(key);
            } else {
                assert_eq!(store.device_by_key(&key).await.unwrap(), None);
            }
        }
        assert_eq!(winners.len(), 1, "round {round}");
        assert_eq!(
            store
                .device_by_key(&winners[0])
                .await
                .unwrap()
                .map(|x| x.id),
            Some(d.id)
        );

        let late = [round.wrapping_add(50); 32];
        store
            .renew_device_enrolment(v.id, d.id, &late, t(10))
            .await
            .unwrap();
        let key = [round.wrapping_add(150); 32];
        let redeem = {
            let store = store.clone();
            tokio::spawn(async move { store.redeem_device_enrolment(&late, &key, t(3)).await })
        };
        let revoke = {
            let store = store.clone();
            tokio::spawn(async move { store.revoke_device(v.id, d.id, t(3)).await })
        };
        redeem.await.expect("join").expect("redeem");
        assert!(revoke.await.expect("join").expect("revoke"));
        for k in [key, winners[0]] {
            assert_eq!(
                store.device_by_key(&k).await.unwrap(),
                None,
                "round {round}"
            );
        }
    }
}

/// A person manages a venue once however often assigned; unassigning goes by the venue and
/// the assignment's id.
async fn venue_managers_are_assigned_once_and_unassigned(store: Arc<SqlStore>) {
    let ps = people(&store, 2).await;
    let (a, b) = (ps[0].id, ps[1].id);
    let v = store
        .add_venue("A", "mall", "东城区", "1", t(0))
        .await
        .unwrap();
    let w = store
        .add_venue("B", "mall", "东城区", "2", t(0))
        .await
        .unwrap();
    let m1 = store.assign_manager(v.id, a, t(1)).await.unwrap();
    assert_eq!((m1.venue_id, m1.person_id, m1.assigned_at), (v.id, a, t(1)));
    assert_eq!(store.assign_manager(v.id, a, t(2)).await.unwrap(), m1);
    assert!(not_found(store.assign_manager(9_999, a, t(2)).await));
    assert!(not_found(store.assign_manager(v.id, 9_999_999, t(2)).await));
    let m2 = store.assign_manager(w.id, a, t(3)).await.unwrap();
    let m3 = store.assign_manager(v.id, b, t(4)).await.unwrap();

    assert_eq!(
        store.managers_of(v.id).await.unwrap(),
        vec![m1.clone(), m3.clone()]
    );
    assert_eq!(
        store.venues_managed_by(a).await.unwrap(),
        vec![v.clone(), w.clone()]
    );
    assert_eq!(store.venues_managed_by(b).await.unwrap(), vec![v.clone()]);
    assert!(store.manages(a, v.id).await.unwrap());
    assert!(!store.manages(b, w.id).await.unwrap());

    assert!(
        !store.unassign_manager(w.id, m1.id).await.unwrap(),
        "another venue's"
    );
    assert!(store.unassign_manager(v.id, m1.id).await.unwrap());
    assert!(!store.unassign_manager(v.id, m1.id).await.unwrap());
    assert_eq!(store.managers_of(v.id).await.unwrap(), vec![m3]);
    assert_eq!(store.managers_of(w.id).await.unwrap(), vec![m2]);
    assert_eq!(store.venues_managed_by(a).await.unwrap(), vec![w]);
    assert!(!store.manages(a, v.id).await.unwrap());
    let again = store.assign_manager(v.id, a, t(5)).await.unwrap();
    assert!(again.id > m1.id);
    assert_eq!(again.assigned_at, t(5));
}

/// Check-ins in `[from, to)` are counted by UTC hour, stops and flagged rows included; hours
/// without any are left out, and other venues' check-ins are not counted.
async fn hourly_checkins_count_visits_and_stops(store: Arc<SqlStore>) {
    let v = store
        .add_venue("A", "mall", "东城区", "1", t(0))
        .await
        .unwrap();
    let w = store
        .add_venue("B", "mall", "东城区", "2", t(0))
        .await
        .unwrap();
    let stopped = |at: DateTime<Utc>, seq: i64| {
        let mut c = checkin(v.id, 5, at, Some((1, seq)));
        c.passed = false;
        c
    };
    let mut flagged = stopped(t(11) + Duration::minutes(40), 3);
    flagged.flagged = true;
    let rows = [
        checkin(v.id, 1, t(9) + Duration::minutes(59), None),
        checkin(v.id, 2, t(10), None),
        stopped(t(10) + Duration::seconds(3_599), 1),
        checkin(v.id, 3, t(11) + Duration::minutes(30), None),
        stopped(t(11) + Duration::minutes(31), 2),
        flagged,
        checkin(v.id, 4, t(13) + Duration::minutes(5), None),
        checkin(v.id, 4, t(14), None),
        checkin(w.id, 6, t(10) + Duration::minutes(1), None),
    ];
    store.add_checkins(&rows, t(15)).await.unwrap();
    let counts = |rows: Vec<healthcode_store::HourCount>| -> Vec<(DateTime<Utc>, i64, i64)> {
        rows.into_iter()
            .map(|h| (h.hour, h.checkins, h.stopped))
            .collect()
    };
    assert_eq!(
        counts(store.hourly_checkins(v.id, t(10), t(14)).await.unwrap()),
        vec![(t(10), 2, 1), (t(11), 3, 2), (t(13), 1, 0)]
    );
    assert_eq!(
        counts(
            store
                .hourly_checkins(v.id, t(10) + Duration::minutes(30), t(12))
                .await
                .unwrap()
        ),
        vec![(t(10), 1, 1), (t(11), 3, 2)]
    );
    assert_eq!(
        counts(store.hourly_checkins(w.id, t(0), t(23)).await.unwrap()),
        vec![(t(10), 1, 0)]
    );
    assert!(
        store
            .hourly_checkins(v.id, t(12), t(13))
            .await
            .unwrap()
            .is_empty()
    );
}
