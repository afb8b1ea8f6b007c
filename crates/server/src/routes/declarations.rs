//! A resident's own declarations (自主申报, the health and trip declarations of GB/T 38962):
//! symptoms with the day they began, or an arrival from another region. Each is stored as
//! evidence from the person (`Store::declare`); what it does to the status is the policy's.
//!
//! The pages (`web::declare`) declare through [`record`] too. What this module does not own:
//! the checks on what is declared (`healthcode_domain::declaration`), its effect (the engine).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use rand::RngCore;
use serde::{Deserialize, Serialize};

use healthcode_domain::{Declaration, DeclarationError, Declared};

use crate::error::ApiError;
use crate::extract::{ApiJson, Resident};
use crate::routes::evidence::second;
use crate::routes::residents::load;
use crate::state::AppState;

/// Declarations a person may make in any 24 hours: far above what anyone needs, low enough
/// that a script cannot fill the evidence table through one session.
pub const MAX_PER_DAY: usize = 20;

/// A declaration as the API shows it.
#[derive(Debug, Serialize)]
pub struct DeclarationOut {
    id: i64,
    record_id: String,
    #[serde(flatten)]
    declared: Declared,
    declared_at: DateTime<Utc>,
    /// Always `"self"`: the person declared it.
    source: &'static str,
}

impl From<&Declaration> for DeclarationOut {
    fn from(d: &Declaration) -> Self {
        DeclarationOut {
            id: d.meta.id,
            record_id: d.meta.record_id.clone(),
            declared: d.declared.clone(),
            declared_at: d.declared_at,
            source: "self",
        }
    }
}

/// Stores `declared` as the declaration of `person_id` made at `now`, unless they have made
/// [`MAX_PER_DAY`] in the last 24 hours, and drops them from this node's cache so that their
/// next status includes it.
pub(crate) async fn record(
    state: &AppState,
    person_id: i64,
    declared: Declared,
    now: DateTime<Utc>,
) -> Result<DeclarationOut, ApiError> {
    let entry = load(state, person_id, now).await?;
    let recent = entry
        .evidence
        .declarations
        .iter()
        .filter(|d| d.declared_at > now - TimeDelta::hours(24))
        .count();
    if recent >= MAX_PER_DAY {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "declarations_limit",
            format!("at most {MAX_PER_DAY} declarations in 24 hours; try again tomorrow"),
        ));
    }
    let mut bytes = [0u8; 12];
    rand::thread_rng().fill_bytes(&mut bytes);
    let record_id = format!("self-{}", hex::encode(bytes));
    let subject = entry.who.doc_index;
    let stored = state
        .store
        .declare(&subject, &record_id, &declared, now)
        .await?;
    state.cache.invalidate(std::iter::once(&stored.subject));
    tracing::info!(
        kind = declared.kind().as_str(),
        outcome = ?stored.outcome,
        "declaration stored"
    );
    Ok(DeclarationOut {
        id: stored.id,
        record_id,
        declared,
        declared_at: second(now)?,
        source: "self",
    })
}

impl From<DeclarationError> for ApiError {
    fn from(e: DeclarationError) -> Self {
        ApiError::bad_request(e.code(), e.to_string())
    }
}

/// `{"kind": "symptoms", "symptoms": [...], "onset": "YYYY-MM-DD"}` or
/// `{"kind": "arrival", "from": "...", "arrived_at": "RFC 3339"}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeclarationIn {
    kind: String,
    symptoms: Option<Vec<String>>,
    onset: Option<NaiveDate>,
    from: Option<String>,
    arrived_at: Option<DateTime<Utc>>,
}

fn missing(field: &str, kind: &str) -> ApiError {
    ApiError::bad_request(
        "invalid_field",
        format!("a declaration of kind {kind:?} needs `{field}`"),
    )
}

fn extra(field: &str, kind: &str) -> ApiError {
    ApiError::bad_request(
        "invalid_field",
        format!("`{field}` does not belong in a declaration of kind {kind:?}"),
    )
}

impl DeclarationIn {
    fn parse(self, state: &AppState, now: DateTime<Utc>) -> Result<Declared, ApiError> {
        match self.kind.as_str() {
            "symptoms" => {
                if self.from.is_some() {
                    return Err(extra("from", "symptoms"));
                }
                if self.arrived_at.is_some() {
                    return Err(extra("arrived_at", "symptoms"));
                }
                let symptoms = self
                    .symptoms
                    .ok_or_else(|| missing("symptoms", "symptoms"))?;
                let onset = self.onset.ok_or_else(|| missing("onset", "symptoms"))?;
                Ok(Declared::symptoms(
                    &symptoms,
                    onset,
                    state.region.tz(),
                    now,
                )?)
            }
            "arrival" => {
                if self.symptoms.is_some() {
                    return Err(extra("symptoms", "arrival"));
                }
                if self.onset.is_some() {
                    return Err(extra("onset", "arrival"));
                }
                let from = self.from.ok_or_else(|| missing("from", "arrival"))?;
                let at = self
                    .arrived_at
                    .ok_or_else(|| missing("arrived_at", "arrival"))?;
                Ok(Declared::arrival(&from, second(at)?, now)?)
            }
            _ => Err(ApiError::bad_request(
                "declaration_kind_unknown",
                "`kind` must be \"symptoms\" or \"arrival\"",
            )),
        }
    }
}

/// `POST /api/v1/me/declarations`: the signed-in person declares symptoms or an arrival.
pub async fn declare(
    State(state): State<AppState>,
    Resident(person_id): Resident,
    ApiJson(body): ApiJson<DeclarationIn>,
) -> Result<(StatusCode, Json<DeclarationOut>), ApiError> {
    let now = state.clock.now();
    let declared = body.parse(&state, now)?;
    let out = record(&state, person_id, declared, now).await?;
    Ok((StatusCode::CREATED, Json(out)))
}

#[derive(Debug, Serialize)]
pub struct DeclarationsOut {
    /// Newest first.
    declarations: Vec<DeclarationOut>,
}

/// `GET /api/v1/me/declarations`: the person's own declarations, newest first.
pub async fn list(
    State(state): State<AppState>,
    Resident(person_id): Resident,
) -> Result<Json<DeclarationsOut>, ApiError> {
    let now = state.clock.now();
    let entry = load(&state, person_id, now).await?;
    let declarations = entry
        .evidence
        .declarations
        .iter()
        .rev()
        .map(DeclarationOut::from)
        .collect();
    Ok(Json(DeclarationsOut { declarations }))
}
