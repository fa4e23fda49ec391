//! Mastercard IPM clearing files (Integrated Product Messages, as delivered by GCMS).
//!
//! **Framing.** Each message is preceded by a 4-byte big-endian record length (RDW); a zero
//! length ends the file. A *1014-blocked* file is the same stream cut into blocks of 1,012
//! bytes, each followed by two pad bytes (`0x40`), the last block padded to 1,014.
//!
//! **Messages** (ISO 8583:1993 layout): a 4-digit MTI, a binary primary bitmap and, when its
//! first bit is set, a secondary one, then the data elements (DE) the bitmap names — fixed
//! length, or with a 2- or 3-digit length in front. Text is EBCDIC (code page 500) or ASCII;
//! the bitmaps are binary either way. Private data (PDS) are `tag(4) length(3) data` runs
//! inside DE 48, 62 and 123–125.
//!
//! **What is read.** `1240` first presentments (DE 24 `200`): a sale, cash or refund by the
//! DE 3 transaction type (`00`, `01`, `09`, `12`, `17`, `18` → CLEARING, `20` → REFUND);
//! `1442` chargebacks (DE 24 `450`–`454`) with their DE 25 reason; the `1644` file header
//! (`697`, PDS 0105 file id) and trailer (`695`: PDS 0306 message count and PDS 0301 amount
//! checksum, the sum of DE 4 over the file's messages, both checked against the messages
//! read). Second presentments, reversals (PDS 0025 `R…`), fee collections (`1740`) and other
//! administrative messages are skipped and counted by reason.
//!
//! | canonical | IPM |
//! |---|---|
//! | transaction_id | DE 31 acquirer reference data (ARN) |
//! | occurred_at | DE 12 local date and time `YYMMDDhhmmss` (the upload's time zone) |
//! | amount | DE 4 in DE 49's currency, with PDS 0148's exponent where it states one |
//! | card_number | DE 2 (becomes BIN + token at once) |
//! | entry_mode | DE 22 subfield 7 (card data input mode) |
//! | mcc, merchant_id | DE 26, DE 42 |
//! | merchant_name, merchant_country | DE 43 name (before the first `\`), its last three letters |
//! | interchange_fee | PDS 0146 fee amounts of fee type `00` in the transaction's currency |
//! | reason_code | DE 25 (chargebacks) |

use std::io::{self, Read};

use super::{control, digits, ebcdic, rescale, trim, Draft, Loader};
use crate::error::{Error, Result};
use crate::facts::{Control, EntryMode, Network, Report, Stage, Structure};
use crate::ingest::detect::Format;
use crate::ingest::pan::PanKey;
use crate::ingest::pipeline::{Collector, ParseSummary};
use crate::money::Currency;

/// A 1014-byte block: 1,012 bytes of data and two pad bytes.
const BLOCK: usize = 1014;
const BLOCK_DATA: usize = 1012;
/// The longest message accepted (GCMS messages are far shorter).
const MAX_MESSAGE: usize = 16_000;

/// How an IPM file is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Framing {
    /// 1014-byte blocks.
    pub blocked: bool,
    /// EBCDIC text (else ASCII).
    pub ebcdic: bool,
}

/// The framing of an IPM file from its head, or `None` when it is not one.
pub(crate) fn sniff(head: &[u8]) -> Option<Framing> {
    let ebcdic = match head.get(4..8)? {
        m if m.iter().all(|b| (0xF0..=0xF9).contains(b)) && m[0] == 0xF1 => true,
        m if m.iter().all(u8::is_ascii_digit) && m[0] == b'1' => false,
        _ => return None,
    };
    let plain = walk(head, ebcdic);
    let unblocked = unblock(head);
    let blocked = walk(&unblocked, ebcdic);
    if plain.0 == 0 && blocked.0 == 0 {
        return None;
    }
    // The two readings differ only past the first block: the one that reads further wins.
    let is_blocked = blocked.1 > plain.1 || (blocked.1 == plain.1 && head.get(1012..1014) == Some(b"@@"));
    Some(Framing { blocked: is_blocked && head.len() >= BLOCK, ebcdic })
}

/// Cuts the head of an IPM file (a preview's first bytes) after its last whole message and
/// ends it there, in the same framing.
pub(crate) fn cut_to_whole_messages(head: &mut Vec<u8>) {
    let Some(framing) = sniff(head) else { return };
    let mut data =
        if framing.blocked { unblock(&head[..head.len() / BLOCK * BLOCK]) } else { std::mem::take(head) };
    let mut end = 0;
    while let Some(rdw) = data.get(end..end + 4) {
        let len = u32::from_be_bytes([rdw[0], rdw[1], rdw[2], rdw[3]]) as usize;
        if len == 0 || end + 4 + len > data.len() {
            break;
        }
        end += 4 + len;
    }
    data.truncate(end);
    data.extend_from_slice(&[0; 4]);
    *head = if framing.blocked {
        let mut out: Vec<u8> =
            data.chunks(BLOCK_DATA).flat_map(|c| [c, &[0x40, 0x40][..]].concat()).collect();
        out.resize(out.len().div_ceil(BLOCK) * BLOCK, 0x40);
        out
    } else {
        data
    };
}

/// The data of (the head of) a blocked file.
fn unblock(head: &[u8]) -> Vec<u8> {
    head.chunks(BLOCK).flat_map(|b| &b[..b.len().min(BLOCK_DATA)]).copied().collect()
}

/// How many plausible messages follow each other from the start of `data`, and how many bytes
/// they cover.
fn walk(data: &[u8], ebcdic: bool) -> (usize, usize) {
    let (mut n, mut at) = (0, 0);
    while let Some(rdw) = data.get(at..at + 4) {
        let len = u32::from_be_bytes([rdw[0], rdw[1], rdw[2], rdw[3]]) as usize;
        if len == 0 {
            return (n, at + 4);
        }
        if !(20..=MAX_MESSAGE).contains(&len) {
            break;
        }
        let mti_ok = data.get(at + 4..at + 8).is_none_or(|m| {
            m.iter().all(|&b| if ebcdic { (0xF0..=0xF9).contains(&b) } else { b.is_ascii_digit() })
        });
        if !mti_ok {
            break;
        }
        n += 1;
        at += 4 + len;
    }
    (n, at.min(data.len()))
}

/// Reads the data of a 1014-blocked file: every block's first 1,012 bytes. Blocks are read
/// [`BLOCKS_READ`] at a time.
struct Unblock<R> {
    inner: R,
    buf: Vec<u8>,
    /// The next byte to hand out, in `buf`.
    pos: usize,
    /// Whole blocks in `buf`, in bytes.
    whole: usize,
    /// Bytes of a last, cut-off block after them.
    partial: usize,
    /// Blocks read before `buf`'s.
    blocks: usize,
}

/// Blocks an [`Unblock`] reads at once.
const BLOCKS_READ: usize = 128;

impl<R: Read> Unblock<R> {
    fn new(inner: R) -> Unblock<R> {
        Unblock { inner, buf: vec![0; BLOCK * BLOCKS_READ], pos: 0, whole: 0, partial: 0, blocks: 0 }
    }
}

impl<R: Read> Read for Unblock<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.pos >= self.whole {
                if self.partial > 0 {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!(
                            "the file ends inside 1014-byte block {} ({} of its 1014 bytes): it was cut off; send the whole file again",
                            self.blocks + self.whole / BLOCK + 1,
                            self.partial
                        ),
                    ));
                }
                self.blocks += self.whole / BLOCK;
                let n = read_full(&mut self.inner, &mut self.buf)?;
                (self.pos, self.whole, self.partial) = (0, n - n % BLOCK, n % BLOCK);
                if n == 0 {
                    return Ok(0);
                }
                continue;
            }
            let in_block = self.pos % BLOCK;
            if in_block >= BLOCK_DATA {
                self.pos += BLOCK - in_block;
                continue;
            }
            let k = (BLOCK_DATA - in_block).min(out.len());
            out[..k].copy_from_slice(&self.buf[self.pos..self.pos + k]);
            self.pos += k;
            return Ok(k);
        }
    }
}

/// Reads until `buf` is full or the input ends; the bytes read.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// The damaged-file error of record `number`.
fn damaged(number: u32, what: String) -> Error {
    Error::Unprocessable(format!(
        "IPM record {number}: {what}; the file is damaged or not a complete IPM file"
    ))
}

/// Reads RDW-framed records one by one.
struct Records<R> {
    inner: R,
    /// Records read so far.
    number: u32,
}

impl<R: Read> Records<R> {
    /// The next record into `buf`; `false` at the end of the file.
    fn next(&mut self, buf: &mut Vec<u8>) -> Result<bool> {
        let number = self.number + 1;
        let mut rdw = [0u8; 4];
        match read_full(&mut self.inner, &mut rdw) {
            Ok(0) => return Ok(false),
            Ok(4) => {}
            Ok(n) => {
                return Err(damaged(
                    number,
                    format!("the file ends inside its length prefix ({n} of 4 bytes)"),
                ))
            }
            Err(e) => return Err(unexpected_end(number, e)),
        }
        let len = u32::from_be_bytes(rdw) as usize;
        if len == 0 {
            return Ok(false);
        }
        if len > MAX_MESSAGE {
            return Err(damaged(
                number,
                format!("its length prefix (RDW) says {len} bytes, more than the {MAX_MESSAGE} a message can hold"),
            ));
        }
        buf.resize(len, 0);
        let n = read_full(&mut self.inner, buf).map_err(|e| unexpected_end(number, e))?;
        if n < len {
            return Err(damaged(
                number,
                format!("the file ends inside it ({n} of the {len} bytes its RDW says)"),
            ));
        }
        self.number = number;
        Ok(true)
    }
}

fn unexpected_end(number: u32, e: io::Error) -> Error {
    if e.kind() == io::ErrorKind::UnexpectedEof {
        Error::Unprocessable(format!("IPM record {number}: {e}"))
    } else {
        e.into()
    }
}

/// How a data element's length is given.
#[derive(Clone, Copy)]
enum Len {
    Fixed(usize),
    /// A length prefix of this many digits.
    Var(usize),
}

/// The layout of the data elements GCMS uses (`None`: not an IPM element).
fn element(de: usize) -> Option<Len> {
    use Len::{Fixed, Var};
    Some(match de {
        3 | 38 | 73 => Fixed(6),
        4..=6 | 12 | 22 | 37 => Fixed(12),
        9 | 10 | 71 => Fixed(8),
        14 | 25 | 26 => Fixed(4),
        23 | 24 | 40 | 49..=51 => Fixed(3),
        30 => Fixed(24),
        41 => Fixed(8),
        42 => Fixed(15),
        2 | 31..=33 | 43 | 93..=95 | 100 => Var(2),
        48 | 54 | 55 | 62 | 63 | 72 | 105 | 111 | 123..=127 => Var(3),
        _ => return None,
    })
}

/// A message split into its elements (byte ranges of the record).
struct Message {
    spans: [(u32, u32); 129],
    present: [bool; 129],
}

impl Message {
    fn new() -> Message {
        Message { spans: [(0, 0); 129], present: [false; 129] }
    }

    /// Splits a record: `raw` for the binary bitmaps, `text` (the same bytes as text) for the
    /// rest. The reason when its bitmap or lengths do not fit it.
    fn split(&mut self, raw: &[u8], text: &[u8]) -> std::result::Result<(), String> {
        self.present = [false; 129];
        let mti = text.get(..4).ok_or("it is shorter than a message type")?;
        if !mti.iter().all(u8::is_ascii_digit) {
            return Err(format!(
                "its message type `{}` is not four digits",
                String::from_utf8_lossy(mti).escape_debug()
            ));
        }
        let primary = raw.get(4..12).ok_or("it ends inside its bitmap")?;
        let secondary = primary[0] & 0x80 != 0;
        let bitmap =
            raw.get(4..if secondary { 20 } else { 12 }).ok_or("it ends inside its secondary bitmap")?;
        let mut at = bitmap.len() + 4;
        // Bit 1 of the 128 is DE 1 (the secondary bitmap itself); the rest name elements.
        let mut wide = [0u8; 16];
        wide[..bitmap.len()].copy_from_slice(bitmap);
        let mut bits = u128::from_be_bytes(wide) & !(1 << 127);
        while bits != 0 {
            let de = bits.leading_zeros() as usize + 1;
            bits &= !(1 << (128 - de));
            let len = match element(de)
                .ok_or_else(|| format!("its bitmap names DE {de}, which IPM does not use"))?
            {
                Len::Fixed(n) => n,
                Len::Var(w) => {
                    let prefix =
                        text.get(at..at + w).ok_or_else(|| format!("it ends inside DE {de}'s length"))?;
                    at += w;
                    digits(prefix).ok_or_else(|| {
                        format!(
                            "DE {de}'s length `{}` is not a number",
                            String::from_utf8_lossy(prefix).escape_debug()
                        )
                    })? as usize
                }
            };
            if at + len > text.len() {
                return Err(format!(
                    "DE {de} runs past the end of the message ({len} bytes from byte {at} of {})",
                    text.len()
                ));
            }
            self.spans[de] = (at as u32, len as u32);
            self.present[de] = true;
            at += len;
        }
        if at != text.len() {
            return Err(format!(
                "{} bytes follow its last element: the bitmap does not match the data",
                text.len() - at
            ));
        }
        Ok(())
    }

    /// Element `de` of the message's text, trimmed of padding spaces.
    fn get<'t>(&self, text: &'t [u8], de: usize) -> Option<&'t [u8]> {
        self.present[de].then(|| {
            let (a, n) = self.spans[de];
            trim(&text[a as usize..(a + n) as usize])
        })
    }
}

/// Private data elements of DE 48, 62 and 123–125: `(tag, start, end)` of each value in the
/// message's text.
fn split_pds(msg: &Message, text: &[u8], out: &mut Vec<(u16, usize, usize)>) {
    out.clear();
    for de in [48, 62, 123, 124, 125] {
        if !msg.present[de] {
            continue;
        }
        let (start, len) = msg.spans[de];
        let (mut at, end) = (start as usize, (start + len) as usize);
        while at + 7 <= end {
            let (Some(tag), Some(n)) = (digits(&text[at..at + 4]), digits(&text[at + 4..at + 7])) else {
                break;
            };
            let stop = (at + 7 + n as usize).min(end);
            out.push((tag as u16, at + 7, stop));
            at = stop;
        }
    }
}

/// Totals counted for the next trailer.
#[derive(Default)]
struct Since {
    messages: i128,
    amounts: i128,
}

/// What one message is.
enum Kind {
    /// A transaction of this stage.
    Transaction(Stage),
    Skip(String),
    Reject(&'static str, String),
    Structure,
}

/// Reads an IPM file.
struct Reader<'a> {
    loader: Loader<'a>,
    ebcdic: bool,
    file_id: Option<String>,
    since: Since,
    controls: Vec<Control>,
    structural: u64,
    /// The message's text (EBCDIC records are transcoded once; bitmaps stay binary).
    text: Vec<u8>,
    msg: Message,
    pds: Vec<(u16, usize, usize)>,
}

/// The fields a message fills, for the mapping decisions.
const FIELDS: [(&str, &str); 13] = [
    ("DE 31", "transaction_id"),
    ("MTI, DE 3, DE 24", "stage"),
    ("DE 12", "occurred_at"),
    ("DE 4", "amount.minor_units"),
    ("DE 49", "currency"),
    ("DE 2", "card_number"),
    ("DE 22", "entry_mode"),
    ("DE 26", "mcc"),
    ("DE 42", "merchant_id"),
    ("DE 43", "merchant_name"),
    ("DE 43", "merchant_country"),
    ("PDS 0146", "interchange_fee.minor_units"),
    ("DE 25", "reason_code"),
];

/// Parses an IPM file into facts.
pub(crate) fn parse(
    input: impl Read,
    framing: Framing,
    report: &Report,
    key: &PanKey,
    collector: Collector<'_>,
) -> Result<ParseSummary> {
    let loader = Loader::new(report, key, collector, Format::Ipm, &FIELDS)?;
    let mut reader = Reader {
        loader,
        ebcdic: framing.ebcdic,
        file_id: None,
        since: Since::default(),
        controls: Vec::new(),
        structural: 0,
        text: Vec::new(),
        msg: Message::new(),
        pds: Vec::new(),
    };
    let input: Box<dyn Read + '_> = if framing.blocked {
        Box::new(Unblock::new(input))
    } else {
        Box::new(io::BufReader::with_capacity(256 * 1024, input))
    };
    let mut records = Records { inner: input, number: 0 };
    let mut rec = Vec::with_capacity(2048);
    while records.next(&mut rec)? {
        reader.message(&rec, records.number)?;
    }
    let mut warnings = Vec::new();
    if reader.since.messages > 0 && reader.controls.is_empty() {
        warnings.push(
            "the file has no trailer (1644/695): its message count and amount checksum could not be checked"
                .into(),
        );
    }
    let mut metadata = vec![
        ("encoding".to_owned(), if framing.ebcdic { "EBCDIC (cp500)" } else { "ASCII" }.to_owned()),
        ("blocking".to_owned(), if framing.blocked { "1014" } else { "none" }.to_owned()),
    ];
    if let Some(id) = &reader.file_id {
        metadata.push(("file_id".to_owned(), id.clone()));
    }
    let structure = Structure {
        format: Format::Ipm.as_str().into(),
        metadata,
        structural_lines: reader.structural,
        ..Default::default()
    };
    reader.loader.finish(Format::Ipm, structure, reader.controls, warnings)
}

impl Reader<'_> {
    fn message(&mut self, rec: &[u8], number: u32) -> Result<()> {
        self.since.messages += 1;
        let mut text = std::mem::take(&mut self.text);
        let view: &[u8] = if self.ebcdic {
            ebcdic::transcode(rec, &mut text);
            &text
        } else {
            rec
        };
        let read = self.read(rec, view, number);
        self.text = text;
        read
    }

    fn read(&mut self, raw: &[u8], text: &[u8], number: u32) -> Result<()> {
        if let Err(why) = self.msg.split(raw, text) {
            self.loader.reject(number, "bad_message", format!("message {number} cannot be read: {why}"));
            return Ok(());
        }
        self.since.amounts += i128::from(self.msg.get(text, 4).and_then(digits).unwrap_or(0));
        split_pds(&self.msg, text, &mut self.pds);
        match self.kind(text, number) {
            Kind::Transaction(stage) => match self.draft(text, stage) {
                Ok(draft) => self.loader.fact(&draft, number)?,
                Err((code, why)) => self.loader.reject(number, code, format!("message {number}: {why}")),
            },
            Kind::Skip(reason) => self.loader.skip(reason),
            Kind::Reject(code, why) => self.loader.reject(number, code, format!("message {number}: {why}")),
            Kind::Structure => self.structural += 1,
        }
        Ok(())
    }

    /// A private data element's value.
    fn pds<'t>(&self, text: &'t [u8], tag: u16) -> Option<&'t [u8]> {
        self.pds.iter().find(|p| p.0 == tag).map(|&(_, a, b)| &text[a..b])
    }

    fn kind(&mut self, text: &[u8], number: u32) -> Kind {
        let msg = &self.msg;
        let mti = &text[..4];
        let function = msg.get(text, 24).unwrap_or(b"");
        let named = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        let stage = match (mti, function) {
            (b"1644", b"697") => return self.header(text),
            (b"1644", b"695") => return self.trailer(text, number),
            (b"1240", b"200") => match msg.get(text, 3).map(|p| &p[..p.len().min(2)]) {
                Some(b"00" | b"01" | b"09" | b"12" | b"17" | b"18") => Stage::Clearing,
                Some(b"20") => Stage::Refund,
                Some(b"28") => return Kind::Skip("payment transaction (DE 3 28)".into()),
                Some(other) => {
                    return Kind::Reject(
                        "unknown_row_type",
                        format!("DE 3 transaction type `{}` is not one PayScope reads", named(other)),
                    )
                }
                None => return Kind::Reject("unknown_row_type", "a first presentment without DE 3".into()),
            },
            (b"1240", f) => return Kind::Skip(format!("second presentment (1240/{})", named(f))),
            (b"1442", b"450" | b"451" | b"453" | b"454") => Stage::Chargeback,
            (b"1740", f) => return Kind::Skip(format!("fee collection (1740/{})", named(f))),
            (m, f) => return Kind::Skip(format!("message {}/{}", named(m), named(f))),
        };
        if self.pds(text, 25).is_some_and(|v| v.starts_with(b"R")) {
            return Kind::Skip(format!("reversal (PDS 0025, {})", named(mti)));
        }
        Kind::Transaction(stage)
    }

    fn header(&mut self, text: &[u8]) -> Kind {
        self.file_id = self.pds(text, 105).map(|v| String::from_utf8_lossy(trim(v)).into_owned());
        self.since = Since { messages: 1, amounts: 0 };
        Kind::Structure
    }

    fn trailer(&mut self, text: &[u8], number: u32) -> Kind {
        let stated = |tag| self.pds(text, tag).and_then(|v| digits(trim(v))).map(i128::from);
        let mut checks = Vec::new();
        if let Some(n) = stated(306) {
            checks.push(("message count (PDS 0306)", n, self.since.messages));
        }
        if let Some(a) = stated(301) {
            checks.push(("amount checksum, the sum of DE 4 (PDS 0301)", a, self.since.amounts));
        }
        let source = match &self.file_id {
            Some(id) => format!("IPM trailer of file {id} (message {number})"),
            None => format!("IPM trailer (message {number})"),
        };
        self.controls.push(control(&source, &checks));
        self.since = Since::default();
        Kind::Structure
    }

    /// The canonical fields of a presentment or chargeback.
    fn draft<'t>(
        &self,
        text: &'t [u8],
        stage: Stage,
    ) -> std::result::Result<Draft<'t>, (&'static str, String)> {
        let msg = &self.msg;
        let field = |de: usize| msg.get(text, de).filter(|v| !v.is_empty());
        let amount = field(4)
            .and_then(digits)
            .and_then(|a| i64::try_from(a).ok())
            .ok_or_else(|| ("invalid_amount", "DE 4 is missing or not a number".to_owned()))?;
        let currency =
            field(49).and_then(digits).and_then(|n| Currency::from_numeric(n as u16)).ok_or_else(|| {
                let de49 = String::from_utf8_lossy(field(49).unwrap_or(b"")).into_owned();
                ("unknown_currency", format!("DE 49 `{de49}` is not an ISO 4217 currency"))
            })?;
        let pds = |tag: u16| self.pds.iter().filter(move |p| p.0 == tag).map(|&(_, a, b)| &text[a..b]);
        let minor = minor_units(amount, currency, pds(148)).ok_or_else(|| {
            let code = currency.code();
            (
                "invalid_amount",
                format!("DE 4 `{amount}` in PDS 0148's exponent is not a whole number of {code} minor units"),
            )
        })?;
        let mut d = Draft::new(stage, Network::Mastercard, minor, currency);
        d.transaction_id = field(31)
            .ok_or_else(|| ("missing_transaction_id", "no DE 31 acquirer reference data".to_owned()))?;
        d.local = local_time(field(12).unwrap_or(b""))
            .ok_or_else(|| ("invalid_date", "DE 12 is not a local date and time YYMMDDhhmmss".to_owned()))?;
        d.card = field(2).unwrap_or(b"");
        d.mcc = field(26).unwrap_or(b"");
        d.merchant_id = field(42).unwrap_or(b"");
        (d.merchant_name, d.merchant_country) = merchant(field(43).unwrap_or(b""));
        d.entry_mode = field(22).and_then(|p| p.get(6)).map(|&c| entry_mode(c));
        d.interchange_fee = interchange_fee(pds(146), currency);
        if stage == Stage::Chargeback {
            d.reason_code = field(25).unwrap_or(b"");
        }
        Ok(d)
    }
}

/// DE 4 in the currency's ISO 4217 minor units; PDS 0148 (`currency(3) exponent(1)`, repeated)
/// can state the exponent the file uses.
fn minor_units<'t>(amount: i64, currency: Currency, pds0148: impl Iterator<Item = &'t [u8]>) -> Option<i64> {
    let numeric = currency.numeric();
    let mut exponent = currency.exponent();
    for value in pds0148 {
        for entry in value.chunks_exact(4) {
            if digits(&entry[..3]) == Some(u64::from(numeric)) && entry[3].is_ascii_digit() {
                exponent = entry[3] - b'0';
            }
        }
    }
    rescale(amount, exponent, currency.exponent())
}

/// `YYMMDDhhmmss` (the century is 20).
fn local_time(t: &[u8]) -> Option<(i16, i8, i8, i8, i8, i8)> {
    if t.len() != 12 || !t.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let two = |i: usize| ((t[i] - b'0') * 10 + (t[i + 1] - b'0')) as i8;
    Some((2000 + i16::from(two(0)), two(2), two(4), two(6), two(8), two(10)))
}

/// DE 22 subfield 7, card data input mode, as a canonical entry mode.
fn entry_mode(c: u8) -> EntryMode {
    match c {
        b'5' | b'C' | b'F' => EntryMode::Chip,
        b'A' | b'M' | b'N' => EntryMode::Contactless,
        b'R' | b'S' | b'T' => EntryMode::Ecommerce,
        b'2' | b'B' => EntryMode::Magstripe,
        b'1' | b'6' => EntryMode::Manual,
        _ => EntryMode::Other,
    }
}

/// DE 43 `name\address\city\postcode(10)state(3)country(3)`: the name and the country.
fn merchant(de43: &[u8]) -> (&[u8], &[u8]) {
    let name = trim(de43.split(|&b| b == b'\\').next().unwrap_or(b""));
    let country = if de43.iter().filter(|&&b| b == b'\\').count() >= 3 && de43.len() >= 3 {
        trim(&de43[de43.len() - 3..])
    } else {
        b""
    };
    (name, country)
}

/// PDS 0146 (`type(2) processing(2) settlement(2) currency(3) amount(12) …(15)`, repeated):
/// the fee amounts of type `00`, interchange, in the transaction's currency.
fn interchange_fee<'t>(pds0146: impl Iterator<Item = &'t [u8]>, currency: Currency) -> Option<i64> {
    let numeric = u64::from(currency.numeric());
    let mut total = None;
    for value in pds0146 {
        for entry in value.chunks(36).filter(|e| e.len() >= 21) {
            if &entry[..2] == b"00" && digits(&entry[6..9]) == Some(numeric) {
                total = Some(total.unwrap_or(0) + i64::try_from(digits(&entry[9..21])?).ok()?);
            }
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn de43_and_time() {
        assert_eq!(
            merchant(b"CAFE ROMA\\1 MAIN ST\\SPRINGFIELD\\12345     IL USA"),
            (&b"CAFE ROMA"[..], &b"USA"[..])
        );
        assert_eq!(merchant(b"JUST A NAME"), (&b"JUST A NAME"[..], &b""[..]));
        assert_eq!(local_time(b"261130140509"), Some((2026, 11, 30, 14, 5, 9)));
        assert_eq!(local_time(b"2611301405"), None);
    }

    #[test]
    fn sniffs_framing_and_code() {
        let mut ascii = Vec::new();
        let body = b"1240\x00\x00\x00\x00\x00\x00\x00\x00rest-of-a-message";
        ascii.extend_from_slice(&(body.len() as u32).to_be_bytes());
        ascii.extend_from_slice(body);
        ascii.extend_from_slice(&[0, 0, 0, 0]);
        assert_eq!(sniff(&ascii), Some(Framing { blocked: false, ebcdic: false }));
        assert_eq!(sniff(b"transaction_id,amount\n"), None);
    }
}
