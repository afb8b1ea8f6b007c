//! The API end to end over HTTP: evidence in, status out, signed codes that verify offline,
//! and every kind of bad input refused with a clear error and nothing lost.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use chrono::Duration;
use common::{DOC, DOC_B, TestApp, closed_within};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn designation(
    record: &str,
    doc: &str,
    kind: &str,
    started_hours_ago: i64,
    app: &TestApp,
) -> Value {
    json!({
        "record_id": record,
        "document_type": "resident_id",
        "document_number": doc,
        "kind": kind,
        "started_at": (app.clock_now() - Duration::hours(started_hours_ago)).to_rfc3339(),
    })
}

#[tokio::test]
async fn lab_result_shows_on_the_very_next_request() {
    let app = TestApp::spawn().await;
    let token = app.enrol(DOC, "张三").await;
    let s = app.status(&token).await;
    assert_eq!(s["no_data"], true);
    assert_eq!(s["colour"], "green");
    assert_eq!(s["masked_name"], "张*");
    assert_eq!(s["masked_document"], "11**************2X");

    let (code, body) = app
        .post(
            "/api/v1/test-results",
            Some(&app.keys.lab),
            app.pcr("T-1", DOC, "negative", 30),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED, "{body}");
    let s = app.status(&token).await;
    assert_eq!(s["no_data"], false);
    assert_eq!(s["test_recency"]["days"], 1);
    assert_eq!(s["test_recency"]["display"], "1天");

    let antigen = json!({
        "record_id": "A-1", "document_type": "resident_id", "document_number": DOC,
        "sampled_at": (app.clock_now() - Duration::hours(1)).to_rfc3339(),
        "resulted_at": app.clock_now().to_rfc3339(), "kind": "antigen", "result": "positive",
    });
    let (code, _) = app
        .post("/api/v1/test-results", Some(&app.keys.lab), antigen)
        .await;
    assert_eq!(code, StatusCode::CREATED);
    let s = app.status(&token).await;
    assert_eq!(s["colour"], "yellow");
    assert_eq!(s["reasons"][0]["code"], "antigen_positive_awaiting_pcr");
    assert_eq!(s["reasons"][0]["evidence"]["meta"]["record_id"], "A-1");
    // One `evidence` key per reason: the cited item replaces the bare id.
    let raw = app
        .client
        .get(app.url("/api/v1/me/status"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("status")
        .text()
        .await
        .expect("text");
    let reasons = s["reasons"].as_array().map(Vec::len).unwrap_or(0);
    assert_eq!(raw.matches("\"evidence\":").count(), reasons, "{raw}");
}

#[tokio::test]
async fn cdc_designates_and_releases() {
    let app = TestApp::spawn().await;
    let token = app.enrol(DOC, "李四").await;
    let original = designation("D-1", DOC, "close_contact", 2, &app);
    let (code, body) = app
        .post(
            "/api/v1/designations",
            Some(&app.keys.cdc),
            original.clone(),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED, "{body}");
    let s = app.status(&token).await;
    assert_eq!(s["colour"], "red");
    assert_eq!(s["label"]["zh"], "集中观察");
    let reason = &s["reasons"][0];
    assert_eq!(reason["code"], "designation");
    assert_eq!(reason["kind"], "close_contact");
    assert_eq!(reason["evidence"]["meta"]["provider"], "cdc one");
    assert!(reason["en"].as_str().expect("text").contains("D-1"));

    let release = json!({"record_id": "D-1", "released_at": app.clock_now().to_rfc3339()});
    let (code, body) = app
        .post(
            "/api/v1/designations/release",
            Some(&app.keys.cdc),
            release.clone(),
        )
        .await;
    assert_eq!(code, StatusCode::OK, "{body}");
    assert_eq!(body["outcome"], "corrected");
    assert_eq!(body["revision"], 2);
    app.clock.advance(Duration::seconds(1));
    assert_eq!(app.status(&token).await["colour"], "green");
    // Releasing again at the same time changes nothing.
    let (code, body) = app
        .post("/api/v1/designations/release", Some(&app.keys.cdc), release)
        .await;
    assert_eq!(
        (code, body["outcome"].as_str()),
        (StatusCode::OK, Some("unchanged"))
    );
    // Resubmitting the original designation does not undo the release.
    let (_, body) = app
        .post("/api/v1/designations", Some(&app.keys.cdc), original)
        .await;
    assert_eq!(body["outcome"], "unchanged", "{body}");
    assert_eq!(app.status(&token).await["colour"], "green");
}

#[tokio::test]
async fn community_home_observation_and_designation_scopes() {
    let app = TestApp::spawn().await;
    let token = app.enrol(DOC, "王五").await;
    let (code, _) = app
        .post(
            "/api/v1/designations",
            Some(&app.keys.community),
            designation("H-1", DOC, "home_observation", 1, &app),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED);
    assert_eq!(app.status(&token).await["colour"], "yellow");

    let (code, body) = app
        .post(
            "/api/v1/designations",
            Some(&app.keys.community),
            designation("X-1", DOC, "confirmed_case", 1, &app),
        )
        .await;
    assert_eq!(code, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "forbidden");
    let (code, _) = app
        .post(
            "/api/v1/designations",
            Some(&app.keys.cdc),
            designation("X-2", DOC, "home_observation", 1, &app),
        )
        .await;
    assert_eq!(code, StatusCode::FORBIDDEN);
    // The CDC cannot release the community office's record: records belong to their provider.
    let (code, _) = app
        .post(
            "/api/v1/designations/release",
            Some(&app.keys.cdc),
            json!({"record_id": "H-1", "released_at": app.clock_now().to_rfc3339()}),
        )
        .await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    assert_eq!(app.status(&token).await["colour"], "yellow");
}

#[tokio::test]
async fn keys_only_work_within_their_scope() {
    let app = TestApp::spawn().await;
    let token = app.enrol(DOC, "赵六").await;
    let body = app.pcr("T-1", DOC, "negative", 3);
    for key in [&app.keys.cdc, &app.keys.community, &app.keys.vaccination] {
        let (code, b) = app
            .post("/api/v1/test-results", Some(key), body.clone())
            .await;
        assert_eq!(code, StatusCode::FORBIDDEN, "{b}");
    }
    // Scope is checked before the body is read.
    let (code, _) = app
        .post("/api/v1/test-results", Some(&app.keys.cdc), json!({}))
        .await;
    assert_eq!(code, StatusCode::FORBIDDEN);
    let (code, _) = app
        .post(
            "/api/v1/designations",
            Some(&app.keys.lab),
            designation("D", DOC, "close_contact", 1, &app),
        )
        .await;
    assert_eq!(code, StatusCode::FORBIDDEN);
    let (code, b) = app
        .post(
            "/api/v1/test-results",
            Some("hcp_not-a-real-key"),
            body.clone(),
        )
        .await;
    assert_eq!(
        (code, b["error"]["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("unauthorized"))
    );
    let (code, _) = app.post("/api/v1/test-results", None, body.clone()).await;
    assert_eq!(code, StatusCode::UNAUTHORIZED);
    // A resident's token is not a provider key, and a provider key is not a session.
    let (code, _) = app.post("/api/v1/test-results", Some(&token), body).await;
    assert_eq!(code, StatusCode::UNAUTHORIZED);
    let (code, _) = app.get("/api/v1/me/status", Some(&app.keys.lab)).await;
    assert_eq!(code, StatusCode::UNAUTHORIZED);
    let (code, _) = app.get("/api/v1/me/status", None).await;
    assert_eq!(code, StatusCode::UNAUTHORIZED);
    // Nothing was stored by any of it.
    assert_eq!(app.status(&token).await["no_data"], true);
}

#[tokio::test]
async fn resubmission_is_idempotent_and_corrections_keep_history() {
    let app = TestApp::spawn().await;
    let body = app.pcr("T-9", DOC, "positive", 5);
    let (c1, b1) = app
        .post("/api/v1/test-results", Some(&app.keys.lab), body.clone())
        .await;
    let (c2, b2) = app
        .post("/api/v1/test-results", Some(&app.keys.lab), body.clone())
        .await;
    assert_eq!((c1, c2), (StatusCode::CREATED, StatusCode::OK));
    assert_eq!(b2["outcome"], "unchanged");
    assert_eq!(b1["id"], b2["id"]);

    let mut corrected = body.clone();
    corrected["result"] = json!("negative");
    let (c3, b3) = app
        .post("/api/v1/test-results", Some(&app.keys.lab), corrected)
        .await;
    assert_eq!(
        (c3, b3["outcome"].as_str(), b3["revision"].as_u64()),
        (StatusCode::OK, Some("corrected"), Some(2))
    );

    let (code, h) = app.get("/api/v1/records/T-9", Some(&app.keys.lab)).await;
    assert_eq!(code, StatusCode::OK);
    let revs = h["revisions"].as_array().expect("revisions");
    assert_eq!(revs.len(), 2);
    assert_eq!(revs[0]["body"]["outcome"], "positive");
    assert_eq!(revs[0]["current"], false);
    assert_eq!(revs[1]["body"]["outcome"], "negative");
    // A late retry of the first version cannot undo the correction.
    let (c4, b4) = app
        .post("/api/v1/test-results", Some(&app.keys.lab), body.clone())
        .await;
    assert_eq!(
        (c4, b4["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("superseded_revision"))
    );
    // Restoring it on purpose names the revision it replaces.
    let mut restore = body.clone();
    restore["supersedes"] = json!(1);
    let (c5, b5) = app
        .post("/api/v1/test-results", Some(&app.keys.lab), restore.clone())
        .await;
    assert_eq!(
        (c5, b5["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("revision_mismatch"))
    );
    restore["supersedes"] = json!(2);
    let (c6, b6) = app
        .post("/api/v1/test-results", Some(&app.keys.lab), restore)
        .await;
    assert_eq!(
        (c6, b6["revision"].as_u64()),
        (StatusCode::OK, Some(3)),
        "{b6}"
    );
    let (_, h) = app.get("/api/v1/records/T-9", Some(&app.keys.lab)).await;
    assert_eq!(h["revisions"][2]["body"]["outcome"], "positive");
    // Another provider cannot read it.
    let (code, _) = app.get("/api/v1/records/T-9", Some(&app.keys.cdc)).await;
    assert_eq!(code, StatusCode::NOT_FOUND);

    // The person registers after the results arrived and sees the current one at once.
    let token = app.enrol(DOC, "孙七").await;
    let s = app.status(&token).await;
    assert_eq!(s["colour"], "yellow");
    assert_eq!(s["reasons"][0]["code"], "pcr_positive");
}

#[tokio::test]
async fn bad_input_gets_a_clear_error_and_loses_nothing() {
    let app = TestApp::builder()
        .config(|c| c.max_body_bytes = 4096)
        .spawn()
        .await;
    let token = app.enrol(DOC, "周八").await;
    let good = app.pcr("T-1", DOC, "negative", 3);
    let (code, _) = app
        .post("/api/v1/test-results", Some(&app.keys.lab), good.clone())
        .await;
    assert_eq!(code, StatusCode::CREATED);

    let lab = &app.keys.lab;
    let cases: Vec<(Value, StatusCode, &str)> = vec![
        (
            {
                let mut b = good.clone();
                b["document_number"] = json!("110105194912310021");
                b
            },
            StatusCode::UNPROCESSABLE_ENTITY,
            "document_number_check_digit",
        ),
        (
            {
                let mut b = good.clone();
                b["document_type"] = json!("library_card");
                b
            },
            StatusCode::UNPROCESSABLE_ENTITY,
            "document_type_unknown",
        ),
        (
            {
                let mut b = good.clone();
                b["extra"] = json!(1);
                b
            },
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
        (
            {
                let mut b = good.clone();
                b["result"] = json!("maybe");
                b
            },
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
        (
            {
                let mut b = good.clone();
                b["record_id"] = json!("has space");
                b
            },
            StatusCode::UNPROCESSABLE_ENTITY,
            "record_id_invalid",
        ),
        (
            {
                let mut b = good.clone();
                b["resulted_at"] = json!((app.clock_now() - Duration::hours(10)).to_rfc3339());
                b
            },
            StatusCode::UNPROCESSABLE_ENTITY,
            "result_before_sample",
        ),
        (
            {
                let mut b = good.clone();
                b["resulted_at"] = json!((app.clock_now() + Duration::hours(10)).to_rfc3339());
                b
            },
            StatusCode::UNPROCESSABLE_ENTITY,
            "time_in_future",
        ),
        (
            {
                let mut b = good.clone();
                b["sampled_at"] = json!("yesterday");
                b
            },
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
    ];
    for (body, status, code) in cases {
        let (s, b) = app
            .post("/api/v1/test-results", Some(lab), body.clone())
            .await;
        assert_eq!(
            (s, b["error"]["code"].as_str()),
            (status, Some(code)),
            "{body} → {b}"
        );
        assert!(!b["error"]["message"].as_str().unwrap_or("").is_empty());
    }
    let (s, b) = app
        .post_raw(
            "/api/v1/test-results",
            lab,
            "application/json",
            b"{\"record_id\": ".to_vec(),
        )
        .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("malformed_json"))
    );
    let (s, b) = app
        .post_raw("/api/v1/test-results", lab, "text/plain", b"{}".to_vec())
        .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (StatusCode::UNSUPPORTED_MEDIA_TYPE, Some("content_type"))
    );
    let mut huge = good.clone();
    huge["record_id"] = json!("x".repeat(10_000));
    let (s, b) = app
        .post_raw(
            "/api/v1/test-results",
            lab,
            "application/json",
            serde_json::to_vec(&huge).expect("json"),
        )
        .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, Some("body_too_large"))
    );
    let (s, b) = app
        .post_raw(
            "/api/v1/test-results",
            lab,
            "application/json",
            vec![0xff, 0xfe, 0x00],
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");

    // The accepted result is still there, unchanged.
    let (code, h) = app.get("/api/v1/records/T-1", Some(lab)).await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(h["revisions"].as_array().map(Vec::len), Some(1));
    assert_eq!(app.status(&token).await["test_recency"]["days"], 0);

    let (s, b) = app.get("/api/v1/nowhere", None).await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
}

#[tokio::test]
async fn vaccinations_need_a_known_product_and_dose() {
    let app = TestApp::spawn().await;
    let token = app.enrol(DOC, "吴九").await;
    let dose = |n: u8, product: &str, record: &str| {
        json!({
            "record_id": record, "document_type": "resident_id", "document_number": DOC,
            "dose_number": n, "product": product, "administered_at": "2026-01-10T10:00:00+08:00",
        })
    };
    for (n, record) in [(1, "V-1"), (2, "V-2"), (3, "V-3")] {
        let (c, b) = app
            .post(
                "/api/v1/vaccinations",
                Some(&app.keys.vaccination),
                dose(n, "sinovac-coronavac", record),
            )
            .await;
        assert_eq!(c, StatusCode::CREATED, "{b}");
    }
    assert_eq!(
        app.status(&token).await["vaccination"]["state"],
        "booster_complete"
    );
    let (c, b) = app
        .post(
            "/api/v1/vaccinations",
            Some(&app.keys.vaccination),
            dose(1, "snake-oil", "V-9"),
        )
        .await;
    assert_eq!(
        (c, b["error"]["code"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("vaccine_product_unknown")
        )
    );
    let (c, b) = app
        .post(
            "/api/v1/vaccinations",
            Some(&app.keys.vaccination),
            dose(0, "sinovac-coronavac", "V-8"),
        )
        .await;
    assert_eq!(
        (c, b["error"]["code"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("dose_number_invalid")
        )
    );
}

#[tokio::test]
async fn the_code_verifies_offline_and_expires() {
    let app = TestApp::spawn().await;
    let token = app.enrol(DOC, "欧阳娜娜").await;
    app.post(
        "/api/v1/test-results",
        Some(&app.keys.lab),
        app.pcr("T-1", DOC, "negative", 30),
    )
    .await;
    app.post(
        "/api/v1/designations",
        Some(&app.keys.community),
        designation("A-1", DOC, "arrival", 3, &app),
    )
    .await;
    let (code, body) = app.get("/api/v1/me/code", Some(&token)).await;
    assert_eq!(code, StatusCode::OK, "{body}");
    let text = body["code"].as_str().expect("code");
    assert!(text.starts_with("HCN1:"));
    assert_eq!(body["status"]["colour"], "green");

    let verifier = app.verifier();
    let claims = verifier.verify(text, app.clock_now()).expect("valid");
    assert_eq!(claims.masked_name, "欧阳*");
    assert_eq!(claims.masked_document, "11**************2X");
    assert_eq!(claims.test_recency_days, Some(1));
    assert_eq!(
        claims.reminders,
        vec![healthcode_domain::ReminderKind::ArrivalUntested]
    );
    assert_eq!(claims.expires_at - claims.issued_at, Duration::minutes(3));
    // The code carries no document number or full name.
    let decoded = format!("{claims:?}");
    assert!(!decoded.contains(DOC) && !decoded.contains("娜娜"));

    let later = app.clock_now() + Duration::minutes(3);
    assert!(matches!(verifier.verify(text, later), Err(e) if e.code() == "expired"));

    // A minute before midnight the code expires at midnight, with the status.
    app.clock
        .set(common::noon() + Duration::hours(11) + Duration::minutes(59));
    let (_, body) = app.get("/api/v1/me/code", Some(&token)).await;
    let claims = verifier
        .verify(body["code"].as_str().expect("code"), app.clock_now())
        .expect("valid");
    assert_eq!(claims.expires_at, common::noon() + Duration::hours(12));
    assert_eq!(
        claims.status_valid_until,
        common::noon() + Duration::hours(12)
    );

    // After 24:00 the session has ended: daily re-verification.
    app.clock.advance(Duration::minutes(2));
    let (code, _) = app.get("/api/v1/me/code", Some(&token)).await;
    assert_eq!(code, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn qr_svg_and_public_documents() {
    let app = TestApp::spawn().await;
    let token = app.enrol(DOC, "郑十").await;
    let resp = app
        .client
        .get(app.url("/api/v1/me/code.svg"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("svg");
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "image/svg+xml");
    assert!(resp.text().await.expect("text").contains("<svg"));
    let (_, body) = app.get("/api/v1/me/code?include=svg", Some(&token)).await;
    assert!(body["qr_svg"].as_str().expect("svg").contains("<svg"));

    let list = app
        .client
        .get(app.url("/api/v1/trust-list"))
        .send()
        .await
        .expect("tl")
        .text()
        .await
        .expect("text");
    let parsed =
        healthcode_credential::TrustList::from_json(&list, None).expect("valid trust list");
    assert_eq!(parsed.region, "CN-BJ");
    let policy = app
        .client
        .get(app.url("/api/v1/policy"))
        .send()
        .await
        .expect("p")
        .text()
        .await
        .expect("text");
    assert!(policy.contains("[designations.confirmed_case]"));
    assert_eq!(
        app.client
            .get(app.url("/healthz"))
            .send()
            .await
            .expect("h")
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        app.client
            .get(app.url("/readyz"))
            .send()
            .await
            .expect("r")
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn enrolment_rules() {
    let app = TestApp::spawn().await;
    let (c, b) = app.post("/api/v1/enrol", None, json!({"document_type": "resident_id", "document_number": DOC_B, "name": "钱一", "phone": "13800138000"})).await;
    assert_eq!(
        (c, b["registered"].as_bool()),
        (StatusCode::CREATED, Some(true))
    );
    let (c, b) = app
        .post(
            "/api/v1/enrol",
            None,
            json!({"document_type": "resident_id", "document_number": DOC_B, "name": "钱一"}),
        )
        .await;
    assert_eq!(
        (c, b["registered"].as_bool()),
        (StatusCode::OK, Some(false))
    );
    let (c, b) = app
        .post(
            "/api/v1/enrol",
            None,
            json!({"document_type": "resident_id", "document_number": DOC_B, "name": "钱二"}),
        )
        .await;
    assert_eq!(
        (c, b["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("document_registered"))
    );
    let (c, b) = app.post("/api/v1/enrol", None, json!({"document_type": "resident_id", "document_number": DOC, "name": "钱三", "phone": "12"})).await;
    assert_eq!(
        (c, b["error"]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("phone_invalid"))
    );
    let (c, b) = app.post("/api/v1/enrol", None, json!({"document_type": "passport", "document_number": "E12345678", "name": "SMITH, JOHN"})).await;
    assert_eq!(c, StatusCode::CREATED, "{b}");
    assert_eq!(b["masked_name"], "SMITH *");
    assert_eq!(b["masked_document"], "E1*****78");

    let off = TestApp::builder().without_identity().spawn().await;
    let (c, b) = off
        .post(
            "/api/v1/enrol",
            None,
            json!({"document_type": "resident_id", "document_number": DOC, "name": "钱三"}),
        )
        .await;
    assert_eq!(
        (c, b["error"]["code"].as_str()),
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Some("identity_unavailable")
        )
    );
}

#[tokio::test]
async fn floods_are_refused_with_429_and_overload_with_503() {
    let app = TestApp::builder()
        .config(|c| {
            c.rate_limit = healthcode_server::limits::RateLimit {
                per_second: 1.0,
                burst: 3.0,
            }
        })
        .spawn()
        .await;
    let healthz = || async {
        let resp = app
            .client
            .get(app.url("/healthz"))
            .send()
            .await
            .expect("req");
        let retry_after = resp
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().expect("ascii").to_owned());
        (resp.status(), retry_after)
    };
    let mut seen = Vec::new();
    for _ in 0..6 {
        seen.push(healthz().await);
    }
    let admitted = (StatusCode::OK, None);
    let refused = (StatusCode::TOO_MANY_REQUESTS, Some("1".to_owned()));
    assert!(seen[..3].iter().all(|r| *r == admitted), "{seen:?}");
    assert!(seen[3..].iter().all(|r| *r == refused), "{seen:?}");
    // The limit follows the server's clock: a second on, one more request and no more.
    app.clock.advance(Duration::seconds(1));
    assert_eq!(healthz().await, admitted);
    assert_eq!(healthz().await, refused);

    // With no capacity at all every request is shed at once rather than queued; health
    // checks are outside the limit by design.
    let shed = TestApp::builder()
        .config(|c| c.max_in_flight = 0)
        .spawn()
        .await;
    let (c, b) = shed.get("/api/v1/trust-list", None).await;
    assert_eq!(
        (c, b["error"]["code"].as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, Some("overloaded"))
    );
    assert_eq!(shed.get("/healthz", None).await.0, StatusCode::OK);
}

/// Under overload a quarter of `max_in_flight` is kept for code display and gate decisions:
/// with the rest of the slots held by slow requests, an enrolment is shed with 503 and
/// `Retry-After`, while a resident's code, the trust list and a verification are answered.
#[tokio::test]
async fn code_display_and_gate_decisions_keep_a_share_of_the_capacity() {
    let app = TestApp::builder()
        .config(|c| {
            c.max_in_flight = 8;
            c.max_imports = 8;
            c.rate_limit.per_second = 10_000.0;
            c.rate_limit.burst = 10_000.0;
        })
        .spawn()
        .await;
    let token = app.enrol(DOC, "陈一").await;
    // Six results whose bodies arrive slowly hold six slots.
    let mut held = Vec::new();
    for _ in 0..6 {
        let (tx, body) = held_body();
        let sent = tokio::spawn(
            app.client
                .post(app.url("/api/v1/test-results"))
                .bearer_auth(&app.keys.lab)
                .header("content-type", "application/json")
                .body(body)
                .send(),
        );
        tx.send(b"{".to_vec()).await.unwrap();
        held.push((tx, sent));
    }
    // Let the held requests reach the server before the enrolments start.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(held.iter().all(|(_, sent)| !sent.is_finished()));
    let enrol = json!({"document_type": "resident_id", "document_number": DOC_B, "name": "王二"});
    let mut shed = None;
    for _ in 0..200 {
        let response = app
            .client
            .post(app.url("/api/v1/enrol"))
            .json(&enrol)
            .send()
            .await
            .unwrap();
        if response.status() == StatusCode::SERVICE_UNAVAILABLE {
            shed = Some(response);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let shed = shed.expect("six held requests leave only the reserved share: an enrolment is shed");
    assert_eq!(shed.headers()["retry-after"], "1");
    let body: Value = shed.json().await.unwrap();
    assert_eq!(body["error"]["code"], "overloaded");
    // What a door needs is still answered.
    let (status, code) = app.get("/api/v1/me/code", Some(&token)).await;
    assert_eq!(status, StatusCode::OK, "{code}");
    assert_eq!(app.get("/api/v1/trust-list", None).await.0, StatusCode::OK);
    let (status, verified) = app
        .post("/api/v1/verify", None, json!({"code": code["code"]}))
        .await;
    assert_eq!(status, StatusCode::OK, "{verified}");
    for (tx, sent) in held {
        drop(tx);
        sent.await.unwrap().unwrap();
    }
    let (status, body) = app.post("/api/v1/enrol", None, enrol).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

/// A request body that arrives only as the test sends it: an upload held open.
fn held_body() -> (tokio::sync::mpsc::Sender<Vec<u8>>, reqwest::Body) {
    let (tx, rx) = tokio::sync::mpsc::channel::<Vec<u8>>(4);
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|chunk| (Ok::<_, std::io::Error>(chunk), rx))
    });
    (tx, reqwest::Body::wrap_stream(stream))
}

/// `--max-in-flight` and the import limit count requests across the whole server, not per
/// route: two imports held open fill an in-flight limit of two for every other endpoint (but
/// not the health checks), and one held import fills an import limit of one for the other
/// kind of import.
#[tokio::test]
async fn in_flight_and_import_limits_are_the_whole_servers() {
    let app = TestApp::builder()
        .config(|c| {
            c.max_in_flight = 2;
            c.max_imports = 2;
            c.rate_limit.per_second = 10_000.0;
            c.rate_limit.burst = 10_000.0;
        })
        .spawn()
        .await;
    let open = |path: &str, key: &str| {
        let (tx, body) = held_body();
        let sent = app
            .client
            .post(app.url(path))
            .bearer_auth(key)
            .header("content-type", "text/csv")
            .body(body)
            .send();
        (tx, tokio::spawn(sent))
    };
    let (tests_tx, tests) = open("/api/v1/imports/test-results", &app.keys.lab);
    let (vacc_tx, vacc) = open("/api/v1/imports/vaccinations", &app.keys.vaccination);
    tests_tx.send(b"record_id,".to_vec()).await.unwrap();
    vacc_tx.send(b"record_id,".to_vec()).await.unwrap();
    // Until both imports are in flight, the server still answers other requests.
    let mut shed = None;
    for _ in 0..200 {
        let (status, body) = app.get("/api/v1/trust-list", None).await;
        if status == StatusCode::SERVICE_UNAVAILABLE {
            shed = Some(body);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let shed = shed.expect("two imports in flight fill a limit of two for every route");
    assert_eq!(shed["error"]["code"], "overloaded");
    let (status, _) = app
        .post("/api/v1/verify", None, json!({"code": "HCN1:X"}))
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(app.get("/healthz", None).await.0, StatusCode::OK);
    assert_eq!(app.get("/readyz", None).await.0, StatusCode::OK);
    drop((tests_tx, vacc_tx));
    for upload in [tests, vacc] {
        let status = upload.await.unwrap().unwrap().status();
        assert_ne!(status, StatusCode::SERVICE_UNAVAILABLE);
    }
    assert_eq!(app.get("/api/v1/trust-list", None).await.0, StatusCode::OK);

    // One import at a time: a vaccination import is shed while a test-result import is held.
    let app = TestApp::builder()
        .config(|c| c.max_imports = 1)
        .spawn()
        .await;
    let (tx, body) = held_body();
    let held = tokio::spawn(
        app.client
            .post(app.url("/api/v1/imports/test-results"))
            .bearer_auth(&app.keys.lab)
            .header("content-type", "text/csv")
            .body(body)
            .send(),
    );
    tx.send(b"record_id,".to_vec()).await.unwrap();
    let mut refused = None;
    for _ in 0..200 {
        let (status, body) = app
            .post_raw(
                "/api/v1/imports/vaccinations",
                &app.keys.vaccination,
                "text/csv",
                Vec::new(),
            )
            .await;
        if status == StatusCode::SERVICE_UNAVAILABLE {
            refused = Some(body);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let refused = refused.expect("a held import fills an import limit of one for both kinds");
    assert_eq!(refused["error"]["code"], "overloaded");
    drop(tx);
    assert_ne!(
        held.await.unwrap().unwrap().status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
}

#[tokio::test]
async fn writes_by_other_nodes_show_within_a_second() {
    use healthcode_domain::{DocumentNumber, DocumentType, TestKind, TestOutcome};
    use healthcode_store::{EvidenceBody, Store, Submission};
    let app = TestApp::spawn().await;
    let token = app.enrol(DOC, "冯二").await;
    // Warm the cache.
    assert_eq!(app.status(&token).await["no_data"], true);
    assert_eq!(app.status(&token).await["no_data"], true);
    // Another writer (a second node, a direct import) stores a result behind this node's back.
    let lab = app
        .store
        .add_provider(
            healthcode_store::ProviderKind::Lab,
            "other node lab",
            &[9; 32],
            app.clock_now(),
        )
        .await
        .expect("provider");
    let doc = DocumentNumber::parse(DocumentType::ResidentId, DOC).expect("doc");
    let now = app.clock_now();
    app.store
        .submit(
            &Submission {
                provider_id: lab.id,
                record_id: "X-1".into(),
                subject: app.store.blind_index(&doc),
                body: EvidenceBody::Test {
                    kind: TestKind::Pcr,
                    outcome: TestOutcome::Negative,
                    sampled_at: now - Duration::hours(3),
                    resulted_at: now - Duration::hours(1),
                },
            },
            now,
        )
        .await
        .expect("submit");
    let started = std::time::Instant::now();
    loop {
        if app.status(&token).await["no_data"] == false {
            break;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(1),
            "not seen within a second"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_code_is_reused_briefly_and_only_while_the_status_is_the_same() {
    let app = TestApp::spawn().await;
    let token = app.enrol(DOC, "褚三").await;
    let code = |b: Value| b["code"].as_str().expect("code").to_owned();
    let (_, first) = app.get("/api/v1/me/code", Some(&token)).await;
    app.clock.advance(Duration::seconds(5));
    let (_, again) = app.get("/api/v1/me/code", Some(&token)).await;
    assert_eq!(
        code(again.clone()),
        code(first.clone()),
        "same status within 10 s: same code"
    );
    assert_eq!(again["issued_at"], first["issued_at"]);

    // New evidence: a new code at once.
    app.post(
        "/api/v1/test-results",
        Some(&app.keys.lab),
        app.pcr("T-1", DOC, "negative", 3),
    )
    .await;
    let (_, changed) = app.get("/api/v1/me/code", Some(&token)).await;
    assert_ne!(code(changed.clone()), code(first));
    let claims = app
        .verifier()
        .verify(&code(changed.clone()), app.clock_now())
        .expect("valid");
    assert_eq!(claims.test_recency_days, Some(0));

    // After the window: a new code with a new issue time.
    app.clock.advance(Duration::seconds(10));
    let (_, later) = app.get("/api/v1/me/code", Some(&token)).await;
    assert_ne!(code(later.clone()), code(changed));

    // With reuse off, every request signs.
    let strict = TestApp::builder()
        .config(|c| c.code_reuse = Duration::zero())
        .spawn()
        .await;
    let token = strict.enrol(DOC, "褚三").await;
    let (_, a) = strict.get("/api/v1/me/code", Some(&token)).await;
    strict.clock.advance(Duration::seconds(1));
    let (_, b) = strict.get("/api/v1/me/code", Some(&token)).await;
    assert_ne!(code(a), code(b));
}

/// Every response, whatever produced it (a handler, a refusal, the fallback), says not to
/// sniff, cache or send a referrer, and carries a Content-Security-Policy; a route's own
/// Cache-Control is kept.
#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let app = TestApp::spawn().await;
    let token = app.enrol(DOC, "张三").await;
    let requests = [
        app.client.get(app.url("/healthz")),
        app.client.get(app.url("/api/v1/trust-list")),
        app.client.get(app.url("/api/v1/no-such-route")),
        app.client.get(app.url("/api/v1/me/status")),
        app.client
            .get(app.url("/api/v1/me/status"))
            .bearer_auth(&token),
        app.client
            .get(app.url("/api/v1/me/code.svg"))
            .bearer_auth(&token),
        app.client.get(app.url("/api/v1/venues?district=%00")),
        app.client.post(app.url("/api/v1/verify")).body("not json"),
    ];
    for request in requests {
        let response = request.send().await.unwrap();
        let h = response.headers();
        let what = format!("{} {}", response.url().path(), response.status());
        assert_eq!(h["x-content-type-options"], "nosniff", "{what}");
        assert_eq!(h["cache-control"], "no-store", "{what}");
        assert_eq!(h["referrer-policy"], "no-referrer", "{what}");
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(csp.starts_with("default-src 'none'"), "{what}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{what}: {csp}");
    }
}

/// Signing out ends the session the request carries and no other; signing out everywhere
/// ends them all (a lost phone); signing in again gives a session that works.
#[tokio::test]
async fn sign_out_here_and_everywhere() {
    let app = TestApp::spawn().await;
    let phone = app.enrol(DOC, "张三").await;
    let tablet = app.enrol(DOC, "张三").await;
    let other = app.enrol(DOC_B, "李四").await;
    // Cached on this node first, so that signing out must drop the cached session too.
    for token in [&phone, &tablet, &other] {
        assert_eq!(
            app.get("/api/v1/me/status", Some(token)).await.0,
            StatusCode::OK
        );
    }
    let (s, v) = app.post("/api/v1/me/logout", Some(&phone), json!({})).await;
    assert_eq!((s, v["ended"].as_u64()), (StatusCode::OK, Some(1)), "{v}");
    assert_eq!(
        app.get("/api/v1/me/status", Some(&phone)).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.get("/api/v1/me/status", Some(&tablet)).await.0,
        StatusCode::OK
    );
    let again = app.enrol(DOC, "张三").await;
    let (s, v) = app
        .post("/api/v1/me/logout-everywhere", Some(&again), json!({}))
        .await;
    assert_eq!((s, v["ended"].as_u64()), (StatusCode::OK, Some(2)), "{v}");
    for token in [&tablet, &again] {
        assert_eq!(
            app.get("/api/v1/me/status", Some(token)).await.0,
            StatusCode::UNAUTHORIZED
        );
    }
    // Another person's session is untouched; a new sign-in works.
    assert_eq!(
        app.get("/api/v1/me/status", Some(&other)).await.0,
        StatusCode::OK
    );
    let new = app.enrol(DOC, "张三").await;
    assert_eq!(
        app.get("/api/v1/me/status", Some(&new)).await.0,
        StatusCode::OK
    );
}

/// Held-open connections cannot starve the server: a half-sent request is closed after the
/// header-read timeout; at the cap the oldest connection without a request is closed to admit
/// a new one, or, with none, the new one is closed at once; a normal client is answered
/// throughout.
#[tokio::test]
async fn slow_and_surplus_connections_are_closed() {
    use tokio::io::AsyncWriteExt;
    let app = TestApp::builder()
        .config(|c| {
            c.header_read_timeout = std::time::Duration::from_millis(500);
            c.max_connections = 30;
            c.rate_limit.per_second = 10_000.0;
            c.rate_limit.burst = 10_000.0;
        })
        .spawn()
        .await;
    let addr = app.base.trim_start_matches("http://").to_owned();
    let mut slow = Vec::new();
    for _ in 0..20 {
        let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            .await
            .unwrap();
        slow.push(s);
    }
    // A connection left idle after a whole request and its answer is closed too.
    let mut idle = tokio::net::TcpStream::connect(&addr).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    // A normal client is answered while they hold their connections.
    assert_eq!(app.get("/healthz", None).await.0, StatusCode::OK);
    assert!(
        closed_within(&mut idle, std::time::Duration::from_secs(5)).await,
        "an idle keep-alive connection was kept open past the header-read timeout"
    );
    for s in &mut slow {
        assert!(
            closed_within(s, std::time::Duration::from_secs(5)).await,
            "a half-sent request was kept open past the header-read timeout"
        );
    }

    // The cap, against connections holding half a request: a new connection is admitted by
    // closing the one that has waited longest, so a client is answered while they hold on.
    let app = TestApp::builder()
        .config(|c| {
            c.header_read_timeout = std::time::Duration::from_secs(30);
            c.max_connections = 30;
        })
        .spawn()
        .await;
    let addr = app.base.trim_start_matches("http://").to_owned();
    let mut held = Vec::new();
    for _ in 0..30 {
        let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        held.push(s);
        // In accept order.
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    // (Each answered connection closes after its answer: the next may find its slot free, or
    // close the next oldest if it comes before the slot is given back.)
    for _ in 0..3 {
        let answered = client.get(app.url("/healthz")).send().await.unwrap();
        assert_eq!(answered.status(), StatusCode::OK);
    }
    assert!(
        closed_within(&mut held[0], std::time::Duration::from_secs(2)).await,
        "the oldest half-sent connection was not closed to make way"
    );
    assert!(
        !closed_within(&mut held[29], std::time::Duration::from_millis(200)).await,
        "the newest half-sent connection was closed before the older ones"
    );
    drop(held);

    // Against connections whose requests are in progress (a body still arriving) nothing is
    // closed to make way: one more connection is closed at once; once they are gone, a client
    // is served again.
    let app = TestApp::builder()
        .config(|c| {
            c.header_read_timeout = std::time::Duration::from_secs(30);
            c.max_connections = 30;
        })
        .spawn()
        .await;
    let addr = app.base.trim_start_matches("http://").to_owned();
    let mut held = Vec::new();
    for _ in 0..30 {
        let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
        s.write_all(
            b"POST /api/v1/verify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
              Content-Length: 100\r\n\r\n{",
        )
        .await
        .unwrap();
        held.push(s);
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let mut surplus = tokio::net::TcpStream::connect(&addr).await.unwrap();
    assert!(
        closed_within(&mut surplus, std::time::Duration::from_secs(2)).await,
        "a connection beyond the cap was kept"
    );
    assert!(
        !closed_within(&mut held[0], std::time::Duration::from_millis(200)).await,
        "a connection with a request in progress was closed"
    );
    drop(held);
    let mut answered = false;
    for _ in 0..100 {
        if app.get("/healthz", None).await.0 == StatusCode::OK {
            answered = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(
        answered,
        "the server serves again once held connections close"
    );
}

/// One client cannot hold every connection: beyond its share its next connection is closed at
/// once, while a client on another address is served.
#[tokio::test]
async fn one_client_cannot_hold_every_connection() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::builder()
        .config(|c| {
            c.header_read_timeout = std::time::Duration::from_secs(30);
            c.max_connections = 100;
            c.max_connections_per_client = 5;
        })
        .spawn()
        .await;
    let addr: std::net::SocketAddr = app.base.trim_start_matches("http://").parse().unwrap();
    let connect_from = |local: [u8; 4]| async move {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket
            .bind((std::net::Ipv4Addr::from(local), 0).into())
            .unwrap();
        socket.connect(addr).await.unwrap()
    };
    let mut held = Vec::new();
    for _ in 0..5 {
        let mut s = connect_from([127, 0, 0, 1]).await;
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        held.push(s);
    }
    let mut sixth = connect_from([127, 0, 0, 1]).await;
    assert!(
        closed_within(&mut sixth, std::time::Duration::from_secs(2)).await,
        "a client's connection beyond its share was kept"
    );
    let mut other = connect_from([127, 0, 0, 2]).await;
    other
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(5),
        other.read_to_end(&mut answer),
    )
    .await
    .unwrap()
    .unwrap();
    assert!(
        answer.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    // Once the first client lets go, it is served again.
    drop(held);
    let mut answered = false;
    for _ in 0..100 {
        let mut again = connect_from([127, 0, 0, 1]).await;
        let sent = again
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await;
        let mut answer = Vec::new();
        if sent.is_ok()
            && let Ok(Ok(_)) = tokio::time::timeout(
                std::time::Duration::from_secs(2),
                again.read_to_end(&mut answer),
            )
            .await
            && answer.starts_with(b"HTTP/1.1 200")
        {
            answered = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(answered);
}
