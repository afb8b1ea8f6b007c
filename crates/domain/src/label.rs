//! One line of text a person types and others read later: a venue's name, address and
//! district, a risk area's name. Parsed once at the boundary so that nothing stored can hide
//! what it says: no control characters, and none of the invisible ones that change how text
//! reads without showing themselves (bidirectional overrides, zero-width characters, the soft
//! hyphen, filler and tag characters).
//!
//! What this module does not own: people's names (`person.rs`, stricter: letters only) and
//! identifiers (record ids, document numbers), which have alphabets of their own.

use std::fmt;

use crate::error::LabelError;

/// A trimmed line of visible text, within the bounds it was parsed with.
#[derive(Clone, PartialEq, Eq)]
pub struct Label(String);

impl Label {
    /// Trims `raw` and checks it holds `min` to `max` characters, none of them control or
    /// invisible characters.
    pub fn parse(raw: &str, min: usize, max: usize) -> Result<Label, LabelError> {
        let text = raw.trim();
        if text.chars().any(is_invisible) {
            return Err(LabelError::Invisible);
        }
        let count = text.chars().count();
        if count < min {
            return Err(LabelError::TooShort);
        }
        if count > max {
            return Err(LabelError::TooLong);
        }
        Ok(Label(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Debug for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

/// Whether `c` is a control character (Unicode category Cc) or a character that is invisible
/// yet changes how text reads or compares: the soft hyphen, the combining grapheme joiner,
/// the Arabic letter mark, Hangul and Mongolian fillers, zero-width spaces and joiners, the
/// left-to-right and right-to-left marks, embeddings, overrides and isolates, invisible
/// operators, variation selectors, the byte order mark, and tag characters.
pub fn is_invisible(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{00AD}'
                | '\u{034F}'
                | '\u{061C}'
                | '\u{115F}'..='\u{1160}'
                | '\u{17B4}'..='\u{17B5}'
                | '\u{180B}'..='\u{180F}'
                | '\u{200B}'..='\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2060}'..='\u{206F}'
                | '\u{3164}'
                | '\u{FE00}'..='\u{FE0F}'
                | '\u{FEFF}'
                | '\u{FFA0}'
                | '\u{FFF0}'..='\u{FFFB}'
                | '\u{E0000}'..='\u{E0FFF}'
        )
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn visible_text_is_kept_trimmed() {
        for (raw, kept) in [
            ("  西单商场 ", "西单商场"),
            ("Xidan Joy City, 1/F", "Xidan Joy City, 1/F"),
            ("阿依古丽·买买提 café", "阿依古丽·买买提 café"),
            ("عيادة", "عيادة"),
        ] {
            assert_eq!(Label::parse(raw, 1, 100).unwrap().as_str(), kept);
        }
        assert_eq!(Label::parse("", 0, 10).unwrap().as_str(), "");
    }

    #[test]
    fn bounds_count_characters() {
        assert_eq!(Label::parse("  ", 1, 10), Err(LabelError::TooShort));
        assert!(Label::parse(&"区".repeat(50), 1, 50).is_ok());
        assert_eq!(
            Label::parse(&"区".repeat(51), 1, 50),
            Err(LabelError::TooLong)
        );
    }

    #[test]
    fn control_and_invisible_characters_are_refused() {
        for c in [
            '\u{0}',
            '\n',
            '\u{7F}',
            '\u{85}',
            '\u{AD}',
            '\u{200B}',
            '\u{200D}',
            '\u{200E}',
            '\u{202E}',
            '\u{2066}',
            '\u{2069}',
            '\u{FEFF}',
            '\u{FE0F}',
            '\u{E0041}',
        ] {
            let raw = format!("西单{c}商场");
            assert_eq!(
                Label::parse(&raw, 1, 100),
                Err(LabelError::Invisible),
                "{c:?}"
            );
        }
    }
}
