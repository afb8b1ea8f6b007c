//! Arbitrary input to the paper-pass verifier. Any panic, overflow or hang is a bug:
//! `Verifier::verify_pass` must answer every input with `Ok` or a `VerifyError`.
//!
//! Each input is tried three ways: as the text of a pass (lossily made UTF-8, so every input
//! reaches the verifier), as the text after `HCZ1:`, and as COSE bytes behind a valid prefix
//! and base45, which sends the fuzzer's bytes straight into the CBOR, COSE and pass payload
//! decoders. The COSE bytes are also tried as a place code, so that a pass payload reaching
//! the place decoder is exercised too.

#![no_main]

use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use healthcode_credential::{
    KeyUsage, PASS_PREFIX, PLACE_PREFIX, SigningKey, TrustList, TrustedKey, Verifier, base45,
};
use libfuzzer_sys::fuzz_target;

fn at(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).unwrap_or_default()
}

/// The trust list of docs/FORMAT.md's worked example: key seed [7; 32], region CN-BJ.
fn verifier() -> &'static Verifier {
    static VERIFIER: OnceLock<Verifier> = OnceLock::new();
    VERIFIER.get_or_init(|| {
        let key = SigningKey::from_seed(&[7u8; 32]);
        let root = SigningKey::from_seed(&[1u8; 32]);
        Verifier::new(&[TrustList {
            region: "CN-BJ".into(),
            sequence: 1,
            issued_at: at(1_777_593_600),
            next_update: at(1_778_198_400),
            root_public_key: root.public_key(),
            log: None,
            keys: vec![TrustedKey::new(
                key.public_key(),
                at(1_767_225_600),
                at(1_798_761_599),
                vec![KeyUsage::Code],
            )],
        }])
    })
}

fuzz_target!(|data: &[u8]| {
    // 2026-05-01T08:01:00Z, inside the example key's validity.
    let now = at(1_777_622_460);
    let text = String::from_utf8_lossy(data);
    let _ = verifier().verify_pass(&text, now);
    let _ = verifier().verify_pass(&format!("{PASS_PREFIX}{text}"), now);
    let encoded = base45::encode(data);
    let _ = verifier().verify_pass(&format!("{PASS_PREFIX}{encoded}"), now);
    let _ = verifier().verify_place(&format!("{PLACE_PREFIX}{encoded}"), now);
});
