//! The optional configuration file (TOML). Every key is optional; flags and environment
//! variables override it. Example in docs/OPERATIONS.md.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
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
    /// Where Prometheus metrics are served without a token (`--metrics-listen`).
    metrics_listen: Option<SocketAddr>,
    /// The token `/metrics` asks for on the main listener (`--metrics-token`).
    metrics_token: Option<String>,
    region: Option<String>,
    timezone: Option<String>,
    policy: Option<PathBuf>,
    dev_identity: Option<bool>,
    /// HTTPS in the binary: a PEM certificate chain and its key (`--tls-cert`, `--tls-key`).
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    #[serde(default)]
    limits: Limits,
}

/// The protection limits, from the `[limits]` table or from flags.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    pub rate_limit_per_second: Option<f64>,
    pub rate_limit_burst: Option<f64>,
    pub max_body_bytes: Option<usize>,
    pub max_in_flight: Option<usize>,
    pub request_timeout_secs: Option<u64>,
    pub max_imports: Option<usize>,
    pub import_timeout_secs: Option<u64>,
    pub max_atomic_import_bytes: Option<u64>,
    pub max_connections: Option<usize>,
    pub max_connections_per_client: Option<usize>,
    pub header_read_timeout_secs: Option<u64>,
    pub code_reuse_secs: Option<i64>,
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

    pub fn metrics_listen(&self, flag: Option<SocketAddr>) -> Option<SocketAddr> {
        flag.or(self.metrics_listen)
    }

    pub fn metrics_token(&self, flag: Option<&str>) -> Option<String> {
        flag.or(self.metrics_token.as_deref()).map(str::to_owned)
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

    /// The certificate and key files to serve HTTPS with, if any: both or neither, each from
    /// its flag or else the file.
    pub fn tls(
        &self,
        cert: Option<&Path>,
        key: Option<&Path>,
    ) -> Result<Option<(PathBuf, PathBuf)>> {
        let cert = cert
            .map(Path::to_path_buf)
            .or_else(|| self.tls_cert.clone());
        let key = key.map(Path::to_path_buf).or_else(|| self.tls_key.clone());
        match (cert, key) {
            (Some(cert), Some(key)) => Ok(Some((cert, key))),
            (None, None) => Ok(None),
            _ => bail!("tls_cert and tls_key go together: give both or neither"),
        }
    }

    pub fn dev_identity(&self) -> bool {
        self.dev_identity.unwrap_or(false)
    }

    /// Applies the file's limits, then `overrides` (from flags and environment) on top, and
    /// refuses settings that would turn every request away.
    pub fn apply(&self, overrides: &Limits, config: &mut ServerConfig) -> Result<()> {
        self.limits.apply(config);
        overrides.apply(config);
        let r = &config.rate_limit;
        if !(r.per_second.is_finite() && r.per_second > 0.0) {
            bail!("rate_limit_per_second must be a positive number");
        }
        if !(r.burst.is_finite() && r.burst >= 1.0) {
            bail!("rate_limit_burst must be at least 1");
        }
        if config.max_in_flight == 0 {
            bail!("max_in_flight must be at least 1");
        }
        if config.max_body_bytes < 1024 {
            bail!("max_body_bytes must be at least 1024");
        }
        if config.request_timeout.is_zero() {
            bail!("request_timeout_secs must be at least 1");
        }
        if config.max_imports == 0 {
            bail!("max_imports must be at least 1");
        }
        if config.import_timeout.is_zero() {
            bail!("import_timeout_secs must be at least 1");
        }
        if config.max_connections == 0 {
            bail!("max_connections must be at least 1");
        }
        if config.max_connections_per_client == 0 {
            bail!("max_connections_per_client must be at least 1");
        }
        if config.header_read_timeout.is_zero() {
            bail!("header_read_timeout_secs must be at least 1");
        }
        Ok(())
    }
}

impl Limits {
    fn apply(&self, config: &mut ServerConfig) {
        if let Some(v) = self.rate_limit_per_second {
            config.rate_limit.per_second = v;
        }
        if let Some(v) = self.rate_limit_burst {
            config.rate_limit.burst = v;
        }
        if let Some(v) = self.max_body_bytes {
            config.max_body_bytes = v;
        }
        if let Some(v) = self.max_in_flight {
            config.max_in_flight = v;
        }
        if let Some(v) = self.request_timeout_secs {
            config.request_timeout = std::time::Duration::from_secs(v);
        }
        if let Some(v) = self.max_imports {
            config.max_imports = v;
        }
        if let Some(v) = self.import_timeout_secs {
            config.import_timeout = std::time::Duration::from_secs(v);
        }
        if let Some(v) = self.max_atomic_import_bytes {
            config.max_atomic_import_bytes = v;
        }
        if let Some(v) = self.max_connections {
            config.max_connections = v;
        }
        if let Some(v) = self.max_connections_per_client {
            config.max_connections_per_client = v;
        }
        if let Some(v) = self.header_read_timeout_secs {
            config.header_read_timeout = std::time::Duration::from_secs(v);
        }
        if let Some(v) = self.code_reuse_secs {
            config.code_reuse = chrono::Duration::seconds(v.max(0));
        }
    }
}
