//! What a gate device does, authenticated by its device key: fetch its configuration, scan a
//! code, upload the check-ins it recorded offline, and look a person up by document number
//! (digital sentinel, 数字哨兵). The request and answer shapes are `crate::api::gate`.
//!
//! What this module does not own: the venue registry and devices (`venues`), storing a
//! check-in and applying risk areas to it (`checkins`), the door's rule (domain).

use std::collections::HashSet;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, TimeDelta, Utc};

use healthcode_domain::{DocumentNumber, DocumentType, EntryPolicy};
use healthcode_store::{Access, CheckinMethod, Device, NewCheckin, Venue};

use crate::api::gate::{
    Decision, GateAnswer, GateConfig, LookupRequest, MAX_UPLOAD, RejectedRow, ScanRequest,
    UploadAnswer, UploadRequest,
};
use crate::error::ApiError;
use crate::extract::{ApiJson, DeviceAuth};
use crate::limits::rate_limited;
use crate::routes::checkins::{Visit, presented, record_checkin};
use crate::routes::evidence::second;
use crate::routes::residents::{evaluate_entry, load};
use crate::routes::venues::{venue_or_404, venue_policy};
use crate::state::AppState;
use crate::venues::apply_areas_to;

pub async fn gate_config(
    State(state): State<AppState>,
    DeviceAuth(device): DeviceAuth,
) -> Result<Json<GateConfig>, ApiError> {
    config_for(&state, device).await.map(Json)
}

/// What `device` configures itself with (the API's device key and a gate page's browser
/// credential both come here).
pub(crate) async fn config_for(state: &AppState, device: Device) -> Result<GateConfig, ApiError> {
    let venue = venue_or_404(state, device.venue_id).await?;
    let entry_policy = venue_policy(state, &venue)?.clone();
    let trust_list = serde_json::from_str(&state.trust_list()).map_err(|_| ApiError::internal())?;
    let own = state.region.id();
    let other_regions = match state.verifier() {
        Some(trust) => trust
            .trust_lists()
            .iter()
            .filter(|l| l.region != own)
            .map(serde_json::to_value)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| ApiError::internal())?,
        None => Vec::new(),
    };
    Ok(GateConfig {
        device: device.into(),
        venue: venue.into(),
        entry_policy,
        policy_version: state.policy.version.clone(),
        region: state.region.id().to_owned(),
        trust_list,
        trust_list_grace_hours: u32::try_from(state.policy.checkins.trust_list_grace.num_hours())
            .unwrap_or(0),
        other_regions,
        server_time: state.clock.now(),
    })
}

/// A gate scanned a code: verify, apply the venue's entry policy, record the check-in.
pub async fn gate_scan(
    State(state): State<AppState>,
    DeviceAuth(device): DeviceAuth,
    ApiJson(body): ApiJson<ScanRequest>,
) -> Result<Json<GateAnswer>, ApiError> {
    let now = state.clock.now();
    let venue = venue_or_404(&state, device.venue_id).await?;
    let entry = venue_policy(&state, &venue)?;
    if body.seq.is_some_and(|s| s < 0) {
        return Err(ApiError::bad_request(
            "invalid_field",
            "seq must not be negative",
        ));
    }
    let Some(trust) = state.verifier() else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "trust_unavailable",
            "the trust list is not loaded yet; try again shortly",
        ));
    };
    let not_recorded = |decision| {
        Json(GateAnswer {
            decision,
            checked_in: false,
        })
    };
    let text = body.code.trim();
    if healthcode_verify::detect(text) != Some(healthcode_verify::Format::Native) {
        return Ok(not_recorded(Decision::refused(
            venue.id,
            "not_a_health_code",
            "请出示健康码",
            "this door needs a health code (HCN1:); certificates in other formats are checked at /api/v1/verify".to_owned(),
        )));
    }
    let claims = match trust.native().verify(text, now) {
        Ok(c) => c,
        Err(e) => return Ok(not_recorded(Decision::invalid_code(venue.id, &e))),
    };
    let decision = Decision::for_code(entry, &claims, venue.id);
    // A visitor from another region has no record here to attach a visit to.
    let checked_in = if claims.region == state.region.id() {
        let visit = Visit {
            subject: claims.subject,
            method: CheckinMethod::Gate,
            passed: decision.pass,
            device: body.seq.map(|s| (device.id, s)),
        };
        record_checkin(&state, &venue, visit, now).await?
    } else {
        false
    };
    Ok(Json(GateAnswer {
        decision,
        checked_in,
    }))
}

/// How far before a device's upload high-water mark (the latest check-in time among the rows
/// it uploaded before) a row may be dated and still count for exposure. A gate's offline queue
/// is uploaded in order, oldest first, so a row much older than rows already uploaded is not
/// a late queue but the device asserting history: such a row is stored flagged, for review,
/// and designates no one. An hour leaves room for a device clock set back and for a queue
/// sent in parallel batches after a reconnect.
const HIGH_WATER_MARGIN: TimeDelta = TimeDelta::hours(1);

/// Checks a check-in time from `device` against the server's clock and the device's own
/// enrolment. A device's clock may run behind the server's by the same skew it may run ahead.
fn check_time(
    state: &AppState,
    device: &Device,
    at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), (&'static str, String)> {
    let rules = &state.policy.checkins;
    if at > now + rules.max_future_skew {
        return Err((
            "clock_ahead",
            format!(
                "the check-in time {at} is more than {} minutes ahead of the server's clock ({now}); set the device's clock",
                rules.max_future_skew.num_minutes()
            ),
        ));
    }
    if at < now - rules.retention {
        return Err((
            "too_old",
            format!(
                "the check-in time {at} is older than the {}-day retention window; it would be deleted at once",
                rules.retention.num_days()
            ),
        ));
    }
    if at < device.created_at - rules.max_future_skew {
        return Err((
            "before_enrolment",
            format!(
                "the check-in time {at} is before this device was enrolled ({}); a device records no check-in before it exists",
                device.created_at
            ),
        ));
    }
    Ok(())
}

/// Whether a row dated `at` is kept for review rather than used for exposure: it is well
/// before what the device has already uploaded ([`HIGH_WATER_MARGIN`]).
fn held_for_review(device: &Device, at: DateTime<Utc>) -> bool {
    device
        .upload_high_water
        .is_some_and(|mark| at < mark - HIGH_WATER_MARGIN)
}

/// A subject as 32 hex digits, nothing else (no sign, no space).
fn parse_subject(text: &str) -> Option<[u8; 16]> {
    let mut out = [0u8; 16];
    hex::decode_to_slice(text, &mut out).ok()?;
    Some(out)
}

/// A gate uploads the check-ins it recorded (offline, or in bulk): each row is checked, the
/// good ones stored in one transaction, a (device, seq) already stored skipped. A rejected
/// row is named with its reason; it does not stop the others. A row dated well before the
/// device's upload high-water mark is stored flagged and designates no one.
pub async fn gate_upload(
    State(state): State<AppState>,
    DeviceAuth(device): DeviceAuth,
    ApiJson(body): ApiJson<UploadRequest>,
) -> Result<Json<UploadAnswer>, ApiError> {
    upload_for(&state, device, body).await.map(Json)
}

/// Stores the check-ins `device` uploads (see [`gate_upload`]).
pub(crate) async fn upload_for(
    state: &AppState,
    device: Device,
    body: UploadRequest,
) -> Result<UploadAnswer, ApiError> {
    if body.checkins.len() > MAX_UPLOAD {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "batch_too_large",
            format!("send at most {MAX_UPLOAD} check-ins per upload"),
        ));
    }
    let now = state.clock.now();
    let venue = venue_or_404(state, device.venue_id).await?;
    let mut rows = Vec::with_capacity(body.checkins.len());
    let mut rejected = Vec::new();
    let mut seen = HashSet::with_capacity(body.checkins.len());
    let mut in_batch_duplicates = 0u64;
    for (index, r) in body.checkins.iter().enumerate() {
        let mut reject = |code: &str, message: String| {
            rejected.push(RejectedRow {
                index,
                seq: r.seq,
                code: code.to_owned(),
                message,
            })
        };
        if r.seq < 0 {
            reject("invalid_seq", "seq must not be negative".to_owned());
            continue;
        }
        if let Some(v) = r.venue_id
            && v != device.venue_id
        {
            reject(
                "device_outside_venue",
                format!(
                    "this device belongs to venue {}; it cannot record check-ins at venue {v}",
                    device.venue_id
                ),
            );
            continue;
        }
        let Some(subject) = parse_subject(&r.subject) else {
            reject(
                "invalid_subject",
                "subject must be 32 hex digits".to_owned(),
            );
            continue;
        };
        let Ok(at) = second(r.at) else {
            reject("time_invalid", "time out of range".to_owned());
            continue;
        };
        if let Err((code, message)) = check_time(state, &device, at, now) {
            reject(code, message);
            continue;
        }
        let method = r.method.map_or(CheckinMethod::Gate, CheckinMethod::from);
        if method == CheckinMethod::SelfScan {
            reject(
                "invalid_method",
                "a gate records gate or sentinel check-ins".to_owned(),
            );
            continue;
        }
        if !seen.insert(r.seq) {
            in_batch_duplicates += 1;
            continue;
        }
        rows.push(NewCheckin {
            venue_id: device.venue_id,
            subject,
            at,
            method,
            passed: r.passed,
            device: Some((device.id, r.seq)),
            flagged: held_for_review(&device, at),
        });
    }
    let stored = state.store.add_checkins(&rows, now).await?;
    if let Some(mark) = rows.iter().filter(|r| !r.flagged).map(|r| r.at).max() {
        state.store.raise_upload_high_water(device.id, mark).await?;
    }
    let flagged = rows.iter().filter(|r| r.flagged).count();
    // A flagged row counts as no one's presence: it goes to review, not to a designation.
    let visits: Vec<([u8; 16], DateTime<Utc>, bool)> = rows
        .iter()
        .map(|r| (r.subject, r.at, r.passed && !r.flagged))
        .collect();
    let designated = apply_areas_to(state, &venue, &visits, now).await?;
    tracing::info!(
        device = device.id,
        received = body.checkins.len(),
        stored = stored.stored,
        rejected = rejected.len(),
        flagged,
        "gate upload"
    );
    if flagged > 0 {
        tracing::warn!(
            device = device.id,
            flagged,
            "gate upload dated check-ins well before its earlier uploads; kept for review"
        );
    }
    Ok(UploadAnswer {
        received: body.checkins.len(),
        stored: stored.stored,
        duplicates: stored.duplicates + in_batch_duplicates,
        rejected,
        flagged,
        designated,
    })
}

/// Digital sentinel (数字哨兵): a gate looks a person up by document number (someone with no
/// phone shows an ID card), gets their status against the venue's policy, and records the
/// check-in. Limited per device; every lookup, and every refusal, is in the access log.
pub async fn gate_lookup(
    State(state): State<AppState>,
    DeviceAuth(device): DeviceAuth,
    ApiJson(body): ApiJson<LookupRequest>,
) -> Result<Response, ApiError> {
    lookup_for(&state, device, body).await
}

/// `device` looks a person up by document (see [`gate_lookup`]).
pub(crate) async fn lookup_for(
    state: &AppState,
    device: Device,
    body: LookupRequest,
) -> Result<Response, ApiError> {
    let now = state.clock.now();
    let log = lookup_log(device.id, "sentinel_lookup", now);
    if let Some(refused) = limit_lookups(
        state,
        device.id,
        &log,
        "too many document lookups from this device; wait and try again",
    )
    .await?
    {
        return Ok(refused);
    }
    let document = match DocumentType::parse(&body.document_type)
        .and_then(|k| DocumentNumber::parse(k, &body.document_number))
    {
        Ok(d) => d,
        Err(e) => {
            state
                .store
                .record_access(&log("invalid_document", 0))
                .await?;
            return Err(e.into());
        }
    };
    let venue = venue_or_404(state, device.venue_id).await?;
    let entry = venue_policy(state, &venue)?;
    let Some(person) = state.store.person_by_document(&document).await? else {
        state.store.record_access(&log("not_found", 0)).await?;
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_registered",
            "no one is registered with this document; they can register at a service counter",
        ));
    };
    state.store.record_access(&log("ok", 1)).await?;
    answer_at_door(state, &venue, entry, person.id, now).await
}

/// The access log's row for a gate's lookup (`action`) by a device: the outcome and the number
/// of records read are filled in as the lookup ends.
pub(crate) fn lookup_log(
    device_id: i64,
    action: &'static str,
    now: DateTime<Utc>,
) -> impl Fn(&str, u64) -> Access {
    let actor = format!("device:{device_id}");
    move |outcome, records| Access {
        actor: actor.clone(),
        action: action.to_owned(),
        purpose: "entry check".to_owned(),
        outcome: outcome.to_owned(),
        records,
        at: now,
    }
}

/// The sentinel's limiter, per device: `Some` answer (429, logged as `rate_limited`) when the
/// device has looked up too many people.
pub(crate) async fn limit_lookups(
    state: &AppState,
    device_id: i64,
    log: &impl Fn(&str, u64) -> Access,
    message: &'static str,
) -> Result<Option<Response>, ApiError> {
    match state.sentinel_limiter.check(&device_id) {
        Ok(()) => Ok(None),
        Err(wait) => {
            crate::metrics::rate_limited(crate::metrics::RateLimited::Sentinel);
            state.store.record_access(&log("rate_limited", 0)).await?;
            Ok(Some(rate_limited(message, wait)))
        }
    }
}

/// What the door answers for a person a gate identified (by a document or a paper pass):
/// their status now against the venue's policy, with the check-in recorded as a sentinel
/// check.
pub(crate) async fn answer_at_door(
    state: &AppState,
    venue: &Venue,
    entry: &EntryPolicy,
    person_id: i64,
    now: DateTime<Utc>,
) -> Result<Response, ApiError> {
    let loaded = load(state, person_id, now).await?;
    let status = evaluate_entry(state, &loaded, now);
    let decision = entry.decide(&presented(&status));
    let visit = Visit {
        subject: loaded.who.subject,
        method: CheckinMethod::Sentinel,
        passed: decision.pass,
        device: None,
    };
    let checked_in = record_checkin(state, venue, visit, now).await?;
    Ok(Json(GateAnswer {
        decision: Decision::decided(
            &decision,
            venue.id,
            loaded.who.masked_name.clone(),
            status.colour,
            state.region.id().to_owned(),
        ),
        checked_in,
    })
    .into_response())
}
