//! Bundle or NDJSON, decided by the top-level `resourceType` of the first JSON object.
//!
//! The first object may be a Bundle far larger than the bytes looked at, and serde_json cannot
//! stop inside an object and say what it saw so far; hence this small scanner, which reads
//! just enough JSON to find one key of one object.

use crate::error::FileError;
use crate::text::SNIFF;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Json {
    Bundle,
    /// Any other resource type: the first line of NDJSON.
    Resources,
}

/// Decides from `head`, the file's first bytes, which start with a JSON object.
pub(super) fn sniff(head: &[u8]) -> Result<Json, FileError> {
    match resource_type(head) {
        Some(b"Bundle") => Ok(Json::Bundle),
        Some(_) => Ok(Json::Resources),
        None => Err(FileError::NotFhir(format!(
            "its first object has no resourceType string within the first {} KiB (a Bundle names it before its entries)",
            SNIFF / 1024
        ))),
    }
}

/// The raw text of the top-level `resourceType` string of the object `head` starts with.
fn resource_type(head: &[u8]) -> Option<&[u8]> {
    let mut s = Scanner {
        bytes: head,
        pos: 0,
    };
    s.skip_space();
    s.eat(b'{')?;
    loop {
        s.skip_space();
        let key = s.string()?;
        s.skip_space();
        s.eat(b':')?;
        s.skip_space();
        if key == b"resourceType" {
            return s.string();
        }
        s.skip_value()?;
        s.eat(b',')?;
    }
}

struct Scanner<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Scanner<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_space(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_whitespace()) {
            self.pos += 1;
        }
    }

    fn eat(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.pos += 1)
    }

    /// A string's contents as written (escapes left alone), leaving the scanner after it.
    fn string(&mut self) -> Option<&'a [u8]> {
        self.eat(b'"')?;
        let start = self.pos;
        loop {
            match self.peek()? {
                b'"' => break,
                b'\\' => self.pos += 2,
                _ => self.pos += 1,
            }
        }
        let text = self.bytes.get(start..self.pos)?;
        self.pos += 1;
        Some(text)
    }

    /// Skips a member's value, stopping before the `,` or `}` that ends it.
    fn skip_value(&mut self) -> Option<()> {
        let mut depth = 0_usize;
        loop {
            match self.peek()? {
                b'"' => {
                    self.string()?;
                    continue;
                }
                b'{' | b'[' => depth += 1,
                b'}' | b']' if depth == 0 => return Some(()),
                b'}' | b']' => depth -= 1,
                b',' if depth == 0 => return Some(()),
                _ => {}
            }
            self.pos += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_top_level_resource_type_decides() {
        let kind = |head: &str| sniff(head.as_bytes()).ok();
        assert_eq!(
            kind(r#"{"resourceType":"Bundle","entry":["#),
            Some(Json::Bundle)
        );
        assert_eq!(
            kind(
                " {\n \"id\": \"a,}\\\"\", \"meta\": {\"x\": [1, {\"resourceType\": \"Bundle\"}]},\n \"resourceType\" : \"Bundle\""
            ),
            Some(Json::Bundle)
        );
        assert_eq!(
            kind("{\"resourceType\":\"Observation\"}\n{\"resourceType\":\"Bundle\"}"),
            Some(Json::Resources)
        );
        for head in [
            "{}",
            "{\"a\": 1}",
            "{\"resourceType\": 5}",
            "{\"a\": {\"resourceType\": \"Bundle\"}}",
            "{\"a\": \"\\",
            "{\"a\"",
            "{",
        ] {
            assert_eq!(kind(head), None, "{head}");
        }
    }
}
