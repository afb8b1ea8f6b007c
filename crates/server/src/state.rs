//! What every handler can reach: the store, the policy, the region, the code-signing key,
//! the published trust list, the identity provider, the clock, the cache, the limits, the
//! change feed's position and the metrics recorder's handle.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use healthcode_credential::SigningKey;
use healthcode_domain::{Policy, Region};
use healthcode_store::{RiskArea, Store};

use crate::cache::Cache;
use crate::clock::Clock;
use crate::identity::IdentityProvider;
use crate::limits::{Limiter, RateLimit};

/// Tunables of the HTTP layer.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub max_body_bytes: usize,
    pub request_timeout: Duration,
    pub max_in_flight: usize,
    pub rate_limit: RateLimit,
    /// A resident asking again within this time gets the code already signed for them, if a
    /// fresh evaluation gives exactly the status it carries; zero signs every time. Saves
    /// signing work when apps refresh in a storm; the code still expires on schedule.
    pub code_reuse: chrono::Duration,
    /// Backstop on cached sessions and people should the change feed stall (see `cache`).
    pub cache_ttl: chrono::Duration,
    /// Bulk imports running at once; more are refused with 503 (see `routes::imports`).
    pub max_imports: usize,
    /// How long one bulk import may take, body upload included.
    pub import_timeout: Duration,
    /// Largest file an atomic import receives (it is spooled to disk before its one
    /// transaction); a larger one is refused with 413. Streamed imports have no such limit.
    pub max_atomic_import_bytes: u64,
    /// Open connections at once; one more is closed as soon as it is accepted, so that idle or
    /// slow clients cannot take every file descriptor the process has.
    pub max_connections: usize,
    /// Open connections one client (an IPv4 address, an IPv6 /64) may hold at once, so that
    /// one client cannot fill `max_connections` for everyone.
    pub max_connections_per_client: usize,
    /// How long a client may take to send a request's headers, whole; a connection that takes
    /// longer (a half-sent request, held open) is closed.
    pub header_read_timeout: Duration,
    /// Digital-sentinel lookups (by document number) allowed per gate device.
    pub sentinel_rate: RateLimit,
    /// How often the server deletes check-ins past the policy's retention window.
    pub purge_every: Duration,
    /// The address people open the pages at. Its host name scopes passkeys (an IP address
    /// cannot: browsers refuse it), and an https address makes cookies `Secure`.
    pub public_url: String,
    /// The token `GET /metrics` asks for on the main listener; without one, the main listener
    /// has no `/metrics` (a listener of its own can serve it: `metrics::serve`).
    pub metrics_token: Option<crate::metrics::MetricsToken>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            max_body_bytes: 64 * 1024,
            request_timeout: Duration::from_secs(10),
            max_in_flight: 2048,
            rate_limit: RateLimit {
                per_second: 20.0,
                burst: 40.0,
            },
            code_reuse: chrono::Duration::seconds(10),
            cache_ttl: chrono::Duration::minutes(5),
            max_imports: 4,
            import_timeout: Duration::from_secs(3600),
            max_atomic_import_bytes: 2 * 1024 * 1024 * 1024,
            max_connections: 10_000,
            max_connections_per_client: 256,
            header_read_timeout: Duration::from_secs(10),
            sentinel_rate: RateLimit {
                per_second: 0.5,
                burst: 10.0,
            },
            purge_every: Duration::from_secs(3600),
            public_url: "http://localhost:8080".to_owned(),
            metrics_token: None,
        }
    }
}

/// Shared by every request; cloning it is one reference-count increment.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

pub struct Shared {
    pub store: Arc<dyn Store>,
    pub policy: Arc<Policy>,
    pub region: Arc<Region>,
    /// The key that signs codes, place codes and passes; replaced when the binary finds a
    /// rotated key ([`Shared::set_issuer`]).
    issuer: std::sync::RwLock<Arc<SigningKey>>,
    /// The trust list file served at /api/v1/trust-list, already signed; replaced when the
    /// list is re-signed (see [`Shared::set_trust_list`]).
    trust_list: std::sync::RwLock<Arc<str>>,
    /// What `POST /api/v1/verify` trusts: this region's list and what was imported; replaced
    /// whenever the trust folder is read again (see [`Shared::set_verifier`]).
    verifier: std::sync::RwLock<Option<Arc<healthcode_verify::Trust>>>,
    /// `None` when no identity provider is configured: enrolment is then unavailable.
    pub identity: Option<Arc<dyn IdentityProvider>>,
    pub clock: Arc<dyn Clock>,
    pub cache: Arc<Cache>,
    /// Requests per client address.
    pub limiter: Arc<Limiter<IpAddr>>,
    /// Digital-sentinel lookups, per gate device id.
    pub sentinel_limiter: Arc<Limiter<i64>>,
    /// Risk areas not released, as last read (see `venues::open_areas`).
    pub(crate) areas: std::sync::RwLock<Option<(std::time::Instant, Arc<Vec<RiskArea>>)>>,
    pub config: Arc<ServerConfig>,
    /// Open live code pages (`web::live`).
    pub live: Arc<crate::web::live::Live>,
    /// The passkey relying party; `None` when `public_url` has no host name.
    pub passkeys: Option<Arc<crate::web::PasskeyConfig>>,
    /// Where this server's change feed stands (`changes::watch`), for its metrics.
    pub feed: crate::changes::FeedStatus,
    /// The process's metrics recorder (`metrics::recorder`).
    pub metrics: metrics_exporter_prometheus::PrometheusHandle,
    /// The transparency log's key, once the binary has set it ([`Shared::set_log`]).
    log: std::sync::OnceLock<Arc<crate::log::LogKey>>,
}

impl AppState {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        store: Arc<dyn Store>,
        policy: Policy,
        region: Region,
        issuer: SigningKey,
        trust_list: String,
        identity: Option<Arc<dyn IdentityProvider>>,
        clock: Arc<dyn Clock>,
        config: ServerConfig,
    ) -> AppState {
        AppState(Arc::new(Shared {
            store,
            policy: Arc::new(policy),
            region: Arc::new(region),
            issuer: std::sync::RwLock::new(Arc::new(issuer)),
            verifier: std::sync::RwLock::new(own_region_only(&trust_list)),
            trust_list: std::sync::RwLock::new(trust_list.into()),
            identity,
            cache: Arc::new(Cache::new(config.cache_ttl, 200_000)),
            limiter: Arc::new(Limiter::new(config.rate_limit, clock.clone())),
            sentinel_limiter: Arc::new(Limiter::new(config.sentinel_rate, clock.clone())),
            clock,
            areas: std::sync::RwLock::new(None),
            live: Arc::default(),
            passkeys: url::Url::parse(&config.public_url)
                .ok()
                .and_then(|u| crate::web::PasskeyConfig::new(&u, "健康宝 healthcode"))
                .map(Arc::new),
            config: Arc::new(config),
            feed: crate::changes::FeedStatus::default(),
            metrics: crate::metrics::recorder(),
            log: std::sync::OnceLock::new(),
        }))
    }
}

impl Shared {
    /// Whether cookies are `Secure`: the pages are served over https.
    pub fn secure_cookies(&self) -> bool {
        self.config.public_url.starts_with("https://")
    }

    /// The signed trust list being served.
    pub fn trust_list(&self) -> Arc<str> {
        match self.trust_list.read() {
            Ok(t) => t.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The verifier in force, if one is loaded.
    pub fn verifier(&self) -> Option<Arc<healthcode_verify::Trust>> {
        match self.verifier.read() {
            Ok(v) => v.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Verifies with `trust` from now on.
    pub fn set_verifier(&self, trust: healthcode_verify::Trust) {
        if let Ok(mut v) = self.verifier.write() {
            *v = Some(Arc::new(trust));
        }
    }

    /// Sequences and serves the transparency log under `key` (set once, before serving;
    /// a second key is ignored).
    pub fn set_log(&self, key: crate::log::LogKey) {
        let _ = self.log.set(Arc::new(key));
    }

    /// The transparency log's key, if the log is on.
    pub fn log(&self) -> Option<Arc<crate::log::LogKey>> {
        self.log.get().cloned()
    }

    /// The key that signs codes now.
    pub fn issuer(&self) -> Arc<SigningKey> {
        match self.issuer.read() {
            Ok(k) => k.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Signs with `key` from now on (a key rotation).
    pub fn set_issuer(&self, key: SigningKey) {
        let key = Arc::new(key);
        match self.issuer.write() {
            Ok(mut k) => *k = key,
            Err(poisoned) => *poisoned.into_inner() = key,
        }
    }

    /// Serves a newly signed trust list from now on.
    pub fn set_trust_list(&self, signed: String) {
        if let Ok(mut t) = self.trust_list.write() {
            *t = signed.into();
        }
    }
}

/// A verifier trusting this region's own list only: what the server verifies with until the
/// trust folder has been read. `None` if the list does not read back, which
/// [`Shared::set_verifier`] later repairs.
fn own_region_only(trust_list: &str) -> Option<Arc<healthcode_verify::Trust>> {
    let mut trust = healthcode_verify::Trust::new().ok()?;
    trust.add_trust_list(healthcode_credential::TrustList::from_json(trust_list, None).ok()?);
    Some(Arc::new(trust))
}
