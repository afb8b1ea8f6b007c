//! Arbitrary input to the trust list reader, as JSON text and as the signed COSE bytes inside
//! a well-formed JSON wrapper. It must answer with `Ok` or a `TrustListError`, never panic.

#![no_main]

use healthcode_credential::TrustList;
use libfuzzer_sys::fuzz_target;

/// Standard base64 with padding (RFC 4648 §4), so that the bytes reach the COSE decoder.
fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let _ = TrustList::from_json(&String::from_utf8_lossy(data), None);
    let wrapped = format!(
        r#"{{"format":"healthcode-trust-list","version":1,"region":"CN-BJ","cose":"{}"}}"#,
        base64(data)
    );
    let _ = TrustList::from_json(&wrapped, None);
    let _ = TrustList::from_json(&wrapped, Some(&[0u8; 32]));
});
