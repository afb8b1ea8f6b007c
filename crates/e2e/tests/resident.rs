//! The resident's app in a real Chromium, against the real server on a fresh embedded
//! database: register → create a passkey → a green code whose QR, read back from the
//! screenshot, verifies → a lab's positive result turns the open page within 2 s, without a
//! reload → "why" names that test → sign out, sign in with the passkey → English → large text
//! at 320 px. Each step's screenshot is under target/e2e/resident/.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use healthcode_credential::{KeyUsage, SigningKey, TrustList, TrustedKey, Verifier};
use healthcode_domain::{Colour, Policy, Region};
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
/// The resident's child, added as a dependant.
const DEPENDANT: &str = "110101201501010011";

struct Server {
    base: String,
    lab_key: String,
    trust_list: String,
    _dir: tempfile::TempDir,
}

/// Now, in whole seconds (as signed documents carry it).
fn now() -> DateTime<Utc> {
    use chrono::DurationRound;
    let t = SystemClock.now();
    t.duration_trunc(chrono::TimeDelta::seconds(1)).unwrap_or(t)
}

/// The server as `healthcode serve --dev-identity` runs it, on a free port, its pages
/// addressed as localhost (a passkey's scope is a host name).
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
        trust_list.clone(),
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
        trust_list,
        _dir: dir,
    }
}

impl Server {
    async fn pcr(&self, record: &str, result: &str, hours_ago: i64) {
        let sampled = now() - chrono::Duration::hours(hours_ago);
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
                "resulted_at": (sampled + chrono::Duration::minutes(30)).to_rfc3339(),
                "kind": "pcr",
                "result": result,
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
    }
}

async fn shot(page: &Page, name: &str) {
    let path = page.screenshot(&format!("resident/{name}")).await.unwrap();
    assert!(path.exists());
}

/// The code shown on the page, read back from a screenshot of it and verified.
async fn code_on_screen(page: &Page, server: &Server) -> healthcode_credential::CodeClaims {
    let path = page.screenshot("resident/qr-read-back").await.unwrap();
    let png = std::fs::read(path).unwrap();
    let codes = healthcode_qrscan::read(&png).expect("a QR on the page");
    assert_eq!(codes.len(), 1, "{codes:?}");
    Verifier::new(&[TrustList::from_json(&server.trust_list, None).unwrap()])
        .verify(&codes[0], now())
        .expect("the code on screen verifies")
}

#[tokio::test]
async fn a_resident_registers_sees_the_code_change_live_and_signs_in_again() {
    let Some(browser) = Browser::launch_or_skip(Options::default()).await.unwrap() else {
        return;
    };
    let server = serve().await;
    // A negative test from yesterday, before the person registers: evidence waits for them.
    server.pcr("lab-neg-1", "negative", 20).await;

    let page = browser.page(&format!("{}/", server.base)).await.unwrap();
    page.wait_for("#go-register", WAIT).await.unwrap();
    // The browser asks for English (Accept-Language); the switch remembers Chinese.
    assert!(page.text("h1").await.unwrap().contains("Health Code"));
    shot(&page, "01-home-en").await;
    page.click("#switch-lang").await.unwrap();
    page.wait_until("document.documentElement.lang === 'zh-CN'", WAIT)
        .await
        .unwrap();
    assert!(page.text("h1").await.unwrap().contains("健康宝"));
    shot(&page, "01-home").await;

    // Register: a mistyped ID number first, which comes back named, the text kept.
    page.click("#go-register").await.unwrap();
    page.wait_for("#register-submit", WAIT).await.unwrap();
    page.type_into("#name", "张三").await.unwrap();
    page.type_into("#document_number", "110105194912310021")
        .await
        .unwrap();
    page.click("#register-submit").await.unwrap();
    page.wait_for("#form-errors", WAIT).await.unwrap();
    assert!(
        page.text("#document_number-error")
            .await
            .unwrap()
            .contains("校验位")
    );
    let kept: String = page
        .eval("document.getElementById('name').value")
        .await
        .unwrap();
    assert_eq!(kept, "张三");
    shot(&page, "02-register-error").await;
    page.eval::<serde_json::Value>("document.getElementById('document_number').value = ''")
        .await
        .unwrap();
    page.type_into("#document_number", DOC).await.unwrap();
    page.click("#register-submit").await.unwrap();
    page.wait_for("#create-passkey", WAIT).await.unwrap();
    shot(&page, "03-create-passkey").await;

    // The session cookie, as the browser holds it.
    let cookies = page.cookies().await.unwrap();
    let session = cookies.iter().find(|c| c.name == "hc_session").unwrap();
    assert!(session.http_only);
    assert_eq!(session.same_site.as_deref(), Some("Strict"));

    // Create a passkey: the virtual authenticator performs the real ceremony.
    let authenticator = page.add_virtual_authenticator().await.unwrap();
    page.click("#create-passkey").await.unwrap();
    page.wait_until("location.pathname === '/code'", WAIT)
        .await
        .unwrap();
    let held = page.credentials(&authenticator).await.unwrap();
    assert_eq!(held.len(), 1);
    assert!(held[0].resident, "a discoverable passkey");

    // A green code, its word written, the colour filling the frame.
    page.wait_for("#card", WAIT).await.unwrap();
    assert_eq!(page.text("#colour-word").await.unwrap(), "绿码");
    assert_eq!(
        page.computed_style(".band", "background-color")
            .await
            .unwrap(),
        "rgb(30, 142, 62)"
    );
    assert_eq!(page.text("#masked-name").await.unwrap(), "张*");
    let recency = page.text("#test-recency").await.unwrap();
    assert!(
        recency.starts_with("0天") || recency.starts_with("1天"),
        "{recency}"
    );
    let claims = code_on_screen(&page, &server).await;
    assert_eq!(claims.colour, Colour::Green);
    assert_eq!(claims.masked_name, "张*");
    // The clock moves, in the region's time (Beijing), whatever the browser's zone.
    let t0 = page.text("#clock").await.unwrap();
    let shown = chrono::NaiveDateTime::parse_from_str(&t0, "%Y-%m-%d %H:%M:%S").unwrap();
    let beijing = now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .naive_local();
    assert!(
        (shown - beijing).num_seconds().abs() < 60,
        "{t0} vs {beijing}"
    );
    page.wait_until(
        &format!("document.getElementById('clock').textContent !== {t0:?}"),
        Duration::from_secs(3),
    )
    .await
    .unwrap();
    shot(&page, "04-code-green").await;
    page.wait_until("document.getElementById('live').className === 'live'", WAIT)
        .await
        .unwrap();

    // A positive result arrives: the open page changes by itself within 2 s.
    let marker: f64 = page
        .eval("window.__marker = Math.random(); window.__marker")
        .await
        .unwrap();
    let started = Instant::now();
    server.pcr("lab-pos-2", "positive", 1).await;
    page.wait_until(
        "document.getElementById('card').dataset.colour !== 'green'",
        Duration::from_secs(2),
    )
    .await
    .expect("the page changes colour within 2 s");
    let took = started.elapsed();
    assert!(took < Duration::from_secs(2), "{took:?}");
    let same_page: f64 = page.eval("window.__marker").await.unwrap();
    assert_eq!(same_page, marker, "no reload");
    let word = page.text("#colour-word").await.unwrap();
    assert!(word == "黄码" || word == "红码", "{word}");
    let claims = code_on_screen(&page, &server).await;
    assert_ne!(claims.colour, Colour::Green, "the new QR says so too");
    shot(&page, "05-code-changed").await;

    // Why: the positive test, named.
    page.click("#why-link").await.unwrap();
    page.wait_for("#reasons", WAIT).await.unwrap();
    let reasons = page.text("#reasons").await.unwrap();
    assert!(reasons.contains("lab-pos-2"), "{reasons}");
    assert!(reasons.contains("阳性"), "{reasons}");
    assert!(reasons.contains("Lab One"), "{reasons}");
    shot(&page, "06-why").await;

    // Sign out, then sign in with the passkey.
    page.click("#sign-out").await.unwrap();
    page.wait_for("#go-signin", WAIT).await.unwrap();
    page.click("#go-signin").await.unwrap();
    page.wait_for("#signin-passkey", WAIT).await.unwrap();
    shot(&page, "07-signin").await;
    page.click("#signin-passkey").await.unwrap();
    page.wait_until("location.pathname === '/code'", WAIT)
        .await
        .unwrap();
    page.wait_for("#card", WAIT).await.unwrap();
    assert_ne!(page.text("#colour-word").await.unwrap(), "绿码");
    shot(&page, "08-signed-in-again").await;

    // Family: add a dependant through proofing and show their code.
    page.click("#family-link").await.unwrap();
    page.wait_for("#family-add", WAIT).await.unwrap();
    page.type_into("#name", "张小").await.unwrap();
    page.type_into("#document_number", DEPENDANT).await.unwrap();
    page.click("#family-add").await.unwrap();
    page.wait_for("#family-list", WAIT).await.unwrap();
    shot(&page, "09-family").await;
    page.click("#family-list a.button").await.unwrap();
    page.wait_for("#shown-by", WAIT).await.unwrap();
    assert_eq!(page.text("#shown-by").await.unwrap(), "代查人：张*");
    assert_eq!(
        page.text("#colour-word").await.unwrap(),
        "绿码",
        "no evidence yet"
    );
    assert!(
        page.text("#no-data")
            .await
            .unwrap()
            .contains("健康宝暂无您的防疫信息")
    );
    let dependant = code_on_screen(&page, &server).await;
    assert_eq!(dependant.masked_name, "张*");
    assert_ne!(
        dependant.subject, claims.subject,
        "the dependant's own code"
    );
    shot(&page, "10-dependant-code").await;
    page.goto(&format!("{}/code", server.base)).await.unwrap();
    page.wait_for("#card", WAIT).await.unwrap();

    // English.
    page.click("#switch-lang").await.unwrap();
    page.wait_until("document.documentElement.lang === 'en'", WAIT)
        .await
        .unwrap();
    let word = page.text("#colour-word").await.unwrap();
    assert!(word == "Yellow code" || word == "Red code", "{word}");
    assert!(
        page.text("#why-link")
            .await
            .unwrap()
            .contains("Why this colour")
    );
    shot(&page, "11-english").await;

    // Large text at 320 px: bigger letters, nothing cut off sideways.
    page.set_viewport(320, 640).await.unwrap();
    let before = page
        .computed_style("#colour-word", "font-size")
        .await
        .unwrap();
    page.click("#switch-size").await.unwrap();
    page.wait_until("document.documentElement.classList.contains('large')", WAIT)
        .await
        .unwrap();
    let after = page
        .computed_style("#colour-word", "font-size")
        .await
        .unwrap();
    let px = |s: &str| s.trim_end_matches("px").parse::<f64>().unwrap();
    assert!(px(&after) > px(&before) * 1.3, "{before} → {after}");
    let wide: f64 = page
        .eval("document.documentElement.scrollWidth")
        .await
        .unwrap();
    assert!(wide <= 320.0, "{wide}");
    shot(&page, "12-large-320").await;

    // No script error and no CSP violation on any page; the one failed load is the refused
    // form of step 2, answered 422 on purpose.
    let problems: Vec<String> = page
        .problems()
        .await
        .unwrap()
        .iter()
        .filter(|p| {
            !(p.source.as_deref() == Some("network")
                && p.url.as_deref().is_some_and(|u| u.ends_with("/register"))
                && p.text.contains("422"))
        })
        .map(ToString::to_string)
        .collect();
    assert!(problems.is_empty(), "{problems:#?}");
}
