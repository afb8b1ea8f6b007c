//! Whatever a QR code, a paste box or an upload holds, decoding returns an error instead of
//! panicking: arbitrary text, arbitrary base45, arbitrary bytes behind valid ZLIB, random
//! damage to a well-formed DCC envelope, arbitrary signer certificates. (Pictures: the
//! qrscan crate's own test.)

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;

use chrono::DateTime;
use ciborium::value::Value;
use flate2::Compression;
use flate2::write::ZlibEncoder;
use healthcode_credential::base45;
use healthcode_dcc::{DscTrust, Schema, decode, verify};
use proptest::prelude::*;

const BASE45_ALPHABET: &str = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";

fn hc1_of_bytes(bytes: &[u8]) -> String {
    let mut zlib = ZlibEncoder::new(Vec::new(), Compression::fast());
    zlib.write_all(bytes).unwrap();
    format!("HC1:{}", base45::encode(&zlib.finish().unwrap()))
}

fn cbor(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::ser::into_writer(value, &mut out).unwrap();
    out
}

fn int(i: i64) -> Value {
    Value::Integer(i.into())
}

fn text(t: &str) -> Value {
    Value::Text(t.into())
}

/// A well-formed (unsigned) DCC envelope, to damage.
fn envelope() -> Vec<u8> {
    let dcc = Value::Map(vec![
        (text("ver"), text("1.3.0")),
        (
            text("nam"),
            Value::Map(vec![(text("fnt"), text("MUSTERFRAU"))]),
        ),
        (text("dob"), text("1964-08-12")),
        (
            text("t"),
            Value::Array(vec![Value::Map(vec![
                (text("tg"), text("840539006")),
                (text("sc"), Value::Tag(1, Box::new(int(1_622_282_400)))),
                (text("dn"), Value::Float(1.0)),
            ])]),
        ),
    ]);
    let claims = Value::Map(vec![
        (int(1), text("DE")),
        (int(4), int(1_700_000_000)),
        (int(6), int(1_600_000_000)),
        (int(-260), Value::Map(vec![(int(1), dcc)])),
    ]);
    let protected = cbor(&Value::Map(vec![
        (int(1), int(-7)),
        (int(4), Value::Bytes(vec![1, 2, 3, 4, 5, 6, 7, 8])),
    ]));
    cbor(&Value::Tag(
        18,
        Box::new(Value::Array(vec![
            Value::Bytes(protected),
            Value::Map(vec![]),
            Value::Bytes(cbor(&claims)),
            Value::Bytes(vec![0; 64]),
        ])),
    ))
}

proptest! {
    #[test]
    fn arbitrary_text(text in "\\PC*") {
        let _ = decode(&text);
        let _ = decode(&format!("HC1:{text}"));
    }

    #[test]
    fn arbitrary_base45(text in proptest::collection::vec(
        proptest::sample::select(BASE45_ALPHABET.chars().collect::<Vec<_>>()), 0..600)
    ) {
        let hc1: String = "HC1:".chars().chain(text).collect();
        prop_assert!(decode(&hc1).is_err());
    }

    #[test]
    fn arbitrary_bytes_behind_zlib(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = decode(&hc1_of_bytes(&bytes));
        // A COSE_Sign1 tag and array head in front reach deeper into the envelope parser.
        let mut tagged = vec![0xd2, 0x84];
        tagged.extend_from_slice(&bytes);
        let _ = decode(&hc1_of_bytes(&tagged));
    }

    #[test]
    fn damaged_envelopes(flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8)) {
        let mut bytes = envelope();
        for (at, mask) in flips {
            let at = at % bytes.len();
            bytes[at] ^= mask;
        }
        let hc1 = hc1_of_bytes(&bytes);
        let _ = decode(&hc1);
        let schema = Schema::eu_dcc().unwrap();
        let now = DateTime::from_timestamp(1_650_000_000, 0).unwrap();
        prop_assert!(verify(&hc1, &DscTrust::new(), &schema, now).is_err());
    }

    #[test]
    fn arbitrary_signer_certificates(bytes in proptest::collection::vec(any::<u8>(), 0..400),
                                     text in "\\PC*") {
        let mut trust = DscTrust::new();
        let _ = trust.add_certificate_der(&bytes);
        let _ = trust.add_certificate_pem_or_base64(&text);
        let _ = trust.add_certificate_pem_or_base64(
            &format!("-----BEGIN CERTIFICATE-----\n{text}\n-----END CERTIFICATE-----"));
    }
}

#[test]
fn the_undamaged_envelope_decodes() {
    // The base of `damaged_envelopes` must itself be readable, or the damage tests nothing.
    let decoded = decode(&hc1_of_bytes(&envelope())).unwrap();
    assert_eq!(decoded.claims.dcc["t"][0]["sc"], "2021-05-29T10:00:00Z");
    assert_eq!(decoded.cose.kid(), Some(&[1u8, 2, 3, 4, 5, 6, 7, 8][..]));
}
