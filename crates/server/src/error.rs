//! The HTTP edge's error: every failure leaves as JSON `{"error": {"code", "message"}}` with
//! a stable code a client can branch on and a message a person can act on. Internal details
//! are logged (without personal data), never sent.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use healthcode_domain::{DocumentError, EvidenceError, PersonError};
use healthcode_store::StoreError;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }

    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn internal() -> ApiError {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "something went wrong on our side; it has been logged, please try again",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({ "error": { "code": self.code, "message": self.message } });
        (self.status, axum::Json(body)).into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ApiError::not_found("no such record"),
            StoreError::Conflict(what) => ApiError::new(
                StatusCode::CONFLICT,
                "conflict",
                format!("{what} already exists"),
            ),
            StoreError::Superseded { matched, current } => ApiError::new(
                StatusCode::CONFLICT,
                "superseded_revision",
                format!(
                    "this is revision {matched} of the record, which revision {current} has since corrected; nothing was changed (a late retry?). To restore it on purpose, send it again with \"supersedes\": {current}"
                ),
            ),
            StoreError::RevisionMismatch { expected, current } => ApiError::new(
                StatusCode::CONFLICT,
                "revision_mismatch",
                format!(
                    "the submission supersedes revision {expected} but the record is at revision {current}; check its history and try again"
                ),
            ),
            StoreError::Rejected {
                code: code @ "designation_kind_forbidden",
                message,
            } => ApiError::new(StatusCode::FORBIDDEN, code, message),
            StoreError::Rejected { code, message } => ApiError::bad_request(code, message),
            StoreError::WrongCategory(r) => ApiError::bad_request(
                "record_kind_mismatch",
                format!("record {r} is not of the kind this endpoint handles"),
            ),
            StoreError::Contention => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                "the database is busy with a conflicting write; try again",
            ),
            other => {
                tracing::error!(error = %other, "store failure");
                ApiError::internal()
            }
        }
    }
}

impl From<DocumentError> for ApiError {
    fn from(e: DocumentError) -> Self {
        ApiError::bad_request(e.code(), e.to_string())
    }
}

impl From<PersonError> for ApiError {
    fn from(e: PersonError) -> Self {
        ApiError::bad_request(e.code(), e.to_string())
    }
}

impl From<EvidenceError> for ApiError {
    fn from(e: EvidenceError) -> Self {
        ApiError::bad_request(e.code(), e.to_string())
    }
}
