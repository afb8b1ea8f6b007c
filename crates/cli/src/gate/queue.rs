//! The gate's crash-safe queue on disk: `seq` (the next sequence number), `queue.jsonl`
//! (check-ins the server has not answered for, each an [`UploadRow`] exactly as
//! `POST /api/v1/gate/checkins` takes it), `rejected.jsonl` and the `lock` held while they
//! change. Every write is synced before the call returns: a number once handed out never
//! comes back, and a queued row is never lost.

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read, Seek, SeekFrom, Write};
use std::path::Path;

use anyhow::{Context, Result, anyhow};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use healthcode_server::api::gate::UploadRow;

use crate::files::{Access, write_atomically};

/// A line of `queue.jsonl`, kept as written so that a rewrite never alters what it keeps.
pub(super) struct Line {
    pub number: usize,
    pub text: String,
    pub row: Result<UploadRow, String>,
}

pub(super) fn read_queue(dir: &Path) -> Result<Vec<Line>> {
    let path = dir.join("queue.jsonl");
    let bytes = match std::fs::read(&path) {
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        other => other.with_context(|| format!("cannot read {}", path.display()))?,
    };
    Ok(bytes
        .split(|&b| b == b'\n')
        .enumerate()
        .filter(|(_, raw)| !raw.iter().all(u8::is_ascii_whitespace))
        .map(|(i, raw)| {
            let text = String::from_utf8_lossy(raw).into_owned();
            let row = std::str::from_utf8(raw)
                .map_err(|_| "not UTF-8".to_owned())
                .and_then(|t| serde_json::from_str(t).map_err(|e| e.to_string()));
            Line {
                number: i + 1,
                text,
                row,
            }
        })
        .collect())
}

pub(super) fn rewrite_queue<'a>(dir: &Path, kept: impl Iterator<Item = &'a Line>) -> Result<()> {
    let text: String = kept.map(|l| format!("{}\n", l.text)).collect();
    write_atomically(&dir.join("queue.jsonl"), text.as_bytes(), Access::Default)
}

/// Appends whole lines and syncs them. A line left without its newline by a crash is ended
/// first, so the next row does not run into it.
pub(super) fn append_lines(path: &Path, lines: &[String]) -> Result<()> {
    if lines.is_empty() {
        return Ok(());
    }
    let mut file = OpenOptions::new()
        .create(true)
        .read(true)
        .append(true)
        .open(path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    let mut text = String::new();
    if file.metadata()?.len() > 0 {
        let mut last = [0u8];
        file.seek(SeekFrom::End(-1))?;
        file.read_exact(&mut last)?;
        if last[0] != b'\n' {
            text.push('\n');
        }
    }
    for line in lines {
        text.push_str(line);
        text.push('\n');
    }
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_data())
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Adds lines to `rejected.jsonl`.
pub(super) fn reject(dir: &Path, lines: &[String]) -> Result<()> {
    append_lines(&dir.join("rejected.jsonl"), lines)
}

/// A line of `rejected.jsonl`: the row (or the text that did not read) and why.
pub(super) fn rejected_line(
    row: Value,
    code: &str,
    message: &str,
    now: DateTime<Utc>,
) -> Result<String> {
    Ok(serde_json::to_string(&json!({
        "row": row,
        "code": code,
        "message": message,
        "rejected_at": now,
    }))?)
}

/// How many lines `rejected.jsonl` holds.
pub(super) fn rejected_count(dir: &Path) -> usize {
    std::fs::read(dir.join("rejected.jsonl"))
        .map(|b| b.split(|&c| c == b'\n').filter(|l| !l.is_empty()).count())
        .unwrap_or(0)
}

/// Held while the queue, the sequence number or the rejected file change.
pub(super) fn lock(dir: &Path) -> Result<File> {
    let path = dir.join("lock");
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    file.lock()
        .with_context(|| format!("cannot lock {}", path.display()))?;
    Ok(file)
}

pub(super) fn read_seq(dir: &Path) -> Result<Option<i64>> {
    let path = dir.join("seq");
    match std::fs::read_to_string(&path) {
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        Ok(text) => match text.trim().parse::<i64>() {
            Ok(n) if n >= 0 => Ok(Some(n)),
            _ => Err(lost_seq(&path, &format!("holds {:?}", text.trim()))),
        },
    }
}

fn write_seq(dir: &Path, next: i64) -> Result<()> {
    write_atomically(
        &dir.join("seq"),
        format!("{next}\n").as_bytes(),
        Access::Default,
    )
}

/// On setup: a new gate starts numbering at 0; a gate set up before keeps its numbers, and
/// one whose `seq` has gone cannot go on (see [`lost_seq`]).
pub(super) fn start_numbering(dir: &Path, set_up_before: bool) -> Result<()> {
    match read_seq(dir)? {
        Some(_) => Ok(()),
        None if !set_up_before => write_seq(dir, 0),
        None => Err(lost_seq(&dir.join("seq"), "is missing")),
    }
}

/// Numbers already used could come back, and the server would drop those check-ins as
/// duplicates: only a new device (a new key) starts numbering again safely.
fn lost_seq(path: &Path, what: &str) -> anyhow::Error {
    anyhow!(
        "{} {what}, but this gate has numbered check-ins before: upload what is queued, then set \
         the gate up with a new device key in an empty directory",
        path.display()
    )
}

/// Takes the next sequence number and queues the row under it; the number is stored as used
/// before the row is written, so a crash in between skips a number rather than reusing one.
pub(super) fn record(dir: &Path, mut row: UploadRow) -> Result<i64> {
    let _lock = lock(dir)?;
    let Some(seq) = read_seq(dir)? else {
        return Err(lost_seq(&dir.join("seq"), "is missing"));
    };
    write_seq(dir, seq + 1)?;
    row.seq = seq;
    append_lines(&dir.join("queue.jsonl"), &[serde_json::to_string(&row)?])?;
    Ok(seq)
}
