//! The venue manager's pages (`/venues`): a resident the operator made manager of some venues
//! signs in with their passkey and sees those venues only: each one's entry policy, its gate
//! devices (created with a one-time enrolment link, revocable), its place-code poster, and
//! check-ins and STOPs per hour. No personal data is shown here.
//!
//! What this module does not own: who manages what (the operator's API, `routes::venues`),
//! the gate page (`web::gate`), the poster's drawing (`crate::poster`).

use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, TimeDelta, Utc};
use rand::RngCore;
use serde::Deserialize;

use healthcode_domain::{Colour, EntryPolicy, VaccinationRequirement};
use healthcode_store::{Device, Venue};

use super::i18n::{GateTexts, Lang};
use super::pages::{failed, html, see_other};
use super::session::Page;
use crate::error::ApiError;
use crate::extract::{ApiPath, secret_hash};
use crate::routes::residents::qr_svg;
use crate::routes::venues::{poster_response, text_field, venue_or_404, venue_policy};
use crate::state::AppState;

/// How long a device enrolment link works.
pub const ENROLMENT_LINK_HOURS: i64 = 24;
/// The hours of check-ins a venue's page shows.
const STATS_HOURS: i64 = 24;

/// A signed-in resident who manages venue `id`; anyone else gets the page's refusal (sign in,
/// or not found: a venue someone does not manage does not exist for them here).
async fn managed(state: &AppState, page: &Page, id: i64) -> Result<(i64, Venue), Response> {
    let Some(person) = page.session.as_ref().map(|s| s.person_id) else {
        return Err(see_other("/signin?next=/venues"));
    };
    let manages = state
        .store
        .manages(person, id)
        .await
        .map_err(|e| failed(page.lang, &ApiError::from(e)))?;
    if !manages {
        return Err(failed(
            page.lang,
            &ApiError::new(StatusCode::NOT_FOUND, "unknown_venue", "no such venue"),
        ));
    }
    let venue = venue_or_404(state, id)
        .await
        .map_err(|e| failed(page.lang, &e))?;
    Ok((person, venue))
}

// ---------------------------------------------------------------------------------------
// My venues

struct VenueRow {
    id: i64,
    name: String,
    kind: String,
    district: String,
}

#[derive(Template)]
#[template(path = "venues.html")]
struct VenuesPage {
    page: Page,
    g: &'static GateTexts,
    venues: Vec<VenueRow>,
}

/// The venues the signed-in resident manages.
pub async fn list(State(state): State<AppState>, page: Page) -> Response {
    let Some(person) = page.session.as_ref().map(|s| s.person_id) else {
        return see_other("/signin?next=/venues");
    };
    let venues = match state.store.venues_managed_by(person).await {
        Ok(v) => v,
        Err(e) => return failed(page.lang, &ApiError::from(e)),
    };
    let venues = venues
        .into_iter()
        .map(|v| VenueRow {
            kind: kind_label(&state, page.lang, &v.kind),
            id: v.id,
            name: v.name,
            district: v.district,
        })
        .collect();
    html(
        StatusCode::OK,
        VenuesPage {
            g: page.lang.gate(),
            page,
            venues,
        }
        .render(),
    )
}

fn kind_label(state: &AppState, lang: Lang, kind: &str) -> String {
    state.policy.venue(kind).map_or_else(
        || kind.to_owned(),
        |p| lang.pick(&p.label_zh, &p.label_en).to_owned(),
    )
}

// ---------------------------------------------------------------------------------------
// One venue

struct DeviceRow {
    id: i64,
    name: String,
    /// What state it is in, in words.
    state: String,
    live: bool,
}

struct HourRow {
    hour: String,
    checkins: i64,
    stopped: i64,
}

#[derive(Template)]
#[template(path = "venue.html")]
struct VenuePage {
    page: Page,
    g: &'static GateTexts,
    venue: Venue,
    kind: String,
    rules: Vec<String>,
    devices: Vec<DeviceRow>,
    hours: Vec<HourRow>,
    total_checkins: i64,
    total_stopped: i64,
    /// A link just made: (device name, link, its QR as SVG, until when).
    link: Option<(String, String, String, String)>,
    error: Option<&'static str>,
}

/// What a door's entry policy requires, one line a rule.
fn rules(lang: Lang, entry: &EntryPolicy) -> Vec<String> {
    let mut lines = Vec::new();
    lines.push(match (lang, entry.max_colour) {
        (Lang::Zh, Colour::Green) => "仅限绿码（未见异常）".to_owned(),
        (Lang::Zh, c) => format!("{}及以下可入内", c.label_zh()),
        (Lang::En, Colour::Green) => "Green codes only".to_owned(),
        (Lang::En, c) => format!("Codes up to {} are let in", c.as_str()),
    });
    if let Some(h) = entry.test_within_hours {
        lines.push(match lang {
            Lang::Zh => format!("需{h}小时内核酸阴性证明"),
            Lang::En => format!("A negative test within {h} hours"),
        });
    }
    if let Some(v) = entry.vaccination {
        lines.push(
            match (lang, v) {
                (Lang::Zh, VaccinationRequirement::PrimaryComplete) => "需完成基础免疫",
                (Lang::Zh, VaccinationRequirement::BoosterComplete) => "需完成加强免疫",
                (Lang::En, VaccinationRequirement::PrimaryComplete) => {
                    "A complete primary vaccination"
                }
                (Lang::En, VaccinationRequirement::BoosterComplete) => "A booster vaccination",
            }
            .to_owned(),
        );
    }
    lines.push(
        lang.pick(
            if entry.reminders_block {
                "有弹窗者禁止通行"
            } else {
                "弹窗不影响通行"
            },
            if entry.reminders_block {
                "Anyone with a reminder in force is stopped"
            } else {
                "Reminders do not stop anyone here"
            },
        )
        .to_owned(),
    );
    lines
}

fn device_row(lang: Lang, tz: chrono_tz::Tz, d: Device) -> DeviceRow {
    let when = |t: DateTime<Utc>| t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string();
    let state = match (d.revoked_at, d.enrolled_at) {
        (Some(t), _) => format!("{} {}", lang.pick("已撤销", "Revoked"), when(t)),
        (None, Some(t)) => format!("{} {}", lang.pick("已登记", "Enrolled"), when(t)),
        (None, None) => lang.pick("等待登记", "Waiting for enrolment").to_owned(),
    };
    DeviceRow {
        id: d.id,
        name: d.name,
        live: d.revoked_at.is_none(),
        state,
    }
}

async fn venue_page(
    state: &AppState,
    page: Page,
    venue: Venue,
    link: Option<(String, String, String, String)>,
    error: Option<&'static str>,
) -> Response {
    let lang = page.lang;
    let tz = state.region.tz();
    let entry = match venue_policy(state, &venue) {
        Ok(e) => e,
        Err(e) => return failed(lang, &e),
    };
    let devices = match state.store.devices_of(venue.id).await {
        Ok(d) => d,
        Err(e) => return failed(lang, &ApiError::from(e)),
    };
    let now = state.clock.now();
    let to = now + TimeDelta::hours(1);
    let from = to - TimeDelta::hours(STATS_HOURS);
    let counts = match state.store.hourly_checkins(venue.id, from, to).await {
        Ok(c) => c,
        Err(e) => return failed(lang, &ApiError::from(e)),
    };
    let hours: Vec<HourRow> = counts
        .iter()
        .map(|c| HourRow {
            hour: c.hour.with_timezone(&tz).format("%m-%d %H:00").to_string(),
            checkins: c.checkins,
            stopped: c.stopped,
        })
        .collect();
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    html(
        status,
        VenuePage {
            g: lang.gate(),
            kind: kind_label(state, lang, &venue.kind),
            rules: rules(lang, entry),
            devices: devices
                .into_iter()
                .map(|d| device_row(lang, tz, d))
                .collect(),
            total_checkins: hours.iter().map(|h| h.checkins).sum(),
            total_stopped: hours.iter().map(|h| h.stopped).sum(),
            hours,
            venue,
            link,
            error,
            page,
        }
        .render(),
    )
}

/// A venue its manager looks after.
pub async fn venue(
    State(state): State<AppState>,
    page: Page,
    ApiPath(id): ApiPath<i64>,
) -> Response {
    match managed(&state, &page, id).await {
        Ok((_, venue)) => venue_page(&state, page, venue, None, None).await,
        Err(r) => r,
    }
}

/// The venue's place-code poster, ready to print.
pub async fn poster(
    State(state): State<AppState>,
    page: Page,
    ApiPath(id): ApiPath<i64>,
) -> Response {
    match managed(&state, &page, id).await {
        Ok((_, venue)) => match poster_response(&state, &venue, Some("html")) {
            Ok(r) => r,
            Err(e) => failed(page.lang, &e),
        },
        Err(r) => r,
    }
}

// ---------------------------------------------------------------------------------------
// Gate devices

/// A fresh one-time enrolment token: 32 random bytes, base64url (43 characters).
fn new_enrolment_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The link a gate opens to enrol, its QR code, and until when it works.
fn link_of(
    state: &AppState,
    name: String,
    token: &str,
    expires_at: DateTime<Utc>,
) -> Result<(String, String, String, String), ApiError> {
    let link = format!(
        "{}/gate/enrol#{token}",
        state.config.public_url.trim_end_matches('/')
    );
    let qr = qr_svg(&link)?;
    let until = expires_at
        .with_timezone(&state.region.tz())
        .format("%Y-%m-%d %H:%M")
        .to_string();
    Ok((name, link, qr, until))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct DeviceForm {
    name: String,
}

/// Creates a gate device waiting for a browser to enrol with the link shown (once) here.
pub async fn add_device(
    State(state): State<AppState>,
    page: Page,
    ApiPath(id): ApiPath<i64>,
    Form(form): Form<DeviceForm>,
) -> Response {
    let venue = match managed(&state, &page, id).await {
        Ok((_, v)) => v,
        Err(r) => return r,
    };
    let Ok(name) = text_field("name", &form.name, 1, 100) else {
        let message = page.lang.gate().device_name_invalid;
        return venue_page(&state, page, venue, None, Some(message)).await;
    };
    let now = state.clock.now();
    let token = new_enrolment_token();
    let expires_at = now + TimeDelta::hours(ENROLMENT_LINK_HOURS);
    let added = state
        .store
        .add_pending_device(venue.id, &name, &secret_hash(&token), expires_at, now)
        .await;
    if let Err(e) = added {
        return failed(page.lang, &ApiError::from(e));
    }
    match link_of(&state, name, &token, expires_at) {
        Ok(link) => venue_page(&state, page, venue, Some(link), None).await,
        Err(e) => failed(page.lang, &e),
    }
}

/// A new enrolment link for a device (the old one stops working; enrolling with the new one
/// replaces the device's key, so the browser that held it is no longer a gate).
pub async fn relink_device(
    State(state): State<AppState>,
    page: Page,
    ApiPath((id, device_id)): ApiPath<(i64, i64)>,
) -> Response {
    let venue = match managed(&state, &page, id).await {
        Ok((_, v)) => v,
        Err(r) => return r,
    };
    let Some(device) = device_at(&state, venue.id, device_id).await else {
        return not_found(&page);
    };
    let now = state.clock.now();
    let token = new_enrolment_token();
    let expires_at = now + TimeDelta::hours(ENROLMENT_LINK_HOURS);
    if let Err(e) = state
        .store
        .renew_device_enrolment(venue.id, device_id, &secret_hash(&token), expires_at)
        .await
    {
        return failed(page.lang, &ApiError::from(e));
    }
    match link_of(&state, device.name, &token, expires_at) {
        Ok(link) => venue_page(&state, page, venue, Some(link), None).await,
        Err(e) => failed(page.lang, &e),
    }
}

/// Revokes a device: its browser's credential stops working at once.
pub async fn revoke_device(
    State(state): State<AppState>,
    page: Page,
    ApiPath((id, device_id)): ApiPath<(i64, i64)>,
) -> Response {
    let venue = match managed(&state, &page, id).await {
        Ok((_, v)) => v,
        Err(r) => return r,
    };
    if device_at(&state, venue.id, device_id).await.is_none() {
        return not_found(&page);
    }
    let now = state.clock.now();
    if let Err(e) = state.store.revoke_device(venue.id, device_id, now).await {
        return failed(page.lang, &ApiError::from(e));
    }
    tracing::info!(device = device_id, venue = venue.id, "gate device revoked");
    see_other(&format!("/venues/{}", venue.id))
}

/// Device `device_id` of venue `venue_id`, live (not revoked).
async fn device_at(state: &AppState, venue_id: i64, device_id: i64) -> Option<Device> {
    state
        .store
        .devices_of(venue_id)
        .await
        .ok()?
        .into_iter()
        .find(|d| d.id == device_id && d.revoked_at.is_none())
}

fn not_found(page: &Page) -> Response {
    failed(
        page.lang,
        &ApiError::new(StatusCode::NOT_FOUND, "unknown_device", "no such device"),
    )
}
