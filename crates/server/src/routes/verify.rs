//! `POST /api/v1/verify`: the gate's verifier as a service. The body is `{"code": TEXT}`,
//! any format the verifier knows (native codes of this and every imported region, EU DCC,
//! SMART Health Cards); the answer is always 200 with the verification (`valid` true or
//! false, the reason, what the certificate says in masked form), the same shape
//! `healthcode verify --json` prints. Public, like the trust list: it tells nothing the
//! holder's code does not already show, and it is rate-limited per client like every route.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;

use healthcode_verify::Verification;

use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::state::AppState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyIn {
    pub code: String,
}

pub async fn verify(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<VerifyIn>,
) -> Result<Json<Verification>, ApiError> {
    let trust = state.verifier().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "verifier_unavailable",
            "the verifier's trust material is not loaded yet; try again shortly",
        )
    })?;
    let now = state.clock.now();
    Ok(Json(trust.verify(&body.code, now)))
}
