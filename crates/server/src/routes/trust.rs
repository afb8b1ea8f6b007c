//! Public, unauthenticated documents: the region's signed trust list and its status policy.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use crate::state::AppState;

pub async fn trust_list(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        state.trust_list().to_string(),
    )
}

/// The policy in force, as its TOML document: anyone may read the rules a colour comes from.
pub async fn policy(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/toml; charset=utf-8")],
        state.policy.source.clone(),
    )
}
