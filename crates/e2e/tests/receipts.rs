//! A resident's receipts in a real Chromium, against the real server on a fresh embedded
//! database: register → two results from the lab → the code page's link to the receipts →
//! both records listed with their place in the public log (once the sequencer has taken them,
//! about a second) → each receipt's download link → the page at 320 px, nothing cut off. The
//! screenshots are under target/e2e/receipts/.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use common::{DOC, Server, WAIT, problems_besides_refused, register, scroll_width, shot};
use healthcode_e2e::{Browser, Options};

const SHOTS: &str = "receipts";

#[tokio::test]
async fn a_resident_finds_a_receipt_for_each_record_about_them() {
    let Some(browser) = Browser::launch_or_skip(Options::default()).await.unwrap() else {
        return;
    };
    let server = Server::start().await;
    let page = browser
        .page(&format!("{}/register", server.base))
        .await
        .unwrap();
    register(&page, "张三", DOC).await;
    page.click("#to-code").await.unwrap();
    page.wait_for("#receipts-link", WAIT).await.unwrap();
    page.click("#receipts-link").await.unwrap();
    page.wait_for("#receipts-empty", WAIT).await.unwrap();
    assert!(
        page.text("#receipts-empty")
            .await
            .unwrap()
            .contains("No records about you yet")
    );
    shot(&page, SHOTS, "01-none").await;

    server
        .pcr(
            "R-1",
            "negative",
            chrono::Duration::hours(30),
            chrono::Duration::hours(6),
        )
        .await;
    server
        .pcr(
            "R-2",
            "negative",
            chrono::Duration::hours(3),
            chrono::Duration::hours(2),
        )
        .await;
    // The page is not live: reload until both are in the log.
    let deadline = Instant::now() + Duration::from_secs(15);
    let listed = loop {
        page.reload().await.unwrap();
        page.wait_for("h1", WAIT).await.unwrap();
        let listed: String = page
            .eval("(document.getElementById('receipts') || {}).textContent || ''")
            .await
            .unwrap();
        if listed.matches("In the public log, entry").count() == 2 {
            break listed;
        }
        assert!(Instant::now() < deadline, "{listed}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert_eq!(listed.matches("Test result").count(), 2, "{listed}");
    assert!(!listed.contains(DOC));
    let links: Vec<String> = page
        .eval("[...document.querySelectorAll('#receipts a[download]')].map(a => a.getAttribute('href'))")
        .await
        .unwrap();
    assert_eq!(links, ["/receipts/1", "/receipts/2"]);
    let command = page.text("#receipts-command").await.unwrap();
    assert!(command.contains("healthcode audit receipt"), "{command}");
    assert!(command.contains("/log+"), "the log key: {command}");
    // What a download holds: the receipt, checkable offline.
    let receipt: String = page
        .eval("fetch('/receipts/2').then(r => r.text())")
        .await
        .unwrap();
    let receipt: healthcode_store::leaf::Receipt = serde_json::from_str(&receipt).unwrap();
    receipt.check_record().unwrap();
    assert!(
        receipt
            .proof
            .unwrap()
            .starts_with("c2sp.org/tlog-proof@v1\n")
    );
    shot(&page, SHOTS, "02-two-in-the-log").await;

    page.set_viewport(320, 640).await.unwrap();
    page.reload().await.unwrap();
    page.wait_for("#receipts", WAIT).await.unwrap();
    let wide = scroll_width(&page).await;
    assert!(wide <= 320.0, "{wide}");
    shot(&page, SHOTS, "03-320").await;

    let problems = problems_besides_refused(&page, |_| false).await;
    assert!(problems.is_empty(), "{problems:#?}");
}
