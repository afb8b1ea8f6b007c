//! HTTPS in the binary: a client that trusts the certificate is served over TLS with the
//! pages' Strict-Transport-Security; plain HTTP to the TLS port and a stalled handshake are
//! closed without holding the server up; certificate and key files that cannot be used are
//! refused with the reason.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{TestApp, closed_within};
use healthcode_server::tls::{Tls, TlsError};
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

struct Certificate {
    cert_pem: String,
    key_pem: String,
    der: CertificateDer<'static>,
}

fn self_signed(names: &[&str]) -> Certificate {
    let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    let generated = rcgen::generate_simple_self_signed(names).expect("certificate");
    Certificate {
        cert_pem: generated.cert.pem(),
        key_pem: generated.signing_key.serialize_pem(),
        der: generated.cert.der().clone(),
    }
}

fn tls(c: &Certificate) -> Tls {
    Tls::from_pem(
        c.cert_pem.as_bytes(),
        "cert.pem",
        c.key_pem.as_bytes(),
        "key.pem",
    )
    .expect("usable certificate")
}

fn host(app: &TestApp) -> String {
    app.base.trim_start_matches("https://").to_owned()
}

/// A TLS client that trusts `trusted` only, offering HTTP/1.1.
fn connector(trusted: &CertificateDer<'static>) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(trusted.clone()).expect("root");
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

/// `GET path` over TLS to `addr`, trusting `trusted`: the whole answer as text.
async fn get_over_tls(
    addr: &str,
    trusted: &CertificateDer<'static>,
    path: &str,
) -> std::io::Result<String> {
    let tcp = TcpStream::connect(addr).await?;
    let name = ServerName::try_from("localhost").expect("name");
    let mut stream = connector(trusted).connect(name, tcp).await?;
    let (_, session) = stream.get_ref();
    assert_eq!(session.alpn_protocol(), Some(&b"http/1.1"[..]));
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await?;
    Ok(String::from_utf8_lossy(&answer).into_owned())
}

#[tokio::test]
async fn a_client_that_trusts_the_certificate_is_served_over_tls() {
    let cert = self_signed(&["localhost"]);
    let app = TestApp::builder().tls(tls(&cert)).spawn().await;
    let addr = host(&app);
    let health = get_over_tls(&addr, &cert.der, "/healthz").await.unwrap();
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    // A page: the browser is told to keep to HTTPS.
    let page = get_over_tls(&addr, &cert.der, "/").await.unwrap();
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(
        page.to_ascii_lowercase()
            .contains("strict-transport-security: max-age=31536000"),
        "{page}"
    );

    // A client that does not trust the certificate gets no answer.
    let other = self_signed(&["localhost"]);
    assert!(get_over_tls(&addr, &other.der, "/healthz").await.is_err());

    // Over plain HTTP (no TLS of its own) the pages do not claim HTTPS.
    let plain = TestApp::spawn().await;
    let response = plain.client.get(plain.url("/")).send().await.unwrap();
    assert!(!response.headers().contains_key("strict-transport-security"));
}

#[tokio::test]
async fn plain_http_and_stalled_handshakes_are_closed_and_tls_clients_still_served() {
    let cert = self_signed(&["localhost"]);
    let app = TestApp::builder()
        .tls(tls(&cert))
        .config(|c| c.header_read_timeout = Duration::from_millis(500))
        .spawn()
        .await;
    let addr = host(&app);

    // Plain HTTP to the TLS port: no HTTP answer, the connection closed.
    let mut plain = TcpStream::connect(&addr).await.unwrap();
    plain
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), plain.read_to_end(&mut answer)).await;
    assert!(read.is_ok(), "the connection was kept open");
    assert!(!answer.starts_with(b"HTTP/"), "{answer:?}");

    // Connections that never start their handshake, or stop halfway through it.
    let mut silent = Vec::new();
    for _ in 0..10 {
        silent.push(TcpStream::connect(&addr).await.unwrap());
    }
    let mut halfway = TcpStream::connect(&addr).await.unwrap();
    // The first bytes of a TLS record header (a handshake record), and nothing more.
    halfway.write_all(&[0x16, 0x03, 0x01]).await.unwrap();

    // Meanwhile a TLS client is served.
    let health = get_over_tls(&addr, &cert.der, "/healthz").await.unwrap();
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");

    for s in &mut silent {
        assert!(
            closed_within(s, Duration::from_secs(5)).await,
            "a connection without a handshake was kept past the header-read timeout"
        );
    }
    assert!(
        closed_within(&mut halfway, Duration::from_secs(5)).await,
        "a stalled handshake was kept past the header-read timeout"
    );
    let health = get_over_tls(&addr, &cert.der, "/healthz").await.unwrap();
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
}

#[test]
fn unusable_certificates_and_keys_are_refused_with_the_reason() {
    let cert = self_signed(&["localhost"]);
    let other = self_signed(&["localhost"]);
    let load = |c: &str, k: &str| Tls::from_pem(c.as_bytes(), "cert.pem", k.as_bytes(), "key.pem");

    let err = load("", &cert.key_pem).err().expect("no certificate");
    assert!(matches!(err, TlsError::NoCertificate(_)), "{err}");
    assert_eq!(err.to_string(), "cert.pem holds no PEM certificate");

    let err = load(&cert.cert_pem, "").err().expect("no key");
    assert!(matches!(err, TlsError::NoKey(_)), "{err}");
    // A certificate where the key should be is not a key either.
    let err = load(&cert.cert_pem, &cert.cert_pem).err().expect("no key");
    assert!(matches!(err, TlsError::NoKey(_)), "{err}");

    let broken = cert.cert_pem.replace("MII", "M!I");
    let err = load(&broken, &cert.key_pem).err().expect("broken PEM");
    assert!(matches!(err, TlsError::Pem { .. }), "{err}");

    // Another certificate's key.
    let err = load(&cert.cert_pem, &other.key_pem)
        .err()
        .expect("mismatch");
    assert!(matches!(err, TlsError::Unusable(_)), "{err}");

    let err = Tls::from_pem_files(
        std::path::Path::new("/nonexistent/cert.pem"),
        std::path::Path::new("/nonexistent/key.pem"),
    )
    .err()
    .expect("missing file");
    assert!(
        err.to_string()
            .starts_with("cannot read /nonexistent/cert.pem"),
        "{err}"
    );

    assert!(load(&cert.cert_pem, &cert.key_pem).is_ok());
}
