//! Genuine certificates from the EU DCC test data (eu-digital-green-certificates/dgc-testdata
//! @ 4a62c8d9: FI/2DCode/raw/1.json, ES256; IS/2DCode/raw/5.json, PS256; GE/2DCode/raw/1.json
//! as an unrelated signer; common/2DCode/raw/CO6.json, a vaccination signed by a test-only
//! DSC) verify, and every alteration is refused with the error of the step that catches it:
//! a flipped signature or payload byte, an edited protected header, a swapped or missing
//! signer, times outside the validity, a signer that may not sign the type, damaged text.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::Write;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, TimeDelta, Utc};
use ciborium::value::Value;
use common::{parse_clock, testdata_dir};
use flate2::Compression;
use flate2::write::ZlibEncoder;
use healthcode_credential::base45;
use healthcode_dcc::{
    CertificateEntry, CertificateKind, DccError, DscTrust, Schema, base45_decode,
    check_signer_validity, decode, inflate, kid_of, unprefix, verify,
};

/// One test case: the `HC1:` text, the signer certificate (DER) and the validation clock.
struct Case {
    hc1: String,
    der: Vec<u8>,
    now: DateTime<Utc>,
}

fn case(relative: &str) -> Option<Case> {
    let path = testdata_dir()?.join("eu-dcc").join(relative);
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let clock = json["TESTCTX"]["VALIDATIONCLOCK"].as_str().unwrap();
    Some(Case {
        hc1: json["PREFIX"].as_str().unwrap().to_owned(),
        der: STANDARD
            .decode(json["TESTCTX"]["CERTIFICATE"].as_str().unwrap())
            .unwrap(),
        now: parse_clock(clock).unwrap(),
    })
}

fn trust(ders: &[&[u8]]) -> DscTrust {
    let mut trust = DscTrust::new();
    for der in ders {
        trust.add_certificate_der(der).unwrap();
    }
    trust
}

/// The COSE_Sign1 inside an `HC1:` text, as a CBOR value.
fn cose_of(hc1: &str) -> Value {
    let bytes = inflate(&base45_decode(unprefix(hc1).unwrap()).unwrap()).unwrap();
    ciborium::de::from_reader(bytes.as_slice()).unwrap()
}

/// Writes a COSE_Sign1 value back into an `HC1:` text.
fn hc1_of(cose: &Value) -> String {
    let mut bytes = Vec::new();
    ciborium::ser::into_writer(cose, &mut bytes).unwrap();
    let mut zlib = ZlibEncoder::new(Vec::new(), Compression::best());
    zlib.write_all(&bytes).unwrap();
    format!("HC1:{}", base45::encode(&zlib.finish().unwrap()))
}

/// The byte string at `index` of the (tagged) COSE_Sign1 array.
fn item(cose: &mut Value, index: usize) -> &mut Vec<u8> {
    let Value::Tag(18, inner) = cose else {
        panic!("not tagged")
    };
    let Value::Array(items) = inner.as_mut() else {
        panic!("not an array")
    };
    let Value::Bytes(bytes) = &mut items[index] else {
        panic!("item {index} is not a byte string")
    };
    bytes
}

const PROTECTED: usize = 0;
const PAYLOAD: usize = 2;
const SIGNATURE: usize = 3;

/// Rewrites the protected header with `f` applied to its map.
fn edit_protected(cose: &mut Value, f: impl FnOnce(&mut Vec<(Value, Value)>)) {
    let protected = item(cose, PROTECTED);
    let Value::Map(mut map) = ciborium::de::from_reader(protected.as_slice()).unwrap() else {
        panic!("protected header is not a map")
    };
    f(&mut map);
    protected.clear();
    ciborium::ser::into_writer(&Value::Map(map), &mut *protected).unwrap();
}

fn set_kid(map: &mut Vec<(Value, Value)>, kid: Vec<u8>) {
    map.retain(|(k, _)| k != &Value::Integer(4.into()));
    map.push((Value::Integer(4.into()), Value::Bytes(kid)));
}

#[test]
fn genuine_certificates_verify() {
    let (Some(fi), Some(is)) = (case("FI/2DCode/raw/1.json"), case("IS/2DCode/raw/5.json")) else {
        return;
    };
    let schema = Schema::eu_dcc().unwrap();

    let verified = verify(&fi.hc1, &trust(&[&fi.der]), &schema, fi.now).unwrap();
    assert_eq!(verified.issuer_country.as_deref(), Some("FI"));
    assert_eq!(verified.kid, kid_of(&fi.der));
    assert_eq!(verified.issued_at.timestamp(), 1_623_833_669);
    assert_eq!(verified.expires_at.timestamp(), 1_655_413_199);
    assert_eq!(verified.kind(), CertificateKind::Vaccination);
    assert_eq!(
        verified.name.family_standardised.as_deref(),
        Some("TESTAAJA")
    );
    assert_eq!(verified.name.given.as_deref(), Some("Matti Kari Yrjänä"));
    assert_eq!(verified.date_of_birth, "1967-02-01");
    assert_eq!(verified.schema_version, "1.0.0");
    let CertificateEntry::Vaccination(v) = &verified.entry else {
        panic!("not a vaccination")
    };
    assert_eq!((v.dose_number, v.total_doses), (1, 1));
    assert_eq!(
        v.certificate_id,
        "URN:UVCI:01:FI:DZYOJVJ6Y8MQKNEI95WBTOEIM#X"
    );
    assert_eq!(verified.payload["v"][0]["co"], "FI");

    // The signer certificate on its own checks the same envelope.
    let trusted = trust(&[&fi.der]);
    let signer = &trusted.candidates(&kid_of(&fi.der))[0];
    assert_eq!(
        signer.verify_signature(&decode(&fi.hc1).unwrap().cose),
        Ok(())
    );

    // Re-encoding the untouched envelope changes nothing that is signed.
    let reencoded = hc1_of(&cose_of(&fi.hc1));
    assert!(verify(&reencoded, &trust(&[&fi.der]), &schema, fi.now).is_ok());

    let verified = verify(&is.hc1, &trust(&[&is.der]), &schema, is.now).unwrap();
    assert_eq!(verified.issuer_country.as_deref(), Some("IS"));
    assert_eq!(verified.kind(), CertificateKind::Vaccination);
}

#[test]
fn a_flipped_signature_byte_is_refused() {
    let schema = Schema::eu_dcc().unwrap();
    for file in ["FI/2DCode/raw/1.json", "IS/2DCode/raw/5.json"] {
        let Some(c) = case(file) else {
            return;
        };
        let trust = trust(&[&c.der]);
        let length = item(&mut cose_of(&c.hc1), SIGNATURE).len();
        for index in [0, length / 2, length - 1] {
            let mut cose = cose_of(&c.hc1);
            item(&mut cose, SIGNATURE)[index] ^= 0x01;
            assert_eq!(
                verify(&hc1_of(&cose), &trust, &schema, c.now),
                Err(DccError::Signature),
                "{file}, signature byte {index}"
            );
        }
    }
}

#[test]
fn a_flipped_payload_byte_is_refused() {
    let schema = Schema::eu_dcc().unwrap();
    for file in ["FI/2DCode/raw/1.json", "IS/2DCode/raw/5.json"] {
        let Some(c) = case(file) else {
            return;
        };
        let trust = trust(&[&c.der]);
        let length = item(&mut cose_of(&c.hc1), PAYLOAD).len();
        // Every byte, including those that break the CBOR: the signature is checked first.
        for index in 0..length {
            let mut cose = cose_of(&c.hc1);
            item(&mut cose, PAYLOAD)[index] ^= 0x20;
            assert_eq!(
                verify(&hc1_of(&cose), &trust, &schema, c.now),
                Err(DccError::Signature),
                "{file}, payload byte {index}"
            );
        }
    }
}

#[test]
fn an_edited_protected_header_is_refused() {
    let Some(fi) = case("FI/2DCode/raw/1.json") else {
        return;
    };
    let schema = Schema::eu_dcc().unwrap();
    let trust = trust(&[&fi.der]);

    // An extra header parameter (content type 3 = "application/cbor"): the same key still
    // applies, but the signed bytes differ.
    let mut cose = cose_of(&fi.hc1);
    edit_protected(&mut cose, |map| {
        map.push((Value::Integer(3.into()), Value::Integer(60.into())))
    });
    assert_eq!(
        verify(&hc1_of(&cose), &trust, &schema, fi.now),
        Err(DccError::Signature)
    );

    // ES384 instead of ES256: a P-256 key cannot check it.
    let mut cose = cose_of(&fi.hc1);
    edit_protected(&mut cose, |map| {
        map.retain(|(k, _)| k != &Value::Integer(1.into()));
        map.push((Value::Integer(1.into()), Value::Integer((-35).into())));
    });
    assert_eq!(
        verify(&hc1_of(&cose), &trust, &schema, fi.now),
        Err(DccError::KeyAlgorithmMismatch)
    );

    // An algorithm this verifier does not accept (EdDSA).
    let mut cose = cose_of(&fi.hc1);
    edit_protected(&mut cose, |map| {
        map.retain(|(k, _)| k != &Value::Integer(1.into()));
        map.push((Value::Integer(1.into()), Value::Integer((-8).into())));
    });
    assert_eq!(
        verify(&hc1_of(&cose), &trust, &schema, fi.now)
            .unwrap_err()
            .code(),
        "algorithm"
    );

    // No key identifier anywhere.
    let mut cose = cose_of(&fi.hc1);
    edit_protected(&mut cose, |map| {
        map.retain(|(k, _)| k != &Value::Integer(4.into()))
    });
    assert_eq!(
        verify(&hc1_of(&cose), &trust, &schema, fi.now),
        Err(DccError::MissingKid)
    );
}

#[test]
fn a_swapped_certificate_is_refused() {
    let (Some(fi), Some(ge), Some(is)) = (
        case("FI/2DCode/raw/1.json"),
        case("GE/2DCode/raw/1.json"),
        case("IS/2DCode/raw/5.json"),
    ) else {
        return;
    };
    let schema = Schema::eu_dcc().unwrap();

    // Nobody trusted, or only another signer: the key identifier is unknown.
    assert_eq!(
        verify(&fi.hc1, &DscTrust::new(), &schema, fi.now),
        Err(DccError::UnknownKey)
    );
    assert_eq!(
        verify(&fi.hc1, &trust(&[&ge.der]), &schema, fi.now),
        Err(DccError::UnknownKey)
    );

    // The key identifier rewritten to another trusted EC signer's: its key does not verify.
    let mut cose = cose_of(&fi.hc1);
    edit_protected(&mut cose, |map| set_kid(map, kid_of(&ge.der).to_vec()));
    assert_eq!(
        verify(&hc1_of(&cose), &trust(&[&fi.der, &ge.der]), &schema, fi.now),
        Err(DccError::Signature)
    );

    // ... or to an RSA signer's: an ES256 signature cannot come from it.
    let mut cose = cose_of(&fi.hc1);
    edit_protected(&mut cose, |map| set_kid(map, kid_of(&is.der).to_vec()));
    assert_eq!(
        verify(&hc1_of(&cose), &trust(&[&fi.der, &is.der]), &schema, fi.now),
        Err(DccError::KeyAlgorithmMismatch)
    );
}

#[test]
fn times_outside_the_validity_are_refused() {
    let Some(fi) = case("FI/2DCode/raw/1.json") else {
        return;
    };
    let schema = Schema::eu_dcc().unwrap();
    let trust = trust(&[&fi.der]);
    let iat = DateTime::from_timestamp(1_623_833_669, 0).unwrap();
    let exp = DateTime::from_timestamp(1_655_413_199, 0).unwrap();
    let second = TimeDelta::seconds(1);
    assert!(verify(&fi.hc1, &trust, &schema, iat).is_ok());
    assert!(verify(&fi.hc1, &trust, &schema, exp).is_ok());
    assert_eq!(
        verify(&fi.hc1, &trust, &schema, iat - second),
        Err(DccError::NotYetValid)
    );
    assert_eq!(
        verify(&fi.hc1, &trust, &schema, exp + second),
        Err(DccError::Expired)
    );

    let signer = &trust.candidates(&kid_of(&fi.der))[0];
    let from = DateTime::from_timestamp(signer.not_before(), 0).unwrap();
    let until = DateTime::from_timestamp(signer.not_after(), 0).unwrap();
    assert!(check_signer_validity(signer, from).is_ok());
    assert!(check_signer_validity(signer, until).is_ok());
    assert_eq!(
        check_signer_validity(signer, from - second)
            .unwrap_err()
            .code(),
        "signer_validity"
    );
    assert_eq!(
        check_signer_validity(signer, until + second)
            .unwrap_err()
            .code(),
        "signer_validity"
    );
}

#[test]
fn a_signer_without_the_usage_is_refused() {
    let Some(co6) = case("common/2DCode/raw/CO6.json") else {
        return;
    };
    let schema = Schema::eu_dcc().unwrap();
    let trust = trust(&[&co6.der]);
    assert!(
        !trust.candidates(&kid_of(&co6.der))[0]
            .key_usage()
            .vaccination
    );
    assert_eq!(
        verify(&co6.hc1, &trust, &schema, co6.now),
        Err(DccError::KeyUsage("vaccination"))
    );
}

#[test]
fn damaged_text_is_refused_by_the_layer_that_notices() {
    let Some(fi) = case("FI/2DCode/raw/1.json") else {
        return;
    };
    let schema = Schema::eu_dcc().unwrap();
    let trust = trust(&[&fi.der]);
    let check = |text: &str| verify(text, &trust, &schema, fi.now).unwrap_err().code();

    assert_eq!(check(&fi.hc1.replacen("HC1:", "HC2:", 1)), "prefix");
    assert_eq!(check(&fi.hc1[4..]), "prefix");
    assert_eq!(check(&format!("{}a", &fi.hc1)), "base45");
    assert_eq!(check(&fi.hc1[..fi.hc1.len() - 3]), "compression");

    // A changed byte inside the compressed stream is caught by ZLIB's Adler-32 or its
    // Huffman decoding, never passed on.
    let compressed = base45_decode(unprefix(&fi.hc1).unwrap()).unwrap();
    let mut damaged = compressed.clone();
    let middle = damaged.len() / 2;
    damaged[middle] ^= 0x55;
    let code = check(&format!("HC1:{}", base45::encode(&damaged)));
    assert!(
        ["compression", "cbor", "cose", "signature"].contains(&code),
        "{code}"
    );
}
