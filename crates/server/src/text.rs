//! Control characters are refused in every text a request carries, before anything reads it:
//! in the path and query (percent-encoded, since HTTP itself forbids them raw) and in JSON
//! bodies (escaped, since JSON itself forbids them raw). PostgreSQL refuses U+0000 in text
//! (which once surfaced as a 500 on that backend only), and invisible characters mislead
//! whoever reads a record later. In bodies, line breaks and tabs are the exception: a SMART
//! Health Card sent to `/verify` is several chunks, one per line, or a file's JSON text; fields
//! that must be one line say so in their own checks.
//!
//! What this module does not own: each field's own rules (lengths, alphabets, formats), which
//! its handler or newtype checks.

use axum::extract::Request;
use axum::http::{StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// Whether the code point `c` is a control character: C0 (U+0000–U+001F), DEL (U+007F) or
/// C1 (U+0080–U+009F), Unicode's category Cc.
fn is_control(c: u32) -> bool {
    char::from_u32(c).is_some_and(char::is_control)
}

/// The refusal, one for every place a control character is found.
pub fn refusal(place: &str) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "control_character",
        format!("the {place} holds a control character (U+0000 to U+001F, U+007F to U+009F)"),
    )
}

/// Whether the path or query of `uri`, once percent-decoded, holds a control character: a
/// `%XX` of one (C0 or DEL), or the UTF-8 of a C1 one (`%C2%80` to `%C2%9F`).
pub fn uri_has_control(uri: &Uri) -> bool {
    let text = uri.path_and_query().map_or("", |pq| pq.as_str()).as_bytes();
    let byte_at = |i: usize| {
        let hex = text.get(i + 1..i + 3)?;
        u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()
    };
    (0..text.len()).any(|i| {
        text[i] == b'%'
            && match byte_at(i) {
                Some(0xc2) => {
                    text.get(i + 3) == Some(&b'%')
                        && byte_at(i + 3).is_some_and(|b| (0x80..=0x9f).contains(&b))
                }
                Some(b) => is_control(u32::from(b)) && b < 0x80,
                None => false,
            }
    })
}

/// Whether a JSON text holds a control character other than a line break or tab in a string:
/// as an escape (`\b`, `\f`, `\u0000`–`\u001f` but `\u0009`, `\u000a`, `\u000d`,
/// `\u007f`–`\u009f`) or, for C1, raw in UTF-8. (Raw C0 characters are not valid JSON in a
/// string and are refused by the parser.) Escapes occur only inside strings, so a lexical scan
/// suffices; `\\` is passed over whole so that the text `\\b` (a backslash, then `b`) is not
/// mistaken for a backspace.
pub fn json_has_control(body: &[u8]) -> bool {
    let mut i = 0;
    while i < body.len() {
        match body[i] {
            b'\\' => match body.get(i + 1) {
                Some(b'b' | b'f') => return true,
                Some(b'u') => {
                    let code = body
                        .get(i + 2..i + 6)
                        .and_then(|hex| std::str::from_utf8(hex).ok())
                        .and_then(|hex| u32::from_str_radix(hex, 16).ok());
                    if code.is_some_and(|c| is_control(c) && !matches!(c, 0x09 | 0x0a | 0x0d)) {
                        return true;
                    }
                    i += 6;
                    continue;
                }
                _ => i += 2,
            },
            // U+0080–U+009F in UTF-8: C2 80 to C2 9F.
            0xc2 if body.get(i + 1).is_some_and(|b| (0x80..=0x9f).contains(b)) => return true,
            _ => i += 1,
        }
    }
    false
}

/// Middleware: a request whose path or query holds a control character is refused with 422
/// before routing.
pub async fn refuse_control_in_uri(req: Request, next: Next) -> Response {
    if uri_has_control(req.uri()) {
        return refusal("address (path or query)").into_response();
    }
    next.run(req).await
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn uris() {
        for (uri, control) in [
            ("/api/v1/venues?district=%E8%A5%BF%E5%9F%8E", false),
            ("/api/v1/venues?district=a%00b", true),
            ("/api/v1/venues?district=a%0ab", true),
            ("/api/v1/venues?district=a%7Fb", true),
            ("/api/v1/records/a%1Fb", true),
            ("/api/v1/venues?district=%C2%85", true),
            ("/api/v1/venues?district=%C2%A0", false),
            ("/api/v1/venues?district=100%25", false),
            ("/api/v1/venues?district=%2", false),
            ("/api/v1/venues?district=%zz", false),
        ] {
            let uri: Uri = uri.parse().unwrap();
            assert_eq!(uri_has_control(&uri), control, "{uri}");
        }
    }

    #[test]
    fn json_bodies() {
        for (body, control) in [
            (r#"{"name": "西单 Mall"}"#, false),
            (r#"{"name": "a\u0000b"}"#, true),
            (r#"{"name": "a\u001Fb"}"#, true),
            (r#"{"name": "a\u007fb"}"#, true),
            (r#"{"name": "a\u0085b"}"#, true),
            (r#"{"name": "a\u00a0b"}"#, false),
            (r#"{"code": "shc:/01\nshc:/02\r\n\t"}"#, false),
            (r#"{"name": "a\u000ab"}"#, false),
            (r#"{"name": "a\bb"}"#, true),
            (r#"{"name": "a\fb"}"#, true),
            (r#"{"name": "a\u0008b"}"#, true),
            (r#"{"name": "a\\bb"}"#, false),
            (r#"{"name": "a\\u0000b"}"#, false),
            (r#"{"name": "a\"b", "n": 1}"#, false),
            ("{\"name\": \"a\u{85}b\"}", true),
            (r#"{"name": "\u"}"#, false),
        ] {
            assert_eq!(json_has_control(body.as_bytes()), control, "{body}");
        }
    }
}
