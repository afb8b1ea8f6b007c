//! Checking in at a venue from the resident's pages, and the 14-day travel history.
//!
//! Three ways to name the venue, one check-in: the page's script reads the place code (场所码)
//! with the browser's `BarcodeDetector` and sends its text as the typed form would; where the
//! browser has no detector it sends camera frames to `POST /checkin/frame`, read here with
//! `healthcode_qrscan`; or the person types the poster's short code (手输码). Every path ends
//! in `routes::checkins::check_in_self`, the API's own self check-in, and the history is the
//! API's `travel_history`.
//!
//! What this module does not own: verifying place codes and storing check-ins
//! (`routes::checkins`), reading QR codes (`healthcode_qrscan`).

use askama::Template;
use axum::Form;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::{BytesRejection, FormRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::DateTime;
use chrono::Utc;
use serde::Deserialize;
use serde_json::json;

use healthcode_credential::PLACE_PREFIX;
use healthcode_domain::PlaceShortCode;
use healthcode_qrscan::ScanError;

use super::assets;
use super::i18n::{Lang, Texts};
use super::pages::{colour_word, error_page, failed, html, local, see_other};
use super::session::Page;
use crate::error::ApiError;
use crate::routes::checkins::{SelfCheckin, check_in_self, place_code_venue, travel_history};
use crate::state::AppState;

/// The largest camera frame accepted: a JPEG of a phone camera's preview is far smaller.
pub const MAX_FRAME_BYTES: usize = 512 * 1024;

/// What the result panel shows after a check-in.
pub struct CheckinResult {
    pub venue: String,
    pub district: String,
    pub at: String,
    pub colour: &'static str,
    pub word: &'static str,
    pub label: &'static str,
    pub pass: bool,
    pub reasons: Vec<String>,
}

impl CheckinResult {
    fn of(state: &AppState, lang: Lang, done: SelfCheckin) -> CheckinResult {
        CheckinResult {
            at: local(done.at, state.region.tz(), "%Y-%m-%d %H:%M"),
            colour: done.colour.as_str(),
            word: colour_word(lang, done.colour),
            label: lang.pick(done.colour.label_zh(), done.colour.label_en()),
            pass: done.pass,
            reasons: done
                .reasons
                .iter()
                .map(|r| lang.pick(&r.zh, &r.en).to_owned())
                .collect(),
            venue: done.venue.name,
            district: done.venue.district,
        }
    }
}

#[derive(Template)]
#[template(path = "checkin.html")]
struct CheckinPage {
    page: Page,
    script: &'static str,
    /// What was typed, kept when it is refused.
    typed: String,
    error: Option<&'static str>,
    result: Option<CheckinResult>,
}

#[derive(Template)]
#[template(path = "checkin_result.html")]
struct CheckinResultFragment {
    t: &'static Texts,
    r: CheckinResult,
}

fn checkin_page(
    page: Page,
    status: StatusCode,
    typed: String,
    error: Option<&'static str>,
    result: Option<CheckinResult>,
) -> Response {
    html(
        status,
        CheckinPage {
            page,
            script: assets::path("checkin.js"),
            typed,
            error,
            result,
        }
        .render(),
    )
}

/// `GET /checkin`: the camera and the typed-code form.
pub async fn checkin_form(page: Page) -> Response {
    if !page.signed_in() {
        return see_other("/signin");
    }
    checkin_page(page, StatusCode::OK, String::new(), None, None)
}

/// What a refused place code says to the person, by the API's error code; none for an error
/// that is not about the code (the page reports it as an error page).
fn refusal(t: &'static Texts, e: &ApiError) -> Option<&'static str> {
    match e.code {
        "place_code_invalid" => Some(t.checkin_not_place_code),
        "place_code_other_region" => Some(t.checkin_other_region),
        "unknown_venue" => Some(t.checkin_unknown_venue),
        _ => None,
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct TypedCode {
    code: String,
}

/// The venue a typed code names: a place code's text (`HCP1:…`, as a detector in the
/// browser reads it) or a short code.
fn typed_venue(
    state: &AppState,
    t: &'static Texts,
    typed: &str,
    now: DateTime<Utc>,
) -> Result<i64, Result<&'static str, ApiError>> {
    let typed = typed.trim();
    if typed.is_empty() {
        return Err(Ok(t.checkin_empty));
    }
    if typed
        .get(..PLACE_PREFIX.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(PLACE_PREFIX))
    {
        return place_code_venue(state, typed, now).map_err(|e| refusal(t, &e).ok_or(e));
    }
    PlaceShortCode::parse(typed)
        .map(PlaceShortCode::venue_id)
        .ok_or(Ok(t.checkin_short_invalid))
}

/// `POST /checkin`: checks in at the venue of the typed code and shows the result; a code
/// that names no venue comes back named, the text kept.
pub async fn checkin_typed(
    State(state): State<AppState>,
    page: Page,
    form: Result<Form<TypedCode>, FormRejection>,
) -> Response {
    let lang = page.lang;
    let t = page.t;
    let Some(person_id) = page.session.as_ref().map(|s| s.person_id) else {
        return see_other("/signin");
    };
    let Ok(Form(form)) = form else {
        return error_page(lang, StatusCode::BAD_REQUEST, t.error_csrf);
    };
    let now = state.clock.now();
    let refused = |page: Page, message: &'static str, typed: String| {
        checkin_page(
            page,
            StatusCode::UNPROCESSABLE_ENTITY,
            typed,
            Some(message),
            None,
        )
    };
    let venue_id = match typed_venue(&state, t, &form.code, now) {
        Ok(id) => id,
        Err(Ok(message)) => return refused(page, message, form.code),
        Err(Err(e)) => return failed(lang, &e),
    };
    match check_in_self(&state, person_id, venue_id, now).await {
        Ok(done) => {
            let result = CheckinResult::of(&state, lang, done);
            checkin_page(page, StatusCode::OK, String::new(), None, Some(result))
        }
        Err(e) => match refusal(t, &e) {
            Some(message) => refused(page, message, form.code),
            None => failed(lang, &e),
        },
    }
}

/// A JSON refusal for the page's script: a stable code and a sentence in the page's language.
fn frame_refused(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(json!({"error": {"code": code, "message": message}})),
    )
        .into_response()
}

/// `POST /checkin/frame`: a camera frame (PNG or JPEG, at most [`MAX_FRAME_BYTES`]); if it
/// shows a place code of this region, checks in there and answers 201 with the venue's name
/// and the result panel's HTML. A frame with no code in it is `422 no_place_code`, which the
/// script takes as "keep looking".
pub async fn checkin_frame(
    State(state): State<AppState>,
    page: Page,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let t = page.t;
    let lang = page.lang;
    let Some(person_id) = page.session.as_ref().map(|s| s.person_id) else {
        return frame_refused(StatusCode::UNAUTHORIZED, "unauthorized", t.error_csrf);
    };
    let bytes = match body {
        Ok(b) => b,
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return frame_refused(e.status(), "frame_too_large", t.checkin_too_large);
        }
        Err(e) => return frame_refused(e.status(), "image", t.checkin_bad_picture),
    };
    // Decoding a picture is CPU work: off the async workers.
    let codes = match tokio::task::spawn_blocking(move || healthcode_qrscan::read(&bytes)).await {
        Ok(Ok(codes)) => codes,
        Ok(Err(ScanError::NoCode | ScanError::Unreadable)) => {
            return frame_refused(
                StatusCode::UNPROCESSABLE_ENTITY,
                "no_place_code",
                t.checkin_no_code,
            );
        }
        Ok(Err(ScanError::Format | ScanError::Damaged)) => {
            return frame_refused(
                StatusCode::UNPROCESSABLE_ENTITY,
                "image",
                t.checkin_bad_picture,
            );
        }
        Err(e) => {
            tracing::error!(error = %e, "reading a camera frame failed");
            return frame_refused(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                t.error_internal,
            );
        }
    };
    let now = state.clock.now();
    // The first code in the picture that is a place code of this region; else why the first
    // one is not.
    let mut first_error = None;
    let mut venue_id = None;
    for code in &codes {
        match place_code_venue(&state, code, now) {
            Ok(id) => {
                venue_id = Some(id);
                break;
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    let outcome = match (venue_id, first_error) {
        (Some(id), _) => check_in_self(&state, person_id, id, now).await,
        (None, Some(e)) => Err(e),
        (None, None) => {
            return frame_refused(
                StatusCode::UNPROCESSABLE_ENTITY,
                "no_place_code",
                t.checkin_no_code,
            );
        }
    };
    match outcome {
        Ok(done) => {
            let venue = done.venue.name.clone();
            let r = CheckinResult::of(&state, lang, done);
            match (CheckinResultFragment { t, r }).render() {
                Ok(fragment) => (
                    StatusCode::CREATED,
                    Json(json!({"checked_in": true, "venue": venue, "html": fragment})),
                )
                    .into_response(),
                Err(e) => {
                    tracing::error!(error = %e, "the check-in result did not render");
                    frame_refused(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "internal",
                        t.error_internal,
                    )
                }
            }
        }
        Err(e) => {
            let message = refusal(t, &e).unwrap_or(match e.status {
                StatusCode::TOO_MANY_REQUESTS => t.error_busy,
                _ => t.error_internal,
            });
            frame_refused(e.status, e.code, message)
        }
    }
}

pub struct HistoryLine {
    pub venue: String,
    pub district: String,
    pub at: String,
}

#[derive(Template)]
#[template(path = "history.html")]
struct HistoryPage {
    page: Page,
    days: i64,
    districts: String,
    lines: Vec<HistoryLine>,
}

/// `GET /history`: where I checked in over the last 14 days, newest first.
pub async fn history(State(state): State<AppState>, page: Page) -> Response {
    let Some(person_id) = page.session.as_ref().map(|s| s.person_id) else {
        return see_other("/signin");
    };
    let now = state.clock.now();
    let out = match travel_history(&state, person_id, now).await {
        Ok(out) => out,
        Err(e) => return failed(page.lang, &e),
    };
    let tz = state.region.tz();
    let sep = page.lang.pick("、", ", ");
    html(
        StatusCode::OK,
        HistoryPage {
            days: out.days,
            districts: out.districts.join(sep),
            lines: out
                .checkins
                .into_iter()
                .map(|c| HistoryLine {
                    at: local(c.at, tz, "%Y-%m-%d %H:%M"),
                    venue: c.venue,
                    district: c.district,
                })
                .collect(),
            page,
        }
        .render(),
    )
}
