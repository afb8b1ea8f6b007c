//! The compact JWS (RFC 7515 section 7.1) as SMART Health Cards constrain it ("Health Cards
//! are Compact"): header `{"alg":"ES256","zip":"DEF","kid":...}`, a raw DEFLATE payload
//! (RFC 1951) and a 64-byte r||s signature (RFC 7515 appendix A.3).
//!
//! This module owns taking the text apart, the header rules, the signature's form and
//! inflating the payload under a size cap. It does not own finding the key nor verifying the
//! signature ([`crate::verify`]), nor what the payload means ([`crate::claims`]).

use std::io::Read as _;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use flate2::read::DeflateDecoder;
use serde::Deserialize;

use crate::error::ShcError;
use crate::numeric::is_stray;

/// The most bytes a payload may inflate to. The largest example card (a 55-resource lab
/// report) inflates to 30 KB; a megabyte leaves room for real bundles and refuses a small
/// payload that expands without bound.
pub const MAX_PAYLOAD_BYTES: usize = 1 << 20;

/// A JWS taken apart; nothing in it is trusted yet.
#[derive(Debug)]
pub(crate) struct CompactJws<'a> {
    /// `BASE64URL(header) "." BASE64URL(payload)`: the bytes the signature covers (RFC 7515
    /// section 5.2, step 8).
    pub signing_input: &'a str,
    /// The payload part, still base64url and compressed.
    pub payload: &'a str,
    pub kid: String,
    /// r || s, each 32 bytes big-endian.
    pub signature: [u8; 64],
}

/// The header members this profile reads. Deriving `Deserialize` makes a repeated member an
/// error, so a header cannot say `ES256` to one reader and something else to another.
#[derive(Deserialize)]
struct Header {
    alg: Option<String>,
    zip: Option<String>,
    kid: Option<String>,
    crit: Option<serde_json::Value>,
}

/// Takes a compact JWS apart and checks its header and signature form.
pub(crate) fn parse(text: &str) -> Result<CompactJws<'_>, ShcError> {
    if text.trim_matches(is_stray) != text {
        return Err(ShcError::TrailingCharacters);
    }
    let mut parts = text.split('.');
    let (Some(header_part), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ShcError::BadJws(
            "expected three base64url parts separated by '.'",
        ));
    };
    for part in [header_part, payload, signature] {
        if part.is_empty() {
            return Err(ShcError::BadJws("a part is empty"));
        }
        if !part.bytes().all(is_base64url) {
            return Err(ShcError::BadJws("a part has characters outside base64url"));
        }
    }
    let header_bytes = URL_SAFE_NO_PAD
        .decode(header_part)
        .map_err(|_| ShcError::BadJws("the header is not valid base64url"))?;
    let header: Header = serde_json::from_slice(&header_bytes).map_err(|_| {
        ShcError::BadHeader("not a JSON object with string members alg, zip and kid")
    })?;
    if header.alg.as_deref() != Some("ES256") {
        return Err(ShcError::HeaderAlg);
    }
    if header.zip.as_deref() != Some("DEF") {
        return Err(ShcError::HeaderZip);
    }
    let kid = match header.kid {
        Some(kid) if !kid.is_empty() => kid,
        _ => return Err(ShcError::MissingKid),
    };
    // RFC 7515 section 4.1.11: extensions listed in `crit` must be understood, and this
    // profile defines none.
    if header.crit.is_some() {
        return Err(ShcError::BadHeader(
            "it lists critical extensions (crit), which this profile does not define",
        ));
    }
    let signature_bytes = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| ShcError::BadJws("the signature is not valid base64url"))?;
    let signature: [u8; 64] =
        signature_bytes
            .as_slice()
            .try_into()
            .map_err(|_| ShcError::SignatureFormat {
                len: signature_bytes.len(),
            })?;
    Ok(CompactJws {
        signing_input: &text[..header_part.len() + 1 + payload.len()],
        payload,
        kid,
        signature,
    })
}

fn is_base64url(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// Decodes and inflates the payload part. Inflation stops one byte past
/// [`MAX_PAYLOAD_BYTES`], so a payload built to expand without bound costs at most that.
pub(crate) fn inflate_payload(payload: &str) -> Result<Vec<u8>, ShcError> {
    let compressed = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| ShcError::BadJws("the payload is not valid base64url"))?;
    let mut inflated = Vec::new();
    DeflateDecoder::new(compressed.as_slice())
        .take(MAX_PAYLOAD_BYTES as u64 + 1)
        .read_to_end(&mut inflated)
        .map_err(|_| ShcError::Inflate)?;
    if inflated.len() > MAX_PAYLOAD_BYTES {
        return Err(ShcError::PayloadTooLarge {
            limit: MAX_PAYLOAD_BYTES,
        });
    }
    Ok(inflated)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use std::io::Write as _;

    use flate2::Compression;
    use flate2::write::{DeflateEncoder, ZlibEncoder};

    use super::*;

    fn b64(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    fn jws_with_header(header: &str) -> String {
        format!(
            "{}.{}.{}",
            b64(header.as_bytes()),
            b64(b"{}"),
            b64(&[7; 64])
        )
    }

    const GOOD: &str = r#"{"alg":"ES256","zip":"DEF","kid":"abc"}"#;

    #[test]
    fn a_good_header_parses() {
        let text = jws_with_header(GOOD);
        let jws = parse(&text).unwrap();
        assert_eq!(jws.kid, "abc");
        assert_eq!(jws.signature, [7; 64]);
        assert_eq!(jws.payload, b64(b"{}"));
        assert_eq!(
            jws.signing_input,
            format!("{}.{}", b64(GOOD.as_bytes()), b64(b"{}"))
        );
    }

    #[test]
    fn header_rules() {
        let cases = [
            (r#"{"alg":"ES384","zip":"DEF","kid":"k"}"#, "algorithm"),
            (r#"{"alg":"none","zip":"DEF","kid":"k"}"#, "algorithm"),
            (r#"{"zip":"DEF","kid":"k"}"#, "algorithm"),
            (r#"{"alg":"ES256","kid":"k"}"#, "header_zip"),
            (r#"{"alg":"ES256","zip":"GZIP","kid":"k"}"#, "header_zip"),
            (r#"{"alg":"ES256","zip":"DEF"}"#, "missing_kid"),
            (r#"{"alg":"ES256","zip":"DEF","kid":""}"#, "missing_kid"),
            (r#"{"alg":"ES256","zip":"DEF","kid":7}"#, "header"),
            (
                r#"{"alg":"ES256","alg":"none","zip":"DEF","kid":"k"}"#,
                "header",
            ),
            (
                r#"{"alg":"ES256","zip":"DEF","kid":"k","crit":["b64"]}"#,
                "header",
            ),
            ("[1,2]", "header"),
            ("not json", "header"),
        ];
        for (header, code) in cases {
            let err = parse(&jws_with_header(header)).unwrap_err();
            assert_eq!(err.code(), code, "{header}");
        }
    }

    #[test]
    fn structure_rules() {
        let good = jws_with_header(GOOD);
        for bad in ["", "a.b", "a.b.c.d", "..", "a..c", "a+b.c.d", "a=.b.c"] {
            assert_eq!(parse(bad).unwrap_err().code(), "jws", "{bad}");
        }
        assert_eq!(
            parse(&format!(" {good}")).unwrap_err(),
            ShcError::TrailingCharacters
        );
        assert_eq!(
            parse(&format!("{good}\r\n")).unwrap_err(),
            ShcError::TrailingCharacters
        );
    }

    #[test]
    fn signature_must_be_raw_r_s() {
        for len in [0usize, 63, 65, 70, 71, 72] {
            let text = format!(
                "{}.{}.{}",
                b64(GOOD.as_bytes()),
                b64(b"{}"),
                b64(&vec![0x30; len])
            );
            let err = parse(&text).unwrap_err();
            if len == 0 {
                assert_eq!(err.code(), "jws");
            } else {
                assert_eq!(err, ShcError::SignatureFormat { len });
            }
        }
    }

    fn deflate(data: &[u8]) -> Vec<u8> {
        let mut encoder = DeflateEncoder::new(Vec::new(), Compression::best());
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn inflates_raw_deflate() {
        let text = br#"{"iss":"https://example.org"}"#;
        assert_eq!(inflate_payload(&b64(&deflate(text))).unwrap(), text);
    }

    #[test]
    fn refuses_zlib_wrapped_truncated_and_garbage() {
        let text = br#"{"iss":"https://example.org","nbf":1}"#.repeat(20);
        let mut zlib = ZlibEncoder::new(Vec::new(), Compression::best());
        zlib.write_all(&text).unwrap();
        let zlib = zlib.finish().unwrap();
        assert_eq!(inflate_payload(&b64(&zlib)).unwrap_err(), ShcError::Inflate);
        let raw = deflate(&text);
        let truncated = &raw[..raw.len() / 2];
        assert_eq!(
            inflate_payload(&b64(truncated)).unwrap_err(),
            ShcError::Inflate
        );
        assert_eq!(
            inflate_payload(&b64(&[0xff; 40])).unwrap_err(),
            ShcError::Inflate
        );
    }

    #[test]
    fn refuses_a_payload_that_inflates_past_the_cap() {
        // 16 MiB of zeros compresses to about 16 KB.
        let bomb = deflate(&vec![0u8; 16 << 20]);
        assert!(bomb.len() < 64 << 10);
        assert_eq!(
            inflate_payload(&b64(&bomb)).unwrap_err(),
            ShcError::PayloadTooLarge {
                limit: MAX_PAYLOAD_BYTES
            }
        );
        let at_cap = deflate(&vec![b' '; MAX_PAYLOAD_BYTES]);
        assert_eq!(
            inflate_payload(&b64(&at_cap)).unwrap().len(),
            MAX_PAYLOAD_BYTES
        );
    }
}
