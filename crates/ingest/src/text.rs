//! Turning a provider's file into UTF-8 text, whatever it was saved as.
//!
//! Lab systems in China commonly export GB18030 (or its subset GBK); others write UTF-8, with
//! or without a byte-order mark. The first block of the file decides: UTF-8 if it is valid
//! UTF-8 (a sequence cut off at the block's end is allowed), GB18030 otherwise. A UTF-8 file
//! passes through unchanged, so invalid bytes later in it reach the row that holds them and
//! are rejected there; a GB18030 file is decoded as it streams (undecodable bytes become
//! U+FFFD, which no field accepts). The first line also decides the delimiter.

use std::io::{self, Cursor, Read};

use encoding_rs::{Decoder, GB18030};

/// Bytes looked at to decide the encoding and the delimiter.
pub(crate) const SNIFF: usize = 64 * 1024;
pub(crate) const BOM: &[u8] = b"\xEF\xBB\xBF";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Utf8,
    Gb18030,
}

/// A file as UTF-8 bytes, with what was found out about it.
pub struct Utf8Text<R> {
    pub encoding: Encoding,
    pub delimiter: u8,
    source: Source<R>,
}

enum Source<R> {
    Utf8(io::Chain<Cursor<Vec<u8>>, R>),
    Gb(GbReader<R>),
}

impl<R: Read> Utf8Text<R> {
    /// Reads the first block of `inner` and decides the encoding and the delimiter.
    pub fn sniff(mut inner: R) -> io::Result<Utf8Text<R>> {
        let mut head = Vec::with_capacity(SNIFF);
        (&mut inner).take(SNIFF as u64).read_to_end(&mut head)?;
        if head.starts_with(BOM) {
            head.drain(..BOM.len());
        }
        let encoding = match std::str::from_utf8(&head) {
            Ok(_) => Encoding::Utf8,
            Err(e) if e.error_len().is_none() => Encoding::Utf8,
            Err(_) => Encoding::Gb18030,
        };
        // The delimiter is ASCII, which means the same in both encodings.
        let first_line = head.split(|b| *b == b'\n').next().unwrap_or(&[]);
        let count = |d: u8| first_line.iter().filter(|b| **b == d).count();
        let delimiter = if count(b'\t') > count(b',') {
            b'\t'
        } else {
            b','
        };
        let source = match encoding {
            Encoding::Utf8 => Source::Utf8(Cursor::new(head).chain(inner)),
            Encoding::Gb18030 => Source::Gb(GbReader {
                inner,
                decoder: GB18030.new_decoder_without_bom_handling(),
                pending: head,
                out: String::new(),
                out_pos: 0,
                eof: false,
                finished: false,
            }),
        };
        Ok(Utf8Text {
            encoding,
            delimiter,
            source,
        })
    }
}

impl<R: Read> Read for Utf8Text<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match &mut self.source {
            Source::Utf8(r) => r.read(buf),
            Source::Gb(r) => r.read(buf),
        }
    }
}

/// Decodes GB18030 to UTF-8 as it streams.
struct GbReader<R> {
    inner: R,
    decoder: Decoder,
    /// Input read but not yet decoded.
    pending: Vec<u8>,
    /// Decoded output not yet handed out, from `out_pos`.
    out: String,
    out_pos: usize,
    eof: bool,
    finished: bool,
}

impl<R: Read> GbReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let out = self.out.as_bytes();
            if self.out_pos < out.len() {
                let n = buf.len().min(out.len() - self.out_pos);
                buf[..n].copy_from_slice(&out[self.out_pos..self.out_pos + n]);
                self.out_pos += n;
                return Ok(n);
            }
            if self.finished {
                return Ok(0);
            }
            self.out.clear();
            self.out_pos = 0;
            if self.pending.is_empty() && !self.eof {
                let mut block = vec![0; SNIFF];
                let n = self.inner.read(&mut block)?;
                block.truncate(n);
                self.eof = n == 0;
                self.pending = block;
            }
            let room = self
                .decoder
                .max_utf8_buffer_length(self.pending.len())
                .unwrap_or(self.pending.len() * 4 + 16);
            self.out.reserve(room);
            let (_, read, _) =
                self.decoder
                    .decode_to_string(&self.pending, &mut self.out, self.eof);
            self.pending.drain(..read);
            if self.eof && self.pending.is_empty() {
                self.finished = true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(text: Utf8Text<&[u8]>) -> String {
        let mut t = text;
        let mut s = String::new();
        t.read_to_string(&mut s).expect("read");
        s
    }

    #[test]
    fn utf8_with_and_without_bom() {
        let t = Utf8Text::sniff("a,b\n张三,1\n".as_bytes()).expect("sniff");
        assert_eq!((t.encoding, t.delimiter), (Encoding::Utf8, b','));
        assert_eq!(all(t), "a,b\n张三,1\n");
        let with_bom = [BOM, "a\tb\n".as_bytes()].concat();
        let t = Utf8Text::sniff(with_bom.as_slice()).expect("sniff");
        assert_eq!(t.delimiter, b'\t');
        assert_eq!(all(t), "a\tb\n");
    }

    #[test]
    fn gb18030_is_decoded() {
        let (bytes, _, _) = GB18030.encode("证件号码,检测结果\n110105,阴性\n");
        let t = Utf8Text::sniff(&bytes[..]).expect("sniff");
        assert_eq!(t.encoding, Encoding::Gb18030);
        assert_eq!(all(t), "证件号码,检测结果\n110105,阴性\n");
    }

    #[test]
    fn a_large_gb18030_file_streams_across_blocks() {
        let line = "110105194912310021,阴性,核酸\n";
        let text: String = line.repeat(10_000);
        let (bytes, _, _) = GB18030.encode(&text);
        assert!(bytes.len() > 2 * SNIFF);
        let t = Utf8Text::sniff(&bytes[..]).expect("sniff");
        assert_eq!(all(t), text);
    }
}
