//! The whole role × endpoint matrix: every endpoint called by every kind of caller. A caller
//! outside an endpoint's roles is refused (401 without a credential of the right type, 403
//! with a provider key of the wrong kind) before its body is read; a caller inside them gets
//! past authentication (whatever its empty body then earns).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use reqwest::StatusCode;
use serde_json::json;

use common::{DOC, DOC_B, TestApp};

/// A third person, the guardian's dependant.
const DOC_C: &str = "110101198001010053";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Anonymous,
    Resident,
    /// A resident who added person 3 as a dependant (他人代查).
    Guardian,
    Lab,
    Vaccination,
    Cdc,
    Community,
    Operator,
    Device,
}

use Role::*;

const ALL: [Role; 9] = [
    Anonymous,
    Resident,
    Guardian,
    Lab,
    Vaccination,
    Cdc,
    Community,
    Operator,
    Device,
];
const PUBLIC: &[Role] = &ALL;
const PROVIDERS: &[Role] = &[Lab, Vaccination, Cdc, Community, Operator];
/// Any signed-in resident; a guardian is one.
const RESIDENTS: &[Role] = &[Resident, Guardian];

/// (method, path, who may call it).
const MATRIX: &[(&str, &str, &[Role])] = &[
    ("GET", "/api/v1/me/status", RESIDENTS),
    ("GET", "/api/v1/me/code", RESIDENTS),
    ("GET", "/api/v1/me/code.svg", RESIDENTS),
    ("POST", "/api/v1/me/checkins", RESIDENTS),
    ("GET", "/api/v1/me/dependants", RESIDENTS),
    ("POST", "/api/v1/me/dependants", RESIDENTS),
    // Person 3 is the guardian's dependant, not the resident's.
    ("GET", "/api/v1/me/dependants/3/code", &[Guardian]),
    ("GET", "/api/v1/me/dependants/3/status", &[Guardian]),
    ("POST", "/api/v1/me/dependants/3/remove", &[Guardian]),
    ("GET", "/api/v1/me/checkins", RESIDENTS),
    ("POST", "/api/v1/me/declarations", RESIDENTS),
    ("GET", "/api/v1/me/declarations", RESIDENTS),
    ("GET", "/api/v1/me/receipts", RESIDENTS),
    ("POST", "/api/v1/test-results", &[Lab]),
    ("POST", "/api/v1/vaccinations", &[Vaccination]),
    ("POST", "/api/v1/designations", &[Cdc, Community]),
    ("POST", "/api/v1/designations/release", &[Cdc, Community]),
    ("GET", "/api/v1/records/R-1", PROVIDERS),
    ("POST", "/api/v1/imports/test-results", &[Lab]),
    ("POST", "/api/v1/imports/vaccinations", &[Vaccination]),
    ("GET", "/api/v1/trust-list", PUBLIC),
    ("GET", "/api/v1/policy", PUBLIC),
    ("POST", "/api/v1/verify", PUBLIC),
    ("GET", "/log/checkpoint", PUBLIC),
    ("GET", "/log/key", PUBLIC),
    ("GET", "/log/tile/entries/000.p/1", PUBLIC),
    ("POST", "/api/v1/venues", &[Operator]),
    ("GET", "/api/v1/venues", &[Operator]),
    ("GET", "/api/v1/venues/1", PUBLIC),
    ("POST", "/api/v1/venues/1/devices", &[Operator]),
    ("GET", "/api/v1/venues/1/devices", &[Operator]),
    ("POST", "/api/v1/venues/1/managers", &[Operator]),
    ("GET", "/api/v1/venues/1/managers", &[Operator]),
    ("DELETE", "/api/v1/venues/1/managers/9", &[Operator]),
    ("GET", "/api/v1/venues/1/poster", &[Operator]),
    ("GET", "/api/v1/gate/config", &[Device]),
    ("POST", "/api/v1/gate/scan", &[Device]),
    ("POST", "/api/v1/gate/checkins", &[Device]),
    ("POST", "/api/v1/gate/lookup", &[Device]),
    ("POST", "/api/v1/gate/pass", &[Device]),
    ("POST", "/api/v1/risk-areas", &[Operator]),
    ("GET", "/api/v1/risk-areas", &[Operator]),
    ("POST", "/api/v1/risk-areas/1/release", &[Operator]),
    ("POST", "/api/v1/cases", &[Operator, Cdc]),
    ("GET", "/api/v1/cases/C-1/contacts", &[Operator, Cdc]),
    // Late: revokes the device the `Device` role uses (device 9 does not exist).
    ("POST", "/api/v1/venues/1/devices/9/revoke", &[Operator]),
    // Last: a resident's call ends its session (each gets a fresh one below).
    ("POST", "/api/v1/me/logout", RESIDENTS),
    ("POST", "/api/v1/me/logout-everywhere", RESIDENTS),
];

#[tokio::test]
async fn every_role_reaches_exactly_its_endpoints() {
    let app = TestApp::spawn().await;
    let token = app.enrol(DOC, "赵六").await;
    let guardian = app.enrol(DOC_B, "李四").await;
    let (s, added) = app
        .post(
            "/api/v1/me/dependants",
            Some(&guardian),
            json!({"document_type": "resident_id", "document_number": DOC_C, "name": "李小"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{added}");
    assert_eq!(added["id"], 3);
    let (s, v) = app
        .post(
            "/api/v1/venues",
            Some(&app.keys.operator),
            json!({"name": "西单站", "kind": "subway", "district": "西城区"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, d) = app
        .post(
            "/api/v1/venues/1/devices",
            Some(&app.keys.operator),
            json!({"name": "gate"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{d}");
    let device = d["key"].as_str().unwrap().to_owned();
    let credential = |role: Role| -> Option<&str> {
        match role {
            Anonymous => None,
            Resident => Some(&token),
            Guardian => Some(&guardian),
            Lab => Some(&app.keys.lab),
            Vaccination => Some(&app.keys.vaccination),
            Cdc => Some(&app.keys.cdc),
            Community => Some(&app.keys.community),
            Operator => Some(&app.keys.operator),
            Device => Some(&device),
        }
    };

    let mut wrong = Vec::new();
    for (method, path, allowed) in MATRIX {
        let signing_out = path.starts_with("/api/v1/me/logout");
        let fresh = if signing_out {
            Some((app.enrol(DOC, "赵六").await, app.enrol(DOC_B, "李四").await))
        } else {
            None
        };
        for role in ALL {
            let mut req = match *method {
                "POST" => app.client.post(app.url(path)).json(&json!({})),
                "DELETE" => app.client.delete(app.url(path)),
                _ => app.client.get(app.url(path)),
            };
            match (role, &fresh) {
                (Resident, Some((fresh, _))) => req = req.bearer_auth(fresh),
                (Guardian, Some((_, fresh))) => req = req.bearer_auth(fresh),
                _ => {
                    if let Some(c) = credential(role) {
                        req = req.bearer_auth(c);
                    }
                }
            }
            let status = req.send().await.unwrap().status();
            let refused = status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN;
            let may = allowed.contains(&role);
            if may == refused {
                wrong.push(format!("{method} {path} as {role:?}: {status}"));
            }
            // A provider key of the wrong kind is told so (403), as is a resident asking for
            // someone else's dependant; anything else is 401.
            if refused && !may {
                let expected = if (role == Resident && allowed.contains(&Guardian))
                    || PROVIDERS.contains(&role)
                        && allowed.iter().any(|r| PROVIDERS.contains(r))
                        && *path != "/api/v1/records/R-1"
                {
                    StatusCode::FORBIDDEN
                } else {
                    StatusCode::UNAUTHORIZED
                };
                if status != expected {
                    wrong.push(format!(
                        "{method} {path} as {role:?}: {status}, expected {expected}"
                    ));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    // Nothing the refused calls sent was stored (the last call signed out everywhere).
    let token = app.enrol(DOC, "赵六").await;
    assert_eq!(app.status(&token).await["no_data"], true);
}

/// Who reaches the pages of a venue's manager and of a gate: the browser's credentials are
/// cookies (a resident's session, a gate device's key bound by enrolment), and every state
/// change carries the page's CSRF token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PageRole {
    Visitor,
    Resident,
    /// A resident the operator made manager of venue 1.
    VenueManager,
    /// A browser enrolled as gate device 1 of venue 1.
    GateBrowser,
}

const PAGE_ROLES: [PageRole; 4] = [
    PageRole::Visitor,
    PageRole::Resident,
    PageRole::VenueManager,
    PageRole::GateBrowser,
];

/// (method, path, who may call it). Refused is 401, 403, 404 (a venue one does not manage is
/// not shown to exist) or a redirect to sign in.
const PAGE_MATRIX: &[(&str, &str, &[PageRole])] = &[
    ("GET", "/venues/1", &[PageRole::VenueManager]),
    ("GET", "/venues/1/poster", &[PageRole::VenueManager]),
    ("POST", "/venues/1/devices", &[PageRole::VenueManager]),
    (
        "POST",
        "/venues/1/devices/2/link",
        &[PageRole::VenueManager],
    ),
    ("GET", "/gate/config", &[PageRole::GateBrowser]),
    ("POST", "/gate/checkins", &[PageRole::GateBrowser]),
    ("POST", "/gate/lookup", &[PageRole::GateBrowser]),
    ("POST", "/gate/pass", &[PageRole::GateBrowser]),
    ("POST", "/gate/frame", &[PageRole::GateBrowser]),
    // Last: revokes device 2 (the gate browser is device 1).
    (
        "POST",
        "/venues/1/devices/2/revoke",
        &[PageRole::VenueManager],
    ),
];

#[tokio::test]
async fn every_page_role_reaches_exactly_its_pages() {
    use common::visitor::Visitor;
    use std::sync::Arc;

    let app = Arc::new(TestApp::spawn().await);
    let (s, v) = app
        .post(
            "/api/v1/venues",
            Some(&app.keys.operator),
            json!({"name": "西单站", "kind": "subway", "district": "西城区"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let mut visitors = Vec::new();
    for role in PAGE_ROLES {
        let mut v = Visitor::with(app.clone());
        v.get("/").await;
        match role {
            PageRole::Visitor => {}
            PageRole::Resident => {
                v.register(DOC, "赵六").await;
            }
            PageRole::VenueManager => {
                v.register(DOC_B, "李四").await;
                let (s, m) = app
                    .post(
                        "/api/v1/venues/1/managers",
                        Some(&app.keys.operator),
                        json!({"document_type": "resident_id", "document_number": DOC_B}),
                    )
                    .await;
                assert_eq!(s, StatusCode::CREATED, "{m}");
            }
            PageRole::GateBrowser => {}
        }
        visitors.push((role, v));
    }
    // The manager makes devices 1 and 2; the gate browser enrols as device 1.
    let mut tokens = Vec::new();
    for name in ["gate 1", "gate 2"] {
        let manager = &mut visitors[2].1;
        let page = manager.form("/venues/1/devices", &[("name", name)]).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        let at = page.body.find("/gate/enrol#").unwrap() + "/gate/enrol#".len();
        tokens.push(page.body[at..at + 43].to_owned());
    }
    let gate = &mut visitors[3].1;
    let (s, done) = gate
        .json("/gate/enrol", json!({ "token": tokens[0] }))
        .await;
    assert_eq!(s, StatusCode::OK, "{done}");

    let mut wrong = Vec::new();
    for (method, path, allowed) in PAGE_MATRIX {
        for (role, v) in &mut visitors {
            let page = match *method {
                "POST" if path.starts_with("/venues/") => v.form(path, &[("name", "x")]).await,
                "POST" => {
                    let req = v
                        .client
                        .post(v.app.url(path))
                        .header("x-csrf-token", v.csrf())
                        .json(&json!({}));
                    v.send(req).await
                }
                _ => v.get(path).await,
            };
            let status = page.status;
            let to_signin = status == StatusCode::SEE_OTHER
                && page
                    .headers
                    .get("location")
                    .is_some_and(|l| l.to_str().unwrap().starts_with("/signin"));
            let refused = to_signin
                || [
                    StatusCode::UNAUTHORIZED,
                    StatusCode::FORBIDDEN,
                    StatusCode::NOT_FOUND,
                ]
                .contains(&status);
            let may = allowed.contains(role);
            if may == refused {
                wrong.push(format!("{method} {path} as {role:?}: {status}"));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
