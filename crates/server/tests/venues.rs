//! Venues, gates, check-ins, risk areas and co-presence, through the HTTP API of a real
//! server on the embedded database.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration as StdDuration;

use chrono::Duration;
use healthcode_credential::{PlaceClaims, SigningKey, issue_place_code};
use healthcode_server::api::gate::{UploadAnswer, UploadRequest, UploadRow};
use healthcode_store::{CheckinMethod, NewCheckin, Venues};
use reqwest::StatusCode;
use serde_json::{Value, json};

use common::{DOC, DOC_B, TestApp};

const DOC_C: &str = "110101198001010053";

async fn venue(app: &TestApp, name: &str, kind: &str, district: &str) -> i64 {
    let (s, body) = app
        .post(
            "/api/v1/venues",
            Some(&app.keys.operator),
            json!({"name": name, "kind": kind, "district": district, "address": "1号"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    body["id"].as_i64().unwrap()
}

async fn device(app: &TestApp, venue_id: i64) -> String {
    let (s, body) = app
        .post(
            &format!("/api/v1/venues/{venue_id}/devices"),
            Some(&app.keys.operator),
            json!({"name": "gate 1"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    body["key"].as_str().unwrap().to_owned()
}

/// A gate of `venue_id` enrolled `ago` before the clock (the API enrols at the clock's time),
/// so that its uploads may be dated back that far.
async fn device_enrolled(app: &TestApp, venue_id: i64, ago: Duration) -> String {
    let key = healthcode_server::auth::new_device_key();
    app.store
        .add_device(
            venue_id,
            "gate 1",
            &healthcode_server::extract::secret_hash(&key),
            app.clock_now() - ago,
        )
        .await
        .unwrap();
    key
}

/// The subject of a resident's current code, as a gate uploads it.
async fn subject_hex(app: &TestApp, token: &str) -> String {
    let c = code(app, token).await;
    let claims = app.verifier().verify(&c, app.clock_now()).unwrap();
    hex::encode(claims.subject)
}

async fn code(app: &TestApp, token: &str) -> String {
    let (s, body) = app.get("/api/v1/me/code", Some(token)).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    body["code"].as_str().unwrap().to_owned()
}

/// The place code of a venue, as printed on its poster (signed with the region's key).
fn place(venue_id: i64, app: &TestApp) -> String {
    issue_place_code(
        &PlaceClaims {
            region: "CN-BJ".into(),
            venue_id,
            issued_at: app.clock_now() - Duration::days(30),
        },
        &SigningKey::from_seed(&[2; 32]),
    )
    .unwrap()
}

/// Polls the resident's status until `check` holds (status changes travel the change feed).
async fn status_until(app: &TestApp, token: &str, check: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..100 {
        let s = app.status(token).await;
        if check(&s) {
            return s;
        }
        tokio::time::sleep(StdDuration::from_millis(50)).await;
    }
    panic!(
        "status never changed as expected: {}",
        app.status(token).await
    );
}

fn reasons(status: &Value) -> String {
    status["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| format!("{} | {}", r["zh"], r["en"]))
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn venues_need_an_operator_and_a_known_type() {
    let app = TestApp::spawn().await;
    let body = json!({"name": "西单站", "kind": "subway", "district": "西城区"});
    for key in [&app.keys.lab, &app.keys.cdc, &app.keys.community] {
        let (s, _) = app.post("/api/v1/venues", Some(key), body.clone()).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
    }
    let (s, _) = app.post("/api/v1/venues", None, body.clone()).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, err) = app
        .post(
            "/api/v1/venues",
            Some(&app.keys.operator),
            json!({"name": "x", "kind": "casino", "district": "西城区"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(err["error"]["code"], "venue_type_unknown");
    let (s, err) = app
        .post(
            "/api/v1/venues",
            Some(&app.keys.operator),
            json!({"name": "", "kind": "subway", "district": "西城区"}),
        )
        .await;
    assert_eq!(
        (s, err["error"]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_field"))
    );
    let id = venue(&app, "西单站", "subway", "西城区").await;
    let (s, v) = app.get(&format!("/api/v1/venues/{id}"), None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["entry_policy"]["test_within_hours"], 72);
    let (s, _) = app.get("/api/v1/venues/999999", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = app
        .post(
            "/api/v1/venues/999999/devices",
            Some(&app.keys.operator),
            json!({"name": "g"}),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // The poster carries a place code that verifies as this venue.
    let resp = app
        .client
        .get(app.url(&format!("/api/v1/venues/{id}/poster?format=html")))
        .bearer_auth(&app.keys.operator)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let html = resp.text().await.unwrap();
    assert!(html.contains("西单站") && html.contains("<svg"), "{html}");
}

#[tokio::test]
async fn a_gate_applies_the_venue_policy_and_records_the_check_in() {
    let app = TestApp::spawn().await;
    let subway = venue(&app, "西单站", "subway", "西城区").await;
    let gate = device(&app, subway).await;
    let token = app.enrol(DOC, "张三").await;

    let (s, config) = app.get("/api/v1/gate/config", Some(&gate)).await;
    assert_eq!(s, StatusCode::OK, "{config}");
    assert_eq!(config["venue"]["id"], subway);
    assert_eq!(config["trust_list"]["region"], "CN-BJ");
    // A provider key is not a device key.
    let (s, _) = app
        .get("/api/v1/gate/config", Some(&app.keys.operator))
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);

    // No test yet: the subway wants one within 72 hours.
    let c = code(&app, &token).await;
    let (s, out) = app
        .post(
            "/api/v1/gate/scan",
            Some(&gate),
            json!({"code": c, "seq": 1}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{out}");
    assert_eq!(out["decision"], "STOP");
    assert_eq!(out["masked_name"], "张*");
    assert_eq!(out["reasons"][0]["code"], "no_recent_test");
    assert_eq!(out["checked_in"], true);

    let (s, _) = app
        .post(
            "/api/v1/test-results",
            Some(&app.keys.lab),
            app.pcr("L-1", DOC, "negative", 30),
        )
        .await;
    assert!(s.is_success());
    status_until(&app, &token, |s| !s["test_recency"].is_null()).await;
    let c = code(&app, &token).await;
    let (_, out) = app
        .post(
            "/api/v1/gate/scan",
            Some(&gate),
            json!({"code": c, "seq": 2}),
        )
        .await;
    assert_eq!(out["decision"], "PASS", "{out}");
    // The same sequence number again: answered, not stored twice.
    let (_, again) = app
        .post(
            "/api/v1/gate/scan",
            Some(&gate),
            json!({"code": c, "seq": 2}),
        )
        .await;
    assert_eq!(
        (again["decision"].as_str(), again["checked_in"].as_bool()),
        (Some("PASS"), Some(false))
    );

    // A forged code (one character changed) and a code that is no code at all: STOP, said why.
    let mut forged = c.clone().into_bytes();
    let i = forged.len() - 10;
    forged[i] = if forged[i] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    for bad in [forged.as_str(), "HCN1:", "hello", "HC1:6BFOXN"] {
        let (s, out) = app
            .post("/api/v1/gate/scan", Some(&gate), json!({"code": bad}))
            .await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(out["decision"], "STOP", "{bad}: {out}");
        assert_eq!(out["checked_in"], false);
        assert!(out["reasons"][0]["en"].as_str().unwrap().len() > 10);
    }

    // The resident's travel history shows the two stored check-ins.
    let (s, h) = app.get("/api/v1/me/checkins", Some(&token)).await;
    assert_eq!(s, StatusCode::OK, "{h}");
    assert_eq!(h["checkins"].as_array().unwrap().len(), 2, "{h}");
    assert_eq!(h["districts"], json!(["西城区"]));
    assert_eq!(h["checkins"][0]["venue"], "西单站");
}

#[tokio::test]
async fn offline_uploads_are_idempotent_and_bad_rows_are_named() {
    let app = TestApp::spawn().await;
    let mall = venue(&app, "西单大悦城", "mall", "西城区").await;
    let other = venue(&app, "王府井", "mall", "东城区").await;
    let gate = device_enrolled(&app, mall, Duration::days(1)).await;
    let now = app.clock_now();
    let subject = "00112233445566778899aabbccddeeff";
    let good: Vec<Value> = (0..300)
        .map(|i| {
            json!({"seq": i, "subject": subject, "passed": true,
                   "at": (now - Duration::minutes(300 - i)).to_rfc3339()})
        })
        .collect();
    let mut rows = good.clone();
    rows.extend([
        // 300: duplicate of seq 5 inside the batch.
        json!({"seq": 5, "subject": subject, "passed": true, "at": now.to_rfc3339()}),
        json!({"seq": 1000, "subject": subject, "passed": true, "at": now.to_rfc3339(), "venue_id": other}),
        json!({"seq": 1001, "subject": subject, "passed": true, "at": (now + Duration::hours(3)).to_rfc3339()}),
        json!({"seq": 1002, "subject": subject, "passed": true, "at": (now - Duration::days(30)).to_rfc3339()}),
        json!({"seq": 1003, "subject": "xyz", "passed": true, "at": now.to_rfc3339()}),
        json!({"seq": -1, "subject": subject, "passed": true, "at": now.to_rfc3339()}),
        json!({"seq": 1004, "subject": subject, "passed": true, "at": now.to_rfc3339(), "method": "self_scan"}),
    ]);
    let (s, out) = app
        .post(
            "/api/v1/gate/checkins",
            Some(&gate),
            json!({"checkins": rows}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{out}");
    assert_eq!(out["received"], 307);
    assert_eq!(out["stored"], 300);
    assert_eq!(out["duplicates"], 1);
    let codes: Vec<&str> = out["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes,
        vec![
            "device_outside_venue",
            "clock_ahead",
            "too_old",
            "invalid_subject",
            "invalid_seq",
            "invalid_method"
        ]
    );
    assert_eq!(out["rejected"][0]["index"], 301);

    // Retried after a lost answer: nothing new, nothing lost.
    let (_, again) = app
        .post(
            "/api/v1/gate/checkins",
            Some(&gate),
            json!({"checkins": good}),
        )
        .await;
    assert_eq!(
        (again["stored"].as_u64(), again["duplicates"].as_u64()),
        (Some(0), Some(300))
    );
    let mut raw = [0u8; 16];
    for (i, b) in raw.iter_mut().enumerate() {
        *b = u8::from_str_radix(&subject[2 * i..2 * i + 2], 16).unwrap();
    }
    let stored = app
        .store
        .checkins_of(&raw, now - Duration::days(1))
        .await
        .unwrap();
    assert_eq!(stored.len(), 300);

    // A broken body stores nothing and says so; an oversized batch is refused whole.
    let (s, err) = app
        .post_raw(
            "/api/v1/gate/checkins",
            &gate,
            "application/json",
            b"{\"checkins\": [".to_vec(),
        )
        .await;
    assert_eq!(
        (s, err["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("malformed_json"))
    );
    let too_many: Vec<Value> = (0..10_001)
        .map(|i| json!({"seq": i, "subject": subject, "passed": true, "at": now.to_rfc3339()}))
        .collect();
    let (s, _) = app
        .post(
            "/api/v1/gate/checkins",
            Some(&gate),
            json!({"checkins": too_many}),
        )
        .await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        app.store
            .checkins_of(&raw, now - Duration::days(1))
            .await
            .unwrap()
            .len(),
        300
    );
}

/// A gate asserts only what it could have seen: nothing before it was enrolled and nothing
/// ahead of the server's clock (beyond its skew). Each such row is refused by name; the others
/// are stored.
#[tokio::test]
async fn a_gate_cannot_date_check_ins_before_its_enrolment_or_into_the_future() {
    let app = TestApp::spawn().await;
    let mall = venue(&app, "西单大悦城", "mall", "西城区").await;
    let gate = device(&app, mall).await;
    let enrolled = app.clock_now();
    app.clock.advance(Duration::hours(2));
    let now = app.clock_now();
    let subject = "00112233445566778899aabbccddeeff";
    let row = |seq: i64, at: chrono::DateTime<chrono::Utc>| json!({"seq": seq, "subject": subject, "passed": true, "at": at.to_rfc3339()});
    let (s, out) = app
        .post(
            "/api/v1/gate/checkins",
            Some(&gate),
            json!({"checkins": [
                row(1, enrolled - Duration::hours(1)),
                row(2, now + Duration::hours(1)),
                row(3, enrolled + Duration::minutes(10)),
                // A device clock a minute behind the server's, just after enrolment.
                row(4, enrolled - Duration::minutes(1)),
                row(5, now),
            ]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{out}");
    let answer: UploadAnswer = serde_json::from_value(out.clone()).unwrap();
    let refused: Vec<(usize, &str)> = answer
        .rejected
        .iter()
        .map(|r| (r.index, r.code.as_str()))
        .collect();
    assert_eq!(
        refused,
        [(0, "before_enrolment"), (1, "clock_ahead")],
        "{out}"
    );
    assert_eq!((answer.stored, answer.flagged), (3, 0), "{out}");
}

/// After a gate uploaded a recent check-in, a row dated hours before it is the device
/// asserting history: it is stored flagged, and a risk area over its time does not turn that
/// person yellow — neither when the area is already open nor when it is created later —
/// while an unflagged visit in the same area still does.
#[tokio::test]
async fn rows_dated_well_before_a_gates_earlier_uploads_are_flagged_and_designate_no_one() {
    let app = TestApp::spawn().await;
    let market = venue(&app, "新发地市场", "mall", "丰台区").await;
    let gate = device_enrolled(&app, market, Duration::days(2)).await;
    let victim = app.enrol(DOC, "张三").await;
    let visitor = app.enrol(DOC_B, "李四").await;
    let victim_subject = subject_hex(&app, &victim).await;
    let visitor_subject = subject_hex(&app, &visitor).await;
    let now = app.clock_now();
    let (s, area) = app
        .post(
            "/api/v1/risk-areas",
            Some(&app.keys.operator),
            json!({"name": "新发地批发市场", "level": "high", "venue_ids": [market],
                   "starts_at": (now - Duration::hours(5)).to_rfc3339()}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{area}");

    // The gate's queue so far: a check-in ten minutes ago (someone not registered).
    let (_, first) = app
        .post(
            "/api/v1/gate/checkins",
            Some(&gate),
            json!({"checkins": [{"seq": 1, "subject": "00112233445566778899aabbccddeeff",
                                 "passed": true,
                                 "at": (now - Duration::minutes(10)).to_rfc3339()}]}),
        )
        .await;
    assert_eq!(
        (first["stored"].as_u64(), first["flagged"].as_u64()),
        (Some(1), Some(0))
    );
    // Then the victim three hours before that, and a visitor within the margin.
    let (s, up) = app
        .post(
            "/api/v1/gate/checkins",
            Some(&gate),
            json!({"checkins": [
                {"seq": 2, "subject": victim_subject, "passed": true,
                 "at": (now - Duration::minutes(190)).to_rfc3339()},
                {"seq": 3, "subject": visitor_subject, "passed": true,
                 "at": (now - Duration::minutes(40)).to_rfc3339()},
            ]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{up}");
    assert_eq!(
        (
            up["stored"].as_u64(),
            up["flagged"].as_u64(),
            up["designated"].as_u64()
        ),
        (Some(2), Some(1), Some(1)),
        "{up}"
    );
    status_until(&app, &visitor, |s| s["colour"] == "yellow").await;
    assert_eq!(app.status(&victim).await["colour"], "green");

    // The row is kept, marked for review.
    let mut raw = [0u8; 16];
    hex::decode_to_slice(&victim_subject, &mut raw).unwrap();
    let kept = app
        .store
        .checkins_of(&raw, now - Duration::days(1))
        .await
        .unwrap();
    assert_eq!(kept.len(), 1);
    assert!(kept[0].flagged);

    // An area created afterwards over the same window: the visitor again, the victim not.
    let (s, later) = app
        .post(
            "/api/v1/risk-areas",
            Some(&app.keys.operator),
            json!({"name": "新发地 二", "level": "high", "venue_ids": [market],
                   "starts_at": (now - Duration::hours(4)).to_rfc3339()}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{later}");
    assert_eq!(later["people"], 1, "{later}");
    tokio::time::sleep(StdDuration::from_millis(300)).await;
    assert_eq!(app.status(&victim).await["colour"], "green");
}

/// A subject is exactly 32 hex digits: `+f` reads as a number to `u8::from_str_radix`, but it is
/// not a hex byte. Built and read with the API's own wire types, as a gate does.
#[tokio::test]
async fn an_uploaded_subject_with_a_sign_in_it_is_refused() {
    let app = TestApp::spawn().await;
    let mall = venue(&app, "西单大悦城", "mall", "西城区").await;
    let gate = device(&app, mall).await;
    let now = app.clock_now();
    let row = |seq: i64, subject: String| UploadRow {
        seq,
        subject,
        at: now,
        passed: true,
        method: None,
        venue_id: Some(mall),
    };
    let request = UploadRequest {
        checkins: vec![
            row(1, format!("+f{}", "00".repeat(15))),
            row(2, format!("00{}", "+f".repeat(15))),
            row(3, format!(" f{}", "00".repeat(15))),
            row(4, "00112233445566778899AABBCCDDEEFF".to_owned()),
        ],
    };
    let (s, out) = app
        .post(
            "/api/v1/gate/checkins",
            Some(&gate),
            serde_json::to_value(&request).unwrap(),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{out}");
    let answer: UploadAnswer = serde_json::from_value(out.clone()).unwrap();
    assert_eq!((answer.received, answer.stored), (4, 1), "{out}");
    let refused: Vec<(usize, &str)> = answer
        .rejected
        .iter()
        .map(|r| (r.index, r.code.as_str()))
        .collect();
    assert_eq!(
        refused,
        [
            (0, "invalid_subject"),
            (1, "invalid_subject"),
            (2, "invalid_subject")
        ],
        "{out}"
    );
}

#[tokio::test]
async fn residents_check_in_with_a_place_code_and_forgeries_are_refused() {
    let app = TestApp::spawn().await;
    let park = venue(&app, "北海公园", "park", "西城区").await;
    let token = app.enrol(DOC, "张三").await;
    let code = place(park, &app);
    let (s, out) = app
        .post(
            "/api/v1/me/checkins",
            Some(&token),
            json!({"place_code": code}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{out}");
    assert_eq!(out["venue"]["name"], "北海公园");
    assert_eq!(out["decision"], "PASS", "a park asks for green only");

    let mut forged = code.clone().into_bytes();
    let i = forged.len() - 5;
    forged[i] = if forged[i] == b'0' { b'1' } else { b'0' };
    let forged = String::from_utf8(forged).unwrap();
    let other_key = issue_place_code(
        &PlaceClaims {
            region: "CN-BJ".into(),
            venue_id: park,
            issued_at: app.clock_now(),
        },
        &SigningKey::from_seed(&[9; 32]),
    )
    .unwrap();
    let person_code = self::code(&app, &token).await;
    for bad in [
        forged.as_str(),
        other_key.as_str(),
        person_code.as_str(),
        "HCP1:",
        "场所码",
    ] {
        let (s, err) = app
            .post(
                "/api/v1/me/checkins",
                Some(&token),
                json!({"place_code": bad}),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {err}");
        assert_eq!(err["error"]["code"], "place_code_invalid");
    }
    // Properly signed, but for a venue that does not exist.
    let (s, err) = app
        .post(
            "/api/v1/me/checkins",
            Some(&token),
            json!({"place_code": place(424_242, &app)}),
        )
        .await;
    assert_eq!(
        (s, err["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("unknown_venue"))
    );
    let (s, _) = app
        .post("/api/v1/me/checkins", None, json!({"place_code": code}))
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (_, h) = app.get("/api/v1/me/checkins", Some(&token)).await;
    assert_eq!(h["checkins"].as_array().unwrap().len(), 1, "{h}");
}

#[tokio::test]
async fn sentinel_lookups_are_limited_per_device_and_every_one_is_logged() {
    let app = TestApp::builder()
        .config(|c| {
            c.sentinel_rate = healthcode_server::limits::RateLimit {
                per_second: 0.01,
                burst: 5.0,
            }
        })
        .spawn()
        .await;
    let office = venue(&app, "国贸大厦", "office", "朝阳区").await;
    let gate = device(&app, office).await;
    let second_gate = device(&app, office).await;
    app.enrol(DOC, "张三").await;
    let lookup = json!({"document_type": "resident_id", "document_number": DOC});
    let (s, out) = app
        .post("/api/v1/gate/lookup", Some(&gate), lookup.clone())
        .await;
    assert_eq!(s, StatusCode::OK, "{out}");
    assert_eq!(out["masked_name"], "张*");
    assert_eq!(out["decision"], "STOP");
    assert_eq!(out["checked_in"], true);
    let (s, err) = app
        .post(
            "/api/v1/gate/lookup",
            Some(&gate),
            json!({"document_type": "resident_id", "document_number": DOC_B}),
        )
        .await;
    assert_eq!(
        (s, err["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_registered"))
    );
    let (s, _) = app
        .post(
            "/api/v1/gate/lookup",
            Some(&gate),
            json!({"document_type": "resident_id", "document_number": "110105194912310021"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "wrong check digit");
    // A flood: the burst of 5 is spent, the rest refused, and each refusal logged.
    let mut refused = 0;
    for _ in 0..10 {
        let (s, _) = app
            .post("/api/v1/gate/lookup", Some(&gate), lookup.clone())
            .await;
        if s == StatusCode::TOO_MANY_REQUESTS {
            refused += 1;
        }
    }
    assert_eq!(refused, 8);
    // Another device is not held up by the first one's flood.
    let (s, _) = app
        .post("/api/v1/gate/lookup", Some(&second_gate), lookup.clone())
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, config) = app.get("/api/v1/gate/config", Some(&gate)).await;
    assert_eq!(s, StatusCode::OK);
    let id = config["device"]["id"].as_i64().unwrap();
    let log = app
        .store
        .accesses(&format!("device:{id}"), 100)
        .await
        .unwrap();
    let count = |o: &str| log.iter().filter(|a| a.outcome == o).count();
    assert_eq!(log.len(), 13);
    assert_eq!(
        (
            count("ok"),
            count("not_found"),
            count("invalid_document"),
            count("rate_limited")
        ),
        (3, 1, 1, 8)
    );
    assert!(log.iter().all(|a| a.action == "sentinel_lookup"));
    // A refusal says when to come back (one lookup per 100 s), and by the server's clock the
    // device is let in then.
    let resp = app
        .client
        .post(app.url("/api/v1/gate/lookup"))
        .bearer_auth(&gate)
        .json(&lookup)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(resp.headers()["retry-after"], "100");
    app.clock.advance(Duration::seconds(100));
    let (s, _) = app.post("/api/v1/gate/lookup", Some(&gate), lookup).await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test]
async fn a_risk_area_designates_its_visitors_and_releasing_it_clears_them() {
    let app = TestApp::spawn().await;
    let market = venue(&app, "新发地市场", "mall", "丰台区").await;
    let elsewhere = venue(&app, "西单站", "subway", "西城区").await;
    let gate = device_enrolled(&app, market, Duration::days(1)).await;
    let visitor = app.enrol(DOC, "张三").await;
    let late = app.enrol(DOC_B, "李四").await;
    let away = app.enrol(DOC_C, "王五").await;
    let now = app.clock_now();
    for (token, v) in [(&visitor, market), (&away, elsewhere)] {
        let (s, out) = app
            .post(
                "/api/v1/me/checkins",
                Some(token),
                json!({"place_code": place(v, &app)}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{out}");
    }
    let (s, area) = app
        .post(
            "/api/v1/risk-areas",
            Some(&app.keys.operator),
            json!({"name": "新发地批发市场", "level": "high", "venue_ids": [market],
                   "starts_at": (now - Duration::hours(2)).to_rfc3339()}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{area}");
    assert_eq!(area["people"], 1);
    let st = status_until(&app, &visitor, |s| s["colour"] == "yellow").await;
    let why = reasons(&st);
    assert!(
        why.contains("新发地市场") && why.contains("新发地批发市场"),
        "{why}"
    );
    assert_eq!(app.status(&away).await["colour"], "green");

    // A check-in arriving later (a gate that was offline) inside the open window counts too.
    let late_subject = {
        let c = code(&app, &late).await;
        let claims = app.verifier().verify(&c, app.clock_now()).unwrap();
        claims
            .subject
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    let (_, up) = app
        .post(
            "/api/v1/gate/checkins",
            Some(&gate),
            json!({"checkins": [{"seq": 1, "subject": late_subject, "passed": true,
                                 "at": (now - Duration::minutes(30)).to_rfc3339()}]}),
        )
        .await;
    assert_eq!(up["designated"], 1, "{up}");
    status_until(&app, &late, |s| s["colour"] == "yellow").await;
    // An earlier visit uploaded after it does not move the designation back in time.
    let (_, older) = app
        .post(
            "/api/v1/gate/checkins",
            Some(&gate),
            json!({"checkins": [{"seq": 2, "subject": late_subject, "passed": true,
                                 "at": (now - Duration::minutes(90)).to_rfc3339()}]}),
        )
        .await;
    assert_eq!(
        (older["stored"].as_u64(), older["designated"].as_u64()),
        (Some(1), Some(0)),
        "{older}"
    );

    // Only operators designate; only the designating operator releases.
    let (s, _) = app
        .post(
            "/api/v1/risk-areas",
            Some(&app.keys.cdc),
            json!({"name": "x", "level": "medium", "district": "丰台区", "starts_at": now.to_rfc3339()}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, err) = app
        .post(
            "/api/v1/risk-areas",
            Some(&app.keys.operator),
            json!({"name": "x", "level": "medium", "starts_at": now.to_rfc3339()}),
        )
        .await;
    assert_eq!(
        (s, err["error"]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("area_empty"))
    );
    let id = area["id"].as_i64().unwrap();
    let (s, released) = app
        .post(
            &format!("/api/v1/risk-areas/{id}/release"),
            Some(&app.keys.operator),
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{released}");
    assert_eq!(released["people"], 2);
    status_until(&app, &visitor, |s| s["colour"] == "green").await;
    status_until(&app, &late, |s| s["colour"] == "green").await;
}

#[tokio::test]
async fn a_confirmed_case_yields_its_co_presence_contacts() {
    let app = TestApp::spawn().await;
    let restaurant = venue(&app, "四季民福", "restaurant", "东城区").await;
    let gate = device_enrolled(&app, restaurant, Duration::days(1)).await;
    let case = app.enrol(DOC, "张三").await;
    let near = app.enrol(DOC_B, "李四").await;
    let far = app.enrol(DOC_C, "王五").await;
    let now = app.clock_now();
    let subject_of = |claims: healthcode_credential::CodeClaims| {
        claims
            .subject
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    let mut rows = Vec::new();
    for (seq, (token, minutes_ago)) in [(&case, 180), (&near, 100), (&far, 20)]
        .into_iter()
        .enumerate()
    {
        let c = code(&app, token).await;
        let claims = app.verifier().verify(&c, now).unwrap();
        rows.push(
            json!({"seq": seq, "subject": subject_of(claims), "passed": true,
                         "at": (now - Duration::minutes(minutes_ago)).to_rfc3339()}),
        );
    }
    let (s, up) = app
        .post(
            "/api/v1/gate/checkins",
            Some(&gate),
            json!({"checkins": rows}),
        )
        .await;
    assert_eq!(
        (s, up["stored"].as_u64()),
        (StatusCode::OK, Some(3)),
        "{up}"
    );

    let case_body = json!({"record_id": "CASE-1", "document_type": "resident_id",
                           "document_number": DOC, "purpose": "流调 epidemiological investigation"});
    let (s, _) = app
        .post("/api/v1/cases", Some(&app.keys.lab), case_body.clone())
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let mut no_purpose = case_body.clone();
    no_purpose["purpose"] = json!("");
    let (s, err) = app
        .post("/api/v1/cases", Some(&app.keys.cdc), no_purpose)
        .await;
    assert_eq!(
        (s, err["error"]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("purpose_required"))
    );

    let (s, out) = app
        .post("/api/v1/cases", Some(&app.keys.cdc), case_body)
        .await;
    assert_eq!(s, StatusCode::CREATED, "{out}");
    // Case at -180 min, stays 60, margin 30: -100 overlaps, -20 does not.
    let contacts = out["contacts"].as_array().unwrap();
    assert_eq!(contacts.len(), 1, "{out}");
    assert_eq!(contacts[0]["name"], "李四");
    assert_eq!(contacts[0]["document_number"], DOC_B);
    assert_eq!(contacts[0]["venue"], "四季民福");
    assert_eq!(out["designated"], 1);
    status_until(&app, &case, |s| s["colour"] == "red").await;
    let st = status_until(&app, &near, |s| s["colour"] == "yellow").await;
    assert!(reasons(&st).contains("四季民福"), "{}", reasons(&st));
    assert_eq!(app.status(&far).await["colour"], "green");

    let resp = app
        .client
        .get(app.url("/api/v1/cases/CASE-1/contacts?format=csv&purpose=tracing%20team%203"))
        .bearer_auth(&app.keys.cdc)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let csv = resp.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 2, "{csv}");
    assert!(lines[0].starts_with("name,document_type,document_number"));
    assert!(
        lines[1].starts_with(&format!("李四,resident_id,{DOC_B}")),
        "{csv}"
    );
    // Another provider's record is not found; each read is in the access log.
    let (s, _) = app
        .get(
            "/api/v1/cases/CASE-1/contacts?purpose=tracing",
            Some(&app.keys.operator),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let log = app.store.accesses("provider:3", 10).await.unwrap();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].purpose, "tracing team 3");
    assert_eq!(log[1].records, 1);
}

#[tokio::test]
async fn the_server_deletes_check_ins_past_retention_by_itself() {
    let app = TestApp::builder()
        .config(|c| c.purge_every = StdDuration::from_millis(100))
        .spawn()
        .await;
    let v = venue(&app, "西单站", "subway", "西城区").await;
    let now = app.clock_now();
    let rows: Vec<NewCheckin> = (0..50)
        .map(|i| NewCheckin {
            venue_id: v,
            subject: [7; 16],
            at: now - Duration::days(22) + Duration::hours(i),
            method: CheckinMethod::SelfScan,
            passed: true,
            device: None,
            flagged: false,
        })
        .collect();
    app.store.add_checkins(&rows, now).await.unwrap();
    // 22 days ago plus 0..49 hours: those older than 21 days (24 of them) go.
    for _ in 0..100 {
        let left = app
            .store
            .checkins_of(&[7; 16], now - Duration::days(30))
            .await
            .unwrap();
        if left.len() == 26 {
            let purges = app.store.purges(100).await.unwrap();
            assert_eq!(purges.iter().map(|p| p.deleted).sum::<u64>(), 24);
            assert!(purges.iter().all(|p| p.day == "2026-05-01"));
            return;
        }
        tokio::time::sleep(StdDuration::from_millis(50)).await;
    }
    panic!("old check-ins were not purged");
}

#[tokio::test]
async fn a_medium_risk_area_by_district_raises_reminder_3_which_a_negative_test_clears() {
    let app = TestApp::spawn().await;
    let park = venue(&app, "朝阳公园", "park", "朝阳区").await;
    let token = app.enrol(DOC, "张三").await;
    let (s, _) = app
        .post(
            "/api/v1/me/checkins",
            Some(&token),
            json!({"place_code": place(park, &app)}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let now = app.clock_now();
    let (s, area) = app
        .post(
            "/api/v1/risk-areas",
            Some(&app.keys.operator),
            json!({"name": "朝阳区", "level": "medium", "district": "朝阳区",
                   "starts_at": (now - Duration::days(1)).to_rfc3339(),
                   "ends_at": (now + Duration::days(1)).to_rfc3339()}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{area}");
    assert_eq!(area["people"], 1);
    let st = status_until(&app, &token, |s| {
        !s["reminders"].as_array().unwrap().is_empty()
    })
    .await;
    assert_eq!(st["colour"], "green", "medium: a reminder, not a colour");
    assert_eq!(st["reminders"][0]["number"], 3, "{st}");
    assert!(reasons(&st).contains("朝阳公园"), "{}", reasons(&st));
    // A negative test sampled after the visit clears reminder 3.
    app.clock.advance(Duration::hours(3));
    let (s, _) = app
        .post(
            "/api/v1/test-results",
            Some(&app.keys.lab),
            app.pcr("L-9", DOC, "negative", 2),
        )
        .await;
    assert!(s.is_success());
    status_until(&app, &token, |s| {
        s["reminders"].as_array().unwrap().is_empty()
    })
    .await;
}

/// Sends `body` to `path` with `key` (or a GET when `body` is `None`): the status and the
/// error code, if any.
async fn answer(app: &TestApp, path: &str, key: &str, body: Option<Value>) -> (StatusCode, String) {
    let (status, v) = match body {
        Some(body) => app.post(path, Some(key), body).await,
        None => app.get(path, Some(key)).await,
    };
    (status, v["error"]["code"].as_str().unwrap_or("").to_owned())
}

/// A PCR result for `DOC` with these times.
fn pcr_at(record: &str, sampled: &str, resulted: &str) -> Value {
    json!({"record_id": record, "document_type": "resident_id", "document_number": DOC,
           "sampled_at": sampled, "resulted_at": resulted, "kind": "pcr", "result": "negative"})
}

fn refused(code: &str) -> (StatusCode, String) {
    (StatusCode::UNPROCESSABLE_ENTITY, code.to_owned())
}

/// A control character in any text of a request is refused with 422 before the store sees it
/// (PostgreSQL refuses U+0000 in text, which once came back as a 500 on that backend only):
/// in a JSON body, in the query and in the path. Text that only looks like an escape is kept.
#[tokio::test]
async fn control_characters_are_refused_wherever_text_arrives() {
    let app = TestApp::spawn().await;
    let op = app.keys.operator.as_str();
    for name in ["西单\u{0}站", "西单\u{7}站", "西单\u{85}站", "西单\u{8}站"] {
        let body = json!({"name": name, "kind": "subway", "district": "西城区"});
        let got = answer(&app, "/api/v1/venues", op, Some(body)).await;
        assert_eq!(got, refused("control_character"), "{name:?}");
    }
    for path in [
        "/api/v1/venues?district=%E8%A5%BF%00",
        "/api/v1/venues?district=a%0Ab",
        "/api/v1/records/LAB1%002026",
    ] {
        assert_eq!(
            answer(&app, path, op, None).await,
            refused("control_character"),
            "{path}"
        );
    }
    let result = pcr_at("LAB1-\u{0}", "2026-05-01T08:00:00Z", "2026-05-01T09:00:00Z");
    let got = answer(&app, "/api/v1/test-results", &app.keys.lab, Some(result)).await;
    assert_eq!(got, refused("control_character"));
    // A backslash followed by `u0000` is text, not a control character.
    let id = venue(&app, "西单\\u0000站", "subway", "西城区").await;
    let (s, v) = app.get(&format!("/api/v1/venues/{id}"), None).await;
    assert_eq!(
        (s, v["name"].as_str()),
        (StatusCode::OK, Some("西单\\u0000站"))
    );
    // Nothing refused was stored.
    let (_, list) = app.get("/api/v1/venues", Some(op)).await;
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
}

/// Text and times are checked at the boundary: a place's name, district or address with an
/// invisible character (a right-to-left override, a zero-width space) or beyond its length,
/// a district query beyond its length, and times in 1800 or 2200 are refused, nothing stored.
#[tokio::test]
async fn invisible_text_long_districts_and_absurd_years_are_refused() {
    let app = TestApp::spawn().await;
    let op = app.keys.operator.as_str();
    for (name, district) in [
        ("西单\u{202E}站", "西城区"),
        ("西单\u{200B}站", "西城区"),
        ("西单站", "西城\u{2066}区"),
        ("西单站", &"区".repeat(51)),
    ] {
        let body = json!({"name": name, "kind": "subway", "district": district});
        let got = answer(&app, "/api/v1/venues", op, Some(body)).await;
        assert_eq!(got, refused("invalid_field"), "{name:?} {district:?}");
    }
    let long = format!("/api/v1/venues?district={}", "a".repeat(51));
    assert_eq!(
        answer(&app, &long, op, None).await,
        refused("invalid_query")
    );
    let area = json!({"name": "西单商圈", "level": "high", "district": "a".repeat(51),
                      "starts_at": app.clock_now().to_rfc3339()});
    let got = answer(&app, "/api/v1/risk-areas", op, Some(area)).await;
    assert_eq!(got, refused("invalid_field"));
    let (_, list) = app.get("/api/v1/venues", Some(op)).await;
    assert_eq!(list.as_array().map(Vec::len), Some(0), "{list}");

    for (sampled, resulted) in [
        ("1800-05-01T08:00:00Z", "1800-05-01T09:00:00Z"),
        ("2019-11-30T23:59:59Z", "2019-12-01T09:00:00Z"),
    ] {
        let result = pcr_at("LAB1-OLD", sampled, resulted);
        let got = answer(&app, "/api/v1/test-results", &app.keys.lab, Some(result)).await;
        assert_eq!(got, refused("time_invalid"), "{sampled}");
    }
    let far = json!({"record_id": "COM-FAR", "document_type": "resident_id",
                     "document_number": DOC, "kind": "home_observation",
                     "started_at": app.clock_now().to_rfc3339(),
                     "ends_at": "2200-01-01T00:00:00Z"});
    let got = answer(&app, "/api/v1/designations", &app.keys.community, Some(far)).await;
    assert_eq!(got, refused("time_invalid"));
    let (s, _) = app
        .get("/api/v1/records/LAB1-OLD", Some(&app.keys.lab))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}
