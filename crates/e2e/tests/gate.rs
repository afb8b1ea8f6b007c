//! The gate in a real Chromium, against the real server on a fresh embedded database: a venue
//! manager makes a gate device on their page and the gate's browser enrols with the link; a
//! green code typed as a keyboard-wedge scanner types it passes with the masked name and the
//! check-in reaches the resident's history; a red code and an expired code are stopped with
//! their reason; with the network cut (the page offline and the server unreachable) the page
//! reloads from its service worker, decides 20 codes itself, and once the network is back
//! every one of the 20 check-ins arrives exactly once; the camera path reads a code from
//! Chromium's fake camera. Screenshots under target/e2e/gate/.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::{
    DOC, NetSwitch, Server, WAIT, camera_picture, code_key, id_number, now, register, scan,
    scroll_width, shot,
};
use healthcode_credential::{CodeClaims, issue_code};
use healthcode_domain::{Colour, DocumentType, VaccinationState};
use healthcode_e2e::{Browser, Options, Page, ProblemKind, write_y4m};
use healthcode_store::{Residents, Store};

const SHOTS: &str = "gate";
/// The manager's ID number.
const MANAGER: &str = "110101198001010053";

/// The manager registers through the pages, the operator makes them manager of `venue`, and
/// they make a gate device on the venue's page: the enrolment link shown (once).
async fn device_link(server: &Server, browser: &Browser, venue: i64) -> String {
    let page = browser
        .page(&format!("{}/register", server.base))
        .await
        .unwrap();
    register(&page, "王经理", MANAGER).await;
    server.assign_manager(venue, MANAGER).await;
    page.goto(&format!("{}/venues", server.base)).await.unwrap();
    page.wait_for(&format!("#venue-{venue}"), WAIT)
        .await
        .unwrap();
    page.click(&format!("#venue-{venue}")).await.unwrap();
    page.wait_for("#device-form", WAIT).await.unwrap();
    page.type_into("#device-name", "东门1号").await.unwrap();
    page.click("#device-add").await.unwrap();
    page.wait_for("#enrol-url", WAIT).await.unwrap();
    shot(&page, SHOTS, "manager-link").await;
    page.set_viewport(320, 640).await.unwrap();
    assert!(
        scroll_width(&page).await <= 320.0,
        "the manager's page fits 320 px"
    );
    shot(&page, SHOTS, "manager-link-320").await;
    page.assert_no_problems().await.unwrap();
    page.eval::<String>("document.getElementById('enrol-url').getAttribute('href')")
        .await
        .unwrap()
}

/// Opens the enrolment link (through `base`, the address the gate reaches the server at) and
/// waits for the scanner, configured.
async fn enrol_gate(browser: &Browser, link: &str, base: &str) -> Page {
    let token = link.split_once('#').unwrap().1;
    let page = browser
        .page(&format!("{base}/gate/enrol#{token}"))
        .await
        .unwrap();
    page.wait_until("document.body.dataset.configured === '1'", WAIT)
        .await
        .unwrap();
    // The gate staff's language here is Chinese (the browser asks for English).
    if page
        .eval::<String>("document.documentElement.lang")
        .await
        .unwrap()
        != "zh-CN"
    {
        page.click("#switch-lang").await.unwrap();
        page.wait_until(
            "document.documentElement.lang === 'zh-CN' && document.body.dataset.ready === '1'",
            WAIT,
        )
        .await
        .unwrap();
    }
    // The service worker has taken over: the page can be opened offline.
    page.wait_until(
        "navigator.serviceWorker && navigator.serviceWorker.controller !== null",
        WAIT,
    )
    .await
    .expect("a service worker controls the page");
    page
}

fn expired_code() -> String {
    let t = |ago: i64| now() - chrono::Duration::minutes(ago);
    issue_code(
        &CodeClaims {
            region: "CN-BJ".into(),
            subject: [0x11; 16],
            issued_at: t(10),
            expires_at: t(7),
            colour: Colour::Green,
            reminders: vec![],
            test_recency_days: None,
            vaccination: VaccinationState::BoosterComplete,
            masked_name: "钱*".into(),
            masked_document: "11**************11".into(),
            document_type: DocumentType::ResidentId,
            status_valid_until: t(-600),
        },
        &code_key(),
    )
    .unwrap()
}

#[tokio::test]
async fn a_gate_enrolled_by_its_manager_decides_online_and_offline() {
    let server = Server::start().await;
    let park = server.venue("北海公园", "park", "西城区").await;
    let Some(browser) = Browser::launch_or_skip(Options::default()).await.unwrap() else {
        return;
    };
    let link = device_link(&server, &browser, park).await;
    assert!(
        link.starts_with(&format!("{}/gate/enrol#", server.base)),
        "{link}"
    );

    // The gate is another browser (its own profile), behind a network that can be cut.
    let switch = NetSwitch::to(&server.base).await;
    let gate_browser = Browser::launch(Options::default()).await.unwrap();
    let gate = enrol_gate(&gate_browser, &link, &server.base).await;
    assert_eq!(gate.text("#gate-venue").await.unwrap(), "北海公园");
    shot(&gate, SHOTS, "scanner-ready").await;

    // A green code: PASS with the masked name; the visit reaches the resident's history.
    let green = server.enrol(&id_number(1), "张小明").await;
    let code = server.code_of(&green).await;
    let (verdict, text) = scan(&gate, &code).await;
    assert_eq!(verdict, "PASS", "{text}");
    assert!(text.contains("通过"), "{text}");
    assert!(text.contains("张*"), "{text}");
    let colour = gate
        .computed_style("#result", "background-color")
        .await
        .unwrap();
    assert_eq!(colour, "rgb(30, 142, 62)", "PASS is green");
    assert_eq!(
        gate.eval::<String>("document.getElementById('result').dataset.sound")
            .await
            .unwrap(),
        "pass"
    );
    shot(&gate, SHOTS, "pass").await;
    gate.wait_until(
        "document.getElementById('count-queue').textContent === '0'",
        WAIT,
    )
    .await
    .unwrap();
    let history = reqwest::Client::new()
        .get(server.api("/api/v1/me/checkins"))
        .bearer_auth(&green)
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap();
    assert_eq!(
        history["checkins"].as_array().map(Vec::len),
        Some(1),
        "{history}"
    );
    assert_eq!(history["checkins"][0]["venue"], "北海公园", "{history}");

    // Half a read (no Enter) is dropped after a moment; the next scan is whole.
    gate.wedge_without_enter("#scan-input", "HCN1:ABC")
        .await
        .unwrap();
    gate.wait_until(
        "document.getElementById('scan-input').value === ''",
        Duration::from_secs(3),
    )
    .await
    .expect("half a code is dropped");

    // The same code again within seconds: shown again, not a second check-in.
    let (verdict, text) = scan(&gate, &code).await;
    assert_eq!(verdict, "PASS");
    assert!(text.contains("重复扫码"), "{text}");
    assert_eq!(gate.text("#count-pass").await.unwrap(), "1");

    // A red code (a confirmed case) is stopped with the reason; so is an expired code.
    let red = server.enrol(DOC, "李四").await;
    let resp = reqwest::Client::new()
        .post(server.api("/api/v1/cases"))
        .bearer_auth(&server.operator_key)
        .json(&serde_json::json!({
            "record_id": "CASE-1",
            "document_type": "resident_id",
            "document_number": DOC,
            "purpose": "confirmed case",
        }))
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{}", resp.text().await.unwrap());
    let red_code = server.code_of(&red).await;
    let (verdict, text) = scan(&gate, &red_code).await;
    assert_eq!(verdict, "STOP", "{text}");
    assert!(
        text.contains("禁止通行") && text.contains("健康码为集中观察"),
        "{text}"
    );
    let colour = gate
        .computed_style("#result", "background-color")
        .await
        .unwrap();
    assert_eq!(colour, "rgb(197, 34, 31)", "STOP is red");
    shot(&gate, SHOTS, "stop-red").await;
    let (verdict, text) = scan(&gate, &expired_code()).await;
    assert_eq!(verdict, "STOP");
    assert!(text.contains("健康码已过期"), "{text}");
    shot(&gate, SHOTS, "stop-expired").await;
    let (verdict, text) = scan(&gate, "HC1:NCFOXN%TS3DH3ZSUZK+.V0ETD%65NL-AH").await;
    assert_eq!(verdict, "STOP");
    assert!(text.contains("境外证书"), "{text}");
    // The result clears itself for the next person.
    gate.wait_until(
        "document.getElementById('result').hidden",
        Duration::from_secs(5),
    )
    .await
    .unwrap();
    // Someone without a phone: the ID check looks them up online (数字哨兵).
    gate.click("#id-open").await.unwrap();
    gate.type_into("#id-number", &id_number(1)).await.unwrap();
    gate.click("#id-submit").await.unwrap();
    gate.wait_until(
        "document.getElementById('result').dataset.verdict === 'PASS' && !document.getElementById('result').hidden",
        WAIT,
    )
    .await
    .unwrap();
    let text = gate.text("#result").await.unwrap();
    assert!(text.contains("张*"), "{text}");
    shot(&gate, SHOTS, "id-check").await;
    // A paper pass (HCZ1:) is resolved online to its holder's current status.
    let person = server
        .store
        .person_by_document(
            &healthcode_domain::DocumentNumber::parse(DocumentType::ResidentId, DOC).unwrap(),
        )
        .await
        .unwrap()
        .unwrap();
    let serial = server
        .store
        .issue_paper_pass(person.id, now())
        .await
        .unwrap();
    let pass_text = healthcode_credential::issue_pass(
        &healthcode_credential::PassClaims {
            region: "CN-BJ".into(),
            serial,
            issued_at: now(),
            masked_name: "李*".into(),
            masked_document: "11**************2X".into(),
            document_type: DocumentType::ResidentId,
        },
        &code_key(),
    )
    .unwrap();
    let (verdict, text) = scan(&gate, &pass_text).await;
    assert_eq!(verdict, "STOP", "{text}");
    assert!(text.contains("健康码为集中观察"), "{text}");

    // And it clears itself again.
    gate.wait_until(
        "document.getElementById('result').hidden",
        Duration::from_secs(5),
    )
    .await
    .unwrap();

    // 20 more people, each with a code issued while online.
    let mut codes = Vec::new();
    for n in 0..20 {
        let token = server.enrol(&id_number(100 + n), "路人").await;
        codes.push(server.code_of(&token).await);
    }
    let before = server.checkins_at(park).await;

    // The network goes: the page and its service worker find no server. The page reloads
    // from what the service worker kept and decides 10 codes, reloads again (a closed tab
    // loses nothing), and decides 10 more.
    switch.set(false);
    gate.set_offline(true).await.unwrap();
    gate.reload().await.unwrap();
    gate.wait_until("document.body.dataset.ready === '1'", WAIT)
        .await
        .unwrap();
    gate.wait_until(
        "document.getElementById('gate-net').dataset.state === 'offline'",
        WAIT,
    )
    .await
    .unwrap();
    for code in &codes[..10] {
        let (verdict, text) = scan(&gate, code).await;
        assert_eq!(verdict, "PASS", "{text}");
    }
    gate.wait_until(
        "document.getElementById('count-queue').textContent === '10'",
        WAIT,
    )
    .await
    .unwrap();
    shot(&gate, SHOTS, "offline").await;
    gate.reload().await.unwrap();
    gate.wait_until("document.body.dataset.ready === '1'", WAIT)
        .await
        .unwrap();
    gate.wait_until(
        "document.getElementById('count-queue').textContent === '10'",
        WAIT,
    )
    .await
    .expect("a reload loses no queued check-in");
    for code in &codes[10..] {
        let (verdict, _) = scan(&gate, code).await;
        assert_eq!(verdict, "PASS");
    }
    gate.wait_until(
        "document.getElementById('count-queue').textContent === '20'",
        WAIT,
    )
    .await
    .unwrap();
    let during = server.checkins_at(park).await;
    assert_eq!(
        during, before,
        "nothing reached the server while it was cut off"
    );

    // Back online: all 20 arrive, once.
    switch.set(true);
    gate.set_offline(false).await.unwrap();
    gate.wait_until(
        "document.getElementById('count-queue').textContent === '0'",
        WAIT,
    )
    .await
    .unwrap();
    let after = server.checkins_at(park).await;
    assert_eq!(after - before, 20);
    // A second upload of the same queue (a reload racing the first) would be duplicates.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let later = server.checkins_at(park).await;
    assert_eq!(later, after, "exactly once");
    // Requests failed while the network was cut; nothing else went wrong.
    let csp: Vec<String> = gate
        .problems()
        .await
        .unwrap()
        .iter()
        .filter(|p| p.is_csp_violation() || p.kind == ProblemKind::Exception)
        .map(ToString::to_string)
        .collect();
    assert!(csp.is_empty(), "{csp:?}");

    // At 320 px in large text nothing is cut off.
    gate.click("#switch-size").await.unwrap();
    gate.wait_until(
        "document.documentElement.classList.contains('large') && document.body.dataset.ready === '1'",
        WAIT,
    )
    .await
    .unwrap();
    gate.set_viewport(320, 640).await.unwrap();
    assert!(scroll_width(&gate).await <= 320.0);
    shot(&gate, SHOTS, "scanner-320").await;
    gate_browser.close().await.unwrap();
}

/// A server whose trust list is `due_in` from its next update (negative: overdue), a gate of
/// a park enrolled on it, and the code of a person with nothing against them: or `None` when
/// there is no Chromium to run.
async fn gate_with_list_due(due_in: chrono::Duration) -> Option<(Server, Browser, Page, String)> {
    let server = Server::start_with_list_due(due_in).await;
    let park = server.venue("天坛公园", "park", "东城区").await;
    let code = server
        .code_of(&server.enrol(&id_number(3), "周小红").await)
        .await;
    let manager = Browser::launch_or_skip(Options::default()).await.unwrap()?;
    let link = device_link(&server, &manager, park).await;
    manager.close().await.unwrap();
    let browser = Browser::launch(Options::default()).await.unwrap();
    let gate = enrol_gate(&browser, &link, &server.base).await;
    Some((server, browser, gate, code))
}

#[tokio::test]
async fn a_gate_warns_of_a_stale_trust_list_and_stops_everyone_on_an_expired_one() {
    // Overdue by an hour: a warning, decisions as usual.
    let Some((_server, browser, gate, code)) =
        gate_with_list_due(-chrono::Duration::hours(1)).await
    else {
        return;
    };
    gate.wait_until("!document.getElementById('gate-warning').hidden", WAIT)
        .await
        .unwrap();
    let warning = gate.text("#gate-warning").await.unwrap();
    assert!(warning.contains("核验密钥待更新"), "{warning}");
    let (verdict, _) = scan(&gate, &code).await;
    assert_eq!(verdict, "PASS");
    shot(&gate, SHOTS, "stale-list").await;
    browser.close().await.unwrap();

    // Overdue by more than the policy's 72 hours: everyone is stopped, with the reason.
    let (_server, browser, gate, code) = gate_with_list_due(-chrono::Duration::hours(73))
        .await
        .unwrap();
    let warning = gate.text("#gate-warning").await.unwrap();
    assert!(warning.contains("核验密钥已过期"), "{warning}");
    let (verdict, text) = scan(&gate, &code).await;
    assert_eq!(verdict, "STOP", "{text}");
    assert!(text.contains("核验密钥已过期，请联网更新"), "{text}");
    shot(&gate, SHOTS, "expired-list").await;
    browser.close().await.unwrap();
}

#[tokio::test]
async fn the_gate_reads_a_code_from_the_camera() {
    let server = Server::start().await;
    let park = server.venue("景山公园", "park", "东城区").await;
    let token = server.enrol(&id_number(7), "孙小美").await;
    let code = server.code_of(&token).await;
    let dir = tempfile::tempdir().unwrap();
    let y4m = dir.path().join("code.y4m");
    write_y4m(&y4m, &camera_picture(&code)).unwrap();
    let Some(manager) = Browser::launch_or_skip(Options::default()).await.unwrap() else {
        return;
    };
    let link = device_link(&server, &manager, park).await;
    manager.close().await.unwrap();
    let browser = Browser::launch(Options::default().camera(&y4m))
        .await
        .unwrap();
    let gate = enrol_gate(&browser, &link, &server.base).await;
    gate.click("#camera-start").await.unwrap();
    gate.wait_until(
        "document.getElementById('result').dataset.verdict === 'PASS'",
        Duration::from_secs(30),
    )
    .await
    .unwrap();
    let text = gate.text("#result").await.unwrap();
    assert!(text.contains("孙*"), "{text}");
    shot(&gate, SHOTS, "camera-pass").await;
    gate.click("#camera-stop").await.ok();
    browser.close().await.unwrap();
}
