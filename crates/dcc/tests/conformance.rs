//! Envelopes the EU reference verifiers accept and the test data does not hold, built here
//! from the structure the specifications give, signed by a signer certificate made for the
//! test (a P-256 key, self-signed, no extended key usage: valid for every type).
//!
//! - RFC 9052 §3 lets a header parameter sit in either bucket, and the hcert spec's reference
//!   verifiers read `alg` and `kid` from the unprotected header when the protected one is
//!   empty. Such a DCC verifies; the signature still decides, so an altered signature, a
//!   signature over another protected header, or an algorithm the key cannot make are refused.
//!
//! The payload is the claims set of the EU DCC test data's FI/2DCode/raw/1.json (a
//! vaccination; eu-digital-green-certificates/dgc-testdata @ 4a62c8d9), re-signed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::Write;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
use chrono::{DateTime, Utc};
use ciborium::value::Value;
use common::testdata_dir;
use flate2::Compression;
use flate2::write::ZlibEncoder;
use healthcode_credential::base45;
use healthcode_dcc::{DccError, DscTrust, Schema, VerifiedDcc, decode, verify};

/// A signer made for the test, trusted; the FI vaccination's signed claims set; an instant
/// inside its validity.
struct Fixture {
    pair: EcdsaKeyPair,
    trust: DscTrust,
    kid: Vec<u8>,
    schema: Schema,
    payload: Vec<u8>,
    now: DateTime<Utc>,
}

impl Fixture {
    /// `None` (the test skips) without the EU DCC test data outside CI.
    fn new() -> Option<Fixture> {
        let path = testdata_dir()?.join("eu-dcc/FI/2DCode/raw/1.json");
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        let payload = decode(json["PREFIX"].as_str().unwrap())
            .unwrap()
            .cose
            .payload()
            .to_vec();
        // A P-256 key, and a self-signed certificate for it valid around the FI case's dates.
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
        let pkcs8 = pair.to_pkcs8v1().unwrap();
        let key = rcgen::KeyPair::try_from(pkcs8.as_ref()).unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.not_before = rcgen::date_time_ymd(2021, 1, 1);
        params.not_after = rcgen::date_time_ymd(2023, 1, 1);
        let der = params.self_signed(&key).unwrap().der().to_vec();
        assert_eq!(pair.public_key().as_ref().len(), 65);
        let mut trust = DscTrust::new();
        let kid = trust.add_certificate_der(&der).unwrap().to_vec();
        Some(Fixture {
            pair,
            trust,
            kid,
            schema: Schema::eu_dcc().unwrap(),
            payload,
            now: DateTime::from_timestamp(1_624_000_000, 0).unwrap(),
        })
    }

    /// The signer's signature (`r || s`) over the Sig_structure with `protected`.
    fn sign(&self, protected: &[u8]) -> Vec<u8> {
        self.pair
            .sign(
                &SystemRandom::new(),
                &to_be_signed(protected, &self.payload),
            )
            .unwrap()
            .as_ref()
            .to_vec()
    }

    fn verify(&self, text: &str) -> Result<VerifiedDcc, DccError> {
        verify(text, &self.trust, &self.schema, self.now)
    }
}

fn cbor(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::ser::into_writer(value, &mut out).unwrap();
    out
}

/// `Sig_structure` of RFC 9052 §4.4 for this protected header and payload.
fn to_be_signed(protected: &[u8], payload: &[u8]) -> Vec<u8> {
    cbor(&Value::Array(vec![
        Value::Text("Signature1".into()),
        Value::Bytes(protected.to_vec()),
        Value::Bytes(Vec::new()),
        Value::Bytes(payload.to_vec()),
    ]))
}

/// `HC1:` text of the tagged COSE_Sign1 with these parts.
fn hc1(
    protected: &[u8],
    unprotected: Vec<(i64, Value)>,
    payload: &[u8],
    signature: &[u8],
) -> String {
    let cose = Value::Tag(
        18,
        Box::new(Value::Array(vec![
            Value::Bytes(protected.to_vec()),
            Value::Map(
                unprotected
                    .into_iter()
                    .map(|(label, value)| (Value::Integer(label.into()), value))
                    .collect(),
            ),
            Value::Bytes(payload.to_vec()),
            Value::Bytes(signature.to_vec()),
        ])),
    );
    let mut zlib = ZlibEncoder::new(Vec::new(), Compression::default());
    zlib.write_all(&cbor(&cose)).unwrap();
    format!("HC1:{}", base45::encode(&zlib.finish().unwrap()))
}

fn es256() -> Value {
    Value::Integer((-7).into())
}

#[test]
fn alg_and_kid_in_the_unprotected_header_of_an_empty_protected_one() {
    let Some(f) = Fixture::new() else {
        return;
    };
    let unprotected = |alg: Value| vec![(1, alg), (4, Value::Bytes(f.kid.clone()))];

    let signature = f.sign(&[]);
    let verified = f
        .verify(&hc1(&[], unprotected(es256()), &f.payload, &signature))
        .unwrap();
    assert_eq!(verified.kid.to_vec(), f.kid);
    assert_eq!(verified.issuer_country.as_deref(), Some("FI"));

    // The signature still decides: one flipped bit is refused.
    let mut flipped = signature.clone();
    flipped[10] ^= 1;
    let text = hc1(&[], unprotected(es256()), &f.payload, &flipped);
    assert_eq!(f.verify(&text), Err(DccError::Signature));

    // A signature made over a protected header other than the one sent is refused.
    let protected = cbor(&Value::Map(vec![(Value::Integer(1.into()), es256())]));
    let text = hc1(&[], unprotected(es256()), &f.payload, &f.sign(&protected));
    assert_eq!(f.verify(&text), Err(DccError::Signature));

    // An algorithm the P-256 key cannot make (PS256), or none at all, is refused.
    let ps256 = Value::Integer((-37).into());
    let text = hc1(&[], unprotected(ps256), &f.payload, &signature);
    assert_eq!(f.verify(&text), Err(DccError::KeyAlgorithmMismatch));
    let text = hc1(
        &[],
        vec![(4, Value::Bytes(f.kid.clone()))],
        &f.payload,
        &signature,
    );
    assert_eq!(f.verify(&text).unwrap_err().code(), "algorithm");
}

#[test]
fn the_protected_algorithm_wins_over_the_unprotected_one() {
    let Some(f) = Fixture::new() else {
        return;
    };
    let protected = cbor(&Value::Map(vec![(Value::Integer(1.into()), es256())]));
    // An unprotected PS256 beside a protected ES256 is ignored.
    let unprotected = vec![
        (1, Value::Integer((-37).into())),
        (4, Value::Bytes(f.kid.clone())),
    ];
    let text = hc1(&protected, unprotected, &f.payload, &f.sign(&protected));
    assert!(f.verify(&text).is_ok());
}
