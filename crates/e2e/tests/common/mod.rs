//! What the browser tests share: the server as `healthcode serve --dev-identity` runs it on a
//! fresh embedded database, the calls a lab or an operator makes to it, registering through
//! the pages, and reading back what a page shows.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use healthcode_credential::{KeyUsage, SigningKey, TrustList, TrustedKey, Verifier};
use healthcode_domain::{Policy, Region};
use healthcode_e2e::Page;
use healthcode_server::auth::new_provider_key;
use healthcode_server::clock::{Clock, SystemClock};
use healthcode_server::extract::secret_hash;
use healthcode_server::identity::{DevelopmentProvider, IdentityProvider};
use healthcode_server::{AppState, ServerConfig};
use healthcode_store::{ProviderKind, SqlStore, Store, Vault};
use serde_json::json;

pub const WAIT: Duration = Duration::from_secs(20);
/// The resident's ID number.
pub const DOC: &str = "11010519491231002X";

/// Now, in whole seconds (as signed documents carry it).
pub fn now() -> DateTime<Utc> {
    use chrono::DurationRound;
    let t = SystemClock.now();
    t.duration_trunc(chrono::TimeDelta::seconds(1)).unwrap_or(t)
}

/// The region's code-signing key, which signs place codes too.
pub fn code_key() -> SigningKey {
    SigningKey::from_seed(&[2; 32])
}

pub struct Server {
    /// The pages' address, `http://localhost:PORT` (a passkey's scope is a host name).
    pub base: String,
    /// A lab's API key.
    pub lab_key: String,
    /// An operator's API key, for registering venues.
    pub operator_key: String,
    /// The signed trust list the server publishes.
    pub trust_list: String,
    /// The database, for what a test sets up behind the API.
    pub store: Arc<SqlStore>,
    _dir: tempfile::TempDir,
}

impl Server {
    /// The server on a free port, with one lab and one operator.
    pub async fn start() -> Server {
        Server::start_with_list_due(chrono::Duration::days(7)).await
    }

    /// The server, its trust list due for renewal `due_in` from now (negative: overdue).
    pub async fn start_with_list_due(due_in: chrono::Duration) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("e2e.db").display());
        let store = Arc::new(
            SqlStore::connect(&url, Arc::new(Vault::from_master_key(&[7; 32])))
                .await
                .unwrap(),
        );
        let lab_key = new_provider_key();
        store
            .add_provider(ProviderKind::Lab, "Lab One", &secret_hash(&lab_key), now())
            .await
            .unwrap();
        let operator_key = new_provider_key();
        store
            .add_provider(
                ProviderKind::Operator,
                "Operator",
                &secret_hash(&operator_key),
                now(),
            )
            .await
            .unwrap();
        let root = SigningKey::from_seed(&[1; 32]);
        let code = code_key();
        let trust_list = TrustList {
            region: "CN-BJ".into(),
            sequence: 1,
            issued_at: now() + due_in - chrono::Duration::days(8),
            next_update: now() + due_in,
            root_public_key: root.public_key(),
            log: None,
            keys: vec![TrustedKey {
                kid: code.kid(),
                public_key: code.public_key(),
                not_before: now() - chrono::Duration::days(30),
                not_after: now() + chrono::Duration::days(365),
                usage: vec![KeyUsage::Code],
            }],
        }
        .sign(&root)
        .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let config = ServerConfig {
            public_url: format!("http://localhost:{port}"),
            rate_limit: healthcode_server::limits::RateLimit {
                per_second: 1_000.0,
                burst: 1_000.0,
            },
            ..ServerConfig::default()
        };
        let state = AppState::new(
            store.clone(),
            Policy::default_policy().unwrap(),
            Region::new("CN-BJ", "Asia/Shanghai").unwrap(),
            code,
            trust_list.clone(),
            Some(Arc::new(DevelopmentProvider) as Arc<dyn IdentityProvider>),
            Arc::new(SystemClock),
            config,
        );
        // The transparency log, named as `healthcode serve` names it.
        state.set_log(
            healthcode_server::log::LogKey::new(&format!("localhost:{port}/log"), &[4; 32])
                .unwrap(),
        );
        tokio::spawn(healthcode_server::serve(
            listener,
            state,
            std::future::pending(),
        ));
        Server {
            base: format!("http://localhost:{port}"),
            lab_key,
            operator_key,
            trust_list,
            store,
            _dir: dir,
        }
    }

    /// The address of an API path, by IP address (as a machine calls it).
    pub fn api(&self, path: &str) -> String {
        format!("{}{path}", self.base.replace("localhost", "127.0.0.1"))
    }

    /// A verifier that trusts the server's trust list.
    pub fn verifier(&self) -> Verifier {
        Verifier::new(&[TrustList::from_json(&self.trust_list, None).unwrap()])
    }

    /// The lab submits a PCR result for `DOC`, sampled `sampled_ago` and resulted
    /// `turnaround` after that.
    pub async fn pcr(
        &self,
        record: &str,
        result: &str,
        sampled_ago: chrono::Duration,
        turnaround: chrono::Duration,
    ) {
        let sampled = now() - sampled_ago;
        let resp = reqwest::Client::new()
            .post(self.api("/api/v1/test-results"))
            .bearer_auth(&self.lab_key)
            .json(&json!({
                "record_id": record,
                "document_type": "resident_id",
                "document_number": DOC,
                "sampled_at": sampled.to_rfc3339(),
                "resulted_at": (sampled + turnaround).to_rfc3339(),
                "kind": "pcr",
                "result": result,
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
    }

    /// Registers a venue through the operator's API; returns its id.
    pub async fn venue(&self, name: &str, kind: &str, district: &str) -> i64 {
        let resp = reqwest::Client::new()
            .post(self.api("/api/v1/venues"))
            .bearer_auth(&self.operator_key)
            .json(&json!({"name": name, "kind": kind, "district": district, "address": "1号"}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 201);
        let body: serde_json::Value = resp.json().await.unwrap();
        body["id"].as_i64().unwrap()
    }
}

/// Fills in and sends the register form the page shows, and waits for the passkey page that
/// follows.
pub async fn register(page: &Page, name: &str, document_number: &str) {
    page.wait_for("#register-submit", WAIT).await.unwrap();
    page.type_into("#name", name).await.unwrap();
    page.type_into("#document_number", document_number)
        .await
        .unwrap();
    page.click("#register-submit").await.unwrap();
    page.wait_for("#create-passkey", WAIT).await.unwrap();
}

/// A screenshot kept under target/e2e/`dir`/`name`.
pub async fn shot(page: &Page, dir: &str, name: &str) {
    let path = page.screenshot(&format!("{dir}/{name}")).await.unwrap();
    assert!(path.exists());
}

/// The one QR in a screenshot of the page (kept under target/e2e/`dir`/`name`), as text.
pub async fn qr_on_screen(page: &Page, dir: &str, name: &str) -> String {
    let path = page.screenshot(&format!("{dir}/{name}")).await.unwrap();
    let codes = healthcode_qrscan::read(&std::fs::read(path).unwrap()).expect("a QR on the page");
    assert_eq!(codes.len(), 1, "{codes:?}");
    codes[0].clone()
}

/// The code shown on the page, read back from a screenshot of it and verified.
pub async fn code_on_screen(
    page: &Page,
    dir: &str,
    server: &Server,
) -> healthcode_credential::CodeClaims {
    let code = qr_on_screen(page, dir, "qr-read-back").await;
    server
        .verifier()
        .verify(&code, now())
        .expect("the code on screen verifies")
}

/// How wide the page is laid out, in CSS pixels (wider than the screen scrolls sideways).
pub async fn scroll_width(page: &Page) -> f64 {
    page.eval("document.documentElement.scrollWidth")
        .await
        .unwrap()
}

/// The page's problems (script errors, CSP violations, failed loads), leaving out the loads
/// answered 422 on purpose: those whose address `refused` accepts.
pub async fn problems_besides_refused(page: &Page, refused: impl Fn(&str) -> bool) -> Vec<String> {
    page.problems()
        .await
        .unwrap()
        .iter()
        .filter(|p| {
            !(p.source.as_deref() == Some("network")
                && p.url.as_deref().is_some_and(&refused)
                && p.text.contains("422"))
        })
        .map(ToString::to_string)
        .collect()
}

/// A switch in front of the server: a TCP relay on its own port that can be cut, so that a
/// page behind it (and its service worker) finds no server at all, as a gate whose network
/// dropped does. Cutting it also ends the connections already open.
pub struct NetSwitch {
    /// The page's address through the switch, `http://localhost:PORT`.
    pub base: String,
    on: Arc<std::sync::atomic::AtomicBool>,
    open: Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl NetSwitch {
    /// A switch, on, relaying to the server at `server_base` (`http://localhost:PORT`).
    pub async fn to(server_base: &str) -> NetSwitch {
        use std::sync::atomic::Ordering;
        let upstream = server_base.replace("http://localhost", "127.0.0.1");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let on = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let open: Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>> =
            Arc::new(std::sync::Mutex::new(Vec::new()));
        let (on2, open2) = (on.clone(), open.clone());
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if !on2.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let upstream = upstream.clone();
                let relay = tokio::spawn(async move {
                    if let Ok(mut server) = tokio::net::TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                let mut open = open2.lock().unwrap();
                open.retain(|h| !h.is_finished());
                open.push(relay);
            }
        });
        NetSwitch {
            base: format!("http://localhost:{port}"),
            on,
            open,
        }
    }

    /// Connects (true) or cuts (false) the network.
    pub fn set(&self, on: bool) {
        self.on.store(on, std::sync::atomic::Ordering::SeqCst);
        if !on {
            for h in self.open.lock().unwrap().drain(..) {
                h.abort();
            }
        }
    }
}

/// A valid resident ID number (GB 11643) for person `n` born 1990-01-01 in Dongcheng.
pub fn id_number(n: u32) -> String {
    let body = format!("11010119900101{:03}", n % 1000);
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = body
        .bytes()
        .zip(WEIGHTS)
        .map(|(b, w)| u32::from(b - b'0') * w)
        .sum();
    let check = b"10X98765432"[(sum % 11) as usize] as char;
    format!("{body}{check}")
}

impl Server {
    /// Registers a person through the API (development identity) and returns their session
    /// token.
    pub async fn enrol(&self, document_number: &str, name: &str) -> String {
        let resp = reqwest::Client::new()
            .post(self.api("/api/v1/enrol"))
            .json(&json!({"document_type": "resident_id", "document_number": document_number, "name": name}))
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success(), "{}", resp.text().await.unwrap());
        let body: serde_json::Value = resp.json().await.unwrap();
        body["token"].as_str().unwrap().to_owned()
    }

    /// The current code (text) of the person with session `token`.
    pub async fn code_of(&self, token: &str) -> String {
        let resp = reqwest::Client::new()
            .get(self.api("/api/v1/me/code"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let body: serde_json::Value = resp.json().await.unwrap();
        body["code"].as_str().unwrap().to_owned()
    }

    /// How many check-ins venue `venue` holds from yesterday to tomorrow (counts only).
    pub async fn checkins_at(&self, venue: i64) -> i64 {
        use healthcode_store::Venues;
        self.store
            .hourly_checkins(
                venue,
                now() - chrono::Duration::days(1),
                now() + chrono::Duration::days(1),
            )
            .await
            .unwrap()
            .iter()
            .map(|h| h.checkins)
            .sum()
    }

    /// The operator makes the registered person with this ID number a manager of the venue.
    pub async fn assign_manager(&self, venue: i64, document_number: &str) {
        let resp = reqwest::Client::new()
            .post(self.api(&format!("/api/v1/venues/{venue}/managers")))
            .bearer_auth(&self.operator_key)
            .json(&json!({"document_type": "resident_id", "document_number": document_number}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
    }
}

/// A 640 × 480 camera picture of the QR of `text`, black on white, centred with a wide white
/// margin, as a phone held up to a poster sees it.
pub fn camera_picture(text: &str) -> healthcode_e2e::GrayImage {
    let qr = qrcode::QrCode::new(text.as_bytes()).unwrap();
    let modules = qr.width();
    let colors = qr.to_colors();
    let (width, height) = (640u32, 480u32);
    // Four modules of quiet zone each side, as the QR standard asks, and more around it.
    let scale = (height as usize - 40) / (modules + 8);
    let side = modules * scale;
    let left = (width as usize - side) / 2;
    let top = (height as usize - side) / 2;
    healthcode_e2e::GrayImage::from_fn(width, height, |x, y| {
        let (x, y) = (x as usize, y as usize);
        let dark = x >= left
            && y >= top
            && x < left + side
            && y < top + side
            && colors[(y - top) / scale * modules + (x - left) / scale] == qrcode::Color::Dark;
        image::Luma([if dark { 0 } else { 255 }])
    })
}

/// Scans `code` at a gate page as a wedge scanner does and waits for the result on screen:
/// (verdict, the texts shown).
pub async fn scan(page: &Page, code: &str) -> (String, String) {
    let before: u32 = page
        .eval("Number(document.getElementById('result').dataset.shown || 0)")
        .await
        .unwrap();
    page.wedge("#scan-input", code).await.unwrap();
    page.wait_until(
        &format!("Number(document.getElementById('result').dataset.shown || 0) > {before}"),
        WAIT,
    )
    .await
    .unwrap();
    let verdict: String = page
        .eval("document.getElementById('result').dataset.verdict || ''")
        .await
        .unwrap();
    let text = page.text("#result").await.unwrap();
    (verdict, text)
}
