//! The paper pass in a real Chromium, against the real server on a fresh embedded database:
//! register → open the pass page → issue a pass → the sheet at an A6-sized viewport, its QR read
//! back from the screenshot, verified as a pass and resolved at a gate to the holder's current
//! colour → the sheet as it prints (print media) → reprint, after which the gate refuses the
//! old sheet. Screenshots are under target/e2e/paper-pass/.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use chromiumoxide::cdp::browser_protocol::emulation::SetEmulatedMediaParams;
use chrono::{DateTime, Utc};
use healthcode_credential::{KeyUsage, SigningKey, TrustList, TrustedKey, Verifier};
use healthcode_domain::{Policy, Region};
use healthcode_e2e::{Browser, Options, Page};
use healthcode_server::auth::new_device_key;
use healthcode_server::clock::{Clock, SystemClock};
use healthcode_server::extract::secret_hash;
use healthcode_server::identity::{DevelopmentProvider, IdentityProvider};
use healthcode_server::{AppState, ServerConfig};
use healthcode_store::{SqlStore, Vault, Venues};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(20);
const DOC: &str = "11010519491231002X";

struct Server {
    base: String,
    gate_key: String,
    trust_list: String,
    _dir: tempfile::TempDir,
}

fn now() -> DateTime<Utc> {
    use chrono::DurationRound;
    let t = SystemClock.now();
    t.duration_trunc(chrono::TimeDelta::seconds(1)).unwrap_or(t)
}

/// The server as `healthcode serve --dev-identity` runs it, on a free port, with one venue
/// and its gate device.
async fn serve() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("e2e.db").display());
    let store = Arc::new(
        SqlStore::connect(&url, Arc::new(Vault::from_master_key(&[7; 32])))
            .await
            .unwrap(),
    );
    let venue = store
        .add_venue("国贸大厦", "office", "朝阳区", "1号", now())
        .await
        .unwrap();
    let gate_key = new_device_key();
    store
        .add_device(venue.id, "gate 1", &secret_hash(&gate_key), now())
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
        gate_key,
        trust_list,
        _dir: dir,
    }
}

impl Server {
    /// What the gate answers for a pass's text: status and body.
    async fn gate(&self, pass: &str) -> (u16, Value) {
        let resp = reqwest::Client::new()
            .post(format!(
                "{}/api/v1/gate/pass",
                self.base.replace("localhost", "127.0.0.1")
            ))
            .bearer_auth(&self.gate_key)
            .json(&json!({ "pass": pass }))
            .send()
            .await
            .unwrap();
        (resp.status().as_u16(), resp.json().await.unwrap())
    }
}

/// The one QR in a screenshot of the page, as text.
async fn qr_on_screen(page: &Page, name: &str) -> String {
    let path = page
        .screenshot(&format!("paper-pass/{name}"))
        .await
        .unwrap();
    let codes = healthcode_qrscan::read(&std::fs::read(path).unwrap()).expect("a QR on the page");
    assert_eq!(codes.len(), 1, "{codes:?}");
    codes[0].clone()
}

#[tokio::test]
async fn a_resident_prints_a_paper_pass_that_a_gate_resolves_online() {
    let Some(browser) = Browser::launch_or_skip(Options::default()).await.unwrap() else {
        return;
    };
    let server = serve().await;
    let verifier = Verifier::new(&[TrustList::from_json(&server.trust_list, None).unwrap()]);

    // Register through the form (no passkey needed to get a session).
    let page = browser
        .page(&format!("{}/register", server.base))
        .await
        .unwrap();
    page.wait_for("#register-submit", WAIT).await.unwrap();
    page.type_into("#name", "张三").await.unwrap();
    page.type_into("#document_number", DOC).await.unwrap();
    page.click("#register-submit").await.unwrap();
    page.wait_for("#create-passkey", WAIT).await.unwrap();

    // From the code page to the pass page, which offers to issue one.
    page.goto(&format!("{}/code", server.base)).await.unwrap();
    page.wait_for("#pass-link", WAIT).await.unwrap();
    // The card is swapped in by the page's script when it refreshes, so the link is followed
    // by address rather than by a click on a node that may be replaced.
    let href: String = page
        .eval("document.getElementById('pass-link').getAttribute('href')")
        .await
        .unwrap();
    assert_eq!(href, "/pass");
    page.goto(&format!("{}{href}", server.base)).await.unwrap();
    page.wait_for("#issue-pass", WAIT).await.unwrap();
    page.set_viewport(320, 640).await.unwrap();
    page.screenshot("paper-pass/01-no-pass-320").await.unwrap();

    page.click("#issue-pass").await.unwrap();
    page.wait_for("#sheet", WAIT).await.unwrap();
    assert_eq!(page.text("#pass-name").await.unwrap(), "张*");
    assert_eq!(
        page.text("#pass-document").await.unwrap(),
        "11**************2X"
    );
    // Usable at 320 px: nothing wider than the screen.
    let wide: bool = page
        .eval("document.documentElement.scrollWidth > window.innerWidth")
        .await
        .unwrap();
    assert!(!wide, "the pass page scrolls sideways at 320 px");
    page.screenshot("paper-pass/02-pass-320").await.unwrap();

    // A6 is 105 × 148 mm: about 397 × 559 CSS pixels.
    page.set_viewport(397, 559).await.unwrap();
    let first = qr_on_screen(&page, "03-pass-a6").await;
    let claims = verifier
        .verify_pass(&first, now())
        .expect("the pass verifies");
    assert_eq!(claims.masked_name, "张*");

    // The gate resolves it online to the current colour, with the masked name.
    let (status, answer) = server.gate(&first).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["masked_name"], "张*");
    assert_eq!(answer["colour"], "green");

    // As it prints: the sheet alone, on A6 and on A4.
    page.cdp()
        .execute(SetEmulatedMediaParams::builder().media("print").build())
        .await
        .unwrap();
    assert_eq!(
        page.computed_style(".top", "display").await.unwrap(),
        "none"
    );
    assert_eq!(
        page.computed_style(".actions", "display").await.unwrap(),
        "none",
        "the buttons and forms are not printed"
    );
    let printed = qr_on_screen(&page, "04-print-a6").await;
    assert_eq!(printed, first);
    page.goto(&format!("{}/pass?size=a4", server.base))
        .await
        .unwrap();
    page.wait_for("#sheet", WAIT).await.unwrap();
    page.set_viewport(794, 1123).await.unwrap();
    assert_eq!(qr_on_screen(&page, "05-print-a4").await, first);
    page.cdp()
        .execute(SetEmulatedMediaParams::builder().media("screen").build())
        .await
        .unwrap();

    // Reprint: a new sheet, and the gate refuses the old one.
    page.set_viewport(397, 559).await.unwrap();
    page.click("#reprint-pass").await.unwrap();
    page.wait_until(
        "location.search === '' && document.getElementById('sheet') !== null",
        WAIT,
    )
    .await
    .unwrap();
    let second = qr_on_screen(&page, "06-reprinted").await;
    assert_ne!(second, first);
    let (status, answer) = server.gate(&first).await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (410, Some("pass_revoked"))
    );
    assert_eq!(server.gate(&second).await.0, 200);

    page.assert_no_problems().await.unwrap();
}
