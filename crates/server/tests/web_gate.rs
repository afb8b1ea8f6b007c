//! The gate's pages and the venue manager's pages in process: assigning a manager, a device
//! enrolled by a one-time link and bound to a browser by its cookie, the page's upload, the
//! manager's counts, revocation, and who may do what. The same pages in a real browser are
//! tested in crates/e2e (tests/gate.rs).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use chrono::SecondsFormat;
use common::visitor::Visitor;
use common::{DOC, DOC_B, TestApp};
use healthcode_store::Venues;
use reqwest::StatusCode;
use reqwest::header::LOCATION;
use serde_json::{Value, json};

const DOC_MANAGER: &str = "110101198001010053";

/// The subject (32 hex digits) of the code of the resident with session `token`.
async fn subject_of(app: &TestApp, token: &str) -> String {
    let (s, code) = app.get("/api/v1/me/code", Some(token)).await;
    assert_eq!(s, StatusCode::OK, "{code}");
    let text = code["code"].as_str().unwrap();
    let claims = app.verifier().verify(text, app.clock_now()).unwrap();
    hex::encode(claims.subject)
}

/// A venue (id 1) and a manager of it, signed in on the pages.
async fn venue_with_manager() -> (Arc<TestApp>, Visitor) {
    let app = Arc::new(TestApp::spawn().await);
    let (s, v) = app
        .post(
            "/api/v1/venues",
            Some(&app.keys.operator),
            json!({"name": "朝阳大悦城", "kind": "mall", "district": "朝阳区"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let mut manager = Visitor::with(app.clone());
    let p = manager.register(DOC_MANAGER, "王经理").await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    let (s, m) = app
        .post(
            "/api/v1/venues/1/managers",
            Some(&app.keys.operator),
            json!({"document_type": "resident_id", "document_number": DOC_MANAGER}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{m}");
    assert_eq!(m["masked_name"], "王*");
    (app, manager)
}

/// The enrolment token in a venue page that has just made a link.
fn token_in(body: &str) -> String {
    let at = body.find("/gate/enrol#").expect("an enrolment link") + "/gate/enrol#".len();
    body[at..at + 43].to_owned()
}

#[tokio::test]
async fn a_manager_binds_a_browser_as_a_gate_which_uploads_until_revoked() {
    let (app, mut manager) = venue_with_manager().await;

    // The manager sees their venue, its rules, and no device yet.
    let list = manager.get("/venues").await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(list.body.contains("朝阳大悦城"), "{}", list.body);
    let page = manager.get("/venues/1").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("仅限绿码"), "{}", page.body);
    assert!(page.body.contains("需72小时内核酸阴性证明") || page.body.contains("小时内核酸"));

    // A device name is checked; then the device is made and its link shown once.
    let bad = manager
        .form("/venues/1/devices", &[("name", "bad\u{202e}name")])
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let made = manager
        .form("/venues/1/devices", &[("name", "东门1号")])
        .await;
    assert_eq!(made.status, StatusCode::OK, "{}", made.body);
    assert!(made.body.contains("等待登记"), "{}", made.body);
    assert!(
        made.body.contains("<svg"),
        "the link's QR code is on the page"
    );
    let token = token_in(&made.body);
    let again = manager.get("/venues/1").await;
    assert!(!again.body.contains(&token), "the link is shown once");

    // The gate's browser: not a gate until it opens the link.
    let mut gate = Visitor::with(app.clone());
    let before = gate.get("/gate").await;
    assert_eq!(before.status, StatusCode::OK);
    assert!(before.body.contains("gate-unbound"), "{}", before.body);
    assert_eq!(
        gate.get("/gate/config").await.status,
        StatusCode::UNAUTHORIZED
    );
    let enrol_page = gate.get("/gate/enrol").await;
    assert_eq!(enrol_page.status, StatusCode::OK);
    let (s, done) = gate.json("/gate/enrol", json!({ "token": token })).await;
    assert_eq!(s, StatusCode::OK, "{done}");
    assert_eq!(done["device"]["venue_id"], 1);
    let cookie = gate
        .set_cookies
        .iter()
        .find(|c| c.starts_with("hc_gate="))
        .unwrap();
    assert!(cookie.starts_with("hc_gate=hcd_"), "{cookie}");
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/gate"] {
        assert!(cookie.contains(flag), "{cookie}");
    }

    // The link works once.
    let mut thief = Visitor::with(app.clone());
    thief.get("/gate/enrol").await;
    let (s, refused) = thief.json("/gate/enrol", json!({ "token": token })).await;
    assert_eq!(s, StatusCode::GONE, "{refused}");
    assert_eq!(refused["error"]["code"], "enrolment_link_invalid");
    let (s, _) = thief.json("/gate/enrol", json!({ "token": "short" })).await;
    assert_eq!(s, StatusCode::GONE);

    // Bound: the scanner page and its configuration.
    let scanner = gate.get("/gate").await;
    assert!(
        scanner.body.contains("data-page=\"gate\""),
        "{}",
        scanner.body
    );
    assert!(scanner.body.contains("东门1号"));
    let csp = scanner.headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("worker-src 'self'") && csp.contains("manifest-src 'self'"),
        "{csp}"
    );
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    let config = gate.get("/gate/config").await;
    assert_eq!(config.status, StatusCode::OK, "{}", config.body);
    let config: Value = serde_json::from_str(&config.body).unwrap();
    assert_eq!(config["venue"]["id"], 1);
    assert_eq!(config["entry_policy"]["kind"], "mall");
    assert_eq!(config["trust_list_grace_hours"], 72);
    assert_eq!(config["trust_list"]["format"], "healthcode-trust-list");

    // The page uploads what it queued; the same rows again are duplicates, not new visits.
    let resident = app.enrol(DOC, "赵六").await;
    let subject = subject_of(&app, &resident).await;
    let at = app.clock_now().to_rfc3339_opts(SecondsFormat::Secs, true);
    let rows = json!({ "checkins": [
        { "seq": 1_764_944_000_000_000_i64, "subject": subject, "at": at, "passed": true, "method": "gate" },
        { "seq": 1_764_944_000_000_001_i64, "subject": subject, "at": at, "passed": false, "method": "gate" },
    ]});
    let (s, up) = gate.json("/gate/checkins", rows.clone()).await;
    assert_eq!(s, StatusCode::OK, "{up}");
    assert_eq!(up["stored"], 2);
    let (s, up) = gate.json("/gate/checkins", rows.clone()).await;
    assert_eq!(s, StatusCode::OK, "{up}");
    assert_eq!(
        (up["stored"].as_u64(), up["duplicates"].as_u64()),
        (Some(0), Some(2))
    );
    // Without the page's CSRF token the browser's credential is not enough.
    let forged = gate
        .send(app.client.post(app.url("/gate/checkins")).json(&rows))
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let (s, history) = app.get("/api/v1/me/checkins", Some(&resident)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        history["checkins"].as_array().map(Vec::len),
        Some(2),
        "{history}"
    );

    // The manager sees the counts: two check-ins, one stopped; no one's name.
    let page = manager.get("/venues/1").await;
    assert!(page.body.contains("id=\"stats-total\">2<"), "{}", page.body);
    assert!(
        page.body.contains("id=\"stats-stopped\">1<"),
        "{}",
        page.body
    );
    assert!(
        !page.body.contains("赵"),
        "no personal data on the manager's page"
    );

    // Revoked: the browser's credential stops at once.
    let revoked = manager.form("/venues/1/devices/1/revoke", &[]).await;
    assert_eq!(revoked.status, StatusCode::SEE_OTHER, "{}", revoked.body);
    assert_eq!(
        gate.get("/gate/config").await.status,
        StatusCode::UNAUTHORIZED
    );
    let (s, _) = gate.json("/gate/checkins", rows).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert!(gate.get("/gate").await.body.contains("gate-unbound"));
    let page = manager.get("/venues/1").await;
    assert!(page.body.contains("已撤销"), "{}", page.body);
}

#[tokio::test]
async fn a_new_link_replaces_the_old_one_and_the_old_browser() {
    let (app, mut manager) = venue_with_manager().await;
    let made = manager.form("/venues/1/devices", &[("name", "西门")]).await;
    let first = token_in(&made.body);
    let mut old = Visitor::with(app.clone());
    old.get("/gate/enrol").await;
    let (s, _) = old.json("/gate/enrol", json!({ "token": first })).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(old.get("/gate/config").await.status, StatusCode::OK);

    let relinked = manager.form("/venues/1/devices/1/link", &[]).await;
    assert_eq!(relinked.status, StatusCode::OK, "{}", relinked.body);
    let second = token_in(&relinked.body);
    assert_ne!(first, second);
    let mut new = Visitor::with(app.clone());
    new.get("/gate/enrol").await;
    let (s, _) = new.json("/gate/enrol", json!({ "token": second })).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(new.get("/gate/config").await.status, StatusCode::OK);
    assert_eq!(
        old.get("/gate/config").await.status,
        StatusCode::UNAUTHORIZED,
        "enrolling again replaces the device's credential"
    );
}

#[tokio::test]
async fn only_a_venues_manager_reaches_its_pages() {
    let (app, _manager) = venue_with_manager().await;
    let (s, _) = app
        .post(
            "/api/v1/venues",
            Some(&app.keys.operator),
            json!({"name": "西单站", "kind": "subway", "district": "西城区"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);

    let mut anonymous = Visitor::with(app.clone());
    let p = anonymous.get("/venues").await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert_eq!(p.headers[LOCATION], "/signin?next=/venues");
    let signin = anonymous.get("/signin?next=/venues").await;
    assert!(signin.body.contains("data-next=\"/venues\""));
    let elsewhere = anonymous.get("/signin?next=https://evil.example/").await;
    assert!(!elsewhere.body.contains("data-next"), "no open redirect");

    let mut resident = Visitor::with(app.clone());
    resident.register(DOC_B, "李四").await;
    let p = resident.get("/venues").await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(p.body.contains("id=\"no-venues\""));
    for path in ["/venues/1", "/venues/1/poster", "/venues/2"] {
        assert_eq!(
            resident.get(path).await.status,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    let p = resident
        .form("/venues/1/devices", &[("name", "mine")])
        .await;
    assert_eq!(p.status, StatusCode::NOT_FOUND);

    // The manager of venue 1 does not manage venue 2.
    let mut manager = _manager;
    assert_eq!(manager.get("/venues/2").await.status, StatusCode::NOT_FOUND);
    let poster = manager.get("/venues/1/poster").await;
    assert_eq!(poster.status, StatusCode::OK);
    assert!(poster.body.contains("朝阳大悦城"));
}

#[tokio::test]
async fn the_operator_assigns_managers_and_revokes_devices() {
    let (app, _manager) = venue_with_manager().await;
    let op = app.keys.operator.clone();
    // Someone not registered cannot be made a manager; the look-up is logged either way.
    let (s, e) = app
        .post(
            "/api/v1/venues/1/managers",
            Some(&op),
            json!({"document_type": "resident_id", "document_number": DOC_B}),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{e}");
    assert_eq!(e["error"]["code"], "not_registered");
    let (s, e) = app
        .post(
            "/api/v1/venues/1/managers",
            Some(&op),
            json!({"document_type": "resident_id", "document_number": "110101198001010054"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    // Assigning again is the same assignment.
    let (s, again) = app
        .post(
            "/api/v1/venues/1/managers",
            Some(&op),
            json!({"document_type": "resident_id", "document_number": DOC_MANAGER}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, list) = app.get("/api/v1/venues/1/managers", Some(&op)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    assert_eq!(list[0]["id"], again["id"]);

    // A device made by the API, revoked by the API: its key stops working.
    let (s, d) = app
        .post(
            "/api/v1/venues/1/devices",
            Some(&op),
            json!({"name": "闸机"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{d}");
    let key = d["key"].as_str().unwrap().to_owned();
    assert_eq!(
        app.get("/api/v1/gate/config", Some(&key)).await.0,
        StatusCode::OK
    );
    let (s, r) = app
        .post("/api/v1/venues/1/devices/1/revoke", Some(&op), json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["was_live"], true);
    assert_eq!(
        app.get("/api/v1/gate/config", Some(&key)).await.0,
        StatusCode::UNAUTHORIZED
    );
    let (s, devices) = app.get("/api/v1/venues/1/devices", Some(&op)).await;
    assert_eq!(s, StatusCode::OK);
    assert!(devices[0]["revoked_at"].is_string(), "{devices}");
    let (s, _) = app
        .post("/api/v1/venues/1/devices/9/revoke", Some(&op), json!({}))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // Unassigned, the manager no longer reaches the venue.
    let id = again["id"].as_i64().unwrap();
    let gone = app
        .client
        .delete(app.url(&format!("/api/v1/venues/1/managers/{id}")))
        .bearer_auth(&op)
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), StatusCode::NO_CONTENT);
    let mut manager = _manager;
    assert_eq!(manager.get("/venues/1").await.status, StatusCode::NOT_FOUND);
    // Every look-up of a person by document, found or not, is in the access log.
    let accesses = app.store.accesses("provider:5", 100).await.unwrap();
    let outcomes: Vec<&str> = accesses
        .iter()
        .filter(|a| a.action == "assign_manager")
        .map(|a| a.outcome.as_str())
        .collect();
    assert_eq!(outcomes.len(), 3, "{accesses:?}");
    assert!(outcomes.contains(&"not_found"));
}

#[tokio::test]
async fn the_scanner_installs_and_keeps_its_assets() {
    let app = Arc::new(TestApp::spawn().await);
    let mut v = Visitor::with(app.clone());
    let sw = v.get("/gate/sw.js").await;
    assert_eq!(sw.status, StatusCode::OK);
    assert_eq!(sw.headers["service-worker-allowed"], "/gate");
    assert!(
        sw.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    let first = sw.body.lines().next().unwrap();
    assert!(
        first.starts_with("const KEEP = [\"/assets/gate."),
        "{first}"
    );
    let kept: Vec<String> = serde_json::from_str(
        first
            .trim_start_matches("const KEEP = ")
            .trim_end_matches(';'),
    )
    .unwrap();
    assert_eq!(kept.len(), 4);
    for path in &kept {
        assert_eq!(v.get(path).await.status, StatusCode::OK, "{path}");
    }
    let manifest = v.get("/gate/manifest.webmanifest").await;
    assert_eq!(manifest.status, StatusCode::OK);
    let m: Value = serde_json::from_str(&manifest.body).unwrap();
    assert_eq!(m["start_url"], "/gate");
    assert_eq!(m["scope"], "/gate");
    assert_eq!(
        v.get(m["icons"][0]["src"].as_str().unwrap()).await.status,
        StatusCode::OK
    );
}
