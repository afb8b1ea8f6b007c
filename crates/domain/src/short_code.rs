//! A venue's short code (手输码): what a person types at a door where the camera cannot read
//! the place code (场所码). It is the venue's number followed by one Luhn check digit
//! (ISO/IEC 7812-1, Annex B), so that a single mistyped digit or two swapped neighbours are
//! caught before anyone is checked in somewhere else.
//!
//! It carries no signature: it names a venue, as the number printed on the poster does, and
//! proves nothing more than the poster's QR proves (that someone saw the poster).

use std::fmt;

/// A venue's short code; [`PlaceShortCode::parse`] accepts only one whose check digit holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlaceShortCode {
    venue_id: i64,
}

/// Digits of the longest short code: an `i64` venue number has at most 19, plus the check.
const MAX_DIGITS: usize = 20;

impl PlaceShortCode {
    /// The short code of venue `venue_id`, or none for a number that is not a venue's (zero
    /// or negative).
    pub fn of(venue_id: i64) -> Option<PlaceShortCode> {
        (venue_id > 0).then_some(PlaceShortCode { venue_id })
    }

    /// A typed short code: digits, with any spaces or hyphens between them ignored.
    pub fn parse(typed: &str) -> Option<PlaceShortCode> {
        let digits: Vec<u8> = typed
            .bytes()
            .filter(|b| !matches!(b, b' ' | b'-'))
            .collect();
        if digits.len() < 2 || digits.len() > MAX_DIGITS || !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let (number, check) = digits.split_at(digits.len() - 1);
        if luhn_check_digit(number) != check[0] - b'0' {
            return None;
        }
        let venue_id = std::str::from_utf8(number).ok()?.parse::<i64>().ok()?;
        PlaceShortCode::of(venue_id)
    }

    pub fn venue_id(self) -> i64 {
        self.venue_id
    }
}

/// The Luhn check digit of `digits` (ASCII): doubling every second digit from the right of
/// the number, the check digit makes the sum a multiple of ten.
fn luhn_check_digit(digits: &[u8]) -> u8 {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d - b'0');
            if i % 2 == 0 {
                let twice = d * 2;
                if twice > 9 { twice - 9 } else { twice }
            } else {
                d
            }
        })
        .sum();
    // Less than 10, so it fits a digit.
    u8::try_from((10 - sum % 10) % 10).unwrap_or(0)
}

impl fmt::Display for PlaceShortCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let number = self.venue_id.to_string();
        write!(f, "{number}{}", luhn_check_digit(number.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_luhn_values() {
        // The worked example of ISO/IEC 7812-1 Annex B (and Wikipedia's "Luhn algorithm").
        assert_eq!(luhn_check_digit(b"7992739871"), 3);
        assert_eq!(PlaceShortCode::of(1).unwrap().to_string(), "18");
        assert_eq!(PlaceShortCode::of(12).unwrap().to_string(), "125");
    }

    #[test]
    fn round_trips_and_forgives_spaces() {
        for id in [1, 7, 42, 1_000, 110_105_000_123, i64::MAX] {
            let code = PlaceShortCode::of(id).unwrap().to_string();
            assert_eq!(PlaceShortCode::parse(&code).unwrap().venue_id(), id);
        }
        assert_eq!(PlaceShortCode::parse(" 12-5 ").unwrap().venue_id(), 12);
    }

    #[test]
    fn one_wrong_digit_or_two_swapped_are_refused() {
        let code = PlaceShortCode::of(4_711).unwrap().to_string();
        let bytes = code.as_bytes();
        for i in 0..bytes.len() {
            for d in b'0'..=b'9' {
                if d == bytes[i] {
                    continue;
                }
                let mut typo = bytes.to_vec();
                typo[i] = d;
                let typo = String::from_utf8(typo).unwrap();
                assert_eq!(PlaceShortCode::parse(&typo), None, "{typo}");
            }
        }
        for i in 0..bytes.len() - 1 {
            let mut swapped = bytes.to_vec();
            swapped.swap(i, i + 1);
            // Luhn misses 09 ↔ 90 only.
            let blind_spot = matches!((bytes[i], bytes[i + 1]), (b'0', b'9') | (b'9', b'0'));
            if swapped != bytes && !blind_spot {
                let swapped = String::from_utf8(swapped).unwrap();
                assert_eq!(PlaceShortCode::parse(&swapped), None, "{swapped}");
            }
        }
    }

    #[test]
    fn not_a_short_code() {
        for typed in [
            "",
            "1",
            "18a",
            "HCP1:ABC",
            "0",
            "00",
            "+18",
            "99999999999999999999990",
        ] {
            assert_eq!(PlaceShortCode::parse(typed), None, "{typed:?}");
        }
        assert_eq!(PlaceShortCode::of(0), None);
        assert_eq!(PlaceShortCode::of(-3), None);
    }
}
