//! Check-ins seen by residents: checking in with a venue's place code (场所码) and the 14-day
//! travel history; and storing one check-in, which the gate's scan and lookup do as well.
//!
//! What this module does not own: what a gate does (`gate`), the venue registry (`venues`),
//! uploads of many check-ins (`gate`), exposure computed from check-ins (`crate::venues`).

use std::collections::{BTreeSet, HashMap};

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use healthcode_domain::{Colour, Presented, Status};
use healthcode_store::{CheckinMethod, NewCheckin, Venue};

use crate::api::gate::{Reason, Verdict, reasons};
use crate::api::venues::{CheckinMethodView, VenueView};
use crate::error::ApiError;
use crate::extract::{ApiJson, Resident};
use crate::routes::evidence::second;
use crate::routes::residents::{evaluate_entry, load};
use crate::routes::venues::{venue_or_404, venue_policy};
use crate::state::AppState;
use crate::venues::apply_areas_to;

/// What a gate would read off the code of someone with `status`.
pub(crate) fn presented(status: &Status) -> Presented<'_> {
    Presented {
        colour: status.colour,
        reminders: &status.reminders,
        test_recency_days: status.test_recency.map(|r| r.days),
        vaccination: status.vaccination,
    }
}

/// Someone at a venue's door now.
pub(crate) struct Visit {
    /// The subject of their code.
    pub subject: [u8; 16],
    pub method: CheckinMethod,
    /// Whether the door let them in.
    pub passed: bool,
    /// The gate's (device, seq), if it numbers its scans: stored once however often sent.
    pub device: Option<(i64, i64)>,
}

/// Stores the check-in of `visit` at `venue`, at `now` to the second, and applies open risk
/// areas to it; false when it was a duplicate.
pub(crate) async fn record_checkin(
    state: &AppState,
    venue: &Venue,
    visit: Visit,
    now: DateTime<Utc>,
) -> Result<bool, ApiError> {
    let at = second(now)?;
    // A self check-in counts as presence even where the door would stop the person.
    let present = visit.passed || visit.method == CheckinMethod::SelfScan;
    let checkin = NewCheckin {
        venue_id: venue.id,
        at,
        subject: visit.subject,
        method: visit.method,
        passed: visit.passed,
        device: visit.device,
        flagged: false,
    };
    let stored = state.store.add_checkins(&[checkin], now).await?;
    // Also for a check-in already stored: a retry after a failure here must still designate
    // (designations are idempotent).
    apply_areas_to(state, venue, &[(visit.subject, at, present)], now).await?;
    Ok(stored.stored == 1)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SelfCheckinIn {
    place_code: String,
}

#[derive(Debug, Serialize)]
pub struct SelfCheckinOut {
    venue: VenueView,
    decision: Verdict,
    pass: bool,
    reasons: Vec<Reason>,
    checked_in_at: DateTime<Utc>,
}

/// A self check-in done: where, when, and what the venue's door says of the person now.
pub(crate) struct SelfCheckin {
    pub venue: Venue,
    /// The person's colour, as a gate would read it off their code.
    pub colour: Colour,
    pub pass: bool,
    pub reasons: Vec<Reason>,
    pub at: DateTime<Utc>,
}

/// The venue a place code (场所码) names, once it verifies as one of this region's.
pub(crate) fn place_code_venue(
    state: &AppState,
    place_code: &str,
    now: DateTime<Utc>,
) -> Result<i64, ApiError> {
    let Some(trust) = state.verifier() else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "trust_unavailable",
            "the trust list is not loaded yet; try again shortly",
        ));
    };
    let place = trust
        .native()
        .verify_place(place_code.trim(), now)
        .map_err(|e| {
            ApiError::bad_request(
                "place_code_invalid",
                format!("this is not a valid place code: {e}"),
            )
        })?;
    if place.region != state.region.id() {
        return Err(ApiError::bad_request(
            "place_code_other_region",
            format!(
                "this place code belongs to region {}; check in with that region's app",
                place.region
            ),
        ));
    }
    Ok(place.venue_id)
}

/// Checks person `person_id` in at venue `venue_id` now, as having scanned its place code
/// (the API's self check-in and the resident's pages both come here).
pub(crate) async fn check_in_self(
    state: &AppState,
    person_id: i64,
    venue_id: i64,
    now: DateTime<Utc>,
) -> Result<SelfCheckin, ApiError> {
    let venue = venue_or_404(state, venue_id).await?;
    let entry = venue_policy(state, &venue)?;
    let loaded = load(state, person_id, now).await?;
    let status = evaluate_entry(state, &loaded, now);
    let decision = entry.decide(&presented(&status));
    let visit = Visit {
        subject: loaded.who.subject,
        method: CheckinMethod::SelfScan,
        passed: decision.pass,
        device: None,
    };
    record_checkin(state, &venue, visit, now).await?;
    Ok(SelfCheckin {
        venue,
        colour: status.colour,
        pass: decision.pass,
        reasons: reasons(&decision),
        at: second(now)?,
    })
}

/// A resident scanned a venue's place code (场所码): check in, and see whether the venue's
/// entry policy lets them in.
pub async fn self_checkin(
    State(state): State<AppState>,
    Resident(person_id): Resident,
    ApiJson(body): ApiJson<SelfCheckinIn>,
) -> Result<(StatusCode, Json<SelfCheckinOut>), ApiError> {
    let now = state.clock.now();
    let venue_id = place_code_venue(&state, &body.place_code, now)?;
    let done = check_in_self(&state, person_id, venue_id, now).await?;
    Ok((
        StatusCode::CREATED,
        Json(SelfCheckinOut {
            venue: done.venue.into(),
            decision: Verdict::of(done.pass),
            pass: done.pass,
            reasons: done.reasons,
            checked_in_at: done.at,
        }),
    ))
}

/// Days of travel history a resident sees.
pub(crate) const HISTORY_DAYS: i64 = 14;

#[derive(Debug, Serialize)]
pub struct HistoryOut {
    pub(crate) days: i64,
    /// Districts visited, in name order.
    pub(crate) districts: Vec<String>,
    pub(crate) checkins: Vec<HistoryRow>,
}

#[derive(Debug, Serialize)]
pub struct HistoryRow {
    pub(crate) at: DateTime<Utc>,
    pub(crate) venue_id: i64,
    pub(crate) venue: String,
    pub(crate) district: String,
    pub(crate) method: CheckinMethodView,
    pub(crate) passed: bool,
}

/// The resident's 14-day travel history: where they checked in, newest first.
pub async fn history(
    State(state): State<AppState>,
    Resident(person_id): Resident,
) -> Result<Json<HistoryOut>, ApiError> {
    let now = state.clock.now();
    Ok(Json(travel_history(&state, person_id, now).await?))
}

/// Where person `person_id` checked in over the last [`HISTORY_DAYS`], newest first.
pub(crate) async fn travel_history(
    state: &AppState,
    person_id: i64,
    now: DateTime<Utc>,
) -> Result<HistoryOut, ApiError> {
    let loaded = load(state, person_id, now).await?;
    let rows = state
        .store
        .checkins_of(&loaded.who.subject, now - TimeDelta::days(HISTORY_DAYS))
        .await?;
    let mut venues: HashMap<i64, Option<Venue>> = HashMap::new();
    for r in &rows {
        if let std::collections::hash_map::Entry::Vacant(slot) = venues.entry(r.venue_id) {
            slot.insert(state.store.venue(r.venue_id).await?);
        }
    }
    let mut districts = BTreeSet::new();
    let checkins = rows
        .iter()
        .filter_map(|r| {
            let v = venues.get(&r.venue_id)?.as_ref()?;
            districts.insert(v.district.clone());
            Some(HistoryRow {
                at: r.at,
                venue_id: v.id,
                venue: v.name.clone(),
                district: v.district.clone(),
                method: r.method.into(),
                passed: r.passed,
            })
        })
        .collect();
    Ok(HistoryOut {
        days: HISTORY_DAYS,
        districts: districts.into_iter().collect(),
        checkins,
    })
}
