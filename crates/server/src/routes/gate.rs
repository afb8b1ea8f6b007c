//! What a gate device does, authenticated by its device key: fetch its configuration, scan a
//! code, upload the check-ins it recorded offline, and look a person up by document number
//! (digital sentinel, 数字哨兵).
//!
//! What this module does not own: the venue registry and devices (`venues`), storing a
//! check-in and applying risk areas to it (`checkins`), the door's rule (domain).

use std::collections::HashSet;
use std::time::Instant;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use healthcode_domain::{
    Colour, DocumentNumber, DocumentType, EntryPolicy, GateDecision, Presented, StopReason,
};
use healthcode_store::{Access, CheckinMethod, Device, NewCheckin, Venue};

use crate::error::ApiError;
use crate::extract::{ApiJson, DeviceAuth};
use crate::routes::checkins::{presented, record_checkin};
use crate::routes::evidence::second;
use crate::routes::residents::{evaluate_entry, load};
use crate::routes::venues::{venue_or_404, venue_policy};
use crate::state::AppState;
use crate::venues::apply_areas_to;

/// Check-ins one offline upload may carry.
pub const MAX_UPLOAD: usize = 10_000;

/// A gate's answer: PASS or STOP, whom (masked), why.
#[derive(Debug, Serialize)]
pub struct GateOut {
    decision: &'static str,
    pass: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    masked_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    colour: Option<Colour>,
    #[serde(skip_serializing_if = "Option::is_none")]
    region: Option<String>,
    reasons: Vec<ReasonOut>,
    venue_id: i64,
    /// Whether a check-in was stored (false for a code that did not verify, a visitor from
    /// another region, or a sequence number already used).
    checked_in: bool,
}

#[derive(Debug, Serialize)]
pub struct ReasonOut {
    code: String,
    zh: String,
    en: String,
}

fn reason_out(r: &StopReason) -> ReasonOut {
    let code = match r {
        StopReason::Colour { .. } => "colour",
        StopReason::Reminder { .. } => "reminder",
        StopReason::NoRecentTest { .. } => "no_recent_test",
        StopReason::Vaccination { .. } => "vaccination",
    };
    ReasonOut {
        code: code.to_owned(),
        zh: r.text_zh(),
        en: r.text_en(),
    }
}

pub(crate) fn decision_out(decision: &GateDecision) -> (&'static str, Vec<ReasonOut>) {
    (
        if decision.pass { "PASS" } else { "STOP" },
        decision.reasons.iter().map(reason_out).collect(),
    )
}

fn stop(venue_id: i64, code: &str, zh: &str, en: String) -> GateOut {
    GateOut {
        decision: "STOP",
        pass: false,
        masked_name: None,
        colour: None,
        region: None,
        reasons: vec![ReasonOut {
            code: code.to_owned(),
            zh: zh.to_owned(),
            en,
        }],
        venue_id,
        checked_in: false,
    }
}

/// Checks a check-in time from a device or an app against the server's clock.
fn check_time(
    state: &AppState,
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
    Ok(())
}

/// What a gate configures itself with while online: its venue, the entry policy it
/// applies, and the trust list it verifies codes against offline.
#[derive(Debug, Serialize)]
pub struct GateConfig {
    device: Device,
    venue: Venue,
    entry_policy: EntryPolicy,
    policy_version: String,
    region: String,
    trust_list: serde_json::Value,
    server_time: DateTime<Utc>,
}

pub async fn gate_config(
    State(state): State<AppState>,
    DeviceAuth(device): DeviceAuth,
) -> Result<Json<GateConfig>, ApiError> {
    let venue = venue_or_404(&state, device.venue_id).await?;
    let entry_policy = venue_policy(&state, &venue)?.clone();
    let trust_list = serde_json::from_str(&state.trust_list()).map_err(|_| ApiError::internal())?;
    Ok(Json(GateConfig {
        device,
        venue,
        entry_policy,
        policy_version: state.policy.version.clone(),
        region: state.region.id().to_owned(),
        trust_list,
        server_time: state.clock.now(),
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScanIn {
    code: String,
    /// The gate's own sequence number for this check-in, if it keeps one: a scan sent twice
    /// with the same number is stored once.
    seq: Option<i64>,
}

/// A gate scanned a code: verify, apply the venue's entry policy, record the check-in.
pub async fn gate_scan(
    State(state): State<AppState>,
    DeviceAuth(device): DeviceAuth,
    ApiJson(body): ApiJson<ScanIn>,
) -> Result<Json<GateOut>, ApiError> {
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
    let text = body.code.trim();
    if healthcode_verify::detect(text) != Some(healthcode_verify::Format::Native) {
        return Ok(Json(stop(
            venue.id,
            "not_a_health_code",
            "请出示健康码",
            "this door needs a health code (HCN1:); certificates in other formats are checked at /api/v1/verify".to_owned(),
        )));
    }
    let claims = match trust.native().verify(text, now) {
        Ok(c) => c,
        Err(e) => {
            return Ok(Json(stop(
                venue.id,
                e.code(),
                "健康码无效",
                format!("the code does not verify: {e}"),
            )));
        }
    };
    let decision = entry.decide(&Presented {
        colour: claims.colour,
        reminders: &claims.reminders,
        test_recency_days: claims.test_recency_days,
        vaccination: claims.vaccination,
    });
    // A visitor from another region has no record here to attach a visit to.
    let checked_in = if claims.region == state.region.id() {
        let checkin = NewCheckin {
            venue_id: venue.id,
            subject: claims.subject,
            at: second(now)?,
            method: CheckinMethod::Gate,
            passed: decision.pass,
            device: body.seq.map(|s| (device.id, s)),
        };
        record_checkin(&state, &venue, checkin, now).await?
    } else {
        false
    };
    let (word, reasons) = decision_out(&decision);
    Ok(Json(GateOut {
        decision: word,
        pass: decision.pass,
        masked_name: Some(claims.masked_name),
        colour: Some(claims.colour),
        region: Some(claims.region),
        reasons,
        venue_id: venue.id,
        checked_in,
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadIn {
    checkins: Vec<UploadRow>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadRow {
    /// The gate's sequence number: (device, seq) is stored once however often it is sent.
    seq: i64,
    /// The subject of the code the gate verified (32 hex digits).
    subject: String,
    at: DateTime<Utc>,
    passed: bool,
    /// The venue the gate believes it is at; if given it must be the device's own.
    venue_id: Option<i64>,
    /// `gate` (default) or `sentinel`.
    method: Option<CheckinMethod>,
}

#[derive(Debug, Serialize)]
pub struct UploadOut {
    received: usize,
    stored: u64,
    duplicates: u64,
    rejected: Vec<RejectedRow>,
    /// Designations written because a check-in fell in an open risk area.
    designated: usize,
}

#[derive(Debug, Serialize)]
pub struct RejectedRow {
    index: usize,
    seq: i64,
    code: &'static str,
    message: String,
}

fn parse_subject(hex: &str) -> Option<[u8; 16]> {
    if hex.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, pair) in hex.as_bytes().chunks(2).enumerate() {
        let s = std::str::from_utf8(pair).ok()?;
        out[i] = u8::from_str_radix(s, 16).ok()?;
    }
    Some(out)
}

/// A gate uploads the check-ins it recorded (offline, or in bulk): each row is checked, the
/// good ones stored in one transaction, a (device, seq) already stored skipped. A rejected
/// row is named with its reason; it does not stop the others.
pub async fn gate_upload(
    State(state): State<AppState>,
    DeviceAuth(device): DeviceAuth,
    ApiJson(body): ApiJson<UploadIn>,
) -> Result<Json<UploadOut>, ApiError> {
    if body.checkins.len() > MAX_UPLOAD {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "batch_too_large",
            format!("send at most {MAX_UPLOAD} check-ins per upload"),
        ));
    }
    let now = state.clock.now();
    let venue = venue_or_404(&state, device.venue_id).await?;
    let mut rows = Vec::with_capacity(body.checkins.len());
    let mut rejected = Vec::new();
    let mut seen = HashSet::with_capacity(body.checkins.len());
    let mut in_batch_duplicates = 0u64;
    for (index, r) in body.checkins.iter().enumerate() {
        let mut reject = |code: &'static str, message: String| {
            rejected.push(RejectedRow {
                index,
                seq: r.seq,
                code,
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
            reject("invalid_time", "time out of range".to_owned());
            continue;
        };
        if let Err((code, message)) = check_time(&state, at, now) {
            reject(code, message);
            continue;
        }
        let method = r.method.unwrap_or(CheckinMethod::Gate);
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
        });
    }
    let stored = state.store.add_checkins(&rows, now).await?;
    let visits: Vec<([u8; 16], DateTime<Utc>, bool)> =
        rows.iter().map(|r| (r.subject, r.at, r.passed)).collect();
    let designated = apply_areas_to(&state, &venue, &visits, now).await?;
    tracing::info!(
        device = device.id,
        received = body.checkins.len(),
        stored = stored.stored,
        rejected = rejected.len(),
        "gate upload"
    );
    Ok(Json(UploadOut {
        received: body.checkins.len(),
        stored: stored.stored,
        duplicates: stored.duplicates + in_batch_duplicates,
        rejected,
        designated,
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LookupIn {
    document_type: String,
    document_number: String,
}

/// Digital sentinel (数字哨兵): a gate looks a person up by document number (someone with no
/// phone shows an ID card), gets their status against the venue's policy, and records the
/// check-in. Limited per device; every lookup, and every refusal, is in the access log.
pub async fn gate_lookup(
    State(state): State<AppState>,
    DeviceAuth(device): DeviceAuth,
    ApiJson(body): ApiJson<LookupIn>,
) -> Result<Response, ApiError> {
    let now = state.clock.now();
    let actor = format!("device:{}", device.id);
    let log = |outcome: &str, records: u64| Access {
        actor: actor.clone(),
        action: "sentinel_lookup".to_owned(),
        purpose: "entry check".to_owned(),
        outcome: outcome.to_owned(),
        records,
        at: now,
    };
    if let Err(wait) = state.sentinel_limiter.check(device.id, Instant::now()) {
        state.store.record_access(&log("rate_limited", 0)).await?;
        let mut resp = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "too many document lookups from this device; wait and try again",
        )
        .into_response();
        if let Ok(v) = HeaderValue::from_str(&wait.as_secs().max(1).to_string()) {
            resp.headers_mut().insert("retry-after", v);
        }
        return Ok(resp);
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
    let venue = venue_or_404(&state, device.venue_id).await?;
    let entry = venue_policy(&state, &venue)?;
    let Some(person) = state.store.person_by_document(&document).await? else {
        state.store.record_access(&log("not_found", 0)).await?;
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_registered",
            "no one is registered with this document; they can register at a service counter",
        ));
    };
    state.store.record_access(&log("ok", 1)).await?;
    let loaded = load(&state, person.id, now).await?;
    let status = evaluate_entry(&state, &loaded, now);
    let decision = entry.decide(&presented(&status));
    let checkin = NewCheckin {
        venue_id: venue.id,
        subject: person.subject,
        at: second(now)?,
        method: CheckinMethod::Sentinel,
        passed: decision.pass,
        device: None,
    };
    let checked_in = record_checkin(&state, &venue, checkin, now).await?;
    let (word, reasons) = decision_out(&decision);
    Ok(Json(GateOut {
        decision: word,
        pass: decision.pass,
        masked_name: Some(person.name.masked()),
        colour: Some(status.colour),
        region: Some(state.region.id().to_owned()),
        reasons,
        venue_id: venue.id,
        checked_in,
    })
    .into_response())
}
