//! Arbitrary input to the EU DCC and SMART Health Card readers, and to the one verifier that
//! recognises the format. Any panic, overflow or hang is a bug: every input must end in a
//! verification that says valid or why not.
//!
//! Each input is tried as the text a scanner reports (lossily UTF-8), as the bytes behind a
//! valid `HC1:` prefix, base45 and zlib wrapper (so they reach the COSE, CWT and payload
//! decoders), as SMART Health Card numeric text, and as a QR picture.

#![no_main]

use std::io::Write;
use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use healthcode_verify::Trust;
use libfuzzer_sys::fuzz_target;

fn trust() -> &'static Trust {
    static TRUST: OnceLock<Trust> = OnceLock::new();
    TRUST.get_or_init(|| Trust::new().unwrap_or_else(|_| std::process::abort()))
}

fuzz_target!(|data: &[u8]| {
    let now = DateTime::<Utc>::from_timestamp(1_700_000_000, 0).unwrap_or_default();
    let text = String::from_utf8_lossy(data);
    let _ = trust().verify(&text, now);
    let _ = healthcode_dcc::decode(&text);

    let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    if zlib.write_all(data).is_ok()
        && let Ok(compressed) = zlib.finish()
    {
        let hc1 = format!(
            "HC1:{}",
            healthcode_credential::base45::encode(&compressed)
        );
        let _ = healthcode_dcc::decode(&hc1);
        let _ = trust().verify(&hc1, now);
    }

    let numeric: String = data.iter().map(|b| format!("{:02}", b % 78)).collect();
    let _ = healthcode_shc::decode_numeric(&[&format!("shc:/{numeric}")]);
    let _ = healthcode_qrscan::read(data);
});
