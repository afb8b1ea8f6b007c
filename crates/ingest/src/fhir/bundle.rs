//! A Bundle read entry by entry as it streams, whatever its size.
//!
//! serde_json parses push-style, calling a visitor for each value; the entries are visited one
//! at a time through a [`DeserializeSeed`] over `Bundle.entry`, each held as JSON text only
//! while it is mapped. To hand the rows out as a pull iterator, the parse runs on a thread of
//! its own and sends each row through a bounded channel, so it runs at most [`AHEAD`] rows
//! ahead of the reader. When the iterator is dropped, the next send fails and the parse stops.
//!
//! An entry is held whole while it is mapped, so the reader under the parse counts the bytes
//! of each entry (and of each of the Bundle's other members) and fails past
//! [`MAX_RECORD_BYTES`]: the parse stops there, after every entry before it.

use std::fmt;
use std::io::Read;
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::thread::{self, JoinHandle};

use serde::de::{
    self, DeserializeSeed, Deserializer as _, IgnoredAny, MapAccess, SeqAccess, Visitor,
};
use serde_json::value::RawValue;

use super::json_error;
use super::resources::Resources;
use crate::error::{FileError, RowError};
use crate::limits::{MAX_RECORD_BYTES, RecordBytes};
use crate::record::{Position, Record};

type Item = Result<Record, RowError>;

/// Rows the parse may have ready before the reader asks for them.
const AHEAD: usize = 256;

/// The rows of a Bundle, as the parse thread sends them.
pub(super) struct Entries {
    rows: Receiver<Item>,
    parser: Option<JoinHandle<()>>,
}

/// Starts parsing `input` as a Bundle on a thread of its own.
/// `bytes` counts what `input` has given since the last entry, which the parse resets.
pub(super) fn read<R: Read + Send + 'static>(
    input: R,
    bytes: RecordBytes,
    resources: Resources,
) -> Result<Entries, FileError> {
    let (tx, rows) = mpsc::sync_channel(AHEAD);
    let parser = thread::Builder::new()
        .name("fhir-bundle".into())
        .spawn(move || parse(input, bytes, resources, tx))
        .map_err(|e| FileError::Io(format!("cannot start reading the Bundle: {e}")))?;
    Ok(Entries {
        rows,
        parser: Some(parser),
    })
}

impl Iterator for Entries {
    type Item = Item;

    fn next(&mut self) -> Option<Item> {
        if let Ok(row) = self.rows.recv() {
            return Some(row);
        }
        // The parse is over. Had it panicked, that is a bug: raise it here rather than let
        // it pass for the end of the file.
        if let Some(parser) = self.parser.take()
            && let Err(panic) = parser.join()
        {
            std::panic::resume_unwind(panic);
        }
        None
    }
}

/// Where the parse sends what it finds.
struct Sink {
    tx: SyncSender<Item>,
    resources: Resources,
    bytes: RecordBytes,
    /// Index of the next entry.
    next: u64,
    /// Nobody is receiving any more.
    closed: bool,
}

impl Sink {
    /// Maps one entry and sends its row, if it is one. False once nobody is receiving.
    fn entry(&mut self, json: &RawValue) -> bool {
        self.bytes.start();
        let at = Position::Entry(self.next);
        self.next += 1;
        if let Some(row) = self.resources.entry(json.get(), at) {
            self.closed = self.tx.send(row).is_err();
        }
        !self.closed
    }
}

fn parse<R: Read>(input: R, bytes: RecordBytes, resources: Resources, tx: SyncSender<Item>) {
    let mut sink = Sink {
        tx,
        resources,
        bytes,
        next: 0,
        closed: false,
    };
    let mut json = serde_json::Deserializer::from_reader(input);
    let parsed = json
        .deserialize_map(BundleVisitor(&mut sink))
        .and_then(|()| json.end());
    if let Err(e) = parsed
        && !sink.closed
    {
        // The rows before it have been sent. If the receiver is gone by now, nobody is left
        // to tell.
        let _ = sink.tx.send(Err(stopped(&e, sink.next, &sink.bytes)));
    }
}

/// Why the Bundle cannot be read on from entry `next`: broken JSON (a cut-off file), a
/// Bundle whose own shape is wrong (`entry` that is not an array), or an entry too large.
fn stopped(e: &serde_json::Error, next: u64, bytes: &RecordBytes) -> RowError {
    if e.is_io() && bytes.too_large() {
        return RowError::new(
            Position::Entry(next),
            "record_too_large",
            format!(
                "the entry (or a member of the Bundle after the previous entry) is longer than {} MiB; the Bundle cannot be read from here on",
                MAX_RECORD_BYTES / (1024 * 1024)
            ),
        );
    }
    let code = if e.is_data() {
        "resource_invalid"
    } else {
        "json_syntax"
    };
    RowError::new(
        Position::Entry(next),
        code,
        format!("the Bundle cannot be read from here on: {}", json_error(e)),
    )
}

/// The Bundle object: `entry` is read entry by entry, every other member skipped.
struct BundleVisitor<'s>(&'s mut Sink);

impl<'de> Visitor<'de> for BundleVisitor<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a FHIR Bundle")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            if key == "entry" {
                map.next_value_seed(EntrySeq(&mut *self.0))?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
            // Each member of the Bundle is a record of its own for the cap on size.
            self.0.bytes.start();
        }
        Ok(())
    }
}

/// `Bundle.entry`, each element passed to the [`Sink`] as soon as it is complete.
struct EntrySeq<'s>(&'s mut Sink);

impl<'de> DeserializeSeed<'de> for EntrySeq<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for EntrySeq<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Bundle.entry, an array of entries")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(entry) = seq.next_element::<Box<RawValue>>()? {
            if !self.0.entry(&entry) {
                return Err(de::Error::custom("the reader of the rows has gone"));
            }
        }
        Ok(())
    }
}
