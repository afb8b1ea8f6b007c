//! The whole role × endpoint matrix: every endpoint called by every kind of caller. A caller
//! outside an endpoint's roles is refused (401 without a credential of the right type, 403
//! with a provider key of the wrong kind) before its body is read; a caller inside them gets
//! past authentication (whatever its empty body then earns).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use reqwest::StatusCode;
use serde_json::json;

use common::{DOC, TestApp};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Anonymous,
    Resident,
    Lab,
    Vaccination,
    Cdc,
    Community,
    Operator,
    Device,
}

use Role::*;

const ALL: [Role; 8] = [
    Anonymous,
    Resident,
    Lab,
    Vaccination,
    Cdc,
    Community,
    Operator,
    Device,
];
const PUBLIC: &[Role] = &ALL;
const PROVIDERS: &[Role] = &[Lab, Vaccination, Cdc, Community, Operator];

/// (method, path, who may call it).
const MATRIX: &[(&str, &str, &[Role])] = &[
    ("GET", "/api/v1/me/status", &[Resident]),
    ("GET", "/api/v1/me/code", &[Resident]),
    ("GET", "/api/v1/me/code.svg", &[Resident]),
    ("POST", "/api/v1/me/checkins", &[Resident]),
    ("GET", "/api/v1/me/checkins", &[Resident]),
    ("POST", "/api/v1/me/declarations", &[Resident]),
    ("GET", "/api/v1/me/declarations", &[Resident]),
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
    ("POST", "/api/v1/venues", &[Operator]),
    ("GET", "/api/v1/venues", &[Operator]),
    ("GET", "/api/v1/venues/1", PUBLIC),
    ("POST", "/api/v1/venues/1/devices", &[Operator]),
    ("GET", "/api/v1/venues/1/poster", &[Operator]),
    ("GET", "/api/v1/gate/config", &[Device]),
    ("POST", "/api/v1/gate/scan", &[Device]),
    ("POST", "/api/v1/gate/checkins", &[Device]),
    ("POST", "/api/v1/gate/lookup", &[Device]),
    ("POST", "/api/v1/risk-areas", &[Operator]),
    ("GET", "/api/v1/risk-areas", &[Operator]),
    ("POST", "/api/v1/risk-areas/1/release", &[Operator]),
    ("POST", "/api/v1/cases", &[Operator, Cdc]),
    ("GET", "/api/v1/cases/C-1/contacts", &[Operator, Cdc]),
    // Last: a resident's call ends its session (each gets a fresh one below).
    ("POST", "/api/v1/me/logout", &[Resident]),
    ("POST", "/api/v1/me/logout-everywhere", &[Resident]),
];

#[tokio::test]
async fn every_role_reaches_exactly_its_endpoints() {
    let app = TestApp::spawn().await;
    let token = app.enrol(DOC, "赵六").await;
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
            Some(app.enrol(DOC, "赵六").await)
        } else {
            None
        };
        for role in ALL {
            let mut req = match *method {
                "POST" => app.client.post(app.url(path)).json(&json!({})),
                _ => app.client.get(app.url(path)),
            };
            match (role, &fresh) {
                (Resident, Some(fresh)) => req = req.bearer_auth(fresh),
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
            // A provider key of the wrong kind is told so (403), anything else is 401.
            if refused && !may {
                let expected = if PROVIDERS.contains(&role)
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
