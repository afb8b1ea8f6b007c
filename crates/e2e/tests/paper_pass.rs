//! The paper pass in a real Chromium, against the real server on a fresh embedded database:
//! register → open the pass page → issue a pass → the sheet at an A6-sized viewport, its QR read
//! back from the screenshot, verified as a pass and resolved at a gate to the holder's current
//! colour → the sheet as it prints (print media) → reprint, after which the gate refuses the
//! old sheet. Screenshots are under target/e2e/paper-pass/.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use chromiumoxide::cdp::browser_protocol::emulation::SetEmulatedMediaParams;
use common::{DOC, Server, WAIT, now, qr_on_screen, register};
use healthcode_e2e::{Browser, Options};
use healthcode_server::auth::new_device_key;
use healthcode_server::extract::secret_hash;
use healthcode_store::Venues;
use serde_json::{Value, json};

/// Where the screenshots go, under target/e2e/.
const SHOTS: &str = "paper-pass";

/// A gate device at a venue, which resolves passes online.
struct Gate {
    url: String,
    key: String,
}

impl Gate {
    /// One venue and its gate device.
    async fn install(server: &Server) -> Gate {
        let venue = server
            .store
            .add_venue("国贸大厦", "office", "朝阳区", "1号", now())
            .await
            .unwrap();
        let key = new_device_key();
        server
            .store
            .add_device(venue.id, "gate 1", &secret_hash(&key), now())
            .await
            .unwrap();
        Gate {
            url: server.api("/api/v1/gate/pass"),
            key,
        }
    }

    /// What the gate answers for a pass's text: status and body.
    async fn ask(&self, pass: &str) -> (u16, Value) {
        let resp = reqwest::Client::new()
            .post(&self.url)
            .bearer_auth(&self.key)
            .json(&json!({ "pass": pass }))
            .send()
            .await
            .unwrap();
        (resp.status().as_u16(), resp.json().await.unwrap())
    }
}

#[tokio::test]
async fn a_resident_prints_a_paper_pass_that_a_gate_resolves_online() {
    let Some(browser) = Browser::launch_or_skip(Options::default()).await.unwrap() else {
        return;
    };
    let server = Server::start().await;
    let gate = Gate::install(&server).await;
    let verifier = server.verifier();

    // Register through the form (no passkey needed to get a session).
    let page = browser
        .page(&format!("{}/register", server.base))
        .await
        .unwrap();
    register(&page, "张三", DOC).await;

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
    let first = qr_on_screen(&page, SHOTS, "03-pass-a6").await;
    let claims = verifier
        .verify_pass(&first, now())
        .expect("the pass verifies");
    assert_eq!(claims.masked_name, "张*");

    // The gate resolves it online to the current colour, with the masked name.
    let (status, answer) = gate.ask(&first).await;
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
    let printed = qr_on_screen(&page, SHOTS, "04-print-a6").await;
    assert_eq!(printed, first);
    page.goto(&format!("{}/pass?size=a4", server.base))
        .await
        .unwrap();
    page.wait_for("#sheet", WAIT).await.unwrap();
    page.set_viewport(794, 1123).await.unwrap();
    assert_eq!(qr_on_screen(&page, SHOTS, "05-print-a4").await, first);
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
    let second = qr_on_screen(&page, SHOTS, "06-reprinted").await;
    assert_ne!(second, first);
    let (status, answer) = gate.ask(&first).await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (410, Some("pass_revoked"))
    );
    assert_eq!(gate.ask(&second).await.0, 200);

    page.assert_no_problems().await.unwrap();
}
