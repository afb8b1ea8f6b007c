//! Request extractors that fail with [`ApiError`]s: JSON bodies, and the two kinds of caller
//! (a data provider with an API key, a resident with a session token).

use axum::body::Bytes;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use healthcode_store::{Device, Provider, ProviderKind};

use crate::error::ApiError;
use crate::state::AppState;

/// A JSON body. Unknown fields are refused by the target types (`deny_unknown_fields`).
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        if !is_json(req.headers()) {
            return Err(json_error(JsonRejection::MissingJsonContentType(
                Default::default(),
            )));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "body_too_large",
                    "the body is larger than this endpoint accepts",
                )
            } else {
                ApiError::new(e.status(), "bad_body", e.body_text())
            }
        })?;
        // Checked on the text before it is parsed: one pass, whatever the target type.
        if crate::text::json_has_control(&bytes) {
            return Err(crate::text::refusal("body (a text field)"));
        }
        match axum::Json::<T>::from_bytes(&bytes) {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(rejection) => Err(json_error(rejection)),
        }
    }
}

/// Whether the request says its body is JSON: `application/json`, or a `+json` type.
fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

fn json_error(rejection: JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::JsonDataError(e) => ApiError::bad_request("invalid_field", e.body_text()),
        JsonRejection::JsonSyntaxError(e) => ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            format!("the body is not valid JSON: {}", e.body_text()),
        ),
        JsonRejection::MissingJsonContentType(_) => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "content_type",
            "send the body as JSON with Content-Type: application/json",
        ),
        JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                "the body is larger than this endpoint accepts",
            )
        }
        other => ApiError::new(other.status(), "bad_body", other.body_text()),
    }
}

/// A path parameter; a value of the wrong kind (`/venues/abc`) is a JSON error, 400
/// `invalid_path`, like every other refusal.
pub struct ApiPath<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(v)| ApiPath(v))
            .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_path", e.body_text()))
    }
}

/// The query string; unknown or malformed parameters are a JSON error, 400 `invalid_query`.
pub struct ApiQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(v)| ApiQuery(v))
            .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", e.body_text()))
    }
}

/// The bearer token of a request, if any.
fn bearer(parts: &Parts) -> Option<&str> {
    parts
        .headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

/// Secrets handed out by the server (API keys, session tokens) are 32 random bytes, so a
/// single SHA-256 is enough to store them: there is nothing to brute-force.
pub fn secret_hash(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// A data provider authenticated by its API key, of any kind.
pub struct ProviderAuth(pub Provider);

/// Which provider kinds an endpoint admits; checked while authenticating, before the body
/// is read, so a key used outside its scope is refused whatever it sends.
pub trait Scope {
    const KINDS: &'static [ProviderKind];
}

pub struct LabScope;
impl Scope for LabScope {
    const KINDS: &'static [ProviderKind] = &[ProviderKind::Lab];
}

pub struct VaccinationScope;
impl Scope for VaccinationScope {
    const KINDS: &'static [ProviderKind] = &[ProviderKind::Vaccination];
}

/// The CDC and community offices; which designations each may make is checked per kind.
pub struct DesignatorScope;
impl Scope for DesignatorScope {
    const KINDS: &'static [ProviderKind] = &[ProviderKind::Cdc, ProviderKind::Community];
}

/// The health authority's operators.
pub struct OperatorScope;
impl Scope for OperatorScope {
    const KINDS: &'static [ProviderKind] = &[ProviderKind::Operator];
}

/// Who may mark a confirmed case and read its contacts: operators and the CDC.
pub struct CaseScope;
impl Scope for CaseScope {
    const KINDS: &'static [ProviderKind] = &[ProviderKind::Operator, ProviderKind::Cdc];
}

/// A gate device authenticated by its key; it acts for its own venue only.
pub struct DeviceAuth(pub Device);

impl FromRequestParts<AppState> for DeviceAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let key = bearer(parts).ok_or_else(|| {
            ApiError::unauthorized("send the gate device key as Authorization: Bearer KEY")
        })?;
        if !key.starts_with(crate::auth::DEVICE_KEY_PREFIX) {
            return Err(ApiError::unauthorized("this is not a gate device key"));
        }
        match state.store.device_by_key(&secret_hash(key)).await? {
            Some(d) => Ok(DeviceAuth(d)),
            None => Err(ApiError::unauthorized("unknown device key")),
        }
    }
}

/// A provider whose kind is in `S`.
pub struct Scoped<S: Scope>(pub Provider, pub std::marker::PhantomData<S>);

impl<S: Scope> FromRequestParts<AppState> for Scoped<S> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let ProviderAuth(p) = ProviderAuth::from_request_parts(parts, state).await?;
        if S::KINDS.contains(&p.kind) {
            return Ok(Scoped(p, std::marker::PhantomData));
        }
        let wanted: Vec<&str> = S::KINDS.iter().map(|k| k.as_str()).collect();
        Err(ApiError::forbidden(format!(
            "a {} key cannot do this; it needs a {} key",
            p.kind.as_str(),
            wanted.join(" or ")
        )))
    }
}

impl FromRequestParts<AppState> for ProviderAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let key = bearer(parts).ok_or_else(|| {
            ApiError::unauthorized("send the provider API key as Authorization: Bearer KEY")
        })?;
        if !key.starts_with(crate::auth::PROVIDER_KEY_PREFIX) {
            return Err(ApiError::unauthorized("this is not a provider API key"));
        }
        match state.store.provider_by_key(&secret_hash(key)).await? {
            Some(p) => Ok(ProviderAuth(p)),
            None => Err(ApiError::unauthorized("unknown API key")),
        }
    }
}

/// A resident authenticated by a session token; holds the person's id.
pub struct Resident(pub i64);

impl FromRequestParts<AppState> for Resident {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        ResidentSession::from_request_parts(parts, state)
            .await
            .map(|s| Resident(s.person_id))
    }
}

/// A resident's session: the person and the hash of the token they sent (to end it).
pub struct ResidentSession {
    pub person_id: i64,
    pub token_hash: [u8; 32],
}

impl FromRequestParts<AppState> for ResidentSession {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer(parts).ok_or_else(|| {
            ApiError::unauthorized(
                "sign in first and send the session token as Authorization: Bearer TOKEN",
            )
        })?;
        session_for_token(state, token).await?.ok_or_else(|| {
            ApiError::unauthorized("the session token is unknown or has expired; sign in again")
        })
    }
}

/// The live session a token opens, if any: from this node's cache, else the store (and then
/// cached). Shared by the API's bearer tokens and the pages' session cookie.
pub(crate) async fn session_for_token(
    state: &AppState,
    token: &str,
) -> Result<Option<ResidentSession>, ApiError> {
    let token_hash = secret_hash(token);
    let now = state.clock.now();
    if let Some(person_id) = state.cache.session(&token_hash, now) {
        return Ok(Some(ResidentSession {
            person_id,
            token_hash,
        }));
    }
    match state.store.session_person(&token_hash, now).await? {
        Some((person_id, expires_at)) => {
            state
                .cache
                .put_session(token_hash, person_id, expires_at, now);
            Ok(Some(ResidentSession {
                person_id,
                token_hash,
            }))
        }
        None => Ok(None),
    }
}
