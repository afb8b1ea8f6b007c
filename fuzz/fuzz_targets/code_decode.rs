//! Arbitrary input to the code verifier and the base45 decoder. Any panic, overflow or hang is
//! a bug: `Verifier::verify` must answer every input with `Ok` or a `VerifyError`.
//!
//! Each input is tried three ways: as the text of a code (lossily made UTF-8, so every input
//! reaches the verifier), as raw base45, and as COSE bytes behind a valid prefix and base45,
//! which sends the fuzzer's bytes straight into the CBOR, COSE and claims decoders.

#![no_main]

use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use healthcode_credential::{
    KeyUsage, PREFIX, SigningKey, TrustList, TrustedKey, Verifier, base45,
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
    // 2026-05-01T08:01:00Z, inside the example code's validity.
    let now = at(1_777_622_460);
    let text = String::from_utf8_lossy(data);
    let _ = verifier().verify(&text, now);
    let _ = base45::decode(data);
    let wrapped = format!("{PREFIX}{}", base45::encode(data));
    let _ = verifier().verify(&wrapped, now);
});
