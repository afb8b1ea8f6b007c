//! The gate's pages (`/gate`): a browser bound as a venue's gate device by a one-time link,
//! the scanner page that decides with no network, and the requests its script makes.
//!
//! Binding: a venue manager creates a device and gets a link `…/gate/enrol#TOKEN` (the token
//! in the fragment, so it is in no request line or log). The enrolment page sends the token
//! once; the server gives the device a fresh key and keeps it in the browser as an `HttpOnly`
//! cookie scoped to `/gate` ([`GATE_COOKIE`]). No key is typed or shown. The manager revokes
//! the device and the cookie stops working at once.
//!
//! The scanner page decides in the browser (`assets/gate.js` with `assets/verify.js`): the
//! signed trust list and the venue's entry policy come from [`config`] while online and are
//! kept by the page; check-ins queue in the browser and go to [`upload`] (the API's idempotent
//! upload). Paper passes, document look-ups and camera frames without a `BarcodeDetector`
//! need the server. A service worker ([`service_worker`]) keeps the page loadable offline.
//!
//! What this module does not own: the gate's rules and storage (`routes::gate`), the code
//! format (`verify.js`, `healthcode_verify`), devices and venues (`web::venues`).

use askama::Template;
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use healthcode_qrscan::ScanError;
use healthcode_store::Device;

use super::assets;
use super::i18n::GateTexts;
use super::pages::{DocTypeOption, doc_type_options, html};
use super::session::{Page, cookie};
use crate::api::gate::{LookupRequest, PassRequest, UploadRequest};
use crate::auth::{DEVICE_KEY_PREFIX, new_device_key};
use crate::error::ApiError;
use crate::extract::{ApiJson, secret_hash};
use crate::routes::gate::{config_for, lookup_for, upload_for};
use crate::routes::passes::pass_for;
use crate::routes::venues::venue_or_404;
use crate::state::AppState;

/// The cookie that makes a browser a gate device: the device's key.
pub const GATE_COOKIE: &str = "hc_gate";
/// How long a gate browser stays bound without being enrolled again (Chromium keeps a cookie
/// at most 400 days).
const GATE_COOKIE_SECS: i64 = 400 * 24 * 3600;
/// The largest camera frame a gate sends.
pub const MAX_FRAME_BYTES: usize = 2 * 1024 * 1024;

/// A browser bound as a gate device (its [`GATE_COOKIE`] names a live device).
pub struct GateBrowser(pub Device);

impl FromRequestParts<AppState> for GateBrowser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        match device_of(parts, state).await? {
            Some(d) => Ok(GateBrowser(d)),
            None => Err(ApiError::unauthorized(
                "this browser is not a gate device, or its device was revoked; enrol it with a link from the venue's manager",
            )),
        }
    }
}

async fn device_of(parts: &Parts, state: &AppState) -> Result<Option<Device>, ApiError> {
    let Some(key) = cookie(&parts.headers, GATE_COOKIE) else {
        return Ok(None);
    };
    if !key.starts_with(DEVICE_KEY_PREFIX) {
        return Ok(None);
    }
    Ok(state.store.device_by_key(&secret_hash(key)).await?)
}

fn gate_cookie(state: &AppState, key: &str) -> String {
    format!(
        "{GATE_COOKIE}={key}; Path=/gate; Max-Age={GATE_COOKIE_SECS}; HttpOnly; SameSite=Strict{}",
        if state.secure_cookies() {
            "; Secure"
        } else {
            ""
        }
    )
}

#[derive(Template)]
#[template(path = "gate.html")]
struct GatePage {
    page: Page,
    g: &'static GateTexts,
    doc_types: Vec<DocTypeOption>,
    /// The venue's and the device's names, if this browser is a gate.
    bound: Option<(String, String)>,
    gate_js: &'static str,
    verify_js: &'static str,
    icon: &'static str,
}

/// The scanner page; a browser that is not a gate is told how to become one. Offline, the
/// service worker serves the copy it kept.
pub async fn scanner(State(state): State<AppState>, page: Page, parts: Parts) -> Response {
    let bound = match device_of(&parts, &state).await {
        Ok(Some(d)) => match venue_or_404(&state, d.venue_id).await {
            Ok(v) => Some((v.name, d.name)),
            Err(e) => return super::pages::failed(page.lang, &e),
        },
        Ok(None) => None,
        Err(e) => return super::pages::failed(page.lang, &e),
    };
    html(
        StatusCode::OK,
        GatePage {
            g: page.lang.gate(),
            doc_types: doc_type_options(page.lang, ""),
            page,
            bound,
            gate_js: assets::path("gate.js"),
            verify_js: assets::path("verify.js"),
            icon: assets::path("gate-icon.svg"),
        }
        .render(),
    )
}

#[derive(Template)]
#[template(path = "gate_enrol.html")]
struct EnrolPage {
    page: Page,
    g: &'static GateTexts,
    gate_js: &'static str,
}

/// The page an enrolment link opens; its script sends the link's token.
pub async fn enrol_page(page: Page) -> Response {
    html(
        StatusCode::OK,
        EnrolPage {
            g: page.lang.gate(),
            page,
            gate_js: assets::path("gate.js"),
        }
        .render(),
    )
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrolIn {
    token: String,
}

/// Takes an enrolment token once: the device gets a fresh key, kept by this browser.
pub async fn enrol(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<EnrolIn>,
) -> Result<Response, ApiError> {
    let token = body.token.trim();
    let well_formed = token.len() == 43
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    let now = state.clock.now();
    let key = new_device_key();
    let device = if well_formed {
        state
            .store
            .redeem_device_enrolment(&secret_hash(token), &secret_hash(&key), now)
            .await?
    } else {
        None
    };
    let Some(device) = device else {
        return Err(ApiError::new(
            StatusCode::GONE,
            "enrolment_link_invalid",
            "this enrolment link was used already, has expired or was withdrawn; ask the venue's manager for a new one",
        ));
    };
    tracing::info!(device = device.id, venue = device.venue_id, "gate enrolled");
    let mut response = Json(json!({
        "enrolled": true,
        "device": { "id": device.id, "venue_id": device.venue_id, "name": device.name },
        "next": "/gate",
    }))
    .into_response();
    if let Ok(v) = HeaderValue::from_str(&gate_cookie(&state, &key)) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(response)
}

/// The gate's configuration: venue, entry policy, trust lists, server time.
pub async fn config(
    State(state): State<AppState>,
    GateBrowser(device): GateBrowser,
) -> Result<Response, ApiError> {
    let config = config_for(&state, device).await?;
    Ok(Json(config).into_response())
}

/// The check-ins the page queued, as the API's upload (idempotent by sequence number).
pub async fn upload(
    State(state): State<AppState>,
    GateBrowser(device): GateBrowser,
    ApiJson(body): ApiJson<UploadRequest>,
) -> Result<Response, ApiError> {
    Ok(Json(upload_for(&state, device, body).await?).into_response())
}

/// A document look-up (数字哨兵) from the page.
pub async fn lookup(
    State(state): State<AppState>,
    GateBrowser(device): GateBrowser,
    ApiJson(body): ApiJson<LookupRequest>,
) -> Result<Response, ApiError> {
    lookup_for(&state, device, body).await
}

/// A paper pass shown at the page.
pub async fn pass(
    State(state): State<AppState>,
    GateBrowser(device): GateBrowser,
    ApiJson(body): ApiJson<PassRequest>,
) -> Result<Response, ApiError> {
    pass_for(&state, device, body).await
}

/// A camera frame from a page whose browser has no `BarcodeDetector`: the texts of the QR
/// codes in it, which the page then decides on as if scanned.
pub async fn frame(
    _gate: GateBrowser,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let bytes = match body {
        Ok(b) => b,
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "frame_too_large",
                format!("send frames of at most {MAX_FRAME_BYTES} bytes"),
            ));
        }
        Err(_) => {
            return Err(ApiError::bad_request(
                "image",
                "send the frame as a JPEG or PNG",
            ));
        }
    };
    let read = tokio::task::spawn_blocking(move || healthcode_qrscan::read(&bytes))
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "reading a gate's camera frame failed");
            ApiError::internal()
        })?;
    let codes = match read {
        Ok(codes) => codes,
        Err(ScanError::NoCode | ScanError::Unreadable) => Vec::new(),
        Err(ScanError::Format | ScanError::Damaged) => {
            return Err(ApiError::bad_request(
                "image",
                "the frame is not a readable JPEG or PNG",
            ));
        }
    };
    Ok(Json(json!({ "codes": codes })).into_response())
}

/// The service worker: keeps the scanner page and its assets for offline use. Its text names
/// the current assets, so a new release is a new worker and replaces the old copies.
pub async fn service_worker() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
            (
                header::HeaderName::from_static("service-worker-allowed"),
                "/gate",
            ),
        ],
        service_worker_text(),
    )
        .into_response()
}

fn service_worker_text() -> String {
    let keep = ["gate.js", "verify.js", "app.css", "gate-icon.svg"]
        .iter()
        .map(|n| format!("{:?}", assets::path(n)))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "const KEEP = [{keep}];\n{}",
        String::from_utf8_lossy(assets::body("gate-sw.js"))
    )
}

/// The web app manifest: the scanner installs as a full-screen app.
pub async fn manifest(page: Page) -> Response {
    let g = page.lang.gate();
    let body = json!({
        "name": g.app_name,
        "short_name": g.short_name,
        "start_url": "/gate",
        "scope": "/gate",
        "display": "fullscreen",
        "orientation": "any",
        "background_color": "#ffffff",
        "theme_color": "#0b6e4f",
        "icons": [
            { "src": assets::path("gate-icon.svg"), "sizes": "any", "type": "image/svg+xml" },
        ],
    });
    (
        [
            (header::CONTENT_TYPE, "application/manifest+json"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body.to_string(),
    )
        .into_response()
}
