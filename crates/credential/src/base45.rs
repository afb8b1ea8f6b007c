//! Base45 (RFC 9285), the text encoding of the code's COSE bytes.
//!
//! Base45 packs two bytes into three characters of the QR code alphanumeric set, which QR
//! encodes at 5.5 bits a character, so a base45 string in alphanumeric mode is smaller than the
//! same bytes in byte mode. This module owns only the encoding; it does not know about the
//! `HCN1:` prefix or what the bytes mean.
//!
//! Decoding is strict (RFC 9285 §4.2): any character outside the 45-character alphabet, any
//! triple worth more than 65535, any final pair worth more than 255 and a dangling single
//! character are errors, so every accepted string has exactly one byte string behind it and
//! every byte string exactly one encoding.

use thiserror::Error;

/// The alphabet of RFC 9285 §4.2, Table 1: value `i` is `ALPHABET[i]`.
const ALPHABET: &[u8; 45] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";

/// Why a string is not valid base45.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum Base45Error {
    /// A character that is not in the alphabet of RFC 9285 §4.2, at this byte offset.
    #[error("character at offset {0} is not in the base45 alphabet")]
    Character(usize),
    /// A three-character group, starting at this offset, worth more than 65535 (§4.2).
    #[error("the group at offset {0} is worth more than two bytes")]
    Triple(usize),
    /// The final two-character group is worth more than 255 (§4.2).
    #[error("the final group is worth more than one byte")]
    Pair,
    /// One character left over: base45 text is never 1 modulo 3 long (§4.2).
    #[error("the text ends with a single dangling character")]
    Dangling,
}

/// Encodes bytes as base45 (RFC 9285 §4).
pub fn encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(2) * 3);
    let mut push = |value: usize| {
        // Every value pushed is `% 45`, so the index is always in range.
        out.push(char::from(ALPHABET[value % 45]));
    };
    let mut chunks = data.chunks_exact(2);
    for pair in chunks.by_ref() {
        // §4: n = a * 256 + b, written as c d e with n = c + 45 d + 45² e.
        let n = usize::from(pair[0]) * 256 + usize::from(pair[1]);
        push(n % 45);
        push(n / 45 % 45);
        push(n / (45 * 45));
    }
    if let [a] = chunks.remainder() {
        // §4: a single final byte becomes two characters, c d with a = c + 45 d.
        let n = usize::from(*a);
        push(n % 45);
        push(n / 45);
    }
    out
}

/// The value of one alphabet character, or `None` for any other byte.
fn value(byte: u8) -> Option<u32> {
    match byte {
        b'0'..=b'9' => Some(u32::from(byte - b'0')),
        b'A'..=b'Z' => Some(u32::from(byte - b'A') + 10),
        b' ' => Some(36),
        b'$' => Some(37),
        b'%' => Some(38),
        b'*' => Some(39),
        b'+' => Some(40),
        b'-' => Some(41),
        b'.' => Some(42),
        b'/' => Some(43),
        b':' => Some(44),
        _ => None,
    }
}

/// Decodes base45 text (RFC 9285 §4.2). Takes bytes so that any input, UTF-8 or not, can be
/// offered; anything outside the alphabet is refused.
pub fn decode(text: &[u8]) -> Result<Vec<u8>, Base45Error> {
    let mut out = Vec::with_capacity(text.len() / 3 * 2 + 1);
    let digit = |offset: usize| -> Result<u32, Base45Error> {
        text.get(offset)
            .copied()
            .and_then(value)
            .ok_or(Base45Error::Character(offset))
    };
    let mut offset = 0;
    while offset < text.len() {
        match text.len() - offset {
            1 => {
                // Check the character first so that a bad character is reported as such.
                digit(offset)?;
                return Err(Base45Error::Dangling);
            }
            2 => {
                let n = digit(offset)? + digit(offset + 1)? * 45;
                let byte = u8::try_from(n).map_err(|_| Base45Error::Pair)?;
                out.push(byte);
                offset += 2;
            }
            _ => {
                let n = digit(offset)? + digit(offset + 1)? * 45 + digit(offset + 2)? * 45 * 45;
                let pair = u16::try_from(n).map_err(|_| Base45Error::Triple(offset))?;
                out.extend_from_slice(&pair.to_be_bytes());
                offset += 3;
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    //! Known-answer vectors from RFC 9285: §4.3 (encoding examples: "AB", "Hello!!",
    //! "base-45") and §4.4 (decoding example: "QED8WEX0" → "ietf!"). The refusals follow the
    //! rules of §4.2; "GGW" = 16 + 16·45 + 32·45² = 65536, the first value a triple may not hold.

    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rfc9285_section_4_3_encoding_examples() {
        assert_eq!(encode(b"AB"), "BB8");
        assert_eq!(encode(b"Hello!!"), "%69 VD92EX0");
        assert_eq!(encode(b"base-45"), "UJCLQE7W581");
    }

    #[test]
    fn rfc9285_section_4_4_decoding_example() {
        assert_eq!(decode(b"QED8WEX0"), Ok(b"ietf!".to_vec()));
    }

    #[test]
    fn rfc9285_vectors_decode_back() {
        assert_eq!(decode(b"BB8"), Ok(b"AB".to_vec()));
        assert_eq!(decode(b"%69 VD92EX0"), Ok(b"Hello!!".to_vec()));
        assert_eq!(decode(b"UJCLQE7W581"), Ok(b"base-45".to_vec()));
        assert_eq!(encode(b"ietf!"), "QED8WEX0");
    }

    #[test]
    fn empty_is_empty() {
        assert_eq!(encode(b""), "");
        assert_eq!(decode(b""), Ok(vec![]));
    }

    #[test]
    fn extremes() {
        // 0xffff = 15 + 16·45 + 32·45² → "FGW"; 0xff = 30 + 5·45 → "U5".
        assert_eq!(encode(&[0xff, 0xff]), "FGW");
        assert_eq!(encode(&[0xff]), "U5");
        assert_eq!(decode(b"FGW"), Ok(vec![0xff, 0xff]));
        assert_eq!(decode(b"U5"), Ok(vec![0xff]));
    }

    #[test]
    fn refuses_triple_over_65535() {
        // "GGW" = 65536, one more than two bytes can hold.
        assert_eq!(decode(b"GGW"), Err(Base45Error::Triple(0)));
        assert_eq!(decode(b"BB8:::"), Err(Base45Error::Triple(3)));
        assert_eq!(decode(b":::"), Err(Base45Error::Triple(0)));
    }

    #[test]
    fn refuses_pair_over_255() {
        // "V5" = 31 + 5*45 = 256.
        assert_eq!(decode(b"V5"), Err(Base45Error::Pair));
        assert_eq!(decode(b"::"), Err(Base45Error::Pair));
        assert_eq!(decode(b"BB8::"), Err(Base45Error::Pair));
    }

    #[test]
    fn refuses_dangling_character() {
        assert_eq!(decode(b"A"), Err(Base45Error::Dangling));
        assert_eq!(decode(b"BB8A"), Err(Base45Error::Dangling));
    }

    #[test]
    fn refuses_characters_outside_the_alphabet() {
        assert_eq!(decode(b"bb8"), Err(Base45Error::Character(0)));
        assert_eq!(decode(b"BB#"), Err(Base45Error::Character(2)));
        assert_eq!(decode(b"BB8\n"), Err(Base45Error::Character(3)));
        assert_eq!(decode("BB张".as_bytes()), Err(Base45Error::Character(2)));
        assert_eq!(decode(b"=="), Err(Base45Error::Character(0)));
    }

    proptest! {
        #[test]
        fn round_trips(data in proptest::collection::vec(any::<u8>(), 0..512)) {
            let text = encode(&data);
            prop_assert!(text.bytes().all(|b| ALPHABET.contains(&b)));
            prop_assert_eq!(text.len(), data.len() / 2 * 3 + data.len() % 2 * 2);
            prop_assert_eq!(decode(text.as_bytes()), Ok(data));
        }

        #[test]
        fn decode_never_panics_and_is_canonical(text in proptest::collection::vec(any::<u8>(), 0..64)) {
            if let Ok(data) = decode(&text) {
                let again = encode(&data);
                prop_assert_eq!(again.as_bytes(), &text[..]);
            }
        }

        #[test]
        fn decode_alphabet_strings_is_canonical(text in "[0-9A-Z $%*+./:-]{0,64}") {
            if let Ok(data) = decode(text.as_bytes()) {
                prop_assert_eq!(encode(&data), text);
            }
        }
    }
}
