//! Family (他人代查): a resident adds up to four dependants — children, elderly people without
//! a phone — each through the identity provider's proofing of the dependant, and shows their
//! codes. A guardian sees only the dependants they added; being someone's guardian signs
//! nobody in as them.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};

use healthcode_domain::{DocumentNumber, DocumentType, PersonName};
use healthcode_store::Person;

use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, ApiQuery, Resident};
use crate::routes::residents::{self, CodeQuery, Enrolment};
use crate::state::AppState;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DependantIn {
    document_type: String,
    document_number: String,
    name: String,
}

#[derive(Debug, Serialize)]
pub struct DependantOut {
    pub id: i64,
    pub masked_name: String,
    pub masked_document: String,
}

impl DependantOut {
    pub fn of(p: &Person) -> DependantOut {
        DependantOut {
            id: p.id,
            masked_name: p.name.masked(),
            masked_document: p.document.masked(),
        }
    }
}

/// Proofs the dependant, registers them if they are new, and adds them to the guardian's
/// family. Shared by the API and the family page.
pub(crate) async fn add(
    state: &AppState,
    guardian: i64,
    document: DocumentNumber,
    name: PersonName,
) -> Result<Person, ApiError> {
    let (dependant, _) = residents::proofed_person(
        state,
        Enrolment {
            document,
            name,
            phone: None,
            recover: false,
        },
    )
    .await?;
    state
        .store
        .add_dependant(guardian, dependant.id, state.clock.now())
        .await?;
    tracing::info!(guardian, dependant = dependant.id, "dependant added");
    Ok(dependant)
}

/// The dependant `id` of `guardian`, or 403 `not_your_dependant` (whether or not such a
/// person exists: a guardian learns nothing of people they did not add).
pub(crate) async fn check(state: &AppState, guardian: i64, id: i64) -> Result<(), ApiError> {
    if state.store.is_dependant(guardian, id).await? {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "not_your_dependant",
            "this person is not one of your dependants",
        ))
    }
}

/// `GET /api/v1/me/dependants`
pub async fn list(
    State(state): State<AppState>,
    Resident(guardian): Resident,
) -> Result<Json<Vec<DependantOut>>, ApiError> {
    let people = state.store.dependants_of(guardian).await?;
    Ok(Json(people.iter().map(DependantOut::of).collect()))
}

/// `POST /api/v1/me/dependants`
pub async fn add_dependant(
    State(state): State<AppState>,
    Resident(guardian): Resident,
    ApiJson(body): ApiJson<DependantIn>,
) -> Result<(StatusCode, Json<DependantOut>), ApiError> {
    let kind = DocumentType::parse(&body.document_type)?;
    let document = DocumentNumber::parse(kind, &body.document_number)?;
    let name = PersonName::parse(&body.name)?;
    let dependant = add(&state, guardian, document, name).await?;
    Ok((StatusCode::CREATED, Json(DependantOut::of(&dependant))))
}

#[derive(Debug, Serialize)]
pub struct Removed {
    removed: bool,
}

/// `POST /api/v1/me/dependants/{id}/remove`
pub async fn remove(
    State(state): State<AppState>,
    Resident(guardian): Resident,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Removed>, ApiError> {
    check(&state, guardian, id).await?;
    let removed = state.store.remove_dependant(guardian, id).await?;
    tracing::info!(guardian, dependant = id, "dependant removed");
    Ok(Json(Removed { removed }))
}

/// `GET /api/v1/me/dependants/{id}/code`: the dependant's code, as their own app would get it.
pub async fn code(
    State(state): State<AppState>,
    Resident(guardian): Resident,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<CodeQuery>,
) -> Result<Response, ApiError> {
    check(&state, guardian, id).await?;
    residents::code_of(&state, id, &q).await
}

/// `GET /api/v1/me/dependants/{id}/status`
pub async fn status(
    State(state): State<AppState>,
    Resident(guardian): Resident,
    ApiPath(id): ApiPath<i64>,
) -> Result<Response, ApiError> {
    check(&state, guardian, id).await?;
    residents::status_of(&state, id).await
}
