//! Declarations over the API (`/api/v1/me/declarations`): symptoms and arrivals become
//! reminders the status explains as self-declared, a negative PCR taken after clears them,
//! bad input is refused with its code and saves nothing, and a person's declarations per
//! day are capped.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use chrono::Duration;
use common::{DOC, DOC_B, TestApp};
use reqwest::StatusCode;
use serde_json::{Value, json};

const PATH: &str = "/api/v1/me/declarations";

fn reminder_codes(status: &Value) -> Vec<String> {
    status["reminders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap().to_owned())
        .collect()
}

async fn lab_pcr(app: &TestApp, record: &str, doc: &str, hours_ago: i64) {
    let (s, body) = app
        .post(
            "/api/v1/test-results",
            Some(&app.keys.lab),
            app.pcr(record, doc, "negative", hours_ago),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
}

#[tokio::test]
async fn declared_symptoms_show_a_self_declared_reminder_until_a_negative_pcr() {
    let app = TestApp::spawn().await;
    let token = app.enrol(DOC, "张三").await;
    let other = app.enrol(DOC_B, "李四").await;
    // 2026-05-01 12:00 in Beijing: symptoms since this morning.
    let (s, body) = app
        .post(
            PATH,
            Some(&token),
            json!({"kind": "symptoms", "symptoms": ["fever", "cough", "fever"], "onset": "2026-05-01"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    assert_eq!(body["kind"], "symptoms");
    assert_eq!(body["symptoms"], json!(["fever", "cough"]));
    assert_eq!(body["source"], "self");

    let status = app.status(&token).await;
    assert_eq!(status["colour"], "green");
    assert_eq!(reminder_codes(&status), vec!["symptoms_declared"]);
    assert_eq!(status["reminders"][0]["number"], 6);
    let reason = &status["reasons"][0];
    assert_eq!(reason["code"], "reminder");
    assert_eq!(reason["reminder"], "symptoms_declared");
    assert_eq!(reason["evidence"]["type"], "declaration");
    assert_eq!(reason["evidence"]["kind"], "symptoms");
    let en = reason["en"].as_str().unwrap();
    assert!(en.contains("self-declared"), "{en}");
    assert!(en.contains("fever, cough since 2026-05-01"), "{en}");
    let zh = reason["zh"].as_str().unwrap();
    assert!(zh.contains("自主申报") && zh.contains("发热、咳嗽"), "{zh}");

    // The code carries reminder 6.
    let (s, code) = app.get("/api/v1/me/code", Some(&token)).await;
    assert_eq!(s, StatusCode::OK, "{code}");
    assert_eq!(code["status"]["reminders"][0]["number"], 6, "{code}");

    // Listed for the person, and for nobody else.
    let (s, list) = app.get(PATH, Some(&token)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(list["declarations"].as_array().unwrap().len(), 1);
    assert_eq!(list["declarations"][0]["onset"], "2026-05-01");
    let (_, theirs) = app.get(PATH, Some(&other)).await;
    assert_eq!(theirs["declarations"], json!([]));

    // A negative PCR sampled yesterday afternoon, before the onset, does not clear it.
    lab_pcr(&app, "R-before", DOC, 20).await;
    assert_eq!(
        reminder_codes(&app.status(&token).await),
        vec!["symptoms_declared"]
    );
    // One sampled an hour ago does.
    lab_pcr(&app, "R-after", DOC, 1).await;
    let status = app.status(&token).await;
    assert!(reminder_codes(&status).is_empty(), "{status}");
    assert_eq!(status["reasons"][0]["code"], "no_risk");
}

#[tokio::test]
async fn a_declared_arrival_is_reminder_four_until_a_test_within_72_hours() {
    let app = TestApp::spawn().await;
    let token = app.enrol(DOC, "张三").await;
    let arrived = app.clock_now() - Duration::hours(30);
    let (s, body) = app
        .post(
            PATH,
            Some(&token),
            json!({"kind": "arrival", "from": "上海 CN-SH", "arrived_at": arrived.to_rfc3339()}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    let status = app.status(&token).await;
    assert_eq!(reminder_codes(&status), vec!["arrival_untested"]);
    let en = status["reasons"][0]["en"].as_str().unwrap();
    assert!(en.contains("self-declared"), "{en}");
    assert!(en.contains("arrived from 上海 CN-SH"), "{en}");

    // A test sampled before the arrival does not clear it.
    lab_pcr(&app, "R-before", DOC, 40).await;
    assert_eq!(
        reminder_codes(&app.status(&token).await),
        vec!["arrival_untested"]
    );
    // A test sampled 28 hours after arrival does.
    lab_pcr(&app, "R-after", DOC, 2).await;
    assert!(reminder_codes(&app.status(&token).await).is_empty());
}

#[tokio::test]
async fn bad_declarations_are_refused_with_their_code_and_nothing_is_saved() {
    let app = TestApp::spawn().await;
    let token = app.enrol(DOC, "张三").await;
    let future = (app.clock_now() + Duration::hours(1)).to_rfc3339();
    let now = app.clock_now().to_rfc3339();
    let cases = [
        (json!({"kind": "rumour"}), "declaration_kind_unknown"),
        (
            json!({"kind": "symptoms", "symptoms": [], "onset": "2026-05-01"}),
            "symptoms_empty",
        ),
        (
            json!({"kind": "symptoms", "symptoms": ["fever", "sneezing"], "onset": "2026-05-01"}),
            "symptom_unknown",
        ),
        (
            json!({"kind": "symptoms", "symptoms": ["fever"], "onset": "2026-05-02"}),
            "time_in_future",
        ),
        (
            json!({"kind": "symptoms", "symptoms": ["fever"], "onset": "1800-05-01"}),
            "time_invalid",
        ),
        (
            json!({"kind": "symptoms", "symptoms": ["fever"], "onset": "2026-02-30"}),
            "invalid_field",
        ),
        (
            json!({"kind": "symptoms", "symptoms": ["fever"]}),
            "invalid_field",
        ),
        (
            json!({"kind": "symptoms", "symptoms": ["fever"], "onset": "2026-05-01", "from": "x"}),
            "invalid_field",
        ),
        (
            json!({"kind": "symptoms", "symptoms": ["fever"], "onset": "2026-05-01", "severity": 3}),
            "invalid_field",
        ),
        (
            json!({"kind": "arrival", "from": "  ", "arrived_at": now}),
            "declaration_from_invalid",
        ),
        (
            json!({"kind": "arrival", "from": "上\u{202e}海", "arrived_at": now}),
            "declaration_from_invalid",
        ),
        (
            json!({"kind": "arrival", "from": "x".repeat(41), "arrived_at": now}),
            "declaration_from_invalid",
        ),
        (
            json!({"kind": "arrival", "from": "上海", "arrived_at": future}),
            "time_in_future",
        ),
        (
            json!({"kind": "arrival", "from": "上海", "arrived_at": "2201-01-01T00:00:00Z"}),
            "time_invalid",
        ),
        (json!({"kind": "arrival", "from": "上海"}), "invalid_field"),
    ];
    for (body, code) in cases {
        let (s, answer) = app.post(PATH, Some(&token), body.clone()).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body} → {answer}");
        assert_eq!(answer["error"]["code"], code, "{body} → {answer}");
    }
    let (s, _) = app
        .post(
            PATH,
            None,
            json!({"kind": "symptoms", "symptoms": ["fever"], "onset": "2026-05-01"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (_, list) = app.get(PATH, Some(&token)).await;
    assert_eq!(list["declarations"], json!([]));
    let status = app.status(&token).await;
    assert_eq!(status["no_data"], true, "{status}");
}

#[tokio::test]
async fn declarations_are_capped_at_twenty_a_day() {
    let app = TestApp::spawn().await;
    let token = app.enrol(DOC, "张三").await;
    let body = json!({"kind": "symptoms", "symptoms": ["fatigue"], "onset": "2026-05-01"});
    for n in 0..20 {
        let (s, answer) = app.post(PATH, Some(&token), body.clone()).await;
        assert_eq!(s, StatusCode::CREATED, "declaration {n}: {answer}");
        app.clock.advance(Duration::minutes(1));
    }
    let (s, answer) = app.post(PATH, Some(&token), body.clone()).await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "{answer}");
    assert_eq!(answer["error"]["code"], "declarations_limit");
    let (_, list) = app.get(PATH, Some(&token)).await;
    assert_eq!(list["declarations"].as_array().unwrap().len(), 20);
    // A day after the first, there is room again (signed in afresh: sessions end at 24:00).
    app.clock
        .advance(Duration::hours(24) - Duration::minutes(19));
    let token = app.enrol(DOC, "张三").await;
    let (s, answer) = app.post(PATH, Some(&token), body).await;
    assert_eq!(s, StatusCode::CREATED, "{answer}");
}
