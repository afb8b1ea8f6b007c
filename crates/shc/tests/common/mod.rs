//! Shared by the integration tests: finding the SMART Health Cards test data (spec examples
//! 00–03, the example issuer's key set and revocation list, and the dev-tools invalid cases),
//! the example issuer's trust, and a test issuer with a fresh key that signs whatever payload
//! a test needs.

#![allow(dead_code)] // each test binary uses a different part

use std::io::Write as _;
use std::path::PathBuf;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use flate2::Compression;
use flate2::write::DeflateEncoder;
use healthcode_shc::{Jwks, RevocationList, Trust};
use sha2::{Digest as _, Sha256};

/// The examples' issuer, as their payloads name it.
pub const EXAMPLE_ISSUER: &str = "https://spec.smarthealth.cards/examples/issuer";
/// The example key with a revocation list (`crlVersion` 1); examples 00, 02 and 03 use it.
pub const KID_WITH_CRL: &str = "3Kfdg-XwP-7gXyywtUfUADwBumDOPKMQx-iELL11W9s";
/// The example key with an X.509 chain and no revocation list; example 01 uses it.
pub const KID_X5C: &str = "EBKOr72QQDcTBUuVzAzkfBTGew0ZA16GuWty64nS-sw";

/// The `smart-health-cards` folder of the test data, found through `HEALTHCODE_TESTDATA`
/// (default: `shared/testdata` beside the repository). `None` (the test then skips, saying
/// so) when it is missing; when `CI` is set, a missing folder fails the test instead.
pub fn shc_testdata() -> Option<PathBuf> {
    let root = std::env::var_os("HEALTHCODE_TESTDATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../../shared/testdata"
            ))
        });
    let dir = root.join("smart-health-cards");
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var_os("CI").is_some() {
        panic!(
            "SMART Health Cards test data not found at {} (set HEALTHCODE_TESTDATA); CI requires it",
            dir.display()
        );
    }
    eprintln!(
        "SKIPPED: SMART Health Cards test data not found at {} (set HEALTHCODE_TESTDATA)",
        dir.display()
    );
    None
}

/// A file of the test data, as is (no trimming: stray whitespace is one of the cases).
pub fn read(dir: &std::path::Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The example issuer mapped to its local `.well-known/`: its key set and every revocation
/// list under `crl/`.
pub fn example_trust(dir: &std::path::Path) -> Trust {
    let well_known = dir.join("examples/issuer/.well-known");
    let jwks = Jwks::from_json(&read(&well_known, "jwks.json")).expect("example JWKS reads");
    let mut trust = Trust::new();
    trust.add_issuer(EXAMPLE_ISSUER, jwks).expect("issuer URL");
    let mut crls = std::fs::read_dir(well_known.join("crl"))
        .expect("crl folder")
        .map(|e| e.expect("dir entry").path())
        .collect::<Vec<_>>();
    crls.sort();
    assert!(!crls.is_empty(), "the example issuer has revocation lists");
    for path in crls {
        let text = std::fs::read_to_string(&path).expect("crl file");
        let crl = RevocationList::from_json(&text).expect("example CRL reads");
        trust
            .add_crl(EXAMPLE_ISSUER, crl)
            .expect("CRL of a known key");
    }
    trust
}

/// The example issuer's keys without its revocation lists.
pub fn example_trust_without_crls(dir: &std::path::Path) -> Trust {
    let well_known = dir.join("examples/issuer/.well-known");
    let mut trust = Trust::new();
    trust
        .add_issuer(
            EXAMPLE_ISSUER,
            Jwks::from_json(&read(&well_known, "jwks.json")).expect("example JWKS reads"),
        )
        .expect("issuer URL");
    trust
}

pub fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339)
        .expect("valid RFC 3339 time")
        .with_timezone(&Utc)
}

/// Inside every example's validity: after their `nbf` (2023-06-22T16:19:24.657Z) and before
/// example 03's `exp` (2024-06-21T16:19:24.657Z).
pub fn examples_now() -> DateTime<Utc> {
    at("2023-07-01T12:00:00Z")
}

/// JWS text to numeric QR text (the inverse of `decode_numeric`, written here independently);
/// for text of JWS characters (`-` to `z`) only.
pub fn to_numeric(jws: &str) -> String {
    let digits: String = jws.bytes().map(|b| format!("{:02}", b - b'-')).collect();
    format!("shc:/{digits}")
}

pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn unb64(text: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(text).expect("base64url")
}

pub fn deflate(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = DeflateEncoder::new(Vec::new(), Compression::best());
    encoder.write_all(bytes).expect("deflate");
    encoder.finish().expect("deflate")
}

/// An issuer of its own with a freshly generated P-256 key, for cards no real issuer would
/// sign (future `nbf`, a zip bomb, a foreign `iss`, ...).
pub struct TestIssuer {
    pub key: EcdsaKeyPair,
    pub kid: String,
    x: String,
    y: String,
}

impl TestIssuer {
    pub fn new() -> TestIssuer {
        let key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).expect("key");
        let point = key.public_key().as_ref().to_vec();
        assert_eq!((point.len(), point[0]), (65, 0x04), "uncompressed point");
        let x = b64(&point[1..33]);
        let y = b64(&point[33..]);
        // RFC 7638 section 3.2, computed here with another SHA-256 than the crate's.
        let members = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
        let kid = b64(&Sha256::digest(members.as_bytes()));
        TestIssuer { key, kid, x, y }
    }

    /// The key set, with `crlVersion` when given.
    pub fn jwks_json(&self, crl_version: Option<u64>) -> String {
        let crl = crl_version.map_or(String::new(), |v| format!(r#","crlVersion":{v}"#));
        format!(
            r#"{{"keys":[{{"kty":"EC","kid":"{}","use":"sig","alg":"ES256","crv":"P-256","x":"{}","y":"{}"{crl}}}]}}"#,
            self.kid, self.x, self.y
        )
    }

    pub fn jwks(&self, crl_version: Option<u64>) -> Jwks {
        Jwks::from_json(&self.jwks_json(crl_version)).expect("test JWKS reads")
    }

    /// Signs `header_json` + already compressed `payload` (base64url of both).
    pub fn sign_raw(&self, header_json: &str, payload: &[u8]) -> String {
        let input = format!("{}.{}", b64(header_json.as_bytes()), b64(payload));
        let signature = self
            .key
            .sign(&SystemRandom::new(), input.as_bytes())
            .expect("sign");
        format!("{input}.{}", b64(signature.as_ref()))
    }

    /// A card with this key's kid and the standard header around `payload_json`.
    pub fn sign(&self, payload_json: &str) -> String {
        let header = format!(r#"{{"zip":"DEF","alg":"ES256","kid":"{}"}}"#, self.kid);
        self.sign_raw(&header, &deflate(payload_json.as_bytes()))
    }
}

/// A minimal health card payload: one Patient and one Immunization. `extra` is spliced into
/// the top-level claims (e.g. `,"exp":123`).
pub fn payload(iss: &str, nbf: i64, extra: &str) -> String {
    format!(
        concat!(
            r#"{{"iss":"{}","nbf":{}{},"vc":{{"type":["https://smarthealth.cards#health-card"],"#,
            r#""credentialSubject":{{"fhirVersion":"4.0.1","fhirBundle":{{"resourceType":"Bundle","type":"collection","entry":["#,
            r#"{{"fullUrl":"resource:0","resource":{{"resourceType":"Patient","name":[{{"family":"Test","given":["Ada"]}}],"birthDate":"1990-05-06"}}}},"#,
            r#"{{"fullUrl":"resource:1","resource":{{"resourceType":"Immunization","status":"completed","vaccineCode":{{"coding":[{{"system":"http://hl7.org/fhir/sid/cvx","code":"208"}}]}},"patient":{{"reference":"resource:0"}},"occurrenceDateTime":"2021-05-01"}}}}"#,
            r#"]}}}},"rid":"testRid01"}}}}"#
        ),
        iss, nbf, extra
    )
}
