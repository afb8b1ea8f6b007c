//! Checking in at a venue in a real Chromium, against the real server on a fresh embedded
//! database: the fake camera shows a venue's place code (场所码), the person registers through
//! the pages, opens "check in", starts the camera, and the page names the venue within a few
//! seconds; the 14-day travel history lists it; the typed short code works too; at 320 px in
//! large text nothing is cut off. Chromium on Linux has no `BarcodeDetector`, so the frames go
//! to the server, which reads them. Screenshots under target/e2e/checkin/.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use common::{
    DOC, Server, WAIT, camera_picture, code_key, now, problems_besides_refused, register,
    scroll_width, shot,
};
use healthcode_credential::{PlaceClaims, issue_place_code};
use healthcode_domain::PlaceShortCode;
use healthcode_e2e::{Browser, Options, write_y4m};

/// Where the screenshots go, under target/e2e/.
const SHOTS: &str = "checkin";

/// The venue's place code, as its poster carries it.
fn place_code(venue_id: i64) -> String {
    issue_place_code(
        &PlaceClaims {
            region: "CN-BJ".into(),
            venue_id,
            issued_at: now() - chrono::Duration::days(1),
        },
        &code_key(),
    )
    .unwrap()
}

#[tokio::test]
async fn a_resident_checks_in_with_the_camera_and_sees_the_history() {
    let server = Server::start().await;
    let park = server.venue("北海公园", "park", "西城区").await;
    let mall = server.venue("西单大悦城", "mall", "西城区").await;
    let dir = tempfile::tempdir().unwrap();
    let y4m = dir.path().join("place-code.y4m");
    write_y4m(&y4m, &camera_picture(&place_code(park))).unwrap();
    let Some(browser) = Browser::launch_or_skip(Options::default().camera(&y4m))
        .await
        .unwrap()
    else {
        return;
    };

    // Register through the pages (Chinese), then check in without creating a passkey first.
    let page = browser.page(&format!("{}/", server.base)).await.unwrap();
    page.wait_for("#go-register", WAIT).await.unwrap();
    if page
        .eval::<String>("document.documentElement.lang")
        .await
        .unwrap()
        != "zh-CN"
    {
        page.click("#switch-lang").await.unwrap();
        page.wait_until("document.documentElement.lang === 'zh-CN'", WAIT)
            .await
            .unwrap();
    }
    page.click("#go-register").await.unwrap();
    register(&page, "张三", DOC).await;
    page.goto(&format!("{}/code", server.base)).await.unwrap();
    page.wait_for("#checkin-link", WAIT).await.unwrap();
    shot(&page, SHOTS, "00-code-links-to-checkin").await;
    page.click("#checkin-link").await.unwrap();
    page.wait_for("#start-camera", WAIT).await.unwrap();
    shot(&page, SHOTS, "01-checkin").await;

    // The camera: the fake device shows the park's place code; frames go to the server.
    let has_detector: bool = page.eval("'BarcodeDetector' in window").await.unwrap();
    let started = Instant::now();
    page.click("#start-camera").await.unwrap();
    // The viewfinder, if the first frames have not been read yet.
    if page
        .wait_for("#viewfinder:not([hidden])", Duration::from_millis(300))
        .await
        .is_ok()
    {
        shot(&page, SHOTS, "01b-camera-on").await;
    }
    page.wait_for("#checkin-done", Duration::from_secs(10))
        .await
        .expect("the page names the venue within a few seconds");
    let took = started.elapsed();
    assert!(took < Duration::from_secs(10), "{took:?}");
    assert_eq!(page.text("#checkin-venue").await.unwrap(), "北海公园");
    assert!(
        page.text("#checkin-status")
            .await
            .unwrap()
            .contains("已登记")
    );
    assert!(page.text("#checkin-colour").await.unwrap().contains("绿码"));
    assert!(
        page.text("#checkin-decision")
            .await
            .unwrap()
            .contains("符合")
    );
    // The camera is off once the code is read.
    let live: bool = page
        .eval("!!document.getElementById('camera-video').srcObject")
        .await
        .unwrap();
    assert!(!live, "the camera stops after a check-in");
    shot(&page, SHOTS, "02-camera-checked-in").await;
    eprintln!("checked in by camera in {took:?} (BarcodeDetector: {has_detector})");

    // Check-ins are kept to the second: the next one a second later, so that "newest first"
    // has an order to show.
    tokio::time::sleep(Duration::from_millis(1100)).await;

    // The typed short code, for a venue whose door asks for a recent test: checked in, and
    // told the door would not admit.
    let short = PlaceShortCode::of(mall).unwrap().to_string();
    page.type_into("#place-code", &short).await.unwrap();
    page.click("#checkin-submit").await.unwrap();
    page.wait_until(
        "(document.getElementById('checkin-venue') || {}).textContent === '西单大悦城'",
        WAIT,
    )
    .await
    .unwrap();
    assert!(
        page.text("#checkin-decision")
            .await
            .unwrap()
            .contains("不符合")
    );
    shot(&page, SHOTS, "03-typed-short-code").await;

    // The 14-day travel history, newest first.
    page.click("#history-link").await.unwrap();
    page.wait_for("#history", WAIT).await.unwrap();
    let history = page.text("#history").await.unwrap();
    let (at_mall, at_park) = (
        history.find("西单大悦城").unwrap(),
        history.find("北海公园").unwrap(),
    );
    assert!(at_mall < at_park, "newest first: {history}");
    assert!(history.contains("西城区"), "{history}");
    assert!(
        page.text("#history-districts")
            .await
            .unwrap()
            .contains("西城区")
    );
    shot(&page, SHOTS, "04-history").await;

    // English, large text, 320 px: nothing cut off sideways.
    page.set_viewport(320, 640).await.unwrap();
    page.click("#switch-lang").await.unwrap();
    page.wait_until("document.documentElement.lang === 'en'", WAIT)
        .await
        .unwrap();
    page.click("#switch-size").await.unwrap();
    page.wait_until("document.documentElement.classList.contains('large')", WAIT)
        .await
        .unwrap();
    assert!(
        page.text("h1")
            .await
            .unwrap()
            .contains("14-day travel history")
    );
    let wide = scroll_width(&page).await;
    assert!(wide <= 320.0, "{wide}");
    shot(&page, SHOTS, "05-history-en-large-320").await;
    page.goto(&format!("{}/checkin", server.base))
        .await
        .unwrap();
    page.wait_for("#start-camera", WAIT).await.unwrap();
    let wide = scroll_width(&page).await;
    assert!(wide <= 320.0, "{wide}");
    shot(&page, SHOTS, "06-checkin-en-large-320").await;

    // No script error and no CSP violation; frames the server found no code in are answered
    // 422 on purpose (the camera's first frames may be blank).
    let problems = problems_besides_refused(&page, |u| u.ends_with("/checkin/frame")).await;
    assert!(problems.is_empty(), "{problems:#?}");
    browser.close().await.unwrap();
}
