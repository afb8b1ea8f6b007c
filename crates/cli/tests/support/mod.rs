//! What the binary's integration tests share: the binary itself, a server process that is
//! killed when dropped, a free port, readiness, a JSON HTTP client, the demo's `demo.json`,
//! and a fresh PostgreSQL database per test.

// Each test binary that includes this module uses some of it.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_healthcode");

/// A running `healthcode serve` or `healthcode demo`, stopped when dropped.
pub struct Server {
    child: Child,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port nothing listens on now (the listener that found it is closed).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

pub fn wait_ready(base: &str) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        if let Ok(true) = answers_ok(&format!("{base}/readyz")) {
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("server at {base} did not become ready");
}

/// A dependency-light readiness probe: one HTTP/1.0 GET over a socket.
fn answers_ok(url: &str) -> std::io::Result<bool> {
    use std::io::{Read, Write};
    let rest = url.trim_start_matches("http://");
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let mut s = std::net::TcpStream::connect(host)?;
    s.set_read_timeout(Some(Duration::from_secs(2)))?;
    write!(s, "GET /{path} HTTP/1.0\r\nHost: {host}\r\n\r\n")?;
    let mut buf = String::new();
    s.read_to_string(&mut buf)?;
    Ok(buf.starts_with("HTTP/1.0 200") || buf.starts_with("HTTP/1.1 200"))
}

/// Runs the binary to completion with `args`; quiet logging.
pub fn run(args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .env("HEALTHCODE_LOG", "warn")
        .output()
        .expect("run healthcode")
}

/// A data directory `name` under `parent` holding a copy of the key files in `keys`: what
/// another node of the same region, or a restore, starts from.
pub fn with_keys(parent: &Path, name: &str, keys: &Path) -> std::path::PathBuf {
    let data = parent.join(name);
    std::fs::create_dir_all(data.join("keys")).expect("keys directory");
    for entry in std::fs::read_dir(keys).expect("keys") {
        let entry = entry.expect("key file");
        std::fs::copy(entry.path(), data.join("keys").join(entry.file_name())).expect("copy");
    }
    data
}

/// Adds a lab provider to the region in `data` (`extra`: more arguments, such as a
/// `--database-url`); returns its API key.
pub fn add_lab(data: &Path, extra: &[&str]) -> String {
    let mut args = vec![
        "providers",
        "add",
        "--kind",
        "lab",
        "--name",
        "Lab",
        "--data-dir",
        text(data),
    ];
    args.extend_from_slice(extra);
    let out = run(&args);
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("API key (shown once, store it now): "))
        .expect("api key")
        .to_owned()
}

/// A path as an argument.
pub fn text(p: &Path) -> &str {
    p.to_str().expect("utf-8")
}

pub fn start(args: &[&str]) -> Server {
    let child = Command::new(BIN)
        .args(args)
        .env("HEALTHCODE_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start healthcode");
    Server { child }
}

pub fn http(method: &str, url: &str, bearer: &str, body: Option<Value>) -> (u16, Value) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let client = reqwest::Client::new();
        let mut req = match method {
            "POST" => client.post(url),
            _ => client.get(url),
        }
        .bearer_auth(bearer);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    })
}

/// A GET answered in text (not JSON): its status and body.
pub fn get_text(url: &str, bearer: &str) -> (u16, String) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let resp = reqwest::Client::new()
            .get(url)
            .bearer_auth(bearer)
            .send()
            .await
            .expect("request");
        let status = resp.status().as_u16();
        (status, resp.text().await.unwrap_or_default())
    })
}

pub fn read_demo(dir: &Path) -> Value {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        if let Some(v) = std::fs::read(dir.join("demo.json"))
            .ok()
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        {
            return v;
        }
        assert!(Instant::now() < deadline, "demo.json did not appear");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The URL of a new, empty database `{prefix}_{pid}` on the server named by
/// `HEALTHCODE_TEST_DATABASE_URL`, or `None` (the test skips) when that is not set outside CI.
pub fn postgres_database(prefix: &str) -> Option<String> {
    let Ok(admin) = std::env::var("HEALTHCODE_TEST_DATABASE_URL") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI requires HEALTHCODE_TEST_DATABASE_URL"
        );
        eprintln!("HEALTHCODE_TEST_DATABASE_URL not set: skipping");
        return None;
    };
    let name = format!("{prefix}_{}", std::process::id());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt");
    rt.block_on(async {
        use sqlx::{Connection, Executor};
        let mut c = sqlx::PgConnection::connect(&admin)
            .await
            .expect("admin connect");
        let _ = c
            .execute(format!("DROP DATABASE IF EXISTS {name}").as_str())
            .await;
        c.execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .expect("create db");
    });
    let (base_url, _) = admin.rsplit_once('/').expect("db path");
    Some(format!("{base_url}/{name}"))
}

/// Drops a database made by [`postgres_database`], once nothing is connected to it.
pub fn drop_postgres_database(url: &str) {
    let admin = std::env::var("HEALTHCODE_TEST_DATABASE_URL").expect("admin url");
    let (_, name) = url.rsplit_once('/').expect("db path");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt");
    rt.block_on(async {
        use sqlx::{Connection, Executor};
        let mut c = sqlx::PgConnection::connect(&admin)
            .await
            .expect("admin connect");
        c.execute(format!("DROP DATABASE {name}").as_str())
            .await
            .expect("drop db");
    });
}

/// A running `healthcode witness`, killed (not stopped) when dropped: what it stored before
/// answering must be all it needs.
pub struct Witness {
    child: Child,
    pub url: String,
    pub vkey: String,
}

impl Drop for Witness {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `healthcode witness` named `name` on a free port with its state in `dir`,
/// witnessing the logs of verifier keys `logs`; returns once it listens.
pub fn start_witness(dir: &Path, name: &str, logs: &[String]) -> Witness {
    use std::io::{BufRead, BufReader};
    let mut command = Command::new(BIN);
    command.args([
        "witness",
        "--listen",
        "127.0.0.1:0",
        "--name",
        name,
        "--state",
    ]);
    command.arg(dir);
    for log in logs {
        command.args(["--log", log]);
    }
    let mut child = command
        .env("HEALTHCODE_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the witness");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let vkey = lines.next().expect("a first line").expect("text");
    let url = loop {
        let line = lines.next().expect("the listening line").expect("text");
        if let Some(url) = line.strip_prefix("healthcode witness listening on ") {
            break url.to_owned();
        }
    };
    Witness { child, url, vkey }
}
