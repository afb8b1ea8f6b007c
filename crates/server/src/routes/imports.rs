//! Bulk imports over HTTP: `POST /api/v1/imports/test-results` (a lab's key) and
//! `POST /api/v1/imports/vaccinations` (a vaccination centre's key), with the file as the
//! request body — CSV or FHIR R4, recognised from its content — and `?atomic=true` for all or
//! nothing. The body is read as it arrives, so a file of any size works; the answer is the
//! import's report (see [`crate::import`]): 200 when stored, 422 when an atomic import had
//! rejected rows and stored nothing. A file refused whole is 422 with the usual error body.
//! An atomic import's body is received whole (into a temporary file) before anything is
//! written. Rows stored and rejected are counted in the metrics by kind: a streamed import's
//! as each batch is stored, an atomic one's when it commits.

use std::io::{self, Read, Seek, SeekFrom};

use axum::Json;
use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use futures_util::{StreamExt, TryStreamExt};
use serde::Deserialize;
use tokio::io::AsyncWriteExt;
use tokio_util::io::{StreamReader, SyncIoBridge};

use healthcode_ingest::Category;

use crate::error::ApiError;
use crate::extract::{LabScope, Scoped, VaccinationScope};
use crate::import::{self, ImportError, ImportOptions, Report};
use crate::state::AppState;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportQuery {
    #[serde(default)]
    atomic: bool,
}

pub async fn test_results(
    State(state): State<AppState>,
    Scoped(provider, _): Scoped<LabScope>,
    q: Result<Query<ImportQuery>, QueryRejection>,
    body: Body,
) -> Result<(StatusCode, Json<Report>), ApiError> {
    run(state, provider, Category::Tests, query(q)?, body).await
}

pub async fn vaccinations(
    State(state): State<AppState>,
    Scoped(provider, _): Scoped<VaccinationScope>,
    q: Result<Query<ImportQuery>, QueryRejection>,
    body: Body,
) -> Result<(StatusCode, Json<Report>), ApiError> {
    run(state, provider, Category::Vaccinations, query(q)?, body).await
}

fn query(q: Result<Query<ImportQuery>, QueryRejection>) -> Result<ImportQuery, ApiError> {
    q.map(|Query(q)| q).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_query",
            format!("{}; the only parameter is atomic=true|false", e.body_text()),
        )
    })
}

async fn run(
    state: AppState,
    provider: healthcode_store::Provider,
    category: Category,
    q: ImportQuery,
    body: Body,
) -> Result<(StatusCode, Json<Report>), ApiError> {
    let input: Box<dyn Read + Send> = if q.atomic {
        // An atomic import writes in one transaction, which on the embedded database holds
        // the write lock: receive the whole file first, so a slow upload does not keep every
        // other writer waiting.
        Box::new(spool(body, state.config.max_atomic_import_bytes).await?)
    } else {
        let stream = body.into_data_stream().map_err(io::Error::other);
        Box::new(SyncIoBridge::new(StreamReader::new(stream)))
    };
    let options = ImportOptions {
        category,
        atomic: q.atomic,
    };
    let now = state.clock.now();
    let cache = state.cache.clone();
    let mut counted = 0;
    let report = import::run(
        state.store.clone(),
        state.policy.clone(),
        &provider,
        input,
        state.region.tz(),
        now,
        options,
        move |p| {
            cache.invalidate(p.touched);
            // A streamed import's batches are stored when counted; an atomic one's only at
            // its commit, counted below.
            if !q.atomic {
                crate::metrics::import_rows(category, p.report.accepted.saturating_sub(counted), 0);
                counted = p.report.accepted;
            }
        },
    )
    .await
    .map_err(import_error)?;
    let committed_at_end = if report.atomic && report.committed {
        report.accepted
    } else {
        0
    };
    crate::metrics::import_rows(category, committed_at_end, report.rejected_count);
    if report.atomic && report.committed {
        // Batches were invalidated as they were written, before the commit made them
        // visible: a read in between may have cached the old evidence again.
        state.cache.clear_people();
    }
    let status = if report.committed {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok((status, Json(report)))
}

/// The request body, received whole into an anonymous temporary file (deleted when closed).
async fn spool(body: Body, max_bytes: u64) -> Result<std::fs::File, ApiError> {
    let cut_off = |e: io::Error| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "upload_incomplete",
            format!("the file could not be received whole ({e}); nothing was stored"),
        )
    };
    let file = tempfile::tempfile().map_err(|e| {
        tracing::error!(error = %e, "cannot create a temporary file for an atomic import");
        ApiError::internal()
    })?;
    let mut out = tokio::fs::File::from_std(file);
    let mut stream = body.into_data_stream();
    let mut received = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| cut_off(io::Error::other(e)))?;
        received = received.saturating_add(chunk.len() as u64);
        if received > max_bytes {
            // The temporary file is unnamed and goes with `out`; nothing was stored.
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                format!(
                    "an atomic import takes files of at most {max_bytes} bytes; send a larger \
                     file without atomic=true (streamed, each batch committed) or split it; \
                     nothing was stored"
                ),
            ));
        }
        out.write_all(&chunk).await.map_err(cut_off)?;
    }
    out.flush().await.map_err(cut_off)?;
    let mut file = out.into_std().await;
    file.seek(SeekFrom::Start(0)).map_err(cut_off)?;
    Ok(file)
}

fn import_error(e: ImportError) -> ApiError {
    match e {
        ImportError::Reader { stored } => {
            tracing::error!(stored, "the import's file reader failed");
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "import_interrupted",
                format!(
                    "the import stopped after {stored} rows were stored; sending the file \
                     again is safe (stored rows come back unchanged)"
                ),
            )
        }
        ImportError::WrongKey { .. } => ApiError::forbidden(e.to_string()),
        ImportError::File(f) => ApiError::bad_request(f.code(), format!("{f}; nothing was stored")),
        ImportError::Store { stored, source } => {
            tracing::error!(error = %source, stored, "import failed in the store");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "import_interrupted",
                format!(
                    "the database failed after {stored} rows were stored; sending the file \
                     again is safe (stored rows come back unchanged)"
                ),
            )
        }
    }
}
