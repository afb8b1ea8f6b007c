//! The public form of one change in the transparency log: its leaf entry, the salted
//! commitment it carries to the stored record, and the receipt that lets the person the record
//! is about prove it later. docs/FORMAT.md §10 gives the bytes.
//!
//! An entry says what kind of change happened, when, and by whom (a pseudonymous actor such as
//! `provider/12`), and commits to the record with a salt that stays in the database: a tile
//! holds no name, document number, phone or subject, and the commitment cannot be checked
//! against a guessed record without the salt. This module owns those bytes and checking a
//! receipt's record against its entry; the tree, tiles and proofs are `healthcode-tlog`'s,
//! writing leaves is the SQL store's.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The first word of every entry.
pub const ENTRY_VERSION: &str = "healthcode/1";

/// What a commitment hashes first, ahead of the salt and the record.
pub const COMMITMENT_DOMAIN: &[u8] = b"healthcode/commitment/v1\0";

/// The length of a record's salt.
pub const SALT_LEN: usize = 16;

/// The longest kind or actor an entry may name.
const MAX_WORD: usize = 64;

/// The commitment to `record` under `salt`: SHA-256 of [`COMMITMENT_DOMAIN`], the salt and the
/// record's bytes.
pub fn commitment(salt: &[u8; SALT_LEN], record: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(COMMITMENT_DOMAIN);
    h.update(salt);
    h.update(record);
    h.finalize().into()
}

/// Why an entry or a receipt was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LeafError {
    #[error("the entry is malformed: {0}")]
    Malformed(&'static str),
    #[error("the record does not match the entry's commitment")]
    Commitment,
}

/// One leaf entry: `healthcode/1 <kind> <unix seconds> <actor> <commitment>\n`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub kind: String,
    /// When the change was accepted, in Unix seconds.
    pub time: i64,
    pub actor: String,
    pub commitment: [u8; 32],
}

/// A kind or an actor: 1 to 64 bytes of ASCII letters, digits and `-_./:`.
fn is_word(word: &str) -> bool {
    !word.is_empty()
        && word.len() <= MAX_WORD
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:".contains(&b))
}

impl Entry {
    /// The entry for `record` of `kind` by `actor` at `time`, committed under `salt`.
    /// [`LeafError::Malformed`] for a kind or actor that is not a word (see [`Entry::parse`]).
    pub fn new(
        kind: &str,
        time: i64,
        actor: &str,
        salt: &[u8; SALT_LEN],
        record: &[u8],
    ) -> Result<Entry, LeafError> {
        if !is_word(kind) || !is_word(actor) {
            return Err(LeafError::Malformed("a kind or actor is not a word"));
        }
        Ok(Entry {
            kind: kind.to_owned(),
            time,
            actor: actor.to_owned(),
            commitment: commitment(salt, record),
        })
    }

    /// The entry's bytes, which the log's leaf hash covers.
    pub fn to_bytes(&self) -> Vec<u8> {
        write_entry(&self.kind, self.time, &self.actor, &self.commitment)
    }

    /// Reads an entry; exactly the bytes [`Entry::to_bytes`] writes are accepted.
    pub fn parse(bytes: &[u8]) -> Result<Entry, LeafError> {
        let text = std::str::from_utf8(bytes).map_err(|_| LeafError::Malformed("not UTF-8"))?;
        let line = text
            .strip_suffix('\n')
            .ok_or(LeafError::Malformed("no final newline"))?;
        let mut words = line.split(' ');
        let (Some(version), Some(kind), Some(time), Some(actor), Some(commitment), None) = (
            words.next(),
            words.next(),
            words.next(),
            words.next(),
            words.next(),
            words.next(),
        ) else {
            return Err(LeafError::Malformed("not five words"));
        };
        if version != ENTRY_VERSION {
            return Err(LeafError::Malformed("unknown version"));
        }
        if !is_word(kind) || !is_word(actor) {
            return Err(LeafError::Malformed("a kind or actor is not a word"));
        }
        let time: i64 = time
            .parse()
            .map_err(|_| LeafError::Malformed("the time is not a number"))?;
        let decoded = STANDARD
            .decode(commitment)
            .map_err(|_| LeafError::Malformed("the commitment is not base64"))?;
        let commitment: [u8; 32] = decoded
            .try_into()
            .map_err(|_| LeafError::Malformed("the commitment is not 32 bytes"))?;
        let entry = Entry {
            kind: kind.to_owned(),
            time,
            actor: actor.to_owned(),
            commitment,
        };
        if entry.to_bytes() != bytes {
            return Err(LeafError::Malformed("not in canonical form"));
        }
        Ok(entry)
    }

    /// Whether `record` under `salt` is what this entry commits to.
    pub fn commits_to(&self, salt: &[u8; SALT_LEN], record: &[u8]) -> bool {
        commitment(salt, record) == self.commitment
    }
}

/// The bytes of the entry for `record` of `kind` by `actor` at `time`, committed under
/// `salt`: [`Entry::new`] followed by [`Entry::to_bytes`], without the entry in between (the
/// bulk path writes one per row).
pub fn entry_bytes(
    kind: &str,
    time: i64,
    actor: &str,
    salt: &[u8; SALT_LEN],
    record: &[u8],
) -> Result<Vec<u8>, LeafError> {
    if !is_word(kind) || !is_word(actor) {
        return Err(LeafError::Malformed("a kind or actor is not a word"));
    }
    Ok(write_entry(kind, time, actor, &commitment(salt, record)))
}

/// `healthcode/1 <kind> <time> <actor> <base64 commitment>\n`.
fn write_entry(kind: &str, time: i64, actor: &str, commitment: &[u8; 32]) -> Vec<u8> {
    let time = time.to_string();
    let mut out =
        Vec::with_capacity(ENTRY_VERSION.len() + kind.len() + time.len() + actor.len() + 49);
    for word in [ENTRY_VERSION, kind, &time, actor] {
        out.extend_from_slice(word.as_bytes());
        out.push(b' ');
    }
    out.extend_from_slice(STANDARD.encode(commitment).as_bytes());
    out.push(b'\n');
    out
}

impl fmt::Display for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.to_bytes()))
    }
}

/// What a resident downloads for one record about them: the record as stored, its salt, its
/// entry and, once the entry is in the tree, a C2SP tlog-proof of it (docs/FORMAT.md §10.4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    /// The entry's kind.
    pub kind: String,
    /// The record's bytes as committed: a JSON document, kept verbatim as a string.
    pub record: String,
    /// The salt, base64.
    pub salt: String,
    /// The entry's bytes (one line of text).
    pub entry: String,
    /// The entry's index in the log, once sequenced.
    pub index: Option<u64>,
    /// The tlog-proof text, once sequenced.
    pub proof: Option<String>,
}

impl Receipt {
    /// Checks the receipt's record and salt against its entry and returns the entry; whether
    /// the entry is in the log is the proof's to show.
    pub fn check_record(&self) -> Result<Entry, LeafError> {
        let entry = Entry::parse(self.entry.as_bytes())?;
        let salt: [u8; SALT_LEN] = STANDARD
            .decode(&self.salt)
            .ok()
            .and_then(|s| s.try_into().ok())
            .ok_or(LeafError::Malformed("the salt is not 16 bytes of base64"))?;
        if entry.kind != self.kind {
            return Err(LeafError::Malformed(
                "the receipt's kind is not the entry's",
            ));
        }
        if !entry.commits_to(&salt, self.record.as_bytes()) {
            return Err(LeafError::Commitment);
        }
        Ok(entry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> Entry {
        Entry::new(
            "test",
            1_733_400_000,
            "provider/12",
            &[7; 16],
            b"{\"id\":1}",
        )
        .expect("words")
    }

    #[test]
    fn entries_round_trip_byte_for_byte() {
        let e = entry();
        let bytes = e.to_bytes();
        assert!(bytes.starts_with(b"healthcode/1 test 1733400000 provider/12 "));
        assert!(bytes.ends_with(b"=\n"));
        assert_eq!(Entry::parse(&bytes), Ok(e));
    }

    #[test]
    fn entry_bytes_are_the_entrys_bytes() {
        let e = entry();
        let written = entry_bytes(
            "test",
            1_733_400_000,
            "provider/12",
            &[7; 16],
            b"{\"id\":1}",
        );
        assert_eq!(written.as_deref(), Ok(e.to_bytes().as_slice()));
        let expected = format!(
            "healthcode/1 test 1733400000 provider/12 {}\n",
            STANDARD.encode(commitment(&[7; 16], b"{\"id\":1}"))
        );
        assert_eq!(e.to_bytes(), expected.into_bytes());
        assert_eq!(
            entry_bytes("a b", 1, "x", &[0; 16], b""),
            Err(LeafError::Malformed("a kind or actor is not a word"))
        );
        let negative = entry_bytes("test", -5, "x", &[0; 16], b"").expect("words");
        assert!(negative.starts_with(b"healthcode/1 test -5 x "));
    }

    #[test]
    fn anything_but_the_canonical_form_is_refused() {
        let good = String::from_utf8(entry().to_bytes()).expect("ascii");
        let bad = [
            good.trim_end().to_owned(),
            good.replace("healthcode/1", "healthcode/2"),
            good.replace(' ', "  "),
            good.replace("1733400000", "+1733400000"),
            good.replace("1733400000", "01733400000"),
            good.replace("provider/12", "provider 12"),
            good.replace("provider/12", "prövider"),
            format!("{good}\n"),
            good.replace('=', ""),
        ];
        for text in bad {
            assert!(Entry::parse(text.as_bytes()).is_err(), "{text:?}");
        }
        assert!(Entry::new("a b", 1, "x", &[0; 16], b"").is_err());
        assert!(Entry::new("x", 1, &"y".repeat(65), &[0; 16], b"").is_err());
    }

    #[test]
    fn the_commitment_binds_record_and_salt() {
        let e = entry();
        assert!(e.commits_to(&[7; 16], b"{\"id\":1}"));
        assert!(!e.commits_to(&[8; 16], b"{\"id\":1}"));
        assert!(!e.commits_to(&[7; 16], b"{\"id\":2}"));
    }

    #[test]
    fn a_receipt_checks_its_record() {
        let e = entry();
        let mut receipt = Receipt {
            kind: "test".into(),
            record: "{\"id\":1}".into(),
            salt: STANDARD.encode([7; 16]),
            entry: e.to_string(),
            index: None,
            proof: None,
        };
        assert_eq!(receipt.check_record(), Ok(e));
        receipt.record = "{\"id\":2}".into();
        assert_eq!(receipt.check_record(), Err(LeafError::Commitment));
    }
}
