//! Bulk imports over HTTP: `POST /api/v1/imports/{test-results,vaccinations}` with the file
//! as a streamed body, against a real server.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use chrono::Duration;
use healthcode_generate::{self as generate, Dataset, OutputFormat, Spec};
use reqwest::StatusCode;
use serde_json::Value;

use common::{DOC, DOC_B, TestApp};

const HEADER: &str = "record_id,document_type,document_number,sampled_at,resulted_at,kind,result\n";

impl TestApp {
    async fn import(&self, path: &str, key: &str, body: Vec<u8>) -> (StatusCode, Value) {
        self.post_raw(path, key, "text/csv", body).await
    }

    /// A CSV row of a PCR result for `doc`, sampled `hours_ago` before the clock.
    fn csv_pcr(&self, record: &str, doc: &str, result: &str, hours_ago: i64) -> String {
        let sampled = self.clock_now() - Duration::hours(hours_ago);
        let resulted = (sampled + Duration::hours(2)).min(self.clock_now());
        format!(
            "{record},resident_id,{doc},{},{},pcr,{result}\n",
            sampled.to_rfc3339(),
            resulted.to_rfc3339()
        )
    }
}

fn generated(dataset: Dataset, format: OutputFormat, rows: u64, app: &TestApp) -> Vec<u8> {
    let spec = Spec {
        format,
        ..Spec::new(dataset, rows, app.clock_now())
    };
    let mut out = Vec::new();
    generate::write(&spec, &mut out).expect("generate");
    out
}

#[tokio::test]
async fn an_import_reports_every_row_and_statuses_follow_at_once() {
    let app = TestApp::spawn().await;
    let token = app.enrol(DOC, "张三").await;
    assert_eq!(app.status(&token).await["no_data"], true);

    let mut csv = HEADER.to_owned();
    csv += &app.csv_pcr("B-1", DOC, "negative", 30);
    csv += &app.csv_pcr("B-2", DOC_B, "positive", 30);
    csv += "B-3,resident_id,110105194912310021,2026-05-01 08:00,2026-05-01 09:00,pcr,negative\n";
    let (code, report) = app
        .import(
            "/api/v1/imports/test-results",
            &app.keys.lab,
            csv.clone().into_bytes(),
        )
        .await;
    assert_eq!(code, StatusCode::OK, "{report}");
    assert_eq!(report["format"], "csv");
    assert_eq!(
        (report["rows"].as_u64(), report["accepted"].as_u64()),
        (Some(3), Some(2))
    );
    assert_eq!(report["rejected_count"], 1);
    assert_eq!(report["rejected"][0]["line"], 4);
    assert_eq!(report["rejected"][0]["code"], "document_number_check_digit");
    assert_eq!(report["committed"], true);

    // The enrolled person sees the result on the next request; someone who enrols later
    // finds theirs waiting.
    let s = app.status(&token).await;
    assert_eq!(s["no_data"], false);
    assert_eq!(s["test_recency"]["days"], 1);
    let later = app.enrol(DOC_B, "李四").await;
    let s = app.status(&later).await;
    assert_eq!(s["colour"], "yellow", "{s}");
    assert_eq!(s["reasons"][0]["code"], "pcr_positive");
    assert_eq!(s["reasons"][0]["evidence"]["meta"]["record_id"], "B-2");

    // The same file again changes nothing; a corrected row is a new revision.
    let (_, again) = app
        .import(
            "/api/v1/imports/test-results",
            &app.keys.lab,
            csv.into_bytes(),
        )
        .await;
    assert_eq!(
        (again["unchanged"].as_u64(), again["created"].as_u64()),
        (Some(2), Some(0))
    );
    let corrected = format!("{HEADER}{}", app.csv_pcr("B-2", DOC_B, "negative", 30));
    let (_, report) = app
        .import(
            "/api/v1/imports/test-results",
            &app.keys.lab,
            corrected.into_bytes(),
        )
        .await;
    assert_eq!(report["corrected"], 1);
    let (_, history) = app.get("/api/v1/records/B-2", Some(&app.keys.lab)).await;
    assert_eq!(
        history["revisions"].as_array().map(Vec::len),
        Some(2),
        "{history}"
    );
    assert_eq!(app.status(&later).await["colour"], "green");
}

#[tokio::test]
async fn an_atomic_import_with_a_bad_row_stores_nothing() {
    let app = TestApp::spawn().await;
    let mut csv = HEADER.to_owned();
    csv += &app.csv_pcr("X-1", DOC, "negative", 30);
    csv += &app.csv_pcr("X-2", DOC_B, "maybe", 30);
    let (code, report) = app
        .import(
            "/api/v1/imports/test-results?atomic=true",
            &app.keys.lab,
            csv.into_bytes(),
        )
        .await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{report}");
    assert_eq!(report["committed"], false);
    assert_eq!(report["rejected"][0]["code"], "result_unknown");
    let (code, _) = app.get("/api/v1/records/X-1", Some(&app.keys.lab)).await;
    assert_eq!(code, StatusCode::NOT_FOUND, "the good row was not kept");

    let clean = format!("{HEADER}{}", app.csv_pcr("X-1", DOC, "negative", 30));
    let (code, report) = app
        .import(
            "/api/v1/imports/test-results?atomic=true",
            &app.keys.lab,
            clean.into_bytes(),
        )
        .await;
    assert_eq!(code, StatusCode::OK, "{report}");
    assert_eq!(
        (report["created"].as_u64(), report["committed"].as_bool()),
        (Some(1), Some(true))
    );
}

#[tokio::test]
async fn files_and_keys_are_checked() {
    let app = TestApp::spawn().await;
    let path = "/api/v1/imports/test-results";
    let (code, body) = app
        .import(path, &app.keys.lab, b"name,phone\nx,y\n".to_vec())
        .await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["code"], "header_missing_columns");
    let (code, body) = app.import(path, &app.keys.lab, Vec::new()).await;
    assert_eq!(
        (code, &body["error"]["code"]),
        (StatusCode::UNPROCESSABLE_ENTITY, &"file_empty".into())
    );
    let (code, _) = app
        .import(path, &app.keys.vaccination, HEADER.as_bytes().to_vec())
        .await;
    assert_eq!(code, StatusCode::FORBIDDEN);
    let (code, _) = app
        .import("/api/v1/imports/vaccinations", &app.keys.lab, Vec::new())
        .await;
    assert_eq!(code, StatusCode::FORBIDDEN);
    let (code, _) = app
        .import(path, "hcp_unknown", HEADER.as_bytes().to_vec())
        .await;
    assert_eq!(code, StatusCode::UNAUTHORIZED);
    let (code, body) = app
        .import(&format!("{path}?atomic=perhaps"), &app.keys.lab, Vec::new())
        .await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["code"], "invalid_query");
}

#[tokio::test]
async fn a_large_fhir_bundle_streams_past_the_body_limit() {
    let app = TestApp::spawn().await;
    let bundle = generated(Dataset::Vaccinations, OutputFormat::Fhir, 3_000, &app);
    assert!(
        bundle.len() > 64 * 1024 * 10,
        "far larger than the JSON body limit"
    );
    // Sent in small chunks, as a stream of unknown length.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        bundle.chunks(8 * 1024).map(|c| Ok(c.to_vec())).collect();
    let resp = app
        .client
        .post(app.url("/api/v1/imports/vaccinations"))
        .bearer_auth(&app.keys.vaccination)
        .header("content-type", "application/fhir+json")
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), StatusCode::OK);
    let report: Value = resp.json().await.expect("report");
    assert_eq!(report["format"], "fhir_bundle");
    assert_eq!(
        (report["rows"].as_u64(), report["created"].as_u64()),
        (Some(3_000), Some(3_000))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_imports_of_one_file_store_it_once() {
    let app = TestApp::spawn().await;
    let file = generated(Dataset::Tests, OutputFormat::Csv, 6_000, &app);
    let send = |body: Vec<u8>| {
        let client = app.client.clone();
        let url = app.url("/api/v1/imports/test-results");
        let key = app.keys.lab.clone();
        tokio::spawn(async move {
            let resp = client
                .post(url)
                .bearer_auth(key)
                .body(body)
                .send()
                .await
                .expect("send");
            assert_eq!(resp.status(), StatusCode::OK);
            resp.json::<Value>().await.expect("report")
        })
    };
    let (a, b) = (send(file.clone()), send(file));
    let (a, b) = (a.await.expect("join"), b.await.expect("join"));
    let count = |k: &str| a[k].as_u64().unwrap_or(0) + b[k].as_u64().unwrap_or(0);
    assert_eq!(count("created"), 6_000, "{a} {b}");
    assert_eq!(count("unchanged"), 6_000);
    assert_eq!(count("rejected_count"), 0);
}

#[tokio::test]
async fn an_atomic_import_stops_writing_at_its_first_rejected_row() {
    let app = TestApp::spawn().await;
    let spec = Spec {
        broken_rows: 1,
        ..Spec::new(Dataset::Tests, 25_000, app.clock_now())
    };
    let mut file = Vec::new();
    let summary = generate::write(&spec, &mut file).expect("generate");
    assert!(
        summary.broken[0] < 20_000,
        "the broken row is in the first batch"
    );
    let (code, report) = app
        .import(
            "/api/v1/imports/test-results?atomic=true",
            &app.keys.lab,
            file,
        )
        .await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{report}");
    assert_eq!(report["rows"], 25_000);
    assert_eq!(report["rejected_count"], 1);
    // Nothing is written once a row has been rejected, the batch holding it included.
    assert_eq!(report["checked_only"], 24_999);
    assert_eq!(report["committed"], false);
    let store: &dyn healthcode_store::Store = app.store.as_ref();
    assert_eq!(store.evidence_high_water().await.expect("hw"), 0);
}

/// A reader that fails hard halfway through a file.
struct Panicking {
    head: std::io::Cursor<Vec<u8>>,
}

impl std::io::Read for Panicking {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self.head.read(buf)? {
            0 => panic!("the reader broke"),
            n => Ok(n),
        }
    }
}

#[tokio::test]
async fn a_reader_that_breaks_is_not_taken_for_the_end_of_the_file() {
    use healthcode_domain::Policy;
    use healthcode_ingest::Category;
    use healthcode_server::extract::secret_hash;
    use healthcode_server::import::{self, ImportError, ImportOptions};
    use healthcode_store::Store;
    use std::sync::Arc;

    let app = TestApp::spawn().await;
    let mut csv = HEADER.to_owned();
    csv += &app.csv_pcr("P-1", DOC, "negative", 30);
    let store: Arc<dyn Store> = app.store.clone();
    let lab = store
        .provider_by_key(&secret_hash(&app.keys.lab))
        .await
        .expect("query")
        .expect("lab");
    for atomic in [false, true] {
        let input = Panicking {
            head: std::io::Cursor::new(csv.clone().into_bytes()),
        };
        let result = import::run(
            store.clone(),
            Arc::new(Policy::default_policy().expect("policy")),
            &lab,
            input,
            chrono_tz::Asia::Shanghai,
            app.clock_now(),
            ImportOptions {
                category: Category::Tests,
                atomic,
            },
            |_| {},
        )
        .await;
        assert!(
            matches!(result, Err(ImportError::Reader { .. })),
            "atomic {atomic}: {result:?}"
        );
    }
}

#[tokio::test]
async fn imports_have_their_own_limit() {
    let app = TestApp::builder()
        .config(|c| c.max_imports = 0)
        .spawn()
        .await;
    let (code, body) = app
        .import(
            "/api/v1/imports/test-results",
            &app.keys.lab,
            HEADER.as_bytes().to_vec(),
        )
        .await;
    assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"]["code"], "overloaded");
    // The rest of the API is not affected.
    let (code, _) = app
        .post(
            "/api/v1/test-results",
            Some(&app.keys.lab),
            app.pcr("L-1", DOC, "negative", 3),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_upload_does_not_hold_other_writes_up() {
    let app = TestApp::spawn().await;
    let file = generated(Dataset::Tests, OutputFormat::Csv, 30_000, &app);
    // The first 25,000 rows at once (a batch of 20,000 reaches the writer), then nothing for
    // four seconds, then the rest.
    let split = file
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .nth(25_000)
        .map(|(i, _)| i + 1)
        .expect("enough lines");
    let (head, tail) = (file[..split].to_vec(), file[split..].to_vec());
    let parts = futures_util::stream::unfold(0, move |step| {
        let (head, tail) = (head.clone(), tail.clone());
        async move {
            match step {
                0 => Some((Ok::<_, std::io::Error>(head), 1)),
                1 => {
                    tokio::time::sleep(std::time::Duration::from_secs(4)).await;
                    Some((Ok(tail), 2))
                }
                _ => None,
            }
        }
    });
    let upload = app
        .client
        .post(app.url("/api/v1/imports/test-results"))
        .bearer_auth(&app.keys.lab)
        .header("content-type", "text/csv")
        .body(reqwest::Body::wrap_stream(parts))
        .send();
    let single = async {
        tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
        let started = std::time::Instant::now();
        let (status, body) = app
            .post(
                "/api/v1/test-results",
                Some(&app.keys.lab),
                app.pcr("SINGLE-1", common::DOC, "negative", 3),
            )
            .await;
        (status, body, started.elapsed())
    };
    let (uploaded, (status, body, waited)) = tokio::join!(upload, single);
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert!(
        waited < std::time::Duration::from_secs(2),
        "a single submission waited {waited:?} behind a stalled import"
    );
    let report: Value = uploaded.expect("import").json().await.expect("report");
    assert_eq!(
        (report["rows"].as_u64(), report["created"].as_u64()),
        (Some(30_000), Some(30_000)),
        "{report}"
    );
}

/// An atomic import is received whole before its one transaction, so its size is bounded
/// (`max_atomic_import_bytes`): a larger file is refused with 413 and nothing is stored; the
/// same file streamed (not atomic) is imported.
#[tokio::test]
async fn an_atomic_import_larger_than_the_limit_is_refused_whole() {
    let app = TestApp::builder()
        .config(|c| c.max_atomic_import_bytes = 1_000)
        .spawn()
        .await;
    let mut csv = HEADER.to_owned();
    for i in 0..20 {
        csv += &app.csv_pcr(&format!("BIG-{i}"), DOC, "negative", 30);
    }
    assert!(csv.len() > 1_000);
    let (code, body) = app
        .import(
            "/api/v1/imports/test-results?atomic=true",
            &app.keys.lab,
            csv.clone().into_bytes(),
        )
        .await;
    assert_eq!(
        (code, body["error"]["code"].as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, Some("body_too_large")),
        "{body}"
    );
    let (code, _) = app.get("/api/v1/records/BIG-0", Some(&app.keys.lab)).await;
    assert_eq!(
        code,
        StatusCode::NOT_FOUND,
        "nothing of the refused file was stored"
    );
    let small = format!("{HEADER}{}", app.csv_pcr("SMALL-1", DOC, "negative", 30));
    let (code, report) = app
        .import(
            "/api/v1/imports/test-results?atomic=true",
            &app.keys.lab,
            small.into_bytes(),
        )
        .await;
    assert_eq!(code, StatusCode::OK, "{report}");
    let (code, report) = app
        .import(
            "/api/v1/imports/test-results",
            &app.keys.lab,
            csv.into_bytes(),
        )
        .await;
    assert_eq!(
        (code, report["created"].as_u64()),
        (StatusCode::OK, Some(20)),
        "{report}"
    );
}
