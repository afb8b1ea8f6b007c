//! `healthcode keys rotate` against a running server, with no restart and no refused request:
//! a staged key is listed before it signs; once activated, new codes carry it, codes signed
//! before still verify under the new list, the old key is listed with its validity ended, each
//! step is a leaf the audit accepts, and the node starts again on the new key.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
// The server under test runs on the system clock.
#![allow(clippy::disallowed_methods)]

mod support;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use healthcode_credential::{KeyUsage, SigningKey, TrustList, TrustedKey, Verifier};
use serde_json::json;
use support::{Server, free_port, get_text, http, run, start, text, wait_ready};

fn serve(data: &Path, listen: &str) -> Server {
    let server = start(&[
        "serve",
        "--listen",
        listen,
        "--data-dir",
        text(data),
        "--dev-identity",
        "--trust-reload-secs",
        "1",
        "--code-reuse-secs",
        "0",
    ]);
    wait_ready(&format!("http://{listen}"));
    server
}

fn served_list(base: &str) -> TrustList {
    let (status, body) = get_text(&format!("{base}/api/v1/trust-list"), "");
    assert_eq!(status, 200, "{body}");
    TrustList::from_json(&body, None).expect("trust list")
}

fn code(base: &str, token: &str) -> String {
    let (status, body) = http("GET", &format!("{base}/api/v1/me/code"), token, None);
    assert_eq!(status, 200, "{body}");
    body["code"].as_str().expect("code").to_owned()
}

/// A verifier trusting `key` alone, in a list signed by the region's root key.
fn only(data: &Path, key: &TrustedKey) -> Verifier {
    let seed: [u8; 32] = std::fs::read(data.join("keys/root.key"))
        .unwrap()
        .try_into()
        .unwrap();
    let root = SigningKey::from_seed(&seed);
    // Trust lists carry whole seconds.
    let now = chrono::DateTime::from_timestamp(Utc::now().timestamp(), 0).unwrap();
    let list = TrustList {
        region: "CN-BJ".into(),
        sequence: 1,
        issued_at: now,
        next_update: now + chrono::Duration::days(1),
        root_public_key: root.public_key(),
        log: None,
        keys: vec![TrustedKey::new(
            key.public_key,
            key.not_before,
            key.not_after,
            vec![KeyUsage::Code],
        )],
    };
    let signed = list.sign(&root).unwrap();
    Verifier::new(&[TrustList::from_json(&signed, None).unwrap()])
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "{what} did not happen");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn the_code_key_rotates_under_a_running_server() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    assert!(
        run(&["keys", "generate", "--data-dir", text(&data)])
            .status
            .success()
    );
    let listen = format!("127.0.0.1:{}", free_port());
    let base = format!("http://{listen}");
    let server = serve(&data, &listen);
    let (status, enrol) = http(
        "POST",
        &format!("{base}/api/v1/enrol"),
        "",
        Some(
            json!({"document_type": "resident_id", "document_number": "110101199003070011", "name": "陈一"}),
        ),
    );
    assert_eq!(status, 201, "{enrol}");
    let token = enrol["token"].as_str().unwrap().to_owned();

    // A resident's app asks for its code all along: not one request may fail.
    let stop = Arc::new(AtomicBool::new(false));
    let (asked, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let poller = {
        let (stop, asked, failed) = (stop.clone(), asked.clone(), failed.clone());
        let (base, token) = (base.clone(), token.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let (status, _) = http("GET", &format!("{base}/api/v1/me/code"), &token, None);
                asked.fetch_add(1, Ordering::Relaxed);
                if status != 200 {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };

    let first = served_list(&base);
    assert_eq!(first.keys.len(), 1);
    let old = first.keys[0].clone();
    let before = code(&base, &token);

    // Stage: listed, not signing.
    let out = run(&["keys", "rotate", "--data-dir", text(&data)]);
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("staged"));
    wait_for("the staged key being listed", || {
        served_list(&base).keys.len() == 2
    });
    let staged = served_list(&base)
        .keys
        .into_iter()
        .find(|k| k.kid != old.kid)
        .expect("staged key");
    let during = code(&base, &token);
    only(&data, &old)
        .verify(&during, Utc::now())
        .expect("still the old key");
    assert!(only(&data, &staged).verify(&during, Utc::now()).is_err());
    // A second stage is refused while one waits.
    let out = run(&["keys", "rotate", "--data-dir", text(&data)]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("staged already"));

    // Activate: new codes carry the new key, without a restart.
    let out = run(&["keys", "rotate", "--activate", "--data-dir", text(&data)]);
    assert!(out.status.success(), "{out:?}");
    wait_for("codes signed with the new key", || {
        only(&data, &staged)
            .verify(&code(&base, &token), Utc::now())
            .is_ok()
    });
    let after = code(&base, &token);
    let list = served_list(&base);
    let listed_old = list
        .keys
        .iter()
        .find(|k| k.kid == old.kid)
        .expect("old key listed");
    assert!(
        listed_old.not_after < old.not_after,
        "the old key's validity ends"
    );
    assert!(listed_old.not_after <= Utc::now() + chrono::Duration::minutes(10));
    // Everything signed before and after verifies under the list now served.
    let verifier = Verifier::new(&[list]);
    for c in [&before, &during, &after] {
        verifier
            .verify(c, Utc::now())
            .expect("verifies under the new list");
    }
    stop.store(true, Ordering::Relaxed);
    poller.join().unwrap();
    assert_eq!(failed.load(Ordering::Relaxed), 0);
    assert!(asked.load(Ordering::Relaxed) > 10);

    // Nothing left to activate.
    let out = run(&["keys", "rotate", "--activate", "--data-dir", text(&data)]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no key is staged"));

    // Each step is a leaf whose record the audit checks.
    let out = run(&["audit", "--data-dir", text(&data)]);
    assert!(out.status.success(), "{out:?}");

    // A key file gone missing under the running server is reported, never made anew: the
    // root stays the one verifiers pinned.
    let root_path = data.join("keys/root.key");
    let root = std::fs::read(&root_path).unwrap();
    std::fs::remove_file(&root_path).unwrap();
    std::thread::sleep(Duration::from_millis(2500));
    assert!(!root_path.exists(), "a new root key was made");
    assert_eq!(
        served_list(&base).root_public_key,
        first.root_public_key,
        "the trust list's root changed"
    );
    std::fs::write(&root_path, root).unwrap();

    // The node starts again on the new key (the database's pin moved with it).
    drop(server);
    let listen = format!("127.0.0.1:{}", free_port());
    let base = format!("http://{listen}");
    let _server = serve(&data, &listen);
    let (status, enrol) = http(
        "POST",
        &format!("{base}/api/v1/enrol"),
        "",
        Some(
            json!({"document_type": "resident_id", "document_number": "110101198001010053", "name": "王二"}),
        ),
    );
    assert_eq!(status, 201, "{enrol}");
    let token = enrol["token"].as_str().unwrap();
    only(&data, &staged)
        .verify(&code(&base, token), Utc::now())
        .expect("signed with the activated key after a restart");
}
