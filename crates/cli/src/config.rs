//! The optional configuration file (TOML). Every key is optional; flags and environment
//! variables override it. Example in docs/OPERATIONS.md.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Deserialize;

use healthcode_server::ServerConfig;

pub const DEFAULT_REGION: &str = "CN-BJ";
pub const DEFAULT_TIMEZONE: &str = "Asia/Shanghai";
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    listen: Option<SocketAddr>,
    region: Option<String>,
    timezone: Option<String>,
    policy: Option<PathBuf>,
    dev_identity: Option<bool>,
    #[serde(default)]
    limits: Limits,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Limits {
    rate_limit_per_second: Option<f64>,
    rate_limit_burst: Option<f64>,
    max_body_bytes: Option<usize>,
    max_in_flight: Option<usize>,
    request_timeout_secs: Option<u64>,
    code_reuse_secs: Option<i64>,
}

impl FileConfig {
    pub fn load(path: Option<&Path>) -> Result<FileConfig> {
        let Some(path) = path else {
            return Ok(FileConfig::default());
        };
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("config {} is not valid", path.display()))
    }

    pub fn data_dir(&self, flag: Option<&Path>) -> PathBuf {
        flag.map(Path::to_path_buf)
            .or_else(|| self.data_dir.clone())
            .unwrap_or_else(|| PathBuf::from("data"))
    }

    pub fn database_url<'a>(&'a self, flag: Option<&'a str>) -> Option<&'a str> {
        flag.or(self.database_url.as_deref())
    }

    pub fn listen(&self, flag: Option<SocketAddr>) -> SocketAddr {
        flag.or(self.listen).unwrap_or_else(|| {
            DEFAULT_LISTEN
                .parse()
                .unwrap_or(SocketAddr::from(([127, 0, 0, 1], 8080)))
        })
    }

    pub fn region(&self, flag: Option<&str>) -> String {
        flag.or(self.region.as_deref())
            .unwrap_or(DEFAULT_REGION)
            .to_owned()
    }

    pub fn timezone(&self, flag: Option<&str>) -> String {
        flag.or(self.timezone.as_deref())
            .unwrap_or(DEFAULT_TIMEZONE)
            .to_owned()
    }

    pub fn policy(&self, flag: Option<&Path>) -> Option<PathBuf> {
        flag.map(Path::to_path_buf).or_else(|| self.policy.clone())
    }

    pub fn dev_identity(&self) -> bool {
        self.dev_identity.unwrap_or(false)
    }

    pub fn apply(&self, config: &mut ServerConfig) {
        let l = &self.limits;
        if let Some(v) = l.rate_limit_per_second {
            config.rate_limit.per_second = v;
        }
        if let Some(v) = l.rate_limit_burst {
            config.rate_limit.burst = v;
        }
        if let Some(v) = l.max_body_bytes {
            config.max_body_bytes = v;
        }
        if let Some(v) = l.max_in_flight {
            config.max_in_flight = v;
        }
        if let Some(v) = l.request_timeout_secs {
            config.request_timeout = std::time::Duration::from_secs(v);
        }
        if let Some(v) = l.code_reuse_secs {
            config.code_reuse = chrono::Duration::seconds(v.max(0));
        }
    }
}
