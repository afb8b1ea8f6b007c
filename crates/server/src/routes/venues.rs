//! The venue registry (operators): venues and their entry policies, gate devices, and the
//! place-code poster a venue hangs at its door. `GET /api/v1/venues/{id}` is public.
//!
//! What this module does not own: what a gate does (`gate`), check-ins by residents
//! (`checkins`), the poster's drawing (`crate::poster`).

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use healthcode_credential::{PlaceClaims, issue_place_code};
use healthcode_domain::{DocumentNumber, DocumentType, EntryPolicy, Label};
use healthcode_store::{Access, Provider, StoreError, Venue};

use crate::api::venues::{DeviceView, VenueView};
use crate::auth::new_device_key;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, ApiQuery, OperatorScope, Scoped};
use crate::poster::{PosterVenue, poster_html, poster_svg};
use crate::routes::evidence::second;
use crate::state::AppState;

/// A line of text for a place (its name, district, address), as [`Label`] checks it.
pub(crate) fn text_field(
    what: &'static str,
    raw: &str,
    min: usize,
    max: usize,
) -> Result<String, ApiError> {
    Label::parse(raw, min, max)
        .map(Label::into_string)
        .map_err(|_| {
            ApiError::bad_request(
                "invalid_field",
                format!(
                    "{what} must be {min} to {max} characters, without control or invisible \
                     characters"
                ),
            )
        })
}

/// Longest district name, in characters (the longest of China's county-level names is 18).
pub(crate) const MAX_DISTRICT: usize = 50;

pub(crate) fn venue_policy<'a>(
    state: &'a AppState,
    venue: &Venue,
) -> Result<&'a EntryPolicy, ApiError> {
    state.policy.venue(&venue.kind).ok_or_else(|| {
        ApiError::new(
            StatusCode::CONFLICT,
            "venue_type_unknown",
            format!(
                "venue type {:?} is not in the policy in force ({}); add it or change the venue",
                venue.kind, state.policy.version
            ),
        )
    })
}

pub(crate) async fn venue_or_404(state: &AppState, id: i64) -> Result<Venue, ApiError> {
    state
        .store
        .venue(id)
        .await?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "unknown_venue", "no such venue"))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VenueIn {
    name: String,
    kind: String,
    district: String,
    #[serde(default)]
    address: String,
}

#[derive(Debug, Serialize)]
pub struct VenueOut {
    #[serde(flatten)]
    venue: VenueView,
    entry_policy: EntryPolicy,
}

/// Registers a venue of a type the policy knows.
pub async fn add_venue(
    State(state): State<AppState>,
    _op: Scoped<OperatorScope>,
    ApiJson(body): ApiJson<VenueIn>,
) -> Result<(StatusCode, Json<VenueOut>), ApiError> {
    let name = text_field("name", &body.name, 1, 100)?;
    let district = text_field("district", &body.district, 1, MAX_DISTRICT)?;
    let address = text_field("address", &body.address, 0, 200)?;
    let Some(policy) = state.policy.venue(&body.kind) else {
        let known: Vec<&str> = state
            .policy
            .venue_types()
            .map(|p| p.kind.as_str())
            .collect();
        return Err(ApiError::bad_request(
            "venue_type_unknown",
            format!(
                "kind must be one of the policy's venue types: {}",
                known.join(", ")
            ),
        ));
    };
    let now = state.clock.now();
    let venue = state
        .store
        .add_venue(&name, &body.kind, &district, &address, now)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(VenueOut {
            venue: venue.into(),
            entry_policy: policy.clone(),
        }),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VenuesQuery {
    district: Option<String>,
}

pub async fn list_venues(
    State(state): State<AppState>,
    _op: Scoped<OperatorScope>,
    ApiQuery(q): ApiQuery<VenuesQuery>,
) -> Result<Json<Vec<VenueView>>, ApiError> {
    let district = q
        .district
        .as_deref()
        .map(|d| {
            Label::parse(d, 1, MAX_DISTRICT).map_err(|_| {
                ApiError::bad_request(
                    "invalid_query",
                    format!("district must be 1 to {MAX_DISTRICT} visible characters"),
                )
            })
        })
        .transpose()?;
    let venues = state
        .store
        .venues(district.as_ref().map(Label::as_str))
        .await?;
    Ok(Json(venues.into_iter().map(VenueView::from).collect()))
}

/// A venue and its entry policy: public, as the door itself is.
pub async fn venue(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<VenueOut>, ApiError> {
    let venue = venue_or_404(&state, id).await?;
    let entry_policy = venue_policy(&state, &venue)?.clone();
    Ok(Json(VenueOut {
        venue: venue.into(),
        entry_policy,
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceIn {
    name: String,
}

#[derive(Debug, Serialize)]
pub struct DeviceOut {
    #[serde(flatten)]
    device: DeviceView,
    /// Shown once; only its hash is stored.
    key: String,
}

/// Adds a gate device to a venue and returns its key.
pub async fn add_device(
    State(state): State<AppState>,
    _op: Scoped<OperatorScope>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<DeviceIn>,
) -> Result<(StatusCode, Json<DeviceOut>), ApiError> {
    let name = text_field("name", &body.name, 1, 100)?;
    venue_or_404(&state, id).await?;
    let key = new_device_key();
    let device = state
        .store
        .add_device(
            id,
            &name,
            &crate::extract::secret_hash(&key),
            state.clock.now(),
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(DeviceOut {
            device: device.into(),
            key,
        }),
    ))
}

/// The signed place code of a venue, as a poster would carry it.
pub fn place_code(state: &AppState, venue_id: i64, now: DateTime<Utc>) -> Result<String, ApiError> {
    let issued_at = second(now)?;
    issue_place_code(
        &PlaceClaims {
            region: state.region.id().to_owned(),
            venue_id,
            issued_at,
        },
        &state.issuer(),
    )
    .map_err(|e| {
        tracing::error!(error = %e, "place code signing failed");
        ApiError::internal()
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PosterQuery {
    /// `svg` (default) or `html` (a print-ready A4 page).
    format: Option<String>,
}

/// The place-code poster of a venue, as SVG or a print-ready page.
pub async fn poster(
    State(state): State<AppState>,
    _op: Scoped<OperatorScope>,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<PosterQuery>,
) -> Result<Response, ApiError> {
    let venue = venue_or_404(&state, id).await?;
    poster_response(&state, &venue, q.format.as_deref())
}

/// The poster of `venue` in `format` (`svg`, the default, or `html`), for the operator's API
/// and the venue manager's page alike.
pub(crate) fn poster_response(
    state: &AppState,
    venue: &Venue,
    format: Option<&str>,
) -> Result<Response, ApiError> {
    let kind = venue_policy(state, venue)?;
    // Issued as of the venue's registration, so that every print of a poster is the same.
    let code = place_code(state, venue.id, venue.created_at)?;
    let label = format!("{} {}", kind.label_zh, kind.label_en);
    let p = PosterVenue {
        id: venue.id,
        name: &venue.name,
        kind: &label,
        district: &venue.district,
        address: &venue.address,
        region: state.region.id(),
    };
    let poster_failed = |e: crate::poster::PosterError| {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e.code(), e.to_string())
    };
    let (content_type, body) = match format {
        None | Some("svg") => (
            "image/svg+xml",
            poster_svg(&p, &code).map_err(poster_failed)?,
        ),
        Some("html") => (
            "text/html; charset=utf-8",
            poster_html(&p, &code).map_err(poster_failed)?,
        ),
        Some(_) => {
            return Err(ApiError::bad_request(
                "invalid_query",
                "format must be svg or html",
            ));
        }
    };
    Ok((
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_SECURITY_POLICY, POSTER_CSP),
        ],
        body,
    )
        .into_response())
}

/// A poster draws with inline style only and loads and runs nothing.
const POSTER_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; \
                          base-uri 'none'; form-action 'none'";

/// Every gate device of a venue, revoked ones included.
pub async fn list_devices(
    State(state): State<AppState>,
    _op: Scoped<OperatorScope>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Vec<DeviceView>>, ApiError> {
    venue_or_404(&state, id).await?;
    let devices = state.store.devices_of(id).await?;
    Ok(Json(devices.into_iter().map(DeviceView::from).collect()))
}

/// Revokes a gate device: its key (or its browser's credential) stops working at once.
pub async fn revoke_device(
    State(state): State<AppState>,
    Scoped(op, _): Scoped<OperatorScope>,
    ApiPath((id, device_id)): ApiPath<(i64, i64)>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let now = state.clock.now();
    let was_live = state
        .store
        .revoke_device(id, device_id, now)
        .await
        .map_err(|e| match e {
            StoreError::NotFound => ApiError::new(
                StatusCode::NOT_FOUND,
                "unknown_device",
                "no such device at this venue",
            ),
            e => e.into(),
        })?;
    tracing::info!(
        device = device_id,
        venue = id,
        operator = op.id,
        "gate device revoked"
    );
    Ok(Json(
        serde_json::json!({ "device_id": device_id, "revoked": true, "was_live": was_live }),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManagerIn {
    document_type: String,
    document_number: String,
}

/// A venue's manager as the operator sees them: the assignment and a masked name.
#[derive(Debug, Serialize)]
pub struct ManagerOut {
    /// The assignment's number, for `DELETE /api/v1/venues/{id}/managers/{assignment}`.
    id: i64,
    venue_id: i64,
    masked_name: String,
    assigned_at: DateTime<Utc>,
}

fn manager_access(
    op: &Provider,
    action: &str,
    outcome: &str,
    records: u64,
    at: DateTime<Utc>,
) -> Access {
    Access {
        actor: format!("provider:{}", op.id),
        action: action.to_owned(),
        purpose: "venue management".to_owned(),
        outcome: outcome.to_owned(),
        records,
        at,
    }
}

/// Makes the registered person with this document a manager of the venue: they then manage
/// it on `/venues` after signing in with their passkey. The look-up is in the access log.
pub async fn add_manager(
    State(state): State<AppState>,
    Scoped(op, _): Scoped<OperatorScope>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<ManagerIn>,
) -> Result<(StatusCode, Json<ManagerOut>), ApiError> {
    let now = state.clock.now();
    let venue = venue_or_404(&state, id).await?;
    let document = DocumentType::parse(&body.document_type)
        .and_then(|k| DocumentNumber::parse(k, &body.document_number))?;
    let Some(person) = state.store.person_by_document(&document).await? else {
        state
            .store
            .record_access(&manager_access(&op, "assign_manager", "not_found", 0, now))
            .await?;
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_registered",
            "no one is registered with this document; the manager registers in the resident app first",
        ));
    };
    state
        .store
        .record_access(&manager_access(&op, "assign_manager", "ok", 1, now))
        .await?;
    let m = state.store.assign_manager(venue.id, person.id, now).await?;
    Ok((
        StatusCode::CREATED,
        Json(ManagerOut {
            id: m.id,
            venue_id: m.venue_id,
            masked_name: person.name.masked(),
            assigned_at: m.assigned_at,
        }),
    ))
}

/// The managers of a venue (masked names; the read is in the access log).
pub async fn list_managers(
    State(state): State<AppState>,
    Scoped(op, _): Scoped<OperatorScope>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Vec<ManagerOut>>, ApiError> {
    let now = state.clock.now();
    venue_or_404(&state, id).await?;
    let managers = state.store.managers_of(id).await?;
    let mut out = Vec::with_capacity(managers.len());
    for m in managers {
        let person = state.store.person(m.person_id).await?;
        out.push(ManagerOut {
            id: m.id,
            venue_id: m.venue_id,
            masked_name: person.name.masked(),
            assigned_at: m.assigned_at,
        });
    }
    state
        .store
        .record_access(&manager_access(
            &op,
            "list_managers",
            "ok",
            u64::try_from(out.len()).unwrap_or(u64::MAX),
            now,
        ))
        .await?;
    Ok(Json(out))
}

/// Ends an assignment: that person no longer manages the venue.
pub async fn remove_manager(
    State(state): State<AppState>,
    _op: Scoped<OperatorScope>,
    ApiPath((id, assignment)): ApiPath<(i64, i64)>,
) -> Result<StatusCode, ApiError> {
    if state.store.unassign_manager(id, assignment).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_manager",
            "no such manager of this venue",
        ))
    }
}
