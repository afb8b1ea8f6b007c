//! Declaring in a real Chromium, against the real server on a fresh embedded database:
//! register → the code → declare symptoms (nothing ticked first, which is named) → the code
//! shows reminder 6 → why says self-declared → declare an arrival (no place first) → reminder 4
//! too → a lab's negative PCR clears the symptoms reminder on the open page, the arrival's
//! stays (the test was sampled before the arrival) → the declare page at 320 px. Each step's
//! screenshot is under target/e2e/declare/.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::{DOC, Server, WAIT, now, problems_besides_refused, register, scroll_width, shot};
use healthcode_e2e::{Browser, Options};

/// Where the screenshots go, under target/e2e/.
const SHOTS: &str = "declare";

#[tokio::test]
async fn a_resident_declares_symptoms_and_an_arrival_and_sees_the_reminders() {
    let Some(browser) = Browser::launch_or_skip(Options::default()).await.unwrap() else {
        return;
    };
    let server = Server::start().await;

    // Register through the form (the browser asks for English), and go on to the code.
    let page = browser
        .page(&format!("{}/register", server.base))
        .await
        .unwrap();
    register(&page, "张三", DOC).await;
    page.click("#to-code").await.unwrap();
    page.wait_for("#declare-link", WAIT).await.unwrap();

    // Declare: nothing ticked is named, and the date is kept.
    page.click("#declare-link").await.unwrap();
    page.wait_for("#symptoms-submit", WAIT).await.unwrap();
    shot(&page, SHOTS, "01-declare").await;
    // The onset yesterday (local): a test sampled ten minutes ago is then after it, even just
    // after midnight in Beijing.
    let yesterday = (now().with_timezone(&chrono_tz::Asia::Shanghai) - chrono::Duration::days(1))
        .format("%Y-%m-%d")
        .to_string();
    page.eval::<String>(&format!(
        "document.getElementById('onset').value = {yesterday:?}"
    ))
    .await
    .unwrap();
    let onset: String = page
        .eval("document.getElementById('onset').value")
        .await
        .unwrap();
    assert_eq!(onset, yesterday);
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
    shot(&page, SHOTS, "02-symptoms-refused").await;

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
    shot(&page, SHOTS, "03-code-symptoms").await;

    // Why: self-declared, with what was declared.
    page.click("#why-link").await.unwrap();
    page.wait_for("#reasons", WAIT).await.unwrap();
    let reasons = page.text("#reasons").await.unwrap();
    assert!(reasons.contains("self-declared"), "{reasons}");
    assert!(reasons.contains("Self-declared"), "{reasons}");
    assert!(reasons.contains("fever, cough"), "{reasons}");
    shot(&page, SHOTS, "04-why").await;

    // An arrival: no place first, named; then Shanghai.
    page.goto(&format!("{}/declare", server.base))
        .await
        .unwrap();
    page.wait_for("#arrival-submit", WAIT).await.unwrap();
    page.click("#arrival-submit").await.unwrap();
    page.wait_for("#from-error", WAIT).await.unwrap();
    shot(&page, SHOTS, "05-arrival-refused").await;
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
    shot(&page, SHOTS, "06-code-both").await;

    // A negative PCR sampled ten minutes ago: after the onset, before the arrival. The open
    // page drops the symptoms reminder by itself and keeps the arrival's.
    page.wait_until("document.getElementById('live').className === 'live'", WAIT)
        .await
        .unwrap();
    server
        .pcr(
            "lab-neg-1",
            "negative",
            chrono::Duration::minutes(10),
            chrono::Duration::minutes(1),
        )
        .await;
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
    shot(&page, SHOTS, "07-code-test-cleared-symptoms").await;

    // The declare page at 320 px, with both declarations listed: nothing cut off sideways.
    page.set_viewport(320, 640).await.unwrap();
    page.goto(&format!("{}/declare", server.base))
        .await
        .unwrap();
    page.wait_for("#declarations", WAIT).await.unwrap();
    let listed = page.text("#declarations").await.unwrap();
    assert!(listed.contains("Trip declaration (arrival)"), "{listed}");
    assert!(listed.contains("Shanghai CN-SH"), "{listed}");
    let wide = scroll_width(&page).await;
    assert!(wide <= 320.0, "{wide}");
    shot(&page, SHOTS, "08-declare-320").await;

    // No script error and no CSP violation; the failed loads are the two refused forms,
    // answered 422 on purpose.
    let problems = problems_besides_refused(&page, |u| u.contains("/declare/")).await;
    assert!(problems.is_empty(), "{problems:#?}");
}
