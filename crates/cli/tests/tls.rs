//! `healthcode serve --tls-cert --tls-key`: the binary serves HTTPS with the given files and
//! says so; the two flags go together; files it cannot use stop the start with the reason.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use support::{free_port, run, start, text};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// `GET path` over TLS, trusting `trusted` only; `None` while nothing answers.
fn get_over_tls(
    addr: &str,
    trusted: &rustls::pki_types::CertificateDer<'static>,
    path: &str,
) -> Option<String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(trusted.clone()).expect("root");
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let tcp = tokio::net::TcpStream::connect(addr).await.ok()?;
        let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
        let mut stream = connector.connect(name, tcp).await.ok()?;
        let request =
            format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await.ok()?;
        Some(String::from_utf8_lossy(&answer).into_owned())
    })
}

#[test]
fn serve_answers_over_https_with_the_given_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    std::fs::write(&cert, generated.cert.pem()).unwrap();
    std::fs::write(&key, generated.signing_key.serialize_pem()).unwrap();
    let data = dir.path().join("data");
    let listen = format!("127.0.0.1:{}", free_port());
    let _server = start(&[
        "serve",
        "--listen",
        &listen,
        "--data-dir",
        text(&data),
        "--tls-cert",
        text(&cert),
        "--tls-key",
        text(&key),
    ]);
    let deadline = Instant::now() + Duration::from_secs(120);
    let ready = loop {
        if let Some(answer) = get_over_tls(&listen, generated.cert.der(), "/readyz") {
            break answer;
        }
        assert!(Instant::now() < deadline, "no HTTPS answer");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(ready.starts_with("HTTP/1.1 200"), "{ready}");
    // The pages know their address is https: Strict-Transport-Security.
    let page = get_over_tls(&listen, generated.cert.der(), "/").expect("page");
    assert!(
        page.to_ascii_lowercase()
            .contains("strict-transport-security"),
        "{page}"
    );
}

#[test]
fn tls_files_that_cannot_be_used_stop_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let listen = format!("127.0.0.1:{}", free_port());
    let missing = dir.path().join("missing.pem");
    let out = run(&[
        "serve",
        "--listen",
        &listen,
        "--data-dir",
        text(&data),
        "--tls-cert",
        text(&missing),
    ]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--tls-key"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(&[
        "serve",
        "--listen",
        &listen,
        "--data-dir",
        text(&data),
        "--tls-cert",
        text(&missing),
        "--tls-key",
        text(&missing),
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot set up TLS") && stderr.contains("missing.pem"),
        "{stderr}"
    );
}
