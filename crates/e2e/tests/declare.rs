//! Declaring in a real Chromium, against the real server on a fresh embedded database:
//! register → the code → declare symptoms (nothing ticked first, which is named) → the code
//! shows reminder 6 → why says self-declared → declare an arrival (no place first) → reminder 4
//! too → a lab's negative PCR clears the symptoms reminder on the open page, the arrival's
//! stays (the test was sampled before the arrival) → the declare page at 320 px. Each step's
//! screenshot is under target/e2e/declare/.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use healthcode_credential::{KeyUsage, SigningKey, TrustList, TrustedKey};
use healthcode_domain::{Policy, Region};
use healthcode_e2e::{Browser, Options, Page};
use healthcode_server::auth::new_provider_key;
use healthcode_server::clock::{Clock, SystemClock};
use healthcode_server::extract::secret_hash;
use healthcode_server::identity::{DevelopmentProvider, IdentityProvider};
use healthcode_server::{AppState, ServerConfig};
use healthcode_store::{ProviderKind, SqlStore, Store, Vault};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(20);
const DOC: &str = "11010519491231002X";

struct Server {
    base: String,
    lab_key: String,
    _dir: tempfile::TempDir,
}

fn now() -> DateTime<Utc> {
    use chrono::DurationRound;
    let t = SystemClock.now();
    t.duration_trunc(chrono::TimeDelta::seconds(1)).unwrap_or(t)
}

/// The server as `healthcode serve --dev-identity` runs it, on a free port at localhost.
async fn serve() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("e2e.db").display());
    let store = Arc::new(
        SqlStore::connect(&url, Arc::new(Vault::from_master_key(&[7; 32])))
            .await
            .unwrap(),
    );
    let lab_key = new_provider_key();
    store
        .add_provider(ProviderKind::Lab, "Lab One", &secret_hash(&lab_key), now())
        .await
        .unwrap();
    let root = SigningKey::from_seed(&[1; 32]);
    let code = SigningKey::from_seed(&[2; 32]);
    let trust_list = TrustList {
        region: "CN-BJ".into(),
        sequence: 1,
        issued_at: now() - chrono::Duration::days(1),
        next_update: now() + chrono::Duration::days(7),
        root_public_key: root.public_key(),
        keys: vec![TrustedKey {
            kid: code.kid(),
            public_key: code.public_key(),
            not_before: now() - chrono::Duration::days(30),
            not_after: now() + chrono::Duration::days(365),
            usage: vec![KeyUsage::Code],
        }],
    }
    .sign(&root)
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let config = ServerConfig {
        public_url: format!("http://localhost:{port}"),
        rate_limit: healthcode_server::limits::RateLimit {
            per_second: 1_000.0,
            burst: 1_000.0,
        },
        ..ServerConfig::default()
    };
    let state = AppState::new(
        store,
        Policy::default_policy().unwrap(),
        Region::new("CN-BJ", "Asia/Shanghai").unwrap(),
        code,
        trust_list,
        Some(Arc::new(DevelopmentProvider) as Arc<dyn IdentityProvider>),
        Arc::new(SystemClock),
        config,
    );
    tokio::spawn(healthcode_server::serve(
        listener,
        state,
        std::future::pending(),
    ));
    Server {
        base: format!("http://localhost:{port}"),
        lab_key,
        _dir: dir,
    }
}

impl Server {
    /// A negative PCR sampled `minutes_ago`, resulted a minute later.
    async fn negative_pcr(&self, record: &str, minutes_ago: i64) {
        let sampled = now() - chrono::Duration::minutes(minutes_ago);
        let resp = reqwest::Client::new()
            .post(format!(
                "{}/api/v1/test-results",
                self.base.replace("localhost", "127.0.0.1")
            ))
            .bearer_auth(&self.lab_key)
            .json(&json!({
                "record_id": record,
                "document_type": "resident_id",
                "document_number": DOC,
                "sampled_at": sampled.to_rfc3339(),
                "resulted_at": (sampled + chrono::Duration::minutes(1)).to_rfc3339(),
                "kind": "pcr",
                "result": "negative",
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
    }
}

async fn shot(page: &Page, name: &str) {
    let path = page.screenshot(&format!("declare/{name}")).await.unwrap();
    assert!(path.exists());
}

#[tokio::test]
async fn a_resident_declares_symptoms_and_an_arrival_and_sees_the_reminders() {
    let Some(browser) = Browser::launch_or_skip(Options::default()).await.unwrap() else {
        return;
    };
    let server = serve().await;

    // Register through the form (the browser asks for English), and go on to the code.
    let page = browser
        .page(&format!("{}/register", server.base))
        .await
        .unwrap();
    page.wait_for("#register-submit", WAIT).await.unwrap();
    page.type_into("#name", "张三").await.unwrap();
    page.type_into("#document_number", DOC).await.unwrap();
    page.click("#register-submit").await.unwrap();
    page.wait_for("#to-code", WAIT).await.unwrap();
    page.click("#to-code").await.unwrap();
    page.wait_for("#declare-link", WAIT).await.unwrap();

    // Declare: nothing ticked is named, and the date is kept.
    page.click("#declare-link").await.unwrap();
    page.wait_for("#symptoms-submit", WAIT).await.unwrap();
    shot(&page, "01-declare").await;
    let onset: String = page
        .eval("document.getElementById('onset').value")
        .await
        .unwrap();
    page.click("#symptoms-submit").await.unwrap();
    page.wait_for("#form-errors", WAIT).await.unwrap();
    assert!(
        page.text("#symptoms-error")
            .await
            .unwrap()
            .contains("at least one symptom")
    );
    let kept: String = page
        .eval("document.getElementById('onset').value")
        .await
        .unwrap();
    assert_eq!(kept, onset);
    shot(&page, "02-symptoms-refused").await;

    page.click("#symptom-fever").await.unwrap();
    page.click("#symptom-cough").await.unwrap();
    page.click("#symptoms-submit").await.unwrap();
    page.wait_until("location.pathname === '/code'", WAIT)
        .await
        .unwrap();
    page.wait_for("#card .reminders", WAIT).await.unwrap();
    let reminders = page.text("#card .reminders").await.unwrap();
    assert!(reminders.contains("Declared symptoms"), "{reminders}");
    assert_eq!(page.text("#colour-word").await.unwrap(), "Green code");
    shot(&page, "03-code-symptoms").await;

    // Why: self-declared, with what was declared.
    page.click("#why-link").await.unwrap();
    page.wait_for("#reasons", WAIT).await.unwrap();
    let reasons = page.text("#reasons").await.unwrap();
    assert!(reasons.contains("self-declared"), "{reasons}");
    assert!(reasons.contains("Self-declared"), "{reasons}");
    assert!(reasons.contains("fever, cough"), "{reasons}");
    shot(&page, "04-why").await;

    // An arrival: no place first, named; then Shanghai.
    page.goto(&format!("{}/declare", server.base))
        .await
        .unwrap();
    page.wait_for("#arrival-submit", WAIT).await.unwrap();
    page.click("#arrival-submit").await.unwrap();
    page.wait_for("#from-error", WAIT).await.unwrap();
    shot(&page, "05-arrival-refused").await;
    page.type_into("#from", "Shanghai CN-SH").await.unwrap();
    page.click("#arrival-submit").await.unwrap();
    page.wait_until("location.pathname === '/code'", WAIT)
        .await
        .unwrap();
    page.wait_for("#card .reminders", WAIT).await.unwrap();
    let reminders = page.text("#card .reminders").await.unwrap();
    assert!(
        reminders.contains("No test within 72 hours of arrival"),
        "{reminders}"
    );
    assert!(reminders.contains("Declared symptoms"), "{reminders}");
    shot(&page, "06-code-both").await;

    // A negative PCR sampled ten minutes ago: after the onset, before the arrival. The open
    // page drops the symptoms reminder by itself and keeps the arrival's.
    page.wait_until("document.getElementById('live').className === 'live'", WAIT)
        .await
        .unwrap();
    server.negative_pcr("lab-neg-1", 10).await;
    page.wait_until(
        "!document.getElementById('card').textContent.includes('Declared symptoms')",
        Duration::from_secs(5),
    )
    .await
    .expect("the page drops the symptoms reminder");
    let reminders = page.text("#card .reminders").await.unwrap();
    assert!(
        reminders.contains("No test within 72 hours of arrival"),
        "{reminders}"
    );
    shot(&page, "07-code-test-cleared-symptoms").await;

    // The declare page at 320 px, with both declarations listed: nothing cut off sideways.
    page.set_viewport(320, 640).await.unwrap();
    page.goto(&format!("{}/declare", server.base))
        .await
        .unwrap();
    page.wait_for("#declarations", WAIT).await.unwrap();
    let listed = page.text("#declarations").await.unwrap();
    assert!(listed.contains("Trip declaration (arrival)"), "{listed}");
    assert!(listed.contains("Shanghai CN-SH"), "{listed}");
    let wide: f64 = page
        .eval("document.documentElement.scrollWidth")
        .await
        .unwrap();
    assert!(wide <= 320.0, "{wide}");
    shot(&page, "08-declare-320").await;

    // No script error and no CSP violation; the failed loads are the two refused forms,
    // answered 422 on purpose.
    let problems: Vec<String> = page
        .problems()
        .await
        .unwrap()
        .iter()
        .filter(|p| {
            !(p.source.as_deref() == Some("network")
                && p.url.as_deref().is_some_and(|u| u.contains("/declare/"))
                && p.text.contains("422"))
        })
        .map(ToString::to_string)
        .collect();
    assert!(problems.is_empty(), "{problems:#?}");
}
