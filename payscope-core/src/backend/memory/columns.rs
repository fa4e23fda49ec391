//! Columnar storage of facts: dictionaries shared by a bank ([`Dicts`]) and time-sorted
//! [`Segment`]s, one per (load, stage). Every attribute is a small integer code, 0 meaning
//! "absent", so a fact costs about 50 bytes.

use crate::error::{Error, Result};
use crate::facts::{CardToken, Country, EntryMode, Fact, Network};

use super::interner::Interner;

/// Flag bits of a fact.
pub(crate) mod flag {
    /// `approved` is known.
    pub const APPROVED_KNOWN: u8 = 1;
    /// Approved.
    pub const APPROVED: u8 = 2;
    /// `fraud_reported`.
    pub const FRAUD_REPORTED: u8 = 4;
    /// The fact is the one that counts its transaction in fraud metrics.
    pub const FRAUD_COUNTED: u8 = 8;
}

const NONE_CODE: u32 = u32::MAX;
const NUMERIC_TX_MAX_LEN: usize = 17;
const INTERNED_TX: u64 = 1 << 62;

/// Dictionaries that turn text attributes into codes.
#[derive(Debug, Default, Clone)]
pub(crate) struct Dicts {
    /// Merchant ids and names.
    pub strings: Interner<Box<str>>,
    /// Response and reason codes (kept apart so their codes stay small enough for rollup keys).
    pub codes: Interner<Box<str>>,
    /// Networks outside the known six.
    pub other_networks: Interner<Box<str>>,
    /// `(merchant id string, merchant name string)` pairs, `NONE_CODE` for absent parts.
    pub merchants: Interner<(u32, u32)>,
    /// Card tokens.
    pub cards: Interner<[u8; 16]>,
    /// Transaction ids that are not short digit strings.
    pub tx_strings: Interner<Box<str>>,
}

impl Dicts {
    /// Encodes a transaction id: up to 17 digits are packed with their length (so leading
    /// zeros survive); anything else is interned.
    pub fn tx_key(&mut self, id: &str) -> u64 {
        numeric_tx_key(id).unwrap_or_else(|| INTERNED_TX | self.tx_strings.intern_str(id) as u64)
    }

    /// The key of a transaction id, if it is known (never adds).
    pub fn find_tx_key(&self, id: &str) -> Option<u64> {
        numeric_tx_key(id).or_else(|| self.tx_strings.find(id).map(|c| INTERNED_TX | c as u64))
    }

    /// The transaction id of a key.
    pub fn tx_string(&self, key: u64) -> String {
        if key & INTERNED_TX != 0 {
            self.tx_strings.get((key & !INTERNED_TX) as u32).map(|s| s.to_string()).unwrap_or_default()
        } else {
            let len = (key >> 57) as usize;
            format!("{:0len$}", key & ((1 << 57) - 1), len = len)
        }
    }

    /// Network code: 0 absent, 1–6 the known networks, 7 and up others.
    pub fn network_code(&mut self, n: Option<&Network>) -> Result<u8> {
        Ok(match n {
            None => 0,
            Some(Network::Other(s)) => {
                let c = self.other_networks.intern_str(s) + 7;
                u8::try_from(c)
                    .map_err(|_| Error::invalid("too_many_networks", "more than 248 distinct networks"))?
            }
            Some(known) => Network::KNOWN.iter().position(|k| k == known).map_or(0, |i| i as u8 + 1),
        })
    }

    /// The network of a code.
    pub fn network(&self, code: u8) -> Option<Network> {
        match code {
            0 => None,
            1..=6 => Some(Network::KNOWN[code as usize - 1].clone()),
            c => self.other_networks.get(c as u32 - 7).map(|s| Network::Other(s.to_string())),
        }
    }

    /// Code of an optional string in `strings`, `NONE_CODE` when absent.
    fn string_code(&mut self, s: Option<&str>) -> u32 {
        s.map_or(NONE_CODE, |s| self.strings.intern_str(s))
    }

    /// Merchant code: 0 absent, else pair index + 1.
    pub fn merchant_code(&mut self, id: Option<&str>, name: Option<&str>) -> u32 {
        if id.is_none() && name.is_none() {
            return 0;
        }
        let pair = (self.string_code(id), self.string_code(name));
        self.merchants.intern(pair) + 1
    }

    /// Merchant id string code + 1 (0 absent) of a merchant code.
    pub fn merchant_id_code(&self, merchant: u32) -> u32 {
        self.merchant_part(merchant, |p| p.0)
    }

    /// Merchant name string code + 1 (0 absent) of a merchant code.
    pub fn merchant_name_code(&self, merchant: u32) -> u32 {
        self.merchant_part(merchant, |p| p.1)
    }

    fn merchant_part(&self, merchant: u32, part: fn(&(u32, u32)) -> u32) -> u32 {
        match merchant.checked_sub(1).and_then(|m| self.merchants.get(m)) {
            Some(p) if part(p) != NONE_CODE => part(p) + 1,
            _ => 0,
        }
    }

    /// The string with code + 1 = `code`.
    pub fn string(&self, code: u32) -> Option<&str> {
        code.checked_sub(1).and_then(|c| self.strings.get(c)).map(|s| &**s)
    }

    /// Response/reason code: 0 absent, else dictionary index + 1.
    pub fn code_of(&mut self, s: Option<&str>) -> u32 {
        s.map_or(0, |s| self.codes.intern_str(s) + 1)
    }

    /// The response/reason text of a code.
    pub fn code_text(&self, code: u32) -> Option<&str> {
        code.checked_sub(1).and_then(|c| self.codes.get(c)).map(|s| &**s)
    }

    /// Card code: 0 absent, else index + 1.
    pub fn card_code(&mut self, t: Option<&CardToken>) -> u32 {
        t.map_or(0, |t| self.cards.intern(t.0) + 1)
    }

    /// Heap bytes of every dictionary.
    pub fn heap_bytes(&self) -> usize {
        self.strings.heap_bytes_deep()
            + self.codes.heap_bytes_deep()
            + self.other_networks.heap_bytes_deep()
            + self.merchants.heap_bytes()
            + self.cards.heap_bytes()
            + self.tx_strings.heap_bytes_deep()
    }
}

fn numeric_tx_key(id: &str) -> Option<u64> {
    let b = id.as_bytes();
    if b.is_empty() || b.len() > NUMERIC_TX_MAX_LEN || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let v = b.iter().fold(0u64, |a, d| a * 10 + (d - b'0') as u64);
    Some(v | (b.len() as u64) << 57)
}

/// MCC code: 0 absent, else the four-digit value + 1.
pub(crate) fn mcc_code(mcc: Option<&str>) -> Result<u16> {
    match mcc {
        None => Ok(0),
        Some(s) if s.len() == 4 && s.bytes().all(|b| b.is_ascii_digit()) => {
            Ok(s.parse::<u16>().unwrap_or(0) + 1)
        }
        Some(s) => Err(Error::invalid("invalid_mcc", format!("mcc `{s}` is not four digits"))),
    }
}

/// BIN code: 0 absent, else the 6–8 digit value with its length in the top bits.
pub(crate) fn bin_code(bin: Option<&str>) -> Result<u32> {
    match bin {
        None => Ok(0),
        Some(s) if (6..=8).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit()) => {
            Ok(s.parse::<u32>().unwrap_or(0) | (s.len() as u32) << 27)
        }
        Some(s) => Err(Error::invalid("invalid_issuer_bin", format!("issuer_bin `{s}` is not 6–8 digits"))),
    }
}

/// The BIN text of a code.
pub(crate) fn bin_text(code: u32) -> Option<String> {
    (code != 0).then(|| format!("{:0len$}", code & ((1 << 27) - 1), len = (code >> 27) as usize))
}

/// Country code: 0 absent, else table index + 1.
pub(crate) fn country_code(c: Option<Country>) -> u8 {
    c.map_or(0, |c| c.index() + 1)
}

/// Entry-mode code: 0 absent, else position in [`EntryMode::ALL`] + 1.
pub(crate) fn entry_code(e: Option<EntryMode>) -> u8 {
    e.and_then(|e| EntryMode::ALL.iter().position(|x| *x == e)).map_or(0, |i| i as u8 + 1)
}

/// A column that is only allocated once a non-zero value appears.
#[derive(Debug, Clone, Default)]
pub(crate) struct SparseColumn<T> {
    values: Option<Vec<T>>,
}

impl<T: Copy + Default + PartialEq> SparseColumn<T> {
    fn push(&mut self, len_before: usize, v: T) {
        match &mut self.values {
            Some(col) => col.push(v),
            None if v == T::default() => {}
            None => {
                let mut col = vec![T::default(); len_before];
                col.push(v);
                self.values = Some(col);
            }
        }
    }

    /// The value at `i` (default when the column was never allocated).
    #[inline]
    pub fn get(&self, i: usize) -> T {
        self.values.as_ref().map_or(T::default(), |c| c[i])
    }

    fn permute(&self, order: &[u32]) -> Self {
        SparseColumn { values: self.values.as_ref().map(|c| order.iter().map(|&i| c[i as usize]).collect()) }
    }

    fn heap_bytes(&self) -> usize {
        self.values.as_ref().map_or(0, |c| c.capacity() * std::mem::size_of::<T>())
    }
}

/// The facts of one stage from one load, sorted by time.
#[derive(Debug, Clone, Default)]
pub(crate) struct Segment {
    /// Index of the report in the bank's report list.
    pub report: u32,
    pub ts: Vec<i64>,
    pub amount: Vec<i64>,
    pub tx: Vec<u64>,
    pub currency: Vec<u8>,
    pub network: Vec<u8>,
    pub entry_mode: Vec<u8>,
    pub flags: Vec<u8>,
    pub merchant: Vec<u32>,
    pub mcc: Vec<u16>,
    pub merchant_country: Vec<u8>,
    pub issuer_country: Vec<u8>,
    pub bin: Vec<u32>,
    pub card: Vec<u32>,
    pub response: SparseColumn<u32>,
    pub reason: SparseColumn<u32>,
    /// Interchange fees (absent for most stages, so usually not allocated).
    pub fee: SparseColumn<FeeCell>,
    /// Source row numbers; empty when they are `first_row, first_row + 1, ...` in time order.
    pub rows: Vec<u32>,
    pub first_row: u32,
}

/// An optional interchange fee in eight bytes: `i64::MIN` is "absent", and is the default, so
/// fee-less segments allocate nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FeeCell(i64);

impl Default for FeeCell {
    fn default() -> Self {
        FeeCell(i64::MIN)
    }
}

impl FeeCell {
    /// Wraps an optional fee (a fee of exactly `i64::MIN` is not representable and reads as absent).
    pub fn new(fee: Option<i64>) -> Self {
        FeeCell(fee.unwrap_or(i64::MIN))
    }

    /// The fee, if present.
    pub fn value(self) -> Option<i64> {
        (self.0 != i64::MIN).then_some(self.0)
    }
}

impl Segment {
    /// Number of facts.
    pub fn len(&self) -> usize {
        self.ts.len()
    }

    /// The index range of facts with `from <= ts < to`.
    pub fn range(&self, from: i64, to: i64) -> std::ops::Range<usize> {
        let lo = self.ts.partition_point(|&t| t < from);
        let hi = self.ts.partition_point(|&t| t < to);
        lo..hi.max(lo)
    }

    /// The source row of fact `i`.
    pub fn row(&self, i: usize) -> u32 {
        if self.rows.is_empty() {
            self.first_row + i as u32
        } else {
            self.rows[i]
        }
    }

    /// Heap bytes held by the columns.
    pub fn heap_bytes(&self) -> usize {
        self.ts.capacity() * 8
            + self.amount.capacity() * 8
            + self.tx.capacity() * 8
            + self.currency.capacity()
            + self.network.capacity()
            + self.entry_mode.capacity()
            + self.flags.capacity()
            + self.merchant.capacity() * 4
            + self.mcc.capacity() * 2
            + self.merchant_country.capacity()
            + self.issuer_country.capacity()
            + self.bin.capacity() * 4
            + self.card.capacity() * 4
            + self.response.heap_bytes()
            + self.reason.heap_bytes()
            + self.fee.heap_bytes()
            + self.rows.capacity() * 4
    }

    /// Appends a fact whose text attributes are encoded with `dicts`.
    pub fn push(&mut self, f: &Fact, tx: u64, dicts: &mut Dicts) -> Result<()> {
        let n = self.len();
        let mut flags = 0;
        if let Some(a) = f.approved {
            flags |= flag::APPROVED_KNOWN | if a { flag::APPROVED } else { 0 };
        }
        if f.fraud_reported {
            flags |= flag::FRAUD_REPORTED;
        }
        let mcc = mcc_code(f.mcc.as_deref())?;
        let bin = bin_code(f.issuer_bin.as_deref())?;
        let network = dicts.network_code(f.network.as_ref())?;
        self.ts.push(f.occurred_at.0);
        self.amount.push(f.amount.minor);
        self.tx.push(tx);
        self.currency.push(f.amount.currency.index());
        self.network.push(network);
        self.entry_mode.push(entry_code(f.entry_mode));
        self.flags.push(flags);
        self.merchant.push(dicts.merchant_code(f.merchant_id.as_deref(), f.merchant_name.as_deref()));
        self.mcc.push(mcc);
        self.merchant_country.push(country_code(f.merchant_country));
        self.issuer_country.push(country_code(f.issuer_country));
        self.bin.push(bin);
        self.card.push(dicts.card_code(f.card_token.as_ref()));
        let response = dicts.code_of(f.response_code.as_deref());
        self.response.push(n, response);
        let reason = dicts.code_of(f.reason_code.as_deref());
        self.reason.push(n, reason);
        self.fee.push(n, FeeCell::new(f.interchange_fee));
        self.rows.push(f.lineage.row);
        Ok(())
    }

    /// A copy keeping the facts at `order`, in that order, with codes translated by `remap`.
    pub fn select(&self, order: &[u32], remap: &Remap) -> Segment {
        let pick = |v: &Vec<u8>| order.iter().map(|&i| v[i as usize]).collect::<Vec<u8>>();
        let rows: Vec<u32> = order.iter().map(|&i| self.rows[i as usize]).collect();
        let consecutive = rows.windows(2).all(|w| w[1] == w[0] + 1);
        let mut response = self.response.permute(order);
        let mut reason = self.reason.permute(order);
        for col in [&mut response, &mut reason] {
            if let Some(values) = &mut col.values {
                values.iter_mut().for_each(|c| *c = remap.code(*c));
            }
        }
        Segment {
            report: self.report,
            ts: order.iter().map(|&i| self.ts[i as usize]).collect(),
            amount: order.iter().map(|&i| self.amount[i as usize]).collect(),
            tx: order.iter().map(|&i| remap.tx(self.tx[i as usize])).collect(),
            currency: pick(&self.currency),
            network: order.iter().map(|&i| remap.network(self.network[i as usize])).collect(),
            entry_mode: pick(&self.entry_mode),
            flags: pick(&self.flags),
            merchant: order.iter().map(|&i| remap.merchant(self.merchant[i as usize])).collect(),
            mcc: order.iter().map(|&i| self.mcc[i as usize]).collect(),
            merchant_country: pick(&self.merchant_country),
            issuer_country: pick(&self.issuer_country),
            bin: order.iter().map(|&i| self.bin[i as usize]).collect(),
            card: order.iter().map(|&i| remap.card(self.card[i as usize])).collect(),
            response,
            reason,
            fee: self.fee.permute(order),
            first_row: rows.first().copied().unwrap_or(1),
            rows: if consecutive { Vec::new() } else { rows },
        }
    }
}

/// Translation of a load's local dictionary codes into the bank's codes.
#[derive(Debug, Default)]
pub(crate) struct Remap {
    merchants: Vec<u32>,
    codes: Vec<u32>,
    networks: Vec<u8>,
    cards: Vec<u32>,
    tx_strings: Vec<u32>,
}

impl Remap {
    /// Interns every value of `local` into `bank` and records the code translation.
    pub fn build(local: &Dicts, bank: &mut Dicts) -> Result<Remap> {
        let strings: Vec<u32> = local.strings.values().iter().map(|s| bank.strings.intern_str(s)).collect();
        let str_code = |c: u32| {
            if c == NONE_CODE {
                NONE_CODE
            } else {
                strings[c as usize]
            }
        };
        let merchants = local
            .merchants
            .values()
            .iter()
            .map(|&(i, n)| bank.merchants.intern((str_code(i), str_code(n))) + 1)
            .collect();
        let codes = local.codes.values().iter().map(|s| bank.codes.intern_str(s) + 1).collect();
        let networks = local
            .other_networks
            .values()
            .iter()
            .map(|s| bank.network_code(Some(&Network::Other(s.to_string()))))
            .collect::<Result<_>>()?;
        let cards = local.cards.values().iter().map(|c| bank.cards.intern(*c) + 1).collect();
        let tx_strings = local.tx_strings.values().iter().map(|s| bank.tx_strings.intern_str(s)).collect();
        Ok(Remap { merchants, codes, networks, cards, tx_strings })
    }

    fn merchant(&self, c: u32) -> u32 {
        if c == 0 {
            0
        } else {
            self.merchants[c as usize - 1]
        }
    }

    fn code(&self, c: u32) -> u32 {
        if c == 0 {
            0
        } else {
            self.codes[c as usize - 1]
        }
    }

    fn network(&self, c: u8) -> u8 {
        if c < 7 {
            c
        } else {
            self.networks[c as usize - 7]
        }
    }

    fn card(&self, c: u32) -> u32 {
        if c == 0 {
            0
        } else {
            self.cards[c as usize - 1]
        }
    }

    /// The bank key of a local transaction key.
    pub fn tx(&self, k: u64) -> u64 {
        if k & INTERNED_TX != 0 {
            INTERNED_TX | self.tx_strings[(k & !INTERNED_TX) as usize] as u64
        } else {
            k
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transaction_keys_keep_leading_zeros() {
        let mut d = Dicts::default();
        for id in ["000000000001", "1", "12345678901234567", "123456789012345678901234", "ARN-77", "0"] {
            let k = d.tx_key(id);
            assert_eq!(d.tx_string(k), id);
            assert_eq!(d.find_tx_key(id), Some(k));
        }
        assert_ne!(d.tx_key("01"), d.tx_key("1"));
    }

    #[test]
    fn bin_and_mcc_codes() {
        assert_eq!(bin_text(bin_code(Some("453201")).unwrap()).as_deref(), Some("453201"));
        assert_eq!(bin_text(bin_code(Some("02345678")).unwrap()).as_deref(), Some("02345678"));
        assert!(bin_code(Some("12345")).is_err());
        assert_eq!(mcc_code(Some("0742")).unwrap(), 743);
        assert!(mcc_code(Some("74")).is_err());
    }
}
