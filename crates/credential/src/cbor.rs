//! CBOR (RFC 8949), the one reader and writer of it in the project's own formats: the small
//! subset codes and trust lists use (unsigned and negative integers, byte and text strings,
//! arrays, maps, tags and `null`, all of definite length), and, for envelopes and claims from
//! other issuers (EU DCCs), any well-formed definite-length CBOR through a lenient
//! [`Decoder`] that yields each item's head ([`Decoder::item`]).
//!
//! This module owns byte-level encoding and decoding only. It knows nothing about COSE or
//! claims; callers read the exact shape they expect, so there is no generic value tree and
//! nothing to allocate while decoding.
//!
//! The encoder always writes the preferred (shortest) form of every argument, as RFC 8949
//! §4.2.1 asks of deterministic encoding. The decoder is strict in the same way: it refuses
//! indefinite lengths (§3.2.1 — §4.2.1 forbids them), reserved additional-information values
//! (§3.1) and arguments not in their shortest form, so each value has exactly one accepted
//! encoding.

use chrono::{DateTime, Utc};
use thiserror::Error;

/// Major types, RFC 8949 §3.1.
pub const MAJOR_UINT: u8 = 0;
pub const MAJOR_NINT: u8 = 1;
const MAJOR_BYTES: u8 = 2;
pub const MAJOR_TEXT: u8 = 3;
const MAJOR_ARRAY: u8 = 4;
pub const MAJOR_MAP: u8 = 5;
pub(crate) const MAJOR_TAG: u8 = 6;
const MAJOR_SIMPLE: u8 = 7;

/// `null`, simple value 22 (RFC 8949 §3.3).
const NULL: u8 = 0xf6;

/// Why bytes could not be read as the CBOR item the caller expected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum CborError {
    /// The bytes are not well-formed CBOR in this profile: truncated, a reserved or
    /// indefinite-length head, an argument not in shortest form, or text that is not UTF-8.
    #[error("not well-formed CBOR: {0}")]
    Malformed(&'static str),
    /// Well-formed, but not the item the structure calls for at this point.
    #[error("unexpected CBOR item: expected {0}")]
    Unexpected(&'static str),
}

impl CborError {
    /// A description for an error at a known place: malformed CBOR keeps its own, a wrong
    /// item gets `message`, which says what was expected there.
    pub(crate) fn explain(self, message: &'static str) -> &'static str {
        match self {
            CborError::Malformed(m) => m,
            CborError::Unexpected(_) => message,
        }
    }
}

/// Stores a map member found once; a second occurrence is a duplicate key, which RFC 8949
/// §5.6 leaves to the application and this format refuses.
pub(crate) fn set_once<T>(slot: &mut Option<T>, value: T) -> Result<(), &'static str> {
    if slot.is_some() {
        return Err("a map key appears twice");
    }
    *slot = Some(value);
    Ok(())
}

/// A text string that holds something: `not_text` when the item is not text, `empty` when it
/// is `""`.
pub(crate) fn non_empty_text<'a>(
    d: &mut Decoder<'a>,
    not_text: &'static str,
    empty: &'static str,
) -> Result<&'a str, &'static str> {
    let v = d.text().map_err(|e| e.explain(not_text))?;
    if v.is_empty() {
        return Err(empty);
    }
    Ok(v)
}

/// Appends CBOR items to a buffer.
#[derive(Debug, Default)]
pub(crate) struct Encoder {
    buf: Vec<u8>,
}

impl Encoder {
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        Encoder {
            buf: Vec::with_capacity(capacity),
        }
    }

    pub(crate) fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    /// Writes an initial byte and argument in the shortest form (RFC 8949 §3, §4.2.1).
    fn head(&mut self, major: u8, arg: u64) {
        let major = major << 5;
        if arg < 24 {
            // Fits in the 5-bit additional information itself.
            self.buf.push(major | arg as u8);
        } else if let Ok(a) = u8::try_from(arg) {
            self.buf.extend_from_slice(&[major | 24, a]);
        } else if let Ok(a) = u16::try_from(arg) {
            self.buf.push(major | 25);
            self.buf.extend_from_slice(&a.to_be_bytes());
        } else if let Ok(a) = u32::try_from(arg) {
            self.buf.push(major | 26);
            self.buf.extend_from_slice(&a.to_be_bytes());
        } else {
            self.buf.push(major | 27);
            self.buf.extend_from_slice(&arg.to_be_bytes());
        }
    }

    pub(crate) fn uint(&mut self, value: u64) {
        self.head(MAJOR_UINT, value);
    }

    /// Any integer; negative `n` is major type 1 with argument `-1 - n` (RFC 8949 §3.1).
    pub fn int(&mut self, value: i64) {
        match u64::try_from(value) {
            Ok(v) => self.head(MAJOR_UINT, v),
            // -1 - n for negative n never overflows and is never negative.
            Err(_) => self.head(MAJOR_NINT, (-1 - i128::from(value)) as u64),
        }
    }

    pub fn bytes(&mut self, value: &[u8]) {
        self.head(MAJOR_BYTES, value.len() as u64);
        self.buf.extend_from_slice(value);
    }

    pub fn text(&mut self, value: &str) {
        self.head(MAJOR_TEXT, value.len() as u64);
        self.buf.extend_from_slice(value.as_bytes());
    }

    pub fn array(&mut self, len: usize) {
        self.head(MAJOR_ARRAY, len as u64);
    }

    pub fn map(&mut self, len: usize) {
        self.head(MAJOR_MAP, len as u64);
    }

    pub fn tag(&mut self, tag: u64) {
        self.head(MAJOR_TAG, tag);
    }

    pub(crate) fn null(&mut self) {
        self.buf.push(NULL);
    }
}

/// How deep [`Decoder::skip`] follows nested arrays, maps and tags before refusing.
const MAX_SKIP_DEPTH: usize = 16;

/// One data item's head as [`Decoder::item`] reads it: scalars whole, strings borrowed from
/// the input, and for arrays, maps and tags what follows (their items, pairs or tagged item
/// are read next).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Item<'a> {
    Uint(u64),
    /// The negative integer `-1 - n`.
    Nint(u64),
    Bytes(&'a [u8]),
    Text(&'a str),
    Array(usize),
    Map(usize),
    Tag(u64),
    Float(f64),
    Bool(bool),
    Null,
    Undefined,
    /// Any other simple value (RFC 8949 §3.3).
    Simple(u8),
}

/// Reads CBOR items from a byte slice, front to back.
#[derive(Debug, Clone)]
pub struct Decoder<'a> {
    rest: &'a [u8],
    /// Whether arguments not in their shortest form are accepted: for envelopes made by other
    /// issuers (EU DCCs), whose encoders RFC 8949 §4.2 does not bind. Indefinite lengths and
    /// reserved values are refused either way.
    lenient: bool,
}

impl<'a> Decoder<'a> {
    /// A decoder of this format's strict profile.
    pub fn new(data: &'a [u8]) -> Self {
        Decoder {
            rest: data,
            lenient: false,
        }
    }

    /// A decoder that accepts any well-formed definite-length CBOR (see `lenient`).
    pub fn lenient(data: &'a [u8]) -> Self {
        Decoder {
            rest: data,
            lenient: true,
        }
    }

    /// Whether every byte has been consumed.
    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], CborError> {
        if n > self.rest.len() {
            return Err(CborError::Malformed("truncated"));
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    fn take_array<const N: usize>(&mut self) -> Result<[u8; N], CborError> {
        let bytes = self.take(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    /// Reads an initial byte and its argument (RFC 8949 §3), refusing what this profile does
    /// not allow.
    fn head(&mut self) -> Result<(u8, u64), CborError> {
        let [initial] = self.take_array::<1>()?;
        let major = initial >> 5;
        let info = initial & 0x1f;
        if self.lenient {
            let arg = match info {
                0..=23 => u64::from(info),
                24 => u64::from(u8::from_be_bytes(self.take_array()?)),
                25 => u64::from(u16::from_be_bytes(self.take_array()?)),
                26 => u64::from(u32::from_be_bytes(self.take_array()?)),
                27 => u64::from_be_bytes(self.take_array()?),
                28..=30 => return Err(CborError::Malformed("reserved additional information")),
                _ => return Err(CborError::Malformed("indefinite length")),
            };
            return Ok((major, arg));
        }
        let arg = match info {
            0..=23 => u64::from(info),
            24 => {
                let [a] = self.take_array::<1>()?;
                if a < 24 {
                    return Err(CborError::Malformed("argument not in shortest form"));
                }
                u64::from(a)
            }
            25 => {
                let a = u64::from(u16::from_be_bytes(self.take_array()?));
                if a <= 0xff {
                    return Err(CborError::Malformed("argument not in shortest form"));
                }
                a
            }
            26 => {
                let a = u64::from(u32::from_be_bytes(self.take_array()?));
                if a <= 0xffff {
                    return Err(CborError::Malformed("argument not in shortest form"));
                }
                a
            }
            27 => {
                let a = u64::from_be_bytes(self.take_array()?);
                if a <= 0xffff_ffff {
                    return Err(CborError::Malformed("argument not in shortest form"));
                }
                a
            }
            // 28..=30 are reserved (§3.1); 31 is indefinite length or "break" (§3.2).
            28..=30 => return Err(CborError::Malformed("reserved additional information")),
            _ => return Err(CborError::Malformed("indefinite length")),
        };
        if major == MAJOR_SIMPLE && info == 24 && arg < 32 {
            // §3.3: simple values 0..31 must use the one-byte form.
            return Err(CborError::Malformed("simple value not in shortest form"));
        }
        Ok((major, arg))
    }

    fn expect_head(&mut self, major: u8, what: &'static str) -> Result<u64, CborError> {
        let (m, arg) = self.head()?;
        if m == major {
            Ok(arg)
        } else {
            Err(CborError::Unexpected(what))
        }
    }

    pub(crate) fn uint(&mut self) -> Result<u64, CborError> {
        self.expect_head(MAJOR_UINT, "an unsigned integer")
    }

    /// An integer of either sign, as i128 so that every CBOR integer fits.
    pub fn int(&mut self) -> Result<i128, CborError> {
        match self.head()? {
            (MAJOR_UINT, arg) => Ok(i128::from(arg)),
            (MAJOR_NINT, arg) => Ok(-1 - i128::from(arg)),
            _ => Err(CborError::Unexpected("an integer")),
        }
    }

    fn length(&mut self, major: u8, what: &'static str) -> Result<usize, CborError> {
        let len = self.expect_head(major, what)?;
        // A length larger than what is left can never be satisfied; checking it before the
        // conversion also keeps huge values from reaching an allocation.
        if len > self.rest.len() as u64 {
            return Err(CborError::Malformed("truncated"));
        }
        usize::try_from(len).map_err(|_| CborError::Malformed("truncated"))
    }

    pub fn bytes(&mut self) -> Result<&'a [u8], CborError> {
        let len = self.length(MAJOR_BYTES, "a byte string")?;
        self.take(len)
    }

    /// A byte string of exactly `N` bytes.
    pub(crate) fn bytes_fixed<const N: usize>(&mut self) -> Result<[u8; N], CborError> {
        let bytes = self.bytes()?;
        <[u8; N]>::try_from(bytes)
            .map_err(|_| CborError::Unexpected("a byte string of another length"))
    }

    pub fn text(&mut self) -> Result<&'a str, CborError> {
        let len = self.length(MAJOR_TEXT, "a text string")?;
        let raw = self.take(len)?;
        // §3.1 major type 3: text strings are UTF-8; invalid UTF-8 is not well-formed (§5.3.1).
        std::str::from_utf8(raw).map_err(|_| CborError::Malformed("text string is not UTF-8"))
    }

    /// The item count of an array. Every item takes at least one byte, so the count is
    /// bounded by the bytes left (checked), which keeps callers' allocations bounded too.
    pub fn array(&mut self) -> Result<usize, CborError> {
        self.length(MAJOR_ARRAY, "an array")
    }

    /// The pair count of a map; as for arrays, bounded by the bytes left.
    pub fn map(&mut self) -> Result<usize, CborError> {
        self.length(MAJOR_MAP, "a map")
    }

    pub fn tag(&mut self) -> Result<u64, CborError> {
        self.expect_head(MAJOR_TAG, "a tag")
    }

    /// A NumericDate (RFC 8392 §2) as this format writes it: an unsigned integer of seconds
    /// since the epoch, within chrono's range.
    pub(crate) fn epoch_time(&mut self) -> Result<DateTime<Utc>, CborError> {
        let secs = self.uint()?;
        i64::try_from(secs)
            .ok()
            .and_then(|s| DateTime::from_timestamp(s, 0))
            .ok_or(CborError::Unexpected("a time in range"))
    }

    /// The next item's head (see [`Item`]). Strict decoders refuse what their profile
    /// refuses; floats and simple values other than `null` are for lenient decoders.
    pub fn item(&mut self) -> Result<Item<'a>, CborError> {
        let initial = *self.rest.first().ok_or(CborError::Malformed("truncated"))?;
        if initial >> 5 == MAJOR_SIMPLE {
            return self.simple(initial & 0x1f);
        }
        Ok(match self.next_major() {
            Some(MAJOR_UINT) => Item::Uint(self.uint()?),
            Some(MAJOR_NINT) => Item::Nint(self.expect_head(MAJOR_NINT, "a negative integer")?),
            Some(MAJOR_BYTES) => Item::Bytes(self.bytes()?),
            Some(MAJOR_TEXT) => Item::Text(self.text()?),
            Some(MAJOR_ARRAY) => Item::Array(self.array()?),
            Some(MAJOR_MAP) => Item::Map(self.map()?),
            _ => Item::Tag(self.tag()?),
        })
    }

    /// A major type 7 item with additional information `info` (RFC 8949 §3.3).
    fn simple(&mut self, info: u8) -> Result<Item<'a>, CborError> {
        if !self.lenient {
            return if self.null() {
                Ok(Item::Null)
            } else {
                Err(CborError::Malformed("a simple value outside this profile"))
            };
        }
        self.take(1)?;
        Ok(match info {
            20 => Item::Bool(false),
            21 => Item::Bool(true),
            22 => Item::Null,
            23 => Item::Undefined,
            0..=19 => Item::Simple(info),
            24 => Item::Simple(u8::from_be_bytes(self.take_array()?)),
            25 => Item::Float(half(u16::from_be_bytes(self.take_array()?))),
            26 => Item::Float(f64::from(f32::from_be_bytes(self.take_array()?))),
            27 => Item::Float(f64::from_be_bytes(self.take_array()?)),
            28..=30 => return Err(CborError::Malformed("reserved additional information")),
            _ => return Err(CborError::Malformed("indefinite length")),
        })
    }

    /// The bytes not read yet.
    pub fn remaining(&self) -> &'a [u8] {
        self.rest
    }

    /// The major type of the next item (RFC 8949 §3.1), without consuming anything.
    pub fn next_major(&self) -> Option<u8> {
        self.rest.first().map(|b| b >> 5)
    }

    /// Passes over the next item, whatever it is, and everything nested in it (at most
    /// [`MAX_SKIP_DEPTH`] levels). Floating-point and simple values (major type 7) count as
    /// items here, for headers whose values this reader does not use.
    pub fn skip(&mut self) -> Result<(), CborError> {
        self.skip_at(0)
    }

    fn skip_at(&mut self, depth: usize) -> Result<(), CborError> {
        if depth > MAX_SKIP_DEPTH {
            return Err(CborError::Malformed("nested too deeply"));
        }
        // A float's argument is its bits, which `head` reads like any other argument.
        let (major, arg) = self.head()?;
        let count = |arg: u64, per_item: u64, rest: usize| {
            // Every item takes at least a byte, so a count beyond what is left is truncated.
            if arg.saturating_mul(per_item) > rest as u64 {
                Err(CborError::Malformed("truncated"))
            } else {
                Ok(arg * per_item)
            }
        };
        match major {
            MAJOR_UINT | MAJOR_NINT | MAJOR_SIMPLE => Ok(()),
            MAJOR_BYTES | MAJOR_TEXT => {
                let len = count(arg, 1, self.rest.len())?;
                self.take(len as usize).map(|_| ())
            }
            MAJOR_ARRAY | MAJOR_MAP => {
                let per_item = if major == MAJOR_MAP { 2 } else { 1 };
                for _ in 0..count(arg, per_item, self.rest.len())? {
                    self.skip_at(depth + 1)?;
                }
                Ok(())
            }
            _ => self.skip_at(depth + 1),
        }
    }

    /// Consumes a `null` if one is next; returns whether it did.
    pub(crate) fn null(&mut self) -> bool {
        match self.rest.split_first() {
            Some((&NULL, tail)) => {
                self.rest = tail;
                true
            }
            _ => false,
        }
    }
}

/// An IEEE 754 half-precision float's value (RFC 8949 Appendix D).
fn half(bits: u16) -> f64 {
    let exponent = (bits >> 10) & 0x1f;
    let mantissa = f64::from(bits & 0x3ff);
    let magnitude = match exponent {
        0 => mantissa * 2f64.powi(-24),
        31 if mantissa == 0.0 => f64::INFINITY,
        31 => f64::NAN,
        _ => (mantissa + 1024.0) * 2f64.powi(i32::from(exponent) - 25),
    };
    if bits & 0x8000 == 0 {
        magnitude
    } else {
        -magnitude
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 8949 Appendix A's floats and simple values, read by a lenient decoder.
    #[test]
    fn lenient_items_of_rfc8949_appendix_a() {
        let cases: [(&[u8], Item<'_>); 12] = [
            (&[0xf9, 0x00, 0x00], Item::Float(0.0)),
            (&[0xf9, 0x3c, 0x00], Item::Float(1.0)),
            (&[0xf9, 0x3e, 0x00], Item::Float(1.5)),
            (&[0xf9, 0x7b, 0xff], Item::Float(65504.0)),
            (&[0xf9, 0x00, 0x01], Item::Float(5.960464477539063e-8)),
            (&[0xf9, 0xc4, 0x00], Item::Float(-4.0)),
            (&[0xfa, 0x47, 0xc3, 0x50, 0x00], Item::Float(100000.0)),
            (
                &[0xfb, 0x3f, 0xf1, 0x99, 0x99, 0x99, 0x99, 0x99, 0x9a],
                Item::Float(1.1),
            ),
            (&[0xf4], Item::Bool(false)),
            (&[0xf6], Item::Null),
            (&[0xf0], Item::Simple(16)),
            (&[0x38, 0x63], Item::Nint(99)),
        ];
        for (bytes, item) in cases {
            let mut d = Decoder::lenient(bytes);
            assert_eq!(d.item(), Ok(item), "{bytes:02x?}");
            assert!(d.is_empty());
        }
        assert_eq!(
            Decoder::lenient(&[0xf9, 0x7c, 0x00]).item(),
            Ok(Item::Float(f64::INFINITY))
        );
        assert!(
            matches!(Decoder::lenient(&[0xf9, 0x7e, 0x00]).item(), Ok(Item::Float(f)) if f.is_nan())
        );
        // A lenient decoder takes arguments not in shortest form; a strict one does not.
        assert_eq!(Decoder::lenient(&[0x18, 0x01]).item(), Ok(Item::Uint(1)));
        assert!(Decoder::new(&[0x18, 0x01]).item().is_err());
        // The strict profile has `null` and no other simple value.
        assert_eq!(Decoder::new(&[0xf6]).item(), Ok(Item::Null));
        assert!(Decoder::new(&[0xf5]).item().is_err());
        assert!(Decoder::lenient(&[0x9f]).item().is_err());
    }

    fn encode(f: impl FnOnce(&mut Encoder)) -> Vec<u8> {
        let mut e = Encoder::default();
        f(&mut e);
        e.into_bytes()
    }

    // Examples from RFC 8949 Appendix A.
    #[test]
    fn encodes_rfc8949_appendix_a_integers() {
        assert_eq!(encode(|e| e.uint(0)), [0x00]);
        assert_eq!(encode(|e| e.uint(23)), [0x17]);
        assert_eq!(encode(|e| e.uint(24)), [0x18, 0x18]);
        assert_eq!(encode(|e| e.uint(1000)), [0x19, 0x03, 0xe8]);
        assert_eq!(
            encode(|e| e.uint(1_000_000)),
            [0x1a, 0x00, 0x0f, 0x42, 0x40]
        );
        assert_eq!(
            encode(|e| e.uint(1_000_000_000_000)),
            [0x1b, 0x00, 0x00, 0x00, 0xe8, 0xd4, 0xa5, 0x10, 0x00]
        );
        assert_eq!(encode(|e| e.int(-1)), [0x20]);
        assert_eq!(encode(|e| e.int(-100)), [0x38, 0x63]);
        assert_eq!(encode(|e| e.int(-1000)), [0x39, 0x03, 0xe7]);
        assert_eq!(encode(|e| e.int(i64::MIN)), {
            let mut v = vec![0x3b];
            v.extend_from_slice(&(i64::MAX as u64).to_be_bytes());
            v
        });
    }

    #[test]
    fn encodes_rfc8949_appendix_a_strings_and_containers() {
        assert_eq!(encode(|e| e.bytes(&[1, 2, 3, 4])), [0x44, 1, 2, 3, 4]);
        assert_eq!(encode(|e| e.text("IETF")), [0x64, b'I', b'E', b'T', b'F']);
        assert_eq!(encode(|e| e.text("\u{00fc}")), [0x62, 0xc3, 0xbc]);
        assert_eq!(encode(|e| e.array(0)), [0x80]);
        assert_eq!(encode(|e| e.map(0)), [0xa0]);
        assert_eq!(encode(|e| e.null()), [0xf6]);
        assert_eq!(encode(|e| e.tag(18)), [0xd2]);
    }

    #[test]
    fn decodes_what_it_encodes() {
        let bytes = encode(|e| {
            e.array(4);
            e.int(-65537);
            e.bytes(&[9; 300]);
            e.text("张*");
            e.null();
        });
        let mut d = Decoder::new(&bytes);
        assert_eq!(d.array(), Ok(4));
        assert_eq!(d.int(), Ok(-65537));
        assert_eq!(d.bytes(), Ok(&[9u8; 300][..]));
        assert_eq!(d.text(), Ok("张*"));
        assert!(d.null());
        assert!(d.is_empty());
    }

    #[test]
    fn refuses_non_shortest_arguments() {
        for bytes in [
            &[0x18, 0x17][..],
            &[0x19, 0x00, 0xff],
            &[0x1a, 0x00, 0x00, 0xff, 0xff],
            &[0x1b, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff],
        ] {
            assert!(matches!(
                Decoder::new(bytes).uint(),
                Err(CborError::Malformed(_))
            ));
        }
    }

    #[test]
    fn refuses_indefinite_reserved_and_truncated() {
        assert!(matches!(
            Decoder::new(&[0x5f, 0x41, 0x00, 0xff]).bytes(),
            Err(CborError::Malformed(_))
        ));
        assert!(matches!(
            Decoder::new(&[0x1c]).uint(),
            Err(CborError::Malformed(_))
        ));
        assert!(matches!(
            Decoder::new(&[0x45, 1, 2]).bytes(),
            Err(CborError::Malformed(_))
        ));
        assert!(matches!(
            Decoder::new(&[0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]).array(),
            Err(CborError::Malformed(_))
        ));
        assert!(matches!(
            Decoder::new(&[0x62, 0xff, 0xfe]).text(),
            Err(CborError::Malformed(_))
        ));
        assert!(matches!(
            Decoder::new(&[]).uint(),
            Err(CborError::Malformed(_))
        ));
    }

    #[test]
    fn wrong_major_type_is_unexpected() {
        assert!(matches!(
            Decoder::new(&[0x41, 0x00]).uint(),
            Err(CborError::Unexpected(_))
        ));
        assert!(matches!(
            Decoder::new(&[0xa0]).array(),
            Err(CborError::Unexpected(_))
        ));
    }
}
