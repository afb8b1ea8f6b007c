//! Paper passes (纸质通行证): the signed `HCZ1:` text printed on a resident's pass sheet, and
//! what a gate learns when it sends one back (`POST /api/v1/gate/pass`). The pass names a
//! serial in the store, never a status: the status is looked up when the pass is shown.
//!
//! What this module does not own: the pass's format (`healthcode_credential::issue_pass`,
//! docs/FORMAT.md §9), storing and revoking passes (the store's `Residents`), the printable
//! page (`web::pages`), the door's rule (domain).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use healthcode_credential::{PassClaims, issue_pass};
use healthcode_store::{Device, PaperPass};

use crate::api::gate::PassRequest;
use crate::cache::CodeSubject;
use crate::error::ApiError;
use crate::extract::{ApiJson, DeviceAuth};
use crate::routes::gate::{answer_at_door, limit_lookups, lookup_log};
use crate::routes::venues::{venue_or_404, venue_policy};
use crate::state::AppState;

/// The signed text of `pass`, printed for `who`. Signing is deterministic and the issue time
/// is the pass's own, so every print of one pass carries the same QR.
pub fn pass_text(
    state: &AppState,
    who: &CodeSubject,
    pass: &PaperPass,
) -> Result<String, ApiError> {
    issue_pass(
        &PassClaims {
            region: state.region.id().to_owned(),
            serial: pass.serial,
            issued_at: pass.created_at,
            masked_name: who.masked_name.clone(),
            masked_document: who.masked_document.clone(),
            document_type: who.document_type,
        },
        &state.issuer(),
    )
    .map_err(|e| {
        tracing::error!(error = %e, "paper pass signing failed");
        ApiError::internal()
    })
}

/// A gate was shown a paper pass: check its signature and region, find the pass, refuse it if
/// revoked, and otherwise answer like the digital sentinel (the holder's current status
/// against the venue's policy, a check-in recorded as a sentinel check). Limited per device
/// by the sentinel's limiter, since both turn something printed into a person's status; every
/// request, and every refusal, is in the access log as `pass_lookup`.
pub async fn gate_pass(
    State(state): State<AppState>,
    DeviceAuth(device): DeviceAuth,
    ApiJson(body): ApiJson<PassRequest>,
) -> Result<Response, ApiError> {
    pass_for(&state, device, body).await
}

/// `device` was shown a paper pass (see [`gate_pass`]).
pub(crate) async fn pass_for(
    state: &AppState,
    device: Device,
    body: PassRequest,
) -> Result<Response, ApiError> {
    let now = state.clock.now();
    let log = lookup_log(device.id, "pass_lookup", now);
    if let Some(refused) = limit_lookups(
        state,
        device.id,
        &log,
        "too many pass and document lookups from this device; wait and try again",
    )
    .await?
    {
        return Ok(refused);
    }
    let Some(trust) = state.verifier() else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "trust_unavailable",
            "the trust list is not loaded yet; try again shortly",
        ));
    };
    let claims = match trust.native().verify_pass(body.pass.trim(), now) {
        Ok(c) => c,
        Err(e) => {
            state.store.record_access(&log("invalid_pass", 0)).await?;
            return Err(ApiError::bad_request(
                "pass_invalid",
                format!("this is not a valid paper pass ({}): {e}", e.code()),
            ));
        }
    };
    if claims.region != state.region.id() {
        state.store.record_access(&log("other_region", 0)).await?;
        return Err(ApiError::bad_request(
            "pass_other_region",
            format!(
                "this paper pass was issued by region {}; only that region can look it up",
                claims.region
            ),
        ));
    }
    let Some(pass) = state.store.paper_pass(&claims.serial).await? else {
        state.store.record_access(&log("unknown", 0)).await?;
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "pass_unknown",
            "no such paper pass in this region's registry; the holder can print one at a service counter",
        ));
    };
    if pass.revoked_at.is_some() {
        state.store.record_access(&log("revoked", 0)).await?;
        return Err(ApiError::new(
            StatusCode::GONE,
            "pass_revoked",
            "this paper pass was revoked (a newer one was printed, or it was reported lost); ask for the current pass",
        ));
    }
    state.store.record_access(&log("ok", 1)).await?;
    let venue = venue_or_404(state, device.venue_id).await?;
    let entry = venue_policy(state, &venue)?;
    answer_at_door(state, &venue, entry, pass.person_id, now).await
}
