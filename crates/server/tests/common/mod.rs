//! `TestApp`: a real server on 127.0.0.1 port 0 over a fresh SQLite database, with a manual
//! clock, one provider of each kind and helpers to call it.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod visitor;

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use healthcode_credential::{KeyUsage, SigningKey, TrustList, TrustedKey, Verifier};
use healthcode_domain::{Policy, Region};
use healthcode_server::auth::new_provider_key;
use healthcode_server::clock::ManualClock;
use healthcode_server::extract::secret_hash;
use healthcode_server::identity::DevelopmentProvider;
use healthcode_server::{AppState, ServerConfig};
use healthcode_store::{ProviderKind, SqlStore, Store, Vault};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// 2026-05-01 12:00 in Beijing.
pub fn noon() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 5, 1, 4, 0, 0)
        .single()
        .expect("valid")
}

/// The seed of the test servers' transparency-log key.
pub const LOG_SEED: [u8; 32] = [4; 32];

/// The log key of a test server: named by its public address, as `healthcode serve` names it.
pub fn log_key(state: &AppState) -> healthcode_server::log::LogKey {
    let origin = format!(
        "{}/log",
        state.config.public_url.trim_start_matches("http://")
    );
    healthcode_server::log::LogKey::new(&origin, &LOG_SEED).expect("log origin")
}

pub const DOC: &str = "11010519491231002X";
pub const DOC_B: &str = "110101199003070011";

pub struct Keys {
    pub lab: String,
    pub vaccination: String,
    pub cdc: String,
    pub community: String,
    pub operator: String,
}

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub clock: Arc<ManualClock>,
    pub store: Arc<SqlStore>,
    pub trust_list: String,
    pub keys: Keys,
    /// The server's state, for what a test changes behind the API (the trust lists).
    pub state: AppState,
    /// The database, so that a second node can open it.
    pub db_url: String,
    _dir: Option<tempfile::TempDir>,
}

pub struct Builder {
    config: ServerConfig,
    identity: bool,
    tls: Option<healthcode_server::tls::Tls>,
}

impl TestApp {
    pub fn builder() -> Builder {
        Builder {
            config: ServerConfig {
                rate_limit: healthcode_server::limits::RateLimit {
                    per_second: 10_000.0,
                    burst: 10_000.0,
                },
                ..ServerConfig::default()
            },
            identity: true,
            tls: None,
        }
    }

    pub async fn spawn() -> TestApp {
        TestApp::builder().spawn().await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn verifier(&self) -> Verifier {
        Verifier::new(&[TrustList::from_json(&self.trust_list, None).expect("trust list")])
    }

    /// Enrols through the development identity provider; returns the session token.
    pub async fn enrol(&self, doc: &str, name: &str) -> String {
        let (status, body) = self
            .post(
                "/api/v1/enrol",
                None,
                json!({"document_type": "resident_id", "document_number": doc, "name": name}),
            )
            .await;
        assert!(status.is_success(), "enrol: {status} {body}");
        body["token"].as_str().expect("token").to_owned()
    }

    pub async fn post(&self, path: &str, bearer: Option<&str>, body: Value) -> (StatusCode, Value) {
        let mut req = self.client.post(self.url(path)).json(&body);
        if let Some(b) = bearer {
            req = req.bearer_auth(b);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    pub async fn post_raw(
        &self,
        path: &str,
        bearer: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> (StatusCode, Value) {
        let resp = self
            .client
            .post(self.url(path))
            .bearer_auth(bearer)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("request");
        let status = resp.status();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str, bearer: Option<&str>) -> (StatusCode, Value) {
        let mut req = self.client.get(self.url(path));
        if let Some(b) = bearer {
            req = req.bearer_auth(b);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    pub async fn status(&self, token: &str) -> Value {
        let (s, body) = self.get("/api/v1/me/status", Some(token)).await;
        assert_eq!(s, StatusCode::OK, "{body}");
        body
    }

    /// A PCR result from the lab for `doc`, sampled `hours_ago` before the clock.
    pub fn pcr(&self, record: &str, doc: &str, result: &str, hours_ago: i64) -> Value {
        let now = self.clock_now();
        json!({
            "record_id": record,
            "document_type": "resident_id",
            "document_number": doc,
            "sampled_at": (now - chrono::Duration::hours(hours_ago)).to_rfc3339(),
            "resulted_at": (now - chrono::Duration::hours(hours_ago) + chrono::Duration::hours(2)).min(now).to_rfc3339(),
            "kind": "pcr",
            "result": result,
        })
    }

    pub fn clock_now(&self) -> DateTime<Utc> {
        use healthcode_server::clock::Clock;
        self.clock.now()
    }
}

impl Builder {
    pub fn config(mut self, f: impl FnOnce(&mut ServerConfig)) -> Builder {
        f(&mut self.config);
        self
    }

    /// Serves HTTPS with `tls` (the public address and `base` become https; `client` does
    /// not speak it).
    pub fn tls(mut self, tls: healthcode_server::tls::Tls) -> Builder {
        self.tls = Some(tls);
        self
    }

    pub fn without_identity(mut self) -> Builder {
        self.identity = false;
        self
    }

    pub async fn spawn(self) -> TestApp {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let store = Arc::new(
            SqlStore::connect(&url, Arc::new(Vault::from_master_key(&[5; 32])))
                .await
                .expect("store"),
        );
        let clock = Arc::new(ManualClock::new(noon()));
        let root = SigningKey::from_seed(&[1; 32]);
        let code = SigningKey::from_seed(&[2; 32]);
        let trust_list = TrustList {
            region: "CN-BJ".into(),
            sequence: 1,
            issued_at: noon() - chrono::Duration::days(1),
            next_update: noon() + chrono::Duration::days(7),
            root_public_key: root.public_key(),
            log: None,
            keys: vec![TrustedKey {
                kid: code.kid(),
                public_key: code.public_key(),
                not_before: noon() - chrono::Duration::days(30),
                not_after: noon() + chrono::Duration::days(365),
                usage: vec![KeyUsage::Code],
            }],
        }
        .sign(&root)
        .expect("sign trust list");
        let mut keys = Vec::new();
        for kind in ProviderKind::ALL {
            let key = new_provider_key();
            store
                .add_provider(
                    kind,
                    &format!("{} one", kind.as_str()),
                    &secret_hash(&key),
                    noon(),
                )
                .await
                .expect("provider");
            keys.push(key);
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        // Pages and passkeys are addressed by host name (browsers refuse an IP address as a
        // passkey's scope); localhost reaches the same listener.
        let mut config = self.config;
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        if config.public_url == ServerConfig::default().public_url {
            config.public_url = format!("{scheme}://localhost:{}", addr.port());
        }
        let state = AppState::new(
            store.clone(),
            Policy::default_policy().expect("policy"),
            Region::new("CN-BJ", "Asia/Shanghai").expect("region"),
            code,
            trust_list.clone(),
            self.identity.then(|| {
                Arc::new(DevelopmentProvider)
                    as Arc<dyn healthcode_server::identity::IdentityProvider>
            }),
            clock.clone(),
            config,
        );
        state.set_log(log_key(&state));
        tokio::spawn(healthcode_server::serve_with(
            listener,
            state.clone(),
            self.tls,
            std::future::pending(),
        ));
        let mut keys = keys.into_iter();
        let mut next = || keys.next().expect("a key per provider kind");
        TestApp {
            base: format!("{scheme}://{addr}"),
            client: reqwest::Client::new(),
            clock,
            store,
            trust_list,
            keys: Keys {
                lab: next(),
                vaccination: next(),
                cdc: next(),
                community: next(),
                operator: next(),
            },
            state,
            db_url: url,
            _dir: Some(dir),
        }
    }
}

impl TestApp {
    /// Another node of the same region: its own server and cache over the same database,
    /// with the same keys, clock and public address (as behind one load balancer). The first
    /// node owns the database's directory and must outlive it.
    pub async fn second_node(&self) -> TestApp {
        let store = Arc::new(
            SqlStore::connect(&self.db_url, Arc::new(Vault::from_master_key(&[5; 32])))
                .await
                .expect("store"),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let config = ServerConfig {
            public_url: self.state.config.public_url.clone(),
            ..(*self.state.config).clone()
        };
        let state = AppState::new(
            store.clone(),
            Policy::default_policy().expect("policy"),
            Region::new("CN-BJ", "Asia/Shanghai").expect("region"),
            SigningKey::from_seed(&[2; 32]),
            self.trust_list.clone(),
            Some(Arc::new(DevelopmentProvider)
                as Arc<dyn healthcode_server::identity::IdentityProvider>),
            self.clock.clone(),
            config,
        );
        state.set_log(log_key(&state));
        tokio::spawn(healthcode_server::serve(
            listener,
            state.clone(),
            std::future::pending(),
        ));
        TestApp {
            base: format!("http://{addr}"),
            client: reqwest::Client::new(),
            clock: self.clock.clone(),
            store,
            trust_list: self.trust_list.clone(),
            keys: Keys {
                lab: self.keys.lab.clone(),
                vaccination: self.keys.vaccination.clone(),
                cdc: self.keys.cdc.clone(),
                community: self.keys.community.clone(),
                operator: self.keys.operator.clone(),
            },
            state,
            db_url: self.db_url.clone(),
            _dir: None,
        }
    }
}

/// Reads from `stream` until it closes or `within` passes: whether the server closed it.
pub async fn closed_within(
    stream: &mut (impl tokio::io::AsyncRead + Unpin),
    within: std::time::Duration,
) -> bool {
    use tokio::io::AsyncReadExt;
    let mut buf = [0u8; 1024];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
}
