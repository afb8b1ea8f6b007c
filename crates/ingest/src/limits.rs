//! The caps that keep a reader's memory bounded whatever a sender puts in a file: a file
//! streams in, of any size, and a stray quote, a line that never ends or one huge Bundle entry
//! must not make the reader hold the rest of it.
//!
//! What this module owns: the size of one record, and the reader that enforces it. The caps
//! on what the FHIR reader remembers across records are beside the memory they bound
//! (`fhir::resources`), and the length of a value repeated in a message is `error::echo`'s.

use std::io::{self, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The most one record may take: a CSV row (quoted line breaks included), an NDJSON line, a
/// Bundle entry. Real records are well under 10 KiB (a Bundle entry with narrative text is the
/// largest); 1 MiB leaves a hundred times that, while a quote that is never closed or a line
/// that never ends makes the reader hold at most this much of the file, not all of it.
pub const MAX_RECORD_BYTES: u64 = 1024 * 1024;

/// How much of the current record has been read, shared between the [`Capped`] reader that
/// counts it and the reader of records, which knows where a record ends. They are on one
/// thread; the count is shared through an `Arc` only because the readers must be `Send`.
#[derive(Debug, Clone, Default)]
pub(crate) struct RecordBytes(Arc<AtomicU64>);

impl RecordBytes {
    /// A record ends here: what was read before no longer counts towards the next one.
    pub(crate) fn start(&self) {
        self.0.store(0, Ordering::Relaxed);
    }

    /// Whether the read error that stopped the reader is this cap (rather than the source).
    pub(crate) fn too_large(&self) -> bool {
        self.0.load(Ordering::Relaxed) > MAX_RECORD_BYTES
    }

    /// Bytes that may still be read: one past the cap, so that running over is seen.
    fn room(&self) -> usize {
        let left = (MAX_RECORD_BYTES + 1).saturating_sub(self.0.load(Ordering::Relaxed));
        usize::try_from(left).unwrap_or(usize::MAX)
    }

    fn add(&self, n: usize) {
        self.0.fetch_add(n as u64, Ordering::Relaxed);
    }
}

/// A reader that fails once the current record has run past [`MAX_RECORD_BYTES`], until
/// [`RecordBytes::start`] says a new record begins. Placed between the source and whatever
/// gathers a record (the csv reader, `read_until`, serde_json), it is what stops that from
/// growing. The buffer between them (the csv reader's, a `BufReader`) reads ahead of the
/// record, so the cap is exact to within that buffer's length, which still bounds the memory.
pub(crate) struct Capped<R> {
    inner: R,
    bytes: RecordBytes,
}

impl<R> Capped<R> {
    pub(crate) fn new(inner: R) -> (Capped<R>, RecordBytes) {
        let bytes = RecordBytes::default();
        (
            Capped {
                inner,
                bytes: bytes.clone(),
            },
            bytes,
        )
    }
}

fn too_large() -> io::Error {
    io::Error::other(format!(
        "a record is longer than {} MiB",
        MAX_RECORD_BYTES / (1024 * 1024)
    ))
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let room = self.bytes.room();
        if room == 0 {
            return Err(too_large());
        }
        let len = buf.len().min(room);
        let n = self.inner.read(&mut buf[..len])?;
        self.bytes.add(n);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reading_fails_past_the_cap_until_a_record_starts() {
        let source = vec![b'x'; 3 * MAX_RECORD_BYTES as usize];
        let (mut capped, bytes) = Capped::new(source.as_slice());
        let mut record = Vec::new();
        let err = capped.read_to_end(&mut record).err();
        assert!(err.is_some());
        assert!(bytes.too_large());
        assert_eq!(record.len() as u64, MAX_RECORD_BYTES + 1);
        bytes.start();
        assert!(!bytes.too_large());
        let mut more = [0; 16];
        assert_eq!(capped.read(&mut more).ok(), Some(16));
    }
}
