//! Format and text-encoding detection from the bytes themselves (never from a file name or a
//! content type), and a streaming transcoder for legacy single-byte encodings.

use std::io::{self, Read};

use encoding_rs::{Decoder, Encoding, UTF_16BE, UTF_16LE, WINDOWS_1252};

use super::network::{base2, ipm};
use crate::error::{Error, Result};

/// A report file's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Delimited text.
    Csv,
    /// An Office Open XML workbook.
    Xlsx,
    /// One JSON object (a canonical fact) per line.
    Jsonl,
    /// A Mastercard IPM clearing file.
    Ipm,
    /// A Visa Base II clearing file.
    Base2,
}

impl Format {
    /// The name used in messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Xlsx => "xlsx",
            Format::Jsonl => "jsonl",
            Format::Ipm => "ipm",
            Format::Base2 => "base2",
        }
    }
}

/// The text encoding of a CSV or JSONL file (network files carry their own).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextEncoding {
    /// UTF-8 (a BOM, if any, is skipped).
    Utf8,
    /// UTF-16 with a byte-order mark.
    Utf16(&'static Encoding),
    /// Windows-1252 (a superset of Latin-1 for printable text).
    Windows1252,
}

/// What the first bytes of a file say about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Detected {
    /// The format.
    pub format: Format,
    /// The text encoding (UTF-8 for XLSX, which is not text).
    pub encoding: TextEncoding,
}

/// Bytes of the file's head used for detection.
pub const SNIFF_BYTES: usize = 64 * 1024;

/// Detects format and encoding from the head of a file.
pub fn detect(head: &[u8]) -> Result<Detected> {
    if head.is_empty() {
        return Err(Error::Unprocessable("the file is empty".into()));
    }
    if head.starts_with(b"PK\x03\x04") {
        return Ok(Detected { format: Format::Xlsx, encoding: TextEncoding::Utf8 });
    }
    if head.starts_with(b"\xD0\xCF\x11\xE0") {
        return Err(Error::UnsupportedMediaType(
            "this is a legacy .xls (OLE) workbook; save it as .xlsx or CSV and upload again".into(),
        ));
    }
    if head.starts_with(b"%PDF") || head.starts_with(b"\x1F\x8B") || head.starts_with(b"\x89PNG") {
        return Err(Error::UnsupportedMediaType(
            "the file is not a report (it looks like a PDF, gzip or image); upload CSV, XLSX, JSON Lines, or a Mastercard IPM or Visa Base II clearing file"
                .into(),
        ));
    }
    if ipm::sniff(head).is_some() {
        return Ok(Detected { format: Format::Ipm, encoding: TextEncoding::Utf8 });
    }
    if base2::sniff(head).is_some() {
        return Ok(Detected { format: Format::Base2, encoding: TextEncoding::Utf8 });
    }
    let (encoding, text) = if let Some(rest) = head.strip_prefix(b"\xEF\xBB\xBF") {
        (TextEncoding::Utf8, String::from_utf8_lossy(rest).into_owned())
    } else if head.starts_with(b"\xFF\xFE") || head.starts_with(b"\xFE\xFF") {
        let enc = if head[0] == 0xFF { UTF_16LE } else { UTF_16BE };
        (TextEncoding::Utf16(enc), enc.decode_with_bom_removal(head).0.into_owned())
    } else if let Some(text) = utf8_prefix(head) {
        (TextEncoding::Utf8, text.to_owned())
    } else {
        (TextEncoding::Windows1252, WINDOWS_1252.decode_without_bom_handling(head).0.into_owned())
    };
    let controls = text.chars().filter(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')).count();
    if controls * 50 > text.chars().count().max(1) {
        return Err(Error::UnsupportedMediaType(
            "the file is binary, but neither XLSX nor a Mastercard IPM or Visa Base II clearing file (IPM: 4-byte record lengths, then messages starting with a 1xxx message type; Base II: 168-byte records starting with a transaction code such as 90 or 05); other binary formats are not read".into(),
        ));
    }
    let first = text.trim_start_matches(['\u{feff}', ' ', '\t', '\r', '\n']);
    let format = if first.starts_with('{') { Format::Jsonl } else { Format::Csv };
    Ok(Detected { format, encoding })
}

/// The head as UTF-8 when it is valid UTF-8, allowing a sequence cut off at the end.
fn utf8_prefix(head: &[u8]) -> Option<&str> {
    match std::str::from_utf8(head) {
        Ok(s) => Some(s),
        Err(e) if e.error_len().is_none() && head.len() - e.valid_up_to() < 4 => {
            std::str::from_utf8(&head[..e.valid_up_to()]).ok()
        }
        Err(_) => None,
    }
}

/// Wraps a reader so that it yields UTF-8, decoding `encoding` on the fly.
pub fn utf8_reader<R: Read + Send + 'static>(inner: R, encoding: TextEncoding) -> Box<dyn Read + Send> {
    match encoding {
        TextEncoding::Utf8 => Box::new(SkipBom { inner, checked: false, pending: Vec::new() }),
        TextEncoding::Utf16(enc) => Box::new(Transcoder::new(inner, enc.new_decoder_with_bom_removal())),
        TextEncoding::Windows1252 => {
            Box::new(Transcoder::new(inner, WINDOWS_1252.new_decoder_without_bom_handling()))
        }
    }
}

/// Drops a leading UTF-8 byte-order mark.
struct SkipBom<R> {
    inner: R,
    checked: bool,
    pending: Vec<u8>,
}

impl<R: Read> Read for SkipBom<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if !self.checked {
            self.checked = true;
            let mut head = [0u8; 3];
            let mut n = 0;
            while n < 3 {
                let k = self.inner.read(&mut head[n..])?;
                if k == 0 {
                    break;
                }
                n += k;
            }
            if &head[..n] != b"\xEF\xBB\xBF" {
                self.pending.extend_from_slice(&head[..n]);
            }
        }
        if !self.pending.is_empty() {
            let k = self.pending.len().min(buf.len());
            buf[..k].copy_from_slice(&self.pending[..k]);
            self.pending.drain(..k);
            return Ok(k);
        }
        self.inner.read(buf)
    }
}

/// Streams bytes of a legacy encoding out as UTF-8.
struct Transcoder<R> {
    inner: R,
    decoder: Decoder,
    input: Vec<u8>,
    output: Vec<u8>,
    out_pos: usize,
    eof: bool,
}

impl<R: Read> Transcoder<R> {
    fn new(inner: R, decoder: Decoder) -> Self {
        Transcoder { inner, decoder, input: vec![0; 32 * 1024], output: Vec::new(), out_pos: 0, eof: false }
    }
}

impl<R: Read> Read for Transcoder<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.out_pos >= self.output.len() {
            if self.eof {
                return Ok(0);
            }
            let n = self.inner.read(&mut self.input)?;
            self.eof = n == 0;
            self.output.clear();
            self.out_pos = 0;
            let cap = self.decoder.max_utf8_buffer_length(n).unwrap_or(n * 3 + 16);
            self.output.resize(cap, 0);
            let (_, _, written, _) =
                self.decoder.decode_to_utf8(&self.input[..n], &mut self.output, self.eof);
            self.output.truncate(written);
        }
        let k = (self.output.len() - self.out_pos).min(buf.len());
        buf[..k].copy_from_slice(&self.output[self.out_pos..self.out_pos + k]);
        self.out_pos += k;
        Ok(k)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_from_bytes() {
        let d = detect(b"a,b\n1,2\n").unwrap();
        assert_eq!((d.format, d.encoding), (Format::Csv, TextEncoding::Utf8));
        assert_eq!(detect(b"\xEF\xBB\xBFa;b\r\n").unwrap().format, Format::Csv);
        assert_eq!(detect(b"  {\"transaction_id\":\"1\"}\n").unwrap().format, Format::Jsonl);
        assert_eq!(detect(b"PK\x03\x04rest").unwrap().format, Format::Xlsx);
        assert_eq!(detect(b"Merchant,Caf\xE9\n").unwrap().encoding, TextEncoding::Windows1252);
        assert!(detect(b"").is_err());
        assert!(detect(&[0u8, 1, 2, 3, 4, 5, 6, 7, 0, 0, 0, 9]).is_err());
        assert!(detect(b"\xD0\xCF\x11\xE0\xA1\xB1").is_err());
        let header = format!("9000400000{:<158}\r\n", "26341");
        let sale = format!("0500{:<164}\r\n", "4111111111111111");
        assert_eq!(detect(format!("{header}{sale}").as_bytes()).unwrap().format, Format::Base2);
        assert_eq!(detect(header.as_bytes()).unwrap().format, Format::Base2);
        // A CSV whose first line happens to start with digits is still a CSV.
        assert_eq!(detect(b"9000,2026-01-01,12.50\n9001,2026-01-02,3.10\n").unwrap().format, Format::Csv);
    }

    #[test]
    fn transcoding_streams() {
        let mut out = String::new();
        utf8_reader(&b"Caf\xE9;12,50\n"[..], TextEncoding::Windows1252).read_to_string(&mut out).unwrap();
        assert_eq!(out, "Café;12,50\n");
        let mut out = String::new();
        utf8_reader(&b"\xEF\xBB\xBFa,b"[..], TextEncoding::Utf8).read_to_string(&mut out).unwrap();
        assert_eq!(out, "a,b");
        let utf16: Vec<u8> =
            [0xFF, 0xFE].into_iter().chain("x,y\n".encode_utf16().flat_map(|u| u.to_le_bytes())).collect();
        let mut out = String::new();
        utf8_reader(std::io::Cursor::new(utf16), TextEncoding::Utf16(UTF_16LE))
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(out, "x,y\n");
    }
}
