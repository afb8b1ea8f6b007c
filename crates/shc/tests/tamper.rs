//! Altered cards are refused with the variant that names the alteration: example 00 (spec
//! examples, see shared/testdata/README.md) with a changed signature, payload or key id; and
//! cards signed by a test issuer's fresh key for what no real issuer signs (a foreign `iss`,
//! times, a zip bomb, a stale revocation list).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use chrono::TimeDelta;
use common::*;
use healthcode_shc::{MAX_PAYLOAD_BYTES, RevocationList, ShcError, Trust, verify_jws, verify_qr};

fn parts(jws: &str) -> [String; 3] {
    let mut p = jws.split('.').map(str::to_owned);
    [p.next().unwrap(), p.next().unwrap(), p.next().unwrap()]
}

#[test]
fn a_flipped_signature_byte_is_a_bad_signature() {
    let Some(dir) = shc_testdata() else { return };
    let trust = example_trust(&dir);
    let [header, payload, signature] = parts(&read(&dir, "examples/example-00-d-jws.txt"));
    let signature = unb64(&signature);
    for i in [0, 17, 31, 32, 50, 63] {
        let mut flipped = signature.clone();
        flipped[i] ^= 0x01;
        let jws = format!("{header}.{payload}.{}", b64(&flipped));
        assert_eq!(
            verify_jws(&jws, &trust, examples_now()).unwrap_err(),
            ShcError::BadSignature,
            "byte {i}"
        );
    }
}

#[test]
fn a_flipped_payload_byte_is_a_bad_signature() {
    let Some(dir) = shc_testdata() else { return };
    let trust = example_trust(&dir);
    let [header, payload, signature] = parts(&read(&dir, "examples/example-00-d-jws.txt"));
    let payload = unb64(&payload);
    // The signature is checked before the payload is inflated, so an altered payload is a bad
    // signature whatever the alteration does to the compressed data.
    for i in [0, 1, payload.len() / 2, payload.len() - 1] {
        let mut flipped = payload.clone();
        flipped[i] ^= 0x80;
        let jws = format!("{header}.{}.{signature}", b64(&flipped));
        assert_eq!(
            verify_jws(&jws, &trust, examples_now()).unwrap_err(),
            ShcError::BadSignature,
            "byte {i}"
        );
    }
    // The same through the QR: one digit pair changed to another character.
    let qr = read(&dir, "examples/example-00-f-qr-code-numeric-value-0.txt");
    // Pairs start at odd offsets ("shc:/" is 5 characters); this one is mid-payload.
    let at = (qr.len() / 2) | 1;
    let pair = &qr[at..at + 2];
    let other = if pair == "10" { "11" } else { "10" };
    let altered = format!("{}{other}{}", &qr[..at], &qr[at + 2..]);
    assert_eq!(
        verify_qr(&[&altered], &trust, examples_now()).unwrap_err(),
        ShcError::BadSignature
    );
}

#[test]
fn a_changed_kid_is_an_unknown_key_or_a_bad_signature() {
    let Some(dir) = shc_testdata() else { return };
    let trust = example_trust(&dir);
    let [_, payload, signature] = parts(&read(&dir, "examples/example-00-d-jws.txt"));
    let with_kid = |kid: &str| {
        let header = format!(r#"{{"zip":"DEF","alg":"ES256","kid":"{kid}"}}"#);
        format!("{}.{payload}.{signature}", b64(header.as_bytes()))
    };
    // Unchanged apart from re-encoding the header the same way: still valid.
    assert!(verify_jws(&with_kid(KID_WITH_CRL), &trust, examples_now()).is_ok());
    let unknown = "3Kfdg-XwP-7gXyywtUfUADwBumDOPKMQx-iELL11W9t";
    assert_eq!(
        verify_jws(&with_kid(unknown), &trust, examples_now()).unwrap_err(),
        ShcError::UnknownKid {
            kid: unknown.into()
        }
    );
    // The issuer's other key: known, but it did not make this signature.
    assert_eq!(
        verify_jws(&with_kid(KID_X5C), &trust, examples_now()).unwrap_err(),
        ShcError::BadSignature
    );
    let no_kid = format!(
        "{}.{payload}.{signature}",
        b64(br#"{"zip":"DEF","alg":"ES256"}"#)
    );
    assert_eq!(
        verify_jws(&no_kid, &trust, examples_now()).unwrap_err(),
        ShcError::MissingKid
    );
}

#[test]
fn a_changed_header_is_refused_before_the_signature() {
    let Some(dir) = shc_testdata() else { return };
    let trust = example_trust(&dir);
    let [_, payload, signature] = parts(&read(&dir, "examples/example-00-d-jws.txt"));
    let with_header = |h: &str| format!("{}.{payload}.{signature}", b64(h.as_bytes()));
    let cases = [
        (
            format!(r#"{{"zip":"DEF","alg":"ES384","kid":"{KID_WITH_CRL}"}}"#),
            ShcError::HeaderAlg,
        ),
        (
            format!(r#"{{"zip":"DEF","alg":"none","kid":"{KID_WITH_CRL}"}}"#),
            ShcError::HeaderAlg,
        ),
        (
            format!(r#"{{"alg":"ES256","kid":"{KID_WITH_CRL}"}}"#),
            ShcError::HeaderZip,
        ),
    ];
    for (header, expected) in cases {
        assert_eq!(
            verify_jws(&with_header(&header), &trust, examples_now()).unwrap_err(),
            expected,
            "{header}"
        );
    }
}

const TEST_ISS: &str = "https://test.example/issuer";

fn test_trust(issuer: &TestIssuer, crl_version: Option<u64>) -> Trust {
    let mut trust = Trust::new();
    trust
        .add_issuer(TEST_ISS, issuer.jwks(crl_version))
        .unwrap();
    trust
}

#[test]
fn a_test_issuer_card_verifies() {
    let issuer = TestIssuer::new();
    let trust = test_trust(&issuer, None);
    let now = examples_now();
    let card = verify_jws(
        &issuer.sign(&payload(TEST_ISS, now.timestamp() - 10, "")),
        &trust,
        now,
    )
    .unwrap();
    assert_eq!(card.issuer, TEST_ISS);
    assert_eq!(card.kid, issuer.kid);
    assert_eq!(card.rid.as_deref(), Some("testRid01"));
    let patient = card.summary.patient.unwrap();
    assert_eq!(patient.name.unwrap().given, ["Ada"]);
    assert_eq!(
        card.summary.immunizations[0].vaccine[0].code.as_deref(),
        Some("208")
    );
    // And from a QR of it.
    let jws = issuer.sign(&payload(TEST_ISS, now.timestamp() - 10, ""));
    assert!(verify_qr(&[&to_numeric(&jws)], &trust, now).is_ok());
}

#[test]
fn the_payload_must_name_an_issuer_that_publishes_the_key() {
    let issuer = TestIssuer::new();
    let mut trust = test_trust(&issuer, None);
    let neighbour = TestIssuer::new();
    trust
        .add_issuer("https://neighbour.example", neighbour.jwks(None))
        .unwrap();
    let now = examples_now();
    let nbf = now.timestamp() - 10;
    // Signed by a trusted key, but claiming an issuer nobody trusts.
    let foreign = issuer.sign(&payload("https://elsewhere.example", nbf, ""));
    assert_eq!(
        verify_jws(&foreign, &trust, now).unwrap_err(),
        ShcError::UnknownIssuer {
            iss: "https://elsewhere.example".into()
        }
    );
    // Claiming a trusted issuer that does not publish this key.
    let borrowed = issuer.sign(&payload("https://neighbour.example", nbf, ""));
    assert_eq!(
        verify_jws(&borrowed, &trust, now).unwrap_err().code(),
        "issuer_mismatch"
    );
    // An untrusted key claiming a trusted issuer; and claiming an untrusted one.
    let stranger = TestIssuer::new();
    assert_eq!(
        verify_jws(&stranger.sign(&payload(TEST_ISS, nbf, "")), &trust, now).unwrap_err(),
        ShcError::UnknownKid {
            kid: stranger.kid.clone()
        }
    );
    assert_eq!(
        verify_jws(
            &stranger.sign(&payload("https://elsewhere.example", nbf, "")),
            &trust,
            now
        )
        .unwrap_err()
        .code(),
        "unknown_issuer"
    );
}

#[test]
fn times_are_checked_at_the_given_instant() {
    let issuer = TestIssuer::new();
    let trust = test_trust(&issuer, None);
    let now = examples_now();
    let t = now.timestamp();
    let verify = |nbf: i64, extra: &str| {
        verify_jws(&issuer.sign(&payload(TEST_ISS, nbf, extra)), &trust, now)
    };
    assert!(verify(t, "").is_ok());
    assert!(verify(t + 60, "").is_ok(), "within the clock skew");
    assert_eq!(verify(t + 61, "").unwrap_err(), ShcError::NotYetValid);
    assert_eq!(
        verify(t - 100, &format!(r#","exp":{t}"#)).unwrap_err(),
        ShcError::Expired
    );
    assert!(verify(t - 100, &format!(r#","exp":{}"#, t + 1)).is_ok());
    assert_eq!(
        verify(t - 100, &format!(r#","exp":{}"#, t - 200)).unwrap_err(),
        ShcError::ExpiresBeforeValid
    );
    // Milliseconds count: 0.5 s after now + skew is too late.
    let card = issuer
        .sign(&payload(TEST_ISS, 0, "").replace(r#""nbf":0"#, &format!(r#""nbf":{}.5"#, t + 60)));
    assert_eq!(
        verify_jws(&card, &trust, now).unwrap_err(),
        ShcError::NotYetValid
    );
    assert!(verify_jws(&card, &trust, now + TimeDelta::seconds(1)).is_ok());
}

#[test]
fn payloads_that_are_not_health_cards() {
    let issuer = TestIssuer::new();
    let trust = test_trust(&issuer, None);
    let now = examples_now();
    let nbf = now.timestamp();
    let header = format!(r#"{{"zip":"DEF","alg":"ES256","kid":"{}"}}"#, issuer.kid);
    let untyped = payload(TEST_ISS, nbf, "").replace(
        "https://smarthealth.cards#health-card",
        "https://example.org#other",
    );
    assert_eq!(
        verify_jws(&issuer.sign(&untyped), &trust, now).unwrap_err(),
        ShcError::NotAHealthCard
    );
    assert_eq!(
        verify_jws(&issuer.sign("not json"), &trust, now).unwrap_err(),
        ShcError::BadPayloadJson
    );
    assert_eq!(
        verify_jws(
            &issuer.sign(&format!(r#"{{"iss":"{TEST_ISS}"}}"#)),
            &trust,
            now
        )
        .unwrap_err(),
        ShcError::BadClaims("nbf is missing")
    );
    // Signed but not raw DEFLATE: the bytes as they are, and zlib-wrapped.
    let plain = issuer.sign_raw(&header, payload(TEST_ISS, nbf, "").as_bytes());
    assert_eq!(
        verify_jws(&plain, &trust, now).unwrap_err(),
        ShcError::Inflate
    );
    let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    std::io::Write::write_all(&mut zlib, payload(TEST_ISS, nbf, "").as_bytes()).unwrap();
    let zlib = issuer.sign_raw(&header, &zlib.finish().unwrap());
    assert_eq!(
        verify_jws(&zlib, &trust, now).unwrap_err(),
        ShcError::Inflate
    );
    let bad_bundle = payload(TEST_ISS, nbf, "").replace(r#""status":"completed","#, "");
    assert_eq!(
        verify_jws(&issuer.sign(&bad_bundle), &trust, now).unwrap_err(),
        ShcError::BadBundle("an Immunization has no status")
    );
}

#[test]
fn a_zip_bomb_is_refused() {
    let issuer = TestIssuer::new();
    let trust = test_trust(&issuer, None);
    let now = examples_now();
    let header = format!(r#"{{"zip":"DEF","alg":"ES256","kid":"{}"}}"#, issuer.kid);
    // A valid card padded with spaces (insignificant in JSON) to 8 MiB: a small JWS.
    let mut big = payload(TEST_ISS, now.timestamp(), "").into_bytes();
    big.resize(8 << 20, b' ');
    let bomb = issuer.sign_raw(&header, &deflate(&big));
    assert!(bomb.len() < 20_000, "{} characters", bomb.len());
    assert_eq!(
        verify_jws(&bomb, &trust, now).unwrap_err(),
        ShcError::PayloadTooLarge {
            limit: MAX_PAYLOAD_BYTES
        }
    );
    // Under the cap, the same padding is fine.
    big.truncate(MAX_PAYLOAD_BYTES);
    let padded = issuer.sign_raw(&header, &deflate(&big));
    assert!(verify_jws(&padded, &trust, now).is_ok());
}

#[test]
fn revocation_by_rid_and_timestamp() {
    let issuer = TestIssuer::new();
    let now = examples_now();
    let t = now.timestamp();
    let card = issuer.sign(&payload(TEST_ISS, t - 1000, ""));
    let crl = |ctr: u64, rids: &str| {
        RevocationList::from_json(&format!(
            r#"{{"kid":"{}","method":"rid","ctr":{ctr},"rids":[{rids}]}}"#,
            issuer.kid
        ))
        .unwrap()
    };
    // The key announces version 2 of its list.
    let mut trust = test_trust(&issuer, Some(2));
    assert_eq!(
        verify_jws(&card, &trust, now).unwrap_err().code(),
        "crl_missing"
    );
    trust.add_crl(TEST_ISS, crl(1, "")).unwrap();
    assert_eq!(
        verify_jws(&card, &trust, now).unwrap_err(),
        ShcError::RevocationListStale {
            kid: issuer.kid.clone(),
            have: 1,
            need: 2
        }
    );
    trust.add_crl(TEST_ISS, crl(2, r#""otherRid""#)).unwrap();
    assert!(verify_jws(&card, &trust, now).is_ok());
    // Cards issued before the timestamp are revoked; this one was issued at t - 1000.
    trust
        .add_crl(TEST_ISS, crl(3, &format!(r#""testRid01.{}""#, t - 999)))
        .unwrap();
    assert_eq!(
        verify_jws(&card, &trust, now).unwrap_err(),
        ShcError::Revoked
    );
    trust
        .add_crl(TEST_ISS, crl(4, &format!(r#""testRid01.{}""#, t - 1000)))
        .unwrap();
    assert!(verify_jws(&card, &trust, now).is_ok());
    trust.add_crl(TEST_ISS, crl(5, r#""testRid01""#)).unwrap();
    assert_eq!(
        verify_jws(&card, &trust, now).unwrap_err(),
        ShcError::Revoked
    );
    // A list for a key that announces none is applied all the same.
    let mut quiet = test_trust(&issuer, None);
    assert!(verify_jws(&card, &quiet, now).is_ok());
    quiet.add_crl(TEST_ISS, crl(1, r#""testRid01""#)).unwrap();
    assert_eq!(
        verify_jws(&card, &quiet, now).unwrap_err(),
        ShcError::Revoked
    );
}
