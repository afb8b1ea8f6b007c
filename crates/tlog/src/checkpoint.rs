//! Checkpoints of C2SP tlog-checkpoint: a log's signed statement of its size and root.
//!
//! The note text is the origin line (which log), the tree size in decimal, the root hash in
//! base64, and optional non-empty extension lines, each line ending in a newline:
//!
//! ```text
//! example.com/behind-the-sofa
//! 20852163
//! CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=
//! ```
//!
//! This module owns that text, strictly in both directions ([`Checkpoint::to_text`],
//! [`Checkpoint::parse_text`]), and signing and opening it as a signed note
//! ([`Checkpoint::sign`], [`Checkpoint::open`]). It does not own the note format
//! ([`crate::note`]), whether a checkpoint is consistent with earlier ones (a caller checks a
//! consistency proof, [`crate::verify_consistency`]), or which keys to trust.

use crate::decimal::parse_decimal;
use crate::error::CheckpointError;
use crate::hash::Hash;
use crate::note::{Note, NoteSigner, NoteVerifier};

/// A log's tree head: which log, how many leaves, the root of those leaves, and any extension
/// lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    origin: String,
    size: u64,
    root: Hash,
    extensions: Vec<String>,
}

/// Whether `line` can be one line of a checkpoint: non-empty, no newline or other control
/// character (a signed note allows none).
fn is_valid_line(line: &str) -> bool {
    !line.is_empty() && !line.chars().any(|c| c < ' ')
}

impl Checkpoint {
    /// The checkpoint of log `origin` at `size` leaves with root `root`. The origin must be a
    /// non-empty line without control characters.
    pub fn new(origin: &str, size: u64, root: Hash) -> Result<Checkpoint, CheckpointError> {
        if !is_valid_line(origin) {
            return Err(CheckpointError::Malformed(
                "the origin is empty or holds a control character",
            ));
        }
        Ok(Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
            extensions: Vec::new(),
        })
    }

    /// The same checkpoint with these extension lines, each non-empty and without control
    /// characters. C2SP advises against them: monitors cannot audit them.
    pub fn with_extensions<S: AsRef<str>>(
        mut self,
        extensions: &[S],
    ) -> Result<Checkpoint, CheckpointError> {
        let extensions: Vec<String> = extensions.iter().map(|e| e.as_ref().to_owned()).collect();
        if !extensions.iter().all(|line| is_valid_line(line)) {
            return Err(CheckpointError::Malformed(
                "an extension line is empty or holds a control character",
            ));
        }
        self.extensions = extensions;
        Ok(self)
    }

    /// The origin: which log this is.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The tree size: the number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The root hash of the tree of that size.
    pub fn root(&self) -> &Hash {
        &self.root
    }

    /// The extension lines, without their newlines.
    pub fn extensions(&self) -> &[String] {
        &self.extensions
    }

    /// The note text: origin, size, root and extension lines, each with its newline.
    pub fn to_text(&self) -> String {
        let mut text = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            self.root.to_base64()
        );
        for line in &self.extensions {
            text.push_str(line);
            text.push('\n');
        }
        text
    }

    /// Reads a checkpoint's note text, accepting only what [`Checkpoint::to_text`] writes: at
    /// least three lines, each ending with a newline; a non-empty origin; the size in decimal
    /// without sign or leading zero; the root in canonical base64 of 32 bytes; non-empty
    /// extension lines.
    pub fn parse_text(text: &str) -> Result<Checkpoint, CheckpointError> {
        let body = text.strip_suffix('\n').ok_or(CheckpointError::Malformed(
            "the text does not end with a newline",
        ))?;
        let mut lines = body.split('\n');
        let (Some(origin), Some(size), Some(root)) = (lines.next(), lines.next(), lines.next())
        else {
            return Err(CheckpointError::Malformed(
                "fewer than three lines: origin, size, root",
            ));
        };
        let size = parse_decimal(size).ok_or(CheckpointError::Malformed(
            "the size is not a decimal number without leading zeros",
        ))?;
        let root = Hash::from_base64(root).map_err(|_| {
            CheckpointError::Malformed("the root is not the base64 of a 32-byte hash")
        })?;
        Checkpoint::new(origin, size, root)?.with_extensions(&lines.collect::<Vec<_>>())
    }

    /// The checkpoint as a signed note, signed by each of `signers` in order (the log's key
    /// first, by custom).
    pub fn sign(&self, signers: &[&NoteSigner]) -> Result<String, CheckpointError> {
        Ok(Note::sign(&self.to_text(), signers)?.to_string())
    }

    /// Reads a signed checkpoint of the log `origin` and checks its signatures: at least one
    /// by a key among `verifiers`, and every one by such a key valid (see
    /// [`Note::verify`]). Other signatures, such as witnesses' cosignatures, are ignored.
    pub fn open(
        msg: &[u8],
        origin: &str,
        verifiers: &[NoteVerifier],
    ) -> Result<Checkpoint, CheckpointError> {
        let note = Note::open(msg, verifiers)?;
        let checkpoint = Checkpoint::parse_text(note.text())?;
        if checkpoint.origin != origin {
            return Err(CheckpointError::Origin {
                expected: origin.to_owned(),
                found: checkpoint.origin,
            });
        }
        Ok(checkpoint)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::leaf_hash;

    #[test]
    fn text_round_trip() {
        let checkpoint = Checkpoint::new("example.com/log", 20852163, leaf_hash(b"x"))
            .expect("valid")
            .with_extensions(&["one", "two"])
            .expect("valid");
        let text = checkpoint.to_text();
        assert_eq!(text.lines().count(), 5);
        assert_eq!(Checkpoint::parse_text(&text), Ok(checkpoint));
    }

    #[test]
    fn the_spec_example_text() {
        // The note text of the example in C2SP tlog-checkpoint.
        let text =
            "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
        let checkpoint = Checkpoint::parse_text(text).expect("parses");
        assert_eq!(checkpoint.origin(), "example.com/behind-the-sofa");
        assert_eq!(checkpoint.size(), 20852163);
        assert_eq!(checkpoint.extensions(), [] as [String; 0]);
        assert_eq!(checkpoint.to_text(), text);
    }

    #[test]
    fn strictness() {
        let root = leaf_hash(b"x").to_base64();
        let good = format!("o\n5\n{root}\n");
        assert!(Checkpoint::parse_text(&good).is_ok());
        assert!(Checkpoint::parse_text(&format!("o\n0\n{root}\n")).is_ok());
        assert!(Checkpoint::parse_text(&format!("o\n18446744073709551615\n{root}\n")).is_ok());
        for bad in [
            format!("o\n5\n{root}"),
            "o\n5\n".to_owned(),
            "o\n5\n\n".to_owned(),
            format!("\n5\n{root}\n"),
            format!("o\n05\n{root}\n"),
            format!("o\n+5\n{root}\n"),
            format!("o\n-5\n{root}\n"),
            format!("o\n 5\n{root}\n"),
            format!("o\n5 \n{root}\n"),
            format!("o\n0x5\n{root}\n"),
            format!("o\n\n{root}\n"),
            format!("o\n18446744073709551616\n{root}\n"),
            format!("o\n5\n{}\n", root.trim_end_matches('=')),
            format!("o\n5\n{root} \n"),
            "o\n5\nAAAA\n".to_owned(),
            format!("o\n5\n{root}\n\n"),
            format!("o\n5\n{root}\next\n\n"),
            format!("o\n5\n{root}\n\next\n"),
            format!("o\r\n5\n{root}\n"),
        ] {
            assert!(
                Checkpoint::parse_text(&bad).is_err(),
                "{bad:?} was accepted"
            );
        }
    }

    #[test]
    fn constructor_checks_lines() {
        let root = leaf_hash(b"x");
        assert!(Checkpoint::new("", 1, root).is_err());
        assert!(Checkpoint::new("a\nb", 1, root).is_err());
        assert!(Checkpoint::new("go.sum database tree", 1, root).is_ok());
        let checkpoint = Checkpoint::new("o", 1, root).expect("valid");
        assert!(checkpoint.clone().with_extensions(&[""]).is_err());
        assert!(checkpoint.with_extensions(&["a\nb"]).is_err());
    }
}
