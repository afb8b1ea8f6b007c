//! Passkeys (WebAuthn, with `webauthn-rs`): creating one after identity proofing, and
//! signing in with it. User verification is required; no attestation is asked for.
//!
//! Sign-in is discoverable: the browser offers the passkeys it holds for this site and the
//! person picks one, so nobody types a document number to sign in, and the server does not
//! tell whether a document is registered. The passkey's user handle is derived from the
//! person's random subject ([`user_handle`]), never from the document.
//!
//! A ceremony's state is kept in the database for five minutes and taken once, so any node
//! can finish what another started and a replayed answer finds nothing.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, TimeDelta, Utc};
use rand::RngCore;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use webauthn_rs::prelude::{
    DiscoverableAuthentication, Passkey, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential, Url, Uuid, Webauthn, WebauthnBuilder,
};

use super::session::{Page, session_cookie};
use crate::auth::new_session_token;
use crate::error::ApiError;
use crate::extract::secret_hash;
use crate::state::AppState;
use healthcode_domain::engine::next_local_midnight;

const REGISTER: &str = "passkey_register";
const SIGNIN: &str = "passkey_signin";
/// How long a ceremony may take, from its options to the browser's answer.
const CEREMONY_LIFETIME: TimeDelta = TimeDelta::minutes(5);

/// The relying party: this server's public address, whose host name is the passkeys' scope.
pub struct PasskeyConfig {
    webauthn: Webauthn,
}

impl PasskeyConfig {
    /// `None` when the address has no host name (an IP address cannot scope a passkey:
    /// browsers refuse it), in which case passkeys are unavailable and say so.
    pub fn new(public_url: &Url, rp_name: &str) -> Option<PasskeyConfig> {
        let rp_id = public_url.domain()?;
        let webauthn = WebauthnBuilder::new(rp_id, public_url)
            .ok()?
            .rp_name(rp_name)
            .build()
            .ok()?;
        Some(PasskeyConfig { webauthn })
    }
}

/// The user handle a person's passkeys carry: derived from their random subject, so it names
/// nobody and is the same on every node.
pub fn user_handle(subject: &[u8; 16]) -> Uuid {
    let digest = Sha256::new()
        .chain_update(b"healthcode passkey user handle\0")
        .chain_update(subject)
        .finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    Uuid::from_bytes(bytes)
}

fn config(state: &AppState) -> Result<&PasskeyConfig, ApiError> {
    state.passkeys.as_deref().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "passkeys_unavailable",
            "passkeys need the server's public address to be a host name (e.g. http://localhost:8080), not an IP address",
        )
    })
}

fn refused(what: &str) -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "passkey_refused",
        format!("the passkey {what} was not accepted; try again"),
    )
}

fn new_ceremony_id() -> [u8; 16] {
    let mut id = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut id);
    id
}

fn ceremony_id(hex_id: &str) -> Result<[u8; 16], ApiError> {
    let mut id = [0u8; 16];
    hex::decode_to_slice(hex_id, &mut id).map_err(|_| {
        ApiError::bad_request("ceremony_unknown", "the ceremony is unknown or has expired")
    })?;
    Ok(id)
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    tracing::error!(error = %e, "passkey state could not be encoded");
    ApiError::internal()
}

/// Keeps a ceremony's state for [`CEREMONY_LIFETIME`] and answers the browser with the
/// ceremony's id and the options for `navigator.credentials`.
async fn begin(
    state: &AppState,
    kind: &str,
    person_id: Option<i64>,
    kept: &impl Serialize,
    options: Value,
) -> Result<Response, ApiError> {
    let id = new_ceremony_id();
    let now = state.clock.now();
    state
        .store
        .put_ceremony(
            &id,
            kind,
            person_id,
            &serde_json::to_vec(kept).map_err(internal)?,
            now + CEREMONY_LIFETIME,
        )
        .await?;
    Ok(Json(json!({ "ceremony": hex::encode(id), "options": options })).into_response())
}

/// Takes a ceremony's state, once: who began it (if anyone was signed in) and what was kept.
async fn take<T: DeserializeOwned>(
    state: &AppState,
    ceremony: &str,
    kind: &str,
    now: DateTime<Utc>,
) -> Result<(Option<i64>, T), ApiError> {
    let id = ceremony_id(ceremony)?;
    let (person_id, raw) = state
        .store
        .take_ceremony(&id, kind, now)
        .await?
        .ok_or_else(|| {
            ApiError::bad_request("ceremony_unknown", "the ceremony is unknown or has expired")
        })?;
    Ok((person_id, serde_json::from_slice(&raw).map_err(internal)?))
}

/// `POST /passkeys/register/start`: options for creating a passkey, for the signed-in person.
pub async fn register_start(
    State(state): State<AppState>,
    page: Page,
) -> Result<Response, ApiError> {
    let webauthn = &config(&state)?.webauthn;
    let session = page
        .session
        .ok_or_else(|| ApiError::unauthorized("sign in before creating a passkey"))?;
    let person = state.store.person(session.person_id).await?;
    let existing = state
        .store
        .passkeys_of(person.id)
        .await?
        .into_iter()
        .map(|p| p.credential_id)
        .collect::<Vec<_>>();
    let label = format!("{} {}", person.name.masked(), person.document.masked());
    let (options, registration) = webauthn
        .start_passkey_registration(user_handle(&person.subject), &label, &label, Some(existing))
        .map_err(internal)?;
    // A passkey others can discover at sign-in: nobody types a document number.
    let mut options = serde_json::to_value(&options).map_err(internal)?;
    if let Some(sel) = options.pointer_mut("/publicKey/authenticatorSelection") {
        sel["residentKey"] = json!("required");
        sel["requireResidentKey"] = json!(true);
    }
    begin(&state, REGISTER, Some(person.id), &registration, options).await
}

#[derive(Deserialize)]
pub struct RegisterFinish {
    ceremony: String,
    credential: RegisterPublicKeyCredential,
}

/// `POST /passkeys/register/finish`: checks the browser's answer and keeps the passkey.
pub async fn register_finish(
    State(state): State<AppState>,
    page: Page,
    Json(body): Json<RegisterFinish>,
) -> Result<Response, ApiError> {
    let webauthn = &config(&state)?.webauthn;
    let session = page
        .session
        .ok_or_else(|| ApiError::unauthorized("sign in before creating a passkey"))?;
    let now = state.clock.now();
    let (person_id, registration): (_, PasskeyRegistration) =
        take(&state, &body.ceremony, REGISTER, now).await?;
    if person_id != Some(session.person_id) {
        return Err(ApiError::forbidden(
            "this ceremony was started by someone else",
        ));
    }
    let passkey = webauthn
        .finish_passkey_registration(&body.credential, &registration)
        .map_err(|e| {
            tracing::info!(error = %e, "passkey registration refused");
            refused("registration")
        })?;
    let stored = serde_json::to_vec(&passkey).map_err(internal)?;
    state
        .store
        .add_passkey(session.person_id, passkey.cred_id().as_ref(), &stored, now)
        .await?;
    tracing::info!(person = session.person_id, "passkey created");
    Ok(Json(json!({ "created": true })).into_response())
}

/// `POST /passkeys/signin/start`: a challenge any of this site's passkeys can answer.
pub async fn signin_start(State(state): State<AppState>) -> Result<Response, ApiError> {
    let webauthn = &config(&state)?.webauthn;
    let (options, authentication) = webauthn
        .start_discoverable_authentication()
        .map_err(internal)?;
    let mut options = serde_json::to_value(&options).map_err(internal)?;
    // Asked for by a button, not offered by autofill.
    if let Value::Object(o) = &mut options {
        o.remove("mediation");
    }
    begin(&state, SIGNIN, None, &authentication, options).await
}

#[derive(Deserialize)]
pub struct SigninFinish {
    ceremony: String,
    credential: PublicKeyCredential,
}

/// `POST /passkeys/signin/finish`: checks the assertion, then opens a session (until 24:00
/// local time, like every session) in the session cookie.
pub async fn signin_finish(
    State(state): State<AppState>,
    Json(body): Json<SigninFinish>,
) -> Result<Response, ApiError> {
    let webauthn = &config(&state)?.webauthn;
    let now = state.clock.now();
    let (_, authentication): (_, DiscoverableAuthentication) =
        take(&state, &body.ceremony, SIGNIN, now).await?;
    let (handle, credential_id) = webauthn
        .identify_discoverable_authentication(&body.credential)
        .map_err(|_| refused("sign-in"))?;
    let stored = state
        .store
        .passkey_by_credential(credential_id)
        .await?
        .ok_or_else(|| refused("sign-in"))?;
    let person = state.store.person(stored.person_id).await?;
    if user_handle(&person.subject) != handle {
        return Err(refused("sign-in"));
    }
    let mut passkey: Passkey = serde_json::from_slice(&stored.passkey).map_err(internal)?;
    let result = webauthn
        .finish_discoverable_authentication_v2(&body.credential, authentication, &passkey)
        .map_err(|e| {
            tracing::info!(error = %e, "passkey sign-in refused");
            refused("sign-in")
        })?;
    if !result.user_verified() {
        return Err(refused("sign-in"));
    }
    passkey.update_credential(&result);
    let updated = serde_json::to_vec(&passkey).map_err(internal)?;
    if !state.store.use_passkey(stored.id, &updated, now).await? {
        return Err(refused("sign-in"));
    }
    let token = new_session_token();
    let expires_at = next_local_midnight(now, state.region.tz());
    state
        .store
        .create_session(person.id, &secret_hash(&token), now, expires_at)
        .await?;
    tracing::info!(person = person.id, "signed in with a passkey");
    let mut response = Json(json!({ "signed_in": true, "next": "/code" })).into_response();
    let cookie = HeaderValue::from_str(&session_cookie(&state, &token, now, expires_at))
        .map_err(internal)?;
    response.headers_mut().append(header::SET_COOKIE, cookie);
    Ok(response)
}
