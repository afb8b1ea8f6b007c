//! Liveness, readiness and the fallback for unknown paths.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;

use crate::error::ApiError;
use crate::state::AppState;

pub async fn healthz() -> &'static str {
    "ok"
}

/// Ready when the database answers (an index lookup, cheap at any size).
pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    match state.store.evidence_high_water().await {
        Ok(_) => (StatusCode::OK, "ready"),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "database unavailable"),
    }
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this endpoint does not take that method; the README's API table says which it takes",
    )
}

pub async fn not_found() -> ApiError {
    ApiError::not_found("no such endpoint; the API lives under /api/v1 (see README)")
}
