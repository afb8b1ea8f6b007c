//! Identity documents: the five document types a resident or visitor may register with, parsed
//! at the boundary into a [`DocumentNumber`] that is known to be well formed.
//!
//! This module owns the syntax and check-digit rules of each document type and the masked form
//! shown on a code. It does not own identity proofing (whether the document really belongs to
//! the person presenting it) — that is the identity provider's job.

use std::fmt;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::error::DocumentError;

/// The kinds of identity document a person can register with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentType {
    /// Mainland resident identity card (居民身份证), 18 characters, GB 11643-1999.
    ResidentId,
    /// Passport, document number as in ICAO 9303 (up to 9 characters in the MRZ field).
    Passport,
    /// Mainland Travel Permit for Hong Kong and Macau Residents (港澳居民来往内地通行证).
    HkMacauPermit,
    /// Mainland Travel Permit for Taiwan Residents (台湾居民来往大陆通行证).
    TaiwanPermit,
    /// Foreigner's Permanent Residence ID card (外国人永久居留身份证), 2017 and 2023 editions.
    ForeignerPermanentResidence,
}

impl DocumentType {
    pub const ALL: [DocumentType; 5] = [
        DocumentType::ResidentId,
        DocumentType::Passport,
        DocumentType::HkMacauPermit,
        DocumentType::TaiwanPermit,
        DocumentType::ForeignerPermanentResidence,
    ];

    /// The stable wire name (`resident_id`, `passport`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            DocumentType::ResidentId => "resident_id",
            DocumentType::Passport => "passport",
            DocumentType::HkMacauPermit => "hk_macau_permit",
            DocumentType::TaiwanPermit => "taiwan_permit",
            DocumentType::ForeignerPermanentResidence => "foreigner_permanent_residence",
        }
    }

    /// Parses the wire name.
    pub fn parse(raw: &str) -> Result<Self, DocumentError> {
        DocumentType::ALL
            .into_iter()
            .find(|t| t.as_str() == raw)
            .ok_or(DocumentError::UnknownType)
    }

    /// A small integer used in the compact code format (see docs/FORMAT.md).
    pub fn code(self) -> u8 {
        match self {
            DocumentType::ResidentId => 1,
            DocumentType::Passport => 2,
            DocumentType::HkMacauPermit => 3,
            DocumentType::TaiwanPermit => 4,
            DocumentType::ForeignerPermanentResidence => 5,
        }
    }

    pub fn from_code(code: u8) -> Option<Self> {
        DocumentType::ALL.into_iter().find(|t| t.code() == code)
    }
}

impl fmt::Display for DocumentType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A document number that has passed the rules of its type. The text is normalised: upper
/// case, no spaces. It deliberately has no `Display`: printing it is a decision, made through
/// [`DocumentNumber::expose`] or [`DocumentNumber::masked`].
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct DocumentNumber {
    kind: DocumentType,
    number: String,
}

impl fmt::Debug for DocumentNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DocumentNumber({}, {})", self.kind, self.masked())
    }
}

/// Province-level prefixes of GB/T 2260 administrative division codes, the first two digits of
/// a resident ID number.
const PROVINCE_CODES: [u8; 34] = [
    11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46, 50, 51, 52,
    53, 54, 61, 62, 63, 64, 65, 71, 81, 82,
];

/// GB 11643-1999 / ISO 7064 MOD 11-2 weights for the first 17 characters.
const ID_WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
/// Check character indexed by the weighted sum modulo 11.
const ID_CHECK: [u8; 11] = *b"10X98765432";

impl DocumentNumber {
    /// Parses `raw` as a number of document type `kind`.
    ///
    /// Spaces are removed and letters upper-cased before the rules are applied, because that is
    /// how people type them; nothing else is forgiven.
    pub fn parse(kind: DocumentType, raw: &str) -> Result<Self, DocumentError> {
        if raw.len() > 64 {
            return Err(DocumentError::Length);
        }
        let number: String = raw
            .chars()
            .filter(|c| !c.is_whitespace())
            .map(|c| c.to_ascii_uppercase())
            .collect();
        if number.is_empty() {
            return Err(DocumentError::Empty);
        }
        if !number.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(DocumentError::Characters);
        }
        match kind {
            DocumentType::ResidentId => check_resident_id(&number)?,
            DocumentType::Passport => {
                // ICAO 9303 document number field: up to 9 characters; national passports in
                // use are at least 5.
                if !(5..=9).contains(&number.len()) {
                    return Err(DocumentError::Length);
                }
            }
            DocumentType::HkMacauPermit => {
                let (first, rest) = number.split_at(1);
                if first != "H" && first != "M" {
                    return Err(DocumentError::Prefix);
                }
                if !(rest.len() == 8 || rest.len() == 10) {
                    return Err(DocumentError::Length);
                }
                if !rest.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(DocumentError::Characters);
                }
            }
            DocumentType::TaiwanPermit => {
                if !(number.len() == 8 || number.len() == 10) {
                    return Err(DocumentError::Length);
                }
                if !number.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(DocumentError::Characters);
                }
            }
            DocumentType::ForeignerPermanentResidence => check_permanent_residence(&number)?,
        }
        Ok(DocumentNumber { kind, number })
    }

    pub fn kind(&self) -> DocumentType {
        self.kind
    }

    /// The full normalised number. Callers are handling personal data: encrypt, index or mask
    /// it, never log it.
    pub fn expose(&self) -> &str {
        &self.number
    }

    /// First two and last two characters, the rest as `*` (the form shown on a code).
    pub fn masked(&self) -> String {
        mask_middle(&self.number)
    }

    /// Birth date encoded in a resident ID number.
    pub fn birth_date(&self) -> Option<NaiveDate> {
        match self.kind {
            DocumentType::ResidentId => birth_date_of(&self.number),
            _ => None,
        }
    }
}

fn mask_middle(number: &str) -> String {
    let chars: Vec<char> = number.chars().collect();
    if chars.len() <= 4 {
        return "*".repeat(chars.len());
    }
    let mut out = String::with_capacity(chars.len());
    out.extend(&chars[..2]);
    out.extend(std::iter::repeat_n('*', chars.len() - 4));
    out.extend(&chars[chars.len() - 2..]);
    out
}

fn mod11_2_check(first17: &[u8]) -> u8 {
    let sum: u32 = first17
        .iter()
        .zip(ID_WEIGHTS)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    ID_CHECK[(sum % 11) as usize]
}

fn birth_date_of(number: &str) -> Option<NaiveDate> {
    let digits = number.get(6..14)?;
    let year = digits.get(0..4)?.parse().ok()?;
    let month = digits.get(4..6)?.parse().ok()?;
    let day = digits.get(6..8)?.parse().ok()?;
    NaiveDate::from_ymd_opt(year, month, day)
}

fn check_resident_id(number: &str) -> Result<(), DocumentError> {
    let bytes = number.as_bytes();
    if bytes.len() != 18 {
        return Err(DocumentError::Length);
    }
    if !bytes[..17].iter().all(u8::is_ascii_digit) {
        return Err(DocumentError::Characters);
    }
    if !(bytes[17].is_ascii_digit() || bytes[17] == b'X') {
        return Err(DocumentError::Characters);
    }
    let province = (bytes[0] - b'0') * 10 + (bytes[1] - b'0');
    if !PROVINCE_CODES.contains(&province) {
        return Err(DocumentError::Region);
    }
    let birth = birth_date_of(number).ok_or(DocumentError::BirthDate)?;
    // The earliest holders were born in the nineteenth century's last years; a birth year
    // before 1890 or after 2100 is a typing error, not a person.
    if !(1890..=2100).contains(&chrono::Datelike::year(&birth)) {
        return Err(DocumentError::BirthDate);
    }
    if mod11_2_check(&bytes[..17]) != bytes[17] {
        return Err(DocumentError::CheckDigit);
    }
    Ok(())
}

fn check_permanent_residence(number: &str) -> Result<(), DocumentError> {
    let bytes = number.as_bytes();
    match bytes.len() {
        // 2017 edition: three-letter nationality code and twelve digits.
        15 => {
            if !bytes[..3].iter().all(u8::is_ascii_uppercase)
                || !bytes[3..].iter().all(u8::is_ascii_digit)
            {
                return Err(DocumentError::Characters);
            }
            Ok(())
        }
        // 2023 edition: eighteen characters led by 9, with the GB 11643 check character.
        18 => {
            if bytes[0] != b'9' {
                return Err(DocumentError::Prefix);
            }
            if !bytes[..17].iter().all(u8::is_ascii_digit)
                || !(bytes[17].is_ascii_digit() || bytes[17] == b'X')
            {
                return Err(DocumentError::Characters);
            }
            if mod11_2_check(&bytes[..17]) != bytes[17] {
                return Err(DocumentError::CheckDigit);
            }
            Ok(())
        }
        _ => Err(DocumentError::Length),
    }
}

/// Computes the GB 11643 check character for the first 17 digits; used by data generators to
/// produce valid numbers. Returns `None` unless given exactly 17 ASCII digits.
pub fn resident_id_check_char(first17: &str) -> Option<char> {
    let bytes = first17.as_bytes();
    if bytes.len() != 17 || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(char::from(mod11_2_check(bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Check digits computed by hand from the GB 11643-1999 weights; 11010519491231002X is the
    // example number printed in the standard.
    #[test]
    fn resident_id_from_the_standard_parses() {
        let n = DocumentNumber::parse(DocumentType::ResidentId, "11010519491231002x")
            .expect("valid number");
        assert_eq!(n.expose(), "11010519491231002X");
        assert_eq!(n.masked(), "11**************2X");
        assert_eq!(n.birth_date(), NaiveDate::from_ymd_opt(1949, 12, 31));
    }

    #[test]
    fn resident_id_wrong_check_digit_fails() {
        assert_eq!(
            DocumentNumber::parse(DocumentType::ResidentId, "110105194912310021"),
            Err(DocumentError::CheckDigit)
        );
    }

    #[test]
    fn resident_id_bad_region_and_date_fail() {
        // 99 is no province.
        let body = "99010519491231002";
        let id = format!("{body}{}", resident_id_check_char(body).expect("17 digits"));
        assert_eq!(
            DocumentNumber::parse(DocumentType::ResidentId, &id),
            Err(DocumentError::Region)
        );
        // 30 February.
        let body = "11010519490230002";
        let id = format!("{body}{}", resident_id_check_char(body).expect("17 digits"));
        assert_eq!(
            DocumentNumber::parse(DocumentType::ResidentId, &id),
            Err(DocumentError::BirthDate)
        );
    }

    #[test]
    fn other_documents() {
        assert!(DocumentNumber::parse(DocumentType::Passport, "E12345678").is_ok());
        assert_eq!(
            DocumentNumber::parse(DocumentType::Passport, "E1234567890"),
            Err(DocumentError::Length)
        );
        assert!(DocumentNumber::parse(DocumentType::HkMacauPermit, "H12345678").is_ok());
        assert!(DocumentNumber::parse(DocumentType::HkMacauPermit, "m1234567890").is_ok());
        assert_eq!(
            DocumentNumber::parse(DocumentType::HkMacauPermit, "X12345678"),
            Err(DocumentError::Prefix)
        );
        assert!(DocumentNumber::parse(DocumentType::TaiwanPermit, "12345678").is_ok());
        assert!(
            DocumentNumber::parse(DocumentType::ForeignerPermanentResidence, "USA110079050101")
                .is_ok()
        );
        let body = "93311019900101001";
        let new = format!("{body}{}", resident_id_check_char(body).expect("17 digits"));
        assert!(DocumentNumber::parse(DocumentType::ForeignerPermanentResidence, &new).is_ok());
        assert_eq!(
            DocumentNumber::parse(DocumentType::Passport, "E1234-567"),
            Err(DocumentError::Characters)
        );
        assert_eq!(
            DocumentNumber::parse(DocumentType::Passport, "  "),
            Err(DocumentError::Empty)
        );
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics(kind in 0u8..5, raw in ".{0,80}") {
            let kind = DocumentType::ALL[kind as usize];
            let _ = DocumentNumber::parse(kind, &raw);
        }

        #[test]
        fn one_changed_digit_breaks_the_check(pos in 0usize..17, delta in 1u8..10) {
            let good = "11010519491231002X";
            let mut bytes = good.as_bytes().to_vec();
            bytes[pos] = b'0' + (bytes[pos] - b'0' + delta) % 10;
            let changed = String::from_utf8(bytes).expect("ascii");
            proptest::prop_assert!(DocumentNumber::parse(DocumentType::ResidentId, &changed).is_err());
        }
    }
}
