//! A person's name and phone number, parsed at the boundary, and the masked name shown on a
//! code. Encryption of these fields at rest is the store's job, not this module's.

use std::fmt;

use crate::error::PersonError;

/// Two-character Chinese surnames (复姓) in current use. A masked name keeps both characters.
const COMPOUND_SURNAMES: [&str; 24] = [
    "欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙", "宇文", "司徒",
    "夏侯", "轩辕", "令狐", "端木", "独孤", "南宫", "西门", "百里", "呼延", "澹台", "万俟", "申屠",
];

/// A person's name as registered. No `Display`: showing it is a decision.
#[derive(Clone, PartialEq, Eq)]
pub struct PersonName(String);

impl fmt::Debug for PersonName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PersonName({})", self.masked())
    }
}

impl PersonName {
    /// Accepts 1 to 100 characters of letters, spaces and the separators names use
    /// (`·`, `-`, `'`, `,`, `.`). Surrounding white space is trimmed and runs of it folded.
    pub fn parse(raw: &str) -> Result<Self, PersonError> {
        let folded = raw.split_whitespace().collect::<Vec<_>>().join(" ");
        let count = folded.chars().count();
        if count == 0 {
            return Err(PersonError::NameEmpty);
        }
        if count > 100 {
            return Err(PersonError::NameTooLong);
        }
        let allowed =
            |c: char| c.is_alphabetic() || matches!(c, ' ' | '·' | '-' | '\'' | ',' | '.');
        if !folded.chars().all(allowed) || !folded.chars().any(char::is_alphabetic) {
            return Err(PersonError::NameCharacters);
        }
        Ok(PersonName(folded))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Surname followed by `*`.
    ///
    /// Chinese names: the first character, or the first two for a compound surname (欧阳娜娜 →
    /// 欧阳*). Latin names: the part before a comma when there is one (`SMITH, JOHN`, the order
    /// of a passport's MRZ), otherwise the last word (`John Smith`), followed by ` *`. Names
    /// written with `·` (transliterated names such as 阿依古丽·买买提) keep their first part.
    pub fn masked(&self) -> String {
        let name = self.0.as_str();
        let first = name.chars().next().map(is_cjk).unwrap_or(false);
        if first {
            if let Some((given, _)) = name.split_once('·') {
                return format!("{given}·*");
            }
            for compound in COMPOUND_SURNAMES {
                if name.starts_with(compound) && name.chars().count() > 2 {
                    return format!("{compound}*");
                }
            }
            let surname: String = name.chars().take(1).collect();
            return format!("{surname}*");
        }
        let surname = match name.split_once(',') {
            Some((surname, _)) => surname.trim(),
            None => name.rsplit(' ').next().unwrap_or(name),
        };
        format!("{surname} *")
    }
}

fn is_cjk(c: char) -> bool {
    matches!(c as u32, 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x3134F)
}

/// A phone number: mainland mobile numbers (11 digits led by 1) or an international number in
/// E.164 form (`+` and 8 to 15 digits).
#[derive(Clone, PartialEq, Eq)]
pub struct PhoneNumber(String);

impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PhoneNumber(***)")
    }
}

impl PhoneNumber {
    pub fn parse(raw: &str) -> Result<Self, PersonError> {
        let compact: String = raw.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
        if let Some(rest) = compact.strip_prefix('+') {
            if (8..=15).contains(&rest.len()) && rest.bytes().all(|b| b.is_ascii_digit()) {
                return Ok(PhoneNumber(compact));
            }
            return Err(PersonError::Phone);
        }
        let b = compact.as_bytes();
        if b.len() == 11
            && b[0] == b'1'
            && (b'3'..=b'9').contains(&b[1])
            && b.iter().all(u8::is_ascii_digit)
        {
            return Ok(PhoneNumber(compact));
        }
        Err(PersonError::Phone)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn masked(raw: &str) -> String {
        PersonName::parse(raw).expect("valid name").masked()
    }

    #[test]
    fn chinese_names() {
        assert_eq!(masked("张三"), "张*");
        assert_eq!(masked("王小明"), "王*");
        assert_eq!(masked("欧阳娜娜"), "欧阳*");
        assert_eq!(masked("司马光"), "司马*");
        // A two-character name starting with 司 is surname 司 plus given name 马.
        assert_eq!(masked("司马"), "司*");
        assert_eq!(masked("阿依古丽·买买提"), "阿依古丽·*");
    }

    #[test]
    fn latin_names() {
        assert_eq!(masked("SMITH, JOHN"), "SMITH *");
        assert_eq!(masked("John  Smith"), "Smith *");
        assert_eq!(masked("Madonna"), "Madonna *");
    }

    #[test]
    fn bad_names_and_phones() {
        assert_eq!(PersonName::parse("   "), Err(PersonError::NameEmpty));
        assert_eq!(PersonName::parse("R2D2"), Err(PersonError::NameCharacters));
        assert!(PhoneNumber::parse("138 0013 8000").is_ok());
        assert!(PhoneNumber::parse("+85291234567").is_ok());
        assert!(PhoneNumber::parse("12345").is_err());
        assert!(PhoneNumber::parse("11800138000").is_err());
    }
}
