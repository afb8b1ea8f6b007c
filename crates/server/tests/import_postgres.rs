//! A bulk import into PostgreSQL, where batches are written two at a time: every row is
//! stored once, and a record named again further down the file, in a later batch, becomes
//! the later revision, as it does when batches are written one after another.
//!
//! PostgreSQL comes from `HEALTHCODE_TEST_DATABASE_URL`; without it the test is skipped,
//! unless `CI` is set, when it fails.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fmt::Write;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use healthcode_domain::Policy;
use healthcode_ingest::Category;
use healthcode_server::import::{ImportOptions, run};
use healthcode_store::{EvidenceBody, ProviderKind, SqlStore, Store, Vault};
use sqlx::{Connection, Executor};

const DOC: &str = "11010519491231002X";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_batches_keep_the_files_order() {
    let Ok(admin) = std::env::var("HEALTHCODE_TEST_DATABASE_URL") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must run the PostgreSQL tests"
        );
        eprintln!("SKIPPED: HEALTHCODE_TEST_DATABASE_URL is not set");
        return;
    };
    let name = format!("hc_import_{}", std::process::id());
    let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
    conn.execute(format!("DROP DATABASE IF EXISTS {name}").as_str())
        .await
        .unwrap();
    conn.execute(format!("CREATE DATABASE {name}").as_str())
        .await
        .unwrap();
    let url = match admin.rsplit_once('/') {
        Some((server, _)) => format!("{server}/{name}"),
        None => panic!("{admin} names no database"),
    };
    let store = Arc::new(
        SqlStore::connect(&url, Arc::new(Vault::from_master_key(&[5; 32])))
            .await
            .unwrap(),
    );
    assert_eq!(store.parallel_batches(), 2);
    let now: DateTime<Utc> = "2026-05-01T04:00:00Z".parse().unwrap();
    let lab = store
        .add_provider(ProviderKind::Lab, "Lab", &[1; 32], now)
        .await
        .unwrap();

    // 50,000 rows: three batches of 20,000. M-0 is the first row of the file and again the
    // first of the second batch, now positive. The first batch's other records sort before
    // it and the second's after it, so that written side by side without the order kept,
    // the second batch would reach M-0 long before the first does.
    let (sampled, resulted) = (now - Duration::hours(5), now - Duration::hours(3));
    let mut csv = String::from(
        "record_id,document_type,document_number,sampled_at,resulted_at,kind,result\n",
    );
    for n in 0..50_000 {
        let (record, result) = match n {
            0 => ("M-0".to_owned(), "negative"),
            20_000 => ("M-0".to_owned(), "positive"),
            n if n < 20_000 => (format!("A-{n}"), "negative"),
            n => (format!("Z-{n}"), "negative"),
        };
        writeln!(
            csv,
            "{record},resident_id,{DOC},{},{},pcr,{result}",
            sampled.to_rfc3339(),
            resulted.to_rfc3339()
        )
        .unwrap();
    }
    let store_dyn: Arc<dyn Store> = store.clone();
    let report = run(
        store_dyn,
        Arc::new(Policy::default_policy().unwrap()),
        &lab,
        std::io::Cursor::new(csv.into_bytes()),
        chrono_tz::Asia::Shanghai,
        now,
        ImportOptions {
            category: Category::Tests,
            atomic: false,
        },
        |_| {},
    )
    .await
    .unwrap();
    assert_eq!(
        (
            report.rows,
            report.created,
            report.corrected,
            report.rejected_count
        ),
        (50_000, 49_999, 1, 0),
        "{report:?}"
    );
    let history = store.history(lab.id, "M-0").await.unwrap();
    assert_eq!(history.len(), 2);
    let EvidenceBody::Test { outcome, .. } = &history[1].body else {
        panic!("{history:?}");
    };
    assert!(history[1].current);
    assert_eq!(
        format!("{outcome:?}"),
        "Positive",
        "the file's later row is current"
    );

    store.close().await;
    let _ = conn
        .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
        .await;
}
