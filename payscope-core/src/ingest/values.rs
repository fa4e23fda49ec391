//! What a column's sampled values look like: the check a mapping candidate must pass before
//! it is taken (a transaction id that is the same on every row, or that a spreadsheet wrote as
//! `1.55274E+12`, identifies nothing), and the shapes that name a column whose header says
//! nothing (card numbers, currency codes, network names, timestamps, UUIDs).

use csv::StringRecord;

use super::approval::{lifecycle_word, status_word};
use super::kinds::{classify, method};
use super::mapping::Field;
use super::normalize::{
    excel_serial, is_scientific, is_time_only, looks_like_timestamp, normalize_mcc, parse_amount,
    parse_minor, parse_time, parse_when, DecimalStyle, RowZone,
};
use super::pan::{masked_pan, pan_digits, pan_digits_from, redact};
use super::vocabulary::{HeaderWords, W};
use crate::facts::{Country, EntryMode, Network};
use crate::money::Currency;

/// ISO 8583 response codes seen in authorization reports.
const RESPONSE_CODES: &[&str] = &[
    "00", "01", "02", "03", "04", "05", "06", "07", "10", "11", "12", "13", "14", "15", "19", "21", "25",
    "28", "30", "39", "41", "43", "51", "52", "53", "54", "55", "57", "58", "59", "61", "62", "63", "65",
    "75", "76", "77", "78", "85", "91", "92", "93", "94", "96", "N7", "1A",
];

/// The non-empty sampled values of one column.
pub(crate) struct Profile<'a> {
    values: Vec<&'a str>,
    rows: usize,
}

/// A value for a message: card numbers masked, cut to 40 characters.
pub(crate) fn example(v: &str) -> String {
    // Cut first, then redact what is shown: a cut can turn a run too long to be a card number
    // into one that is.
    match v.char_indices().nth(40) {
        Some((i, _)) => format!("{}…", redact(&v[..i])),
        None => redact(v),
    }
}

impl<'a> Profile<'a> {
    /// The values of column `col` in `sample`.
    pub fn of(sample: &'a [StringRecord], col: usize) -> Profile<'a> {
        let values =
            sample.iter().filter_map(|r| r.get(col)).map(str::trim).filter(|v| !v.is_empty()).collect();
        Profile { values, rows: sample.len() }
    }

    /// True when every sampled row leaves the column empty: it may still be the field (the
    /// rows sampled may all be ones without it), but a filled column that names the field as
    /// well is a better choice.
    pub fn is_blank(&self) -> bool {
        self.values.is_empty() && self.rows > 0
    }

    fn share(&self, pred: impl Fn(&str) -> bool) -> f64 {
        if self.values.is_empty() {
            return 0.0;
        }
        self.values.iter().filter(|v| pred(v)).count() as f64 / self.values.len() as f64
    }

    /// The first value that fails `pred` (for messages).
    fn counter_example(&self, pred: impl Fn(&str) -> bool) -> String {
        self.values.iter().find(|v| !pred(v)).map_or_else(String::new, |v| example(v))
    }

    fn distinct(&self) -> usize {
        let mut v = self.values.clone();
        v.sort_unstable();
        v.dedup();
        v.len()
    }

    /// Whether the values can be `field`: `Ok(quality 0–1)`, or why not.
    pub fn fits(&self, field: Field, hw: &HeaderWords) -> Result<f64, String> {
        if self.values.is_empty() {
            return Ok(0.0);
        }
        let need = |share: f64, min: f64, what: &str, pred: &dyn Fn(&str) -> bool| {
            if share >= min {
                Ok(share)
            } else {
                Err(format!("its values are not {what} (`{}`)", self.counter_example(pred)))
            }
        };
        let scientific = self.share(is_scientific);
        match field {
            Field::TransactionId => self.identifies(scientific),
            Field::Kind => {
                let known = self.share(|v| classify(v).is_known());
                let kinds = {
                    let mut k: Vec<_> = self.values.iter().map(|v| format!("{:?}", classify(v))).collect();
                    k.sort();
                    k.dedup();
                    k.len()
                };
                if known >= 0.5 {
                    Ok(known * 0.8 + if kinds >= 2 { 0.2 } else { 0.0 })
                } else {
                    Err(format!(
                        "its values are not row types (`{}`)",
                        self.counter_example(|v| classify(v).is_known())
                    ))
                }
            }
            Field::OccurredAt => self.dates(hw),
            Field::Time => need(self.share(|v| parse_time(v).is_some()), 0.5, "times of day", &|v| {
                parse_time(v).is_some()
            }),
            Field::Year => {
                let ok = |v: &str| v.parse::<u32>().is_ok_and(|y| (1970..=2100).contains(&y));
                need(self.share(ok), 0.5, "years", &ok)
            }
            Field::Month => {
                let ok = |v: &str| {
                    v.parse::<u32>().is_ok_and(|m| (1..=12).contains(&m)) || month_name(v).is_some()
                };
                need(self.share(ok), 0.5, "months", &ok)
            }
            Field::Day => {
                let ok = |v: &str| v.parse::<u32>().is_ok_and(|d| (1..=31).contains(&d));
                need(self.share(ok), 0.5, "days of the month", &ok)
            }
            Field::Zone => {
                let ok = |v: &str| RowZone::parse(v).is_some();
                need(self.share(ok), 0.5, "time zones", &ok)
            }
            // A clearly named amount column with bad cells is still the amount: its bad rows
            // are rejected one by one (and a mostly bad file fails for that).
            Field::Amount | Field::AmountDebit | Field::AmountCredit | Field::InterchangeFee => {
                need(self.share(is_number), 0.3, "amounts", &is_number)
            }
            Field::AmountMinor | Field::InterchangeFeeMinor => {
                let ok = |v: &str| parse_minor(v).is_ok();
                need(self.share(ok), 0.3, "whole minor units", &ok)
            }
            Field::Currency => {
                let ok = |v: &str| Currency::parse_any(v).is_some();
                need(self.share(ok), 0.5, "currency codes", &ok)
            }
            Field::Network => {
                let ok = |v: &str| method(v).is_some();
                need(self.share(ok), 0.5, "card networks or payment methods", &ok)
            }
            Field::ResponseCode => {
                let ok = |v: &str| v.len() <= 8 && !v.contains(char::is_whitespace);
                need(self.share(ok), 0.5, "response codes", &ok)
            }
            Field::Status => {
                let ok = |v: &str| status_word(v).is_some() || lifecycle_word(v).is_some();
                need(self.share(ok), 0.5, "approval or completion words", &ok)
            }
            Field::MerchantId if scientific >= 0.5 => Err(self.damaged()),
            Field::MerchantId => {
                let ok = |v: &str| v.chars().count() <= 64;
                need(self.share(ok), 0.5, "short ids", &ok)
            }
            Field::MerchantName if scientific >= 0.3 => Err(self.damaged()),
            Field::MerchantName => {
                let words = |v: &str| v.contains(char::is_alphabetic);
                need(self.share(words), 0.5, "names", &words)
            }
            Field::Mcc => {
                let ok = |v: &str| normalize_mcc(v).is_some();
                need(self.share(ok), 0.5, "four-digit category codes", &ok)
            }
            Field::MerchantCountry | Field::IssuerCountry => {
                let ok = |v: &str| Country::parse(v).is_some();
                need(self.share(ok), 0.5, "country codes", &ok)
            }
            Field::IssuerBin => {
                let ok = |v: &str| {
                    (6..=8).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_digit())
                        || masked_pan(v).is_some_and(|m| m.bin.is_some())
                        || pan_digits(v).is_some()
                };
                need(self.share(ok), 0.5, "BINs", &ok)
            }
            Field::Pan => {
                let ok = |v: &str| pan_digits_from(v, 11).is_some() || masked_pan(v).is_some();
                need(self.share(ok), 0.5, "card numbers", &ok)
            }
            Field::CardToken => {
                let ok = |v: &str| v.len() == 32 && v.bytes().all(|b| b.is_ascii_hexdigit());
                need(self.share(ok), 0.5, "32-character tokens", &ok)
            }
            Field::EntryMode => {
                let ok = |v: &str| EntryMode::parse(v).is_some_and(|e| e != EntryMode::Other);
                need(self.share(ok), 0.6, "entry modes", &ok)
            }
            Field::ReasonCode => {
                let ok = |v: &str| v.chars().count() <= 16;
                need(self.share(ok), 0.5, "reason codes", &ok)
            }
            Field::ResponseText | Field::Error | Field::FraudReported | Field::Description => Ok(1.0),
        }
    }

    fn damaged(&self) -> String {
        format!(
            "a spreadsheet wrote its values in scientific notation (`{}`), so their digits are lost",
            self.values.iter().find(|v| is_scientific(v)).map_or_else(String::new, |v| example(v))
        )
    }

    /// A transaction id must tell rows apart: not damaged by a spreadsheet, not one value on
    /// every row, not free text.
    fn identifies(&self, scientific: f64) -> Result<f64, String> {
        if scientific >= 0.3 {
            return Err(self.damaged());
        }
        if self.values.len() >= 5 && self.distinct() == 1 {
            return Err(format!(
                "it holds the same value (`{}`) on every sampled row, so it cannot tell transactions apart",
                example(self.values[0])
            ));
        }
        if self.share(|v| v.chars().count() > 64 || v.contains("  ")) >= 0.5 {
            return Err("its values are text, not ids".into());
        }
        Ok(1.0)
    }

    /// A date column must hold dates: a column of times without dates (`16:43.0`) lost them.
    fn dates(&self, hw: &HeaderWords) -> Result<f64, String> {
        let serials = hw.has(W::Date) || hw.has(W::Timestamp);
        let ok = |v: &str| parse_when(v).is_some() || serials && excel_serial(v).is_some();
        let share = self.share(ok);
        if share >= 0.5 {
            // One date on every row is the report's or a batch's date, not each event's.
            let constant = self.values.len() >= 10 && self.distinct() == 1;
            return Ok(if constant { share * 0.5 } else { share });
        }
        if self.share(is_time_only) >= 0.5 {
            return Err(format!(
                "its values hold a time of day but no date (`{}`): the dates were lost, as when a spreadsheet re-formats a timestamp column",
                example(self.values[0])
            ));
        }
        Err(format!("its values are not dates (`{}`)", self.counter_example(ok)))
    }

    /// The field values alone name, for a column whose header says nothing: (field, confidence).
    pub fn shape(&self) -> Option<(Field, f64)> {
        if self.values.len() < 3 {
            return None;
        }
        let candidates: [(Field, f64, f64); 8] = [
            (Field::Pan, self.share(|v| pan_digits(v).is_some()), 0.85),
            (Field::Pan, self.share(|v| masked_pan(v).is_some_and(|m| m.bin.is_some())), 0.8),
            (
                Field::Currency,
                self.share(|v| {
                    v.len() == 3
                        && v.bytes().all(|b| b.is_ascii_alphabetic())
                        && Currency::from_code(v).is_some()
                }),
                0.8,
            ),
            (
                Field::Network,
                self.share(|v| Network::parse(v).is_some_and(|n| !matches!(n, Network::Other(_)))),
                0.8,
            ),
            (Field::ResponseCode, self.share(|v| RESPONSE_CODES.contains(&v)), 0.75),
            (Field::OccurredAt, self.share(looks_like_timestamp), 0.7),
            (Field::TransactionId, self.share(is_uuid), 0.65),
            (
                Field::EntryMode,
                self.share(|v| {
                    !v.bytes().all(|b| b.is_ascii_digit())
                        && EntryMode::parse(v).is_some_and(|e| e != EntryMode::Other)
                }),
                0.65,
            ),
        ];
        candidates
            .into_iter()
            .filter(|(_, share, _)| *share >= 0.9)
            .map(|(f, share, weight)| (f, ((share * weight) * 100.0).round() / 100.0))
            .max_by(|a, b| a.1.total_cmp(&b.1))
    }
}

/// True when a value reads as a number in either decimal style (or scientific notation).
fn is_number(v: &str) -> bool {
    parse_amount(v, DecimalStyle::Dot, |_| 9).is_ok() || parse_amount(v, DecimalStyle::Comma, |_| 9).is_ok()
}

fn is_uuid(v: &str) -> bool {
    v.len() == 36
        && v.bytes().enumerate().all(|(i, b)| {
            if matches!(i, 8 | 13 | 18 | 23) {
                b == b'-'
            } else {
                b.is_ascii_hexdigit()
            }
        })
}

/// A month written as a name (`Jan`, `janvier`, `März`), 1–12.
pub(crate) fn month_name(v: &str) -> Option<u32> {
    const NAMES: [&[&str]; 12] = [
        &["jan", "ene", "gen", "janv"],
        &["feb", "fev", "fevr", "fév"],
        &["mar", "mrz", "marz"],
        &["apr", "abr", "avr"],
        &["may", "mai", "mag", "mayo"],
        &["jun", "juin", "giu"],
        &["jul", "juil", "lug"],
        &["aug", "ago", "aout"],
        &["sep", "set", "sept"],
        &["oct", "okt", "out", "ott"],
        &["nov"],
        &["dec", "dic", "dez"],
    ];
    let f = super::vocabulary::fold(v.trim());
    let head: String = f.chars().take(3).collect();
    NAMES.iter().position(|names| names.iter().any(|n| f == *n || head == *n)).map(|i| i as u32 + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_example_is_cut_then_redacted() {
        // 22 digits are no card number; the first 16, all the cut leaves, are one.
        let v = format!("{}4111111111111111999999", "x".repeat(24));
        assert_eq!(redact(&v), v);
        let shown = example(&v);
        assert_eq!(redact(&shown), shown);
        assert!(!shown.contains("4111111111111111"), "{shown}");
    }
}
