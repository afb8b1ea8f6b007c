//! The gate's side of the server's API: `GET /api/v1/gate/config` and
//! `POST /api/v1/gate/checkins`, read and written in the shapes of
//! `healthcode_server::api::gate`, with the server's refusals turned into errors a person
//! can act on.

use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use serde_json::Value;

use healthcode_server::api::gate::{GateConfig, UploadAnswer, UploadRequest, UploadRow};

pub(super) struct Client {
    http: reqwest::Client,
    server: String,
    key: String,
}

impl Client {
    /// A client of `server` (no trailing `/`) with the device key `key`.
    pub fn new(server: &str, key: &str) -> Result<Client> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .context("cannot start the HTTP client")?;
        Ok(Client {
            http,
            server: server.to_owned(),
            key: key.to_owned(),
        })
    }

    /// The device's venue, entry policy and the region's trust list.
    pub async fn config(&self) -> Result<GateConfig> {
        let response = self
            .http
            .get(format!("{}/api/v1/gate/config", self.server))
            .bearer_auth(&self.key)
            .send()
            .await
            .with_context(|| format!("cannot reach {}", self.server))?;
        if !response.status().is_success() {
            return Err(refusal("setup", response).await);
        }
        response
            .json()
            .await
            .context("the server's answer is not a gate configuration")
    }

    /// Sends `rows`; the answer must account for every one.
    pub async fn upload(&self, rows: &[UploadRow]) -> Result<UploadAnswer> {
        let url = format!("{}/api/v1/gate/checkins", self.server);
        let response = self
            .http
            .post(&url)
            .bearer_auth(&self.key)
            .json(&UploadRequest {
                checkins: rows.to_vec(),
            })
            .send()
            .await
            .with_context(|| format!("cannot reach {url}"))?;
        if !response.status().is_success() {
            return Err(refusal("upload", response).await);
        }
        let answer: UploadAnswer = response
            .json()
            .await
            .context("the server's answer to the upload does not read")?;
        if answer.received != rows.len() {
            bail!(
                "the server received {} check-ins of {} sent",
                answer.received,
                rows.len()
            );
        }
        Ok(answer)
    }
}

/// The server's `{"error": {"code", "message"}}`, or the status and body as they came.
async fn refusal(what: &str, response: reqwest::Response) -> anyhow::Error {
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    let reason = serde_json::from_str::<Value>(&body)
        .ok()
        .and_then(|v| {
            Some(format!(
                "{} ({})",
                v["error"]["message"].as_str()?,
                v["error"]["code"].as_str()?
            ))
        })
        .unwrap_or_else(|| body.chars().take(200).collect());
    let hint = if status.as_u16() == 401 {
        ": the device key was refused (revoked, or for another server)"
    } else {
        ""
    };
    anyhow!("{what}: the server answered {status}: {reason}{hint}")
}
