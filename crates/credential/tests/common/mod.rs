//! Fixtures shared by the integration tests: the worked example of docs/FORMAT.md, a region
//! with one code-signing key, and helpers to take codes apart.

#![allow(dead_code)] // each test binary uses a different part

use chrono::{DateTime, TimeDelta, Utc};
use healthcode_credential::{
    CodeClaims, KeyUsage, PREFIX, SigningKey, TrustList, TrustedKey, Verifier, base45,
};
use healthcode_domain::{Colour, DocumentType, VaccinationState};

pub fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339)
        .expect("valid RFC 3339 time")
        .with_timezone(&Utc)
}

/// The code-signing key of the worked example.
pub fn example_key() -> SigningKey {
    SigningKey::from_seed(&[7u8; 32])
}

/// The root key of the worked example's trust list.
pub fn example_root() -> SigningKey {
    SigningKey::from_seed(&[1u8; 32])
}

/// The claims of the worked example in docs/FORMAT.md.
pub fn example_claims() -> CodeClaims {
    let issued_at = at("2026-05-01T08:00:00Z");
    CodeClaims {
        region: "CN-BJ".into(),
        subject: core::array::from_fn(|i| i as u8 + 1),
        issued_at,
        expires_at: issued_at + TimeDelta::minutes(3),
        colour: Colour::Green,
        reminders: vec![],
        test_recency_days: Some(1),
        vaccination: VaccinationState::BoosterComplete,
        masked_name: "张*".into(),
        masked_document: "11**************2X".into(),
        document_type: DocumentType::ResidentId,
        // 24:00 Asia/Shanghai (UTC+8) on 2026-05-01.
        status_valid_until: at("2026-05-01T16:00:00Z"),
    }
}

/// The worked example's trust list: region CN-BJ, the example key valid through 2026.
pub fn example_list() -> TrustList {
    TrustList {
        region: "CN-BJ".into(),
        sequence: 1,
        issued_at: at("2026-05-01T00:00:00Z"),
        next_update: at("2026-05-08T00:00:00Z"),
        root_public_key: example_root().public_key(),
        log: None,
        keys: vec![TrustedKey::new(
            example_key().public_key(),
            at("2026-01-01T00:00:00Z"),
            at("2026-12-31T23:59:59Z"),
            vec![KeyUsage::Code],
        )],
    }
}

pub fn example_verifier() -> Verifier {
    Verifier::new(&[example_list()])
}

/// A moment at which the example code is valid.
pub fn example_now() -> DateTime<Utc> {
    at("2026-05-01T08:01:00Z")
}

/// The COSE bytes inside a code.
pub fn cose_bytes(code: &str) -> Vec<u8> {
    let text = code.strip_prefix(PREFIX).expect("has prefix");
    base45::decode(text.as_bytes()).expect("valid base45")
}

/// A code around the given COSE bytes.
pub fn code_of(cose: &[u8]) -> String {
    format!("{PREFIX}{}", base45::encode(cose))
}
