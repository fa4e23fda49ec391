//! Money as integer minor units with an ISO 4217 currency. No floating point anywhere:
//! decimal text is parsed digit by digit with overflow checks and formatted back exactly.

mod iso4217;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Result};
use iso4217::CURRENCIES;

fn code_slot(b: &[u8]) -> usize {
    b.iter().fold(0, |acc, c| acc * 26 + (c.to_ascii_uppercase() - b'A') as usize)
}

/// Table index of every alphabetic code, by letter triple (`u8::MAX` for unassigned codes).
fn code_table() -> &'static [u8] {
    static TABLE: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t = vec![u8::MAX; 26 * 26 * 26];
        for (i, (code, ..)) in CURRENCIES.iter().enumerate() {
            t[code_slot(code.as_bytes())] = i as u8;
        }
        t
    })
}

/// An ISO 4217 currency, stored as its index in the built-in table (one byte).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency(u8);

impl Currency {
    /// US dollar.
    pub const USD: Currency = Currency::const_lookup("USD");
    /// Euro.
    pub const EUR: Currency = Currency::const_lookup("EUR");
    /// Pound sterling.
    pub const GBP: Currency = Currency::const_lookup("GBP");
    /// Japanese yen (no minor unit).
    pub const JPY: Currency = Currency::const_lookup("JPY");
    /// Canadian dollar.
    pub const CAD: Currency = Currency::const_lookup("CAD");
    /// Kuwaiti dinar (three decimals).
    pub const KWD: Currency = Currency::const_lookup("KWD");

    const fn const_lookup(code: &str) -> Currency {
        let mut i = 0;
        while i < CURRENCIES.len() {
            let c = CURRENCIES[i].0.as_bytes();
            let k = code.as_bytes();
            if c[0] == k[0] && c[1] == k[1] && c[2] == k[2] {
                return Currency(i as u8);
            }
            i += 1;
        }
        panic!("currency missing from the ISO 4217 table");
    }

    /// Looks up an alphabetic code, case-insensitively (`usd`, `USD`).
    pub fn from_code(code: &str) -> Option<Currency> {
        let code = code.trim();
        if code.len() != 3 {
            return None;
        }
        let b = code.as_bytes();
        if !b.iter().all(u8::is_ascii_alphabetic) {
            return None;
        }
        let slot = code_table()[code_slot(b)];
        (slot != u8::MAX).then_some(Currency(slot))
    }

    /// Looks up a numeric code (`840` is USD).
    pub fn from_numeric(n: u16) -> Option<Currency> {
        CURRENCIES.iter().position(|c| c.1 == n).map(|i| Currency(i as u8))
    }

    /// Parses an alphabetic or numeric code (`EUR`, `978`, `036`).
    pub fn parse_any(s: &str) -> Option<Currency> {
        let s = s.trim();
        if !s.is_empty() && s.len() <= 3 && s.bytes().all(|b| b.is_ascii_digit()) {
            return s.parse().ok().and_then(Currency::from_numeric);
        }
        Currency::from_code(s)
    }

    /// The table index, for compact columnar storage.
    pub fn index(self) -> u8 {
        self.0
    }

    /// The currency at a table index.
    pub fn from_index(i: u8) -> Option<Currency> {
        ((i as usize) < CURRENCIES.len()).then_some(Currency(i))
    }

    /// Every currency in the table.
    pub fn all() -> impl Iterator<Item = Currency> {
        (0..CURRENCIES.len() as u8).map(Currency)
    }

    /// The alphabetic code.
    pub fn code(self) -> &'static str {
        CURRENCIES[self.0 as usize].0
    }

    /// The numeric code.
    pub fn numeric(self) -> u16 {
        CURRENCIES[self.0 as usize].1
    }

    /// Digits after the decimal point (JPY 0, USD 2, KWD 3).
    pub fn exponent(self) -> u8 {
        CURRENCIES[self.0 as usize].2
    }

    /// The currency's English name.
    pub fn name(self) -> &'static str {
        CURRENCIES[self.0 as usize].3
    }
}

impl FromStr for Currency {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Currency::parse_any(s)
            .ok_or_else(|| Error::invalid("unknown_currency", format!("`{s}` is not an ISO 4217 currency")))
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// An exact amount: integer minor units of a currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    /// Amount in minor units (cents for USD, yen for JPY, fils for KWD).
    pub minor: i64,
    /// The currency.
    pub currency: Currency,
}

impl Money {
    /// Builds an amount from minor units.
    pub const fn new(minor: i64, currency: Currency) -> Self {
        Self { minor, currency }
    }

    /// Parses a plain decimal (`-1234.5`, `0.07`, `12`) into minor units of `currency`.
    /// More than `exponent` decimals is an error unless the extra digits are zeros; the result
    /// is exact or an overflow error.
    pub fn parse_decimal(text: &str, currency: Currency) -> Result<Money> {
        let bad = |why: &str| Error::invalid("invalid_amount", format!("amount `{text}` {why}"));
        let s = text.trim();
        let (negative, digits) = match s.as_bytes().first() {
            Some(b'-') => (true, &s[1..]),
            Some(b'+') => (false, &s[1..]),
            _ => (false, s),
        };
        let (int_part, frac_part) = match digits.split_once('.') {
            Some((i, f)) => (i, f),
            None => (digits, ""),
        };
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(bad("is empty"));
        }
        if !int_part.bytes().all(|b| b.is_ascii_digit()) || !frac_part.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad("is not a decimal number"));
        }
        let minor = decimal_to_minor(int_part.as_bytes(), frac_part.as_bytes(), currency.exponent())
            .ok_or_else(|| bad(&format!("has more precision than {} allows or is too large", currency)))?;
        Ok(Money { minor: if negative { -minor } else { minor }, currency })
    }

    /// Formats the amount in major units with exactly `exponent` decimals (`-1234.50`).
    pub fn format_decimal(&self) -> String {
        format_minor(self.minor, self.currency.exponent(), false)
    }

    /// Formats with thousands separators (`1,234,567.89`), for summaries.
    pub fn format_grouped(&self) -> String {
        format_minor(self.minor, self.currency.exponent(), true)
    }

    /// The amount in major units as a JSON-friendly number; display only, never for arithmetic.
    pub fn major_units_for_display(&self) -> f64 {
        self.minor as f64 / 10f64.powi(self.currency.exponent() as i32)
    }

    /// Adds two amounts of the same currency, failing on overflow or currency mismatch.
    pub fn checked_add(self, other: Money) -> Result<Money> {
        if self.currency != other.currency {
            return Err(Error::invalid(
                "currency_mismatch",
                format!("cannot add {} to {} without a conversion rate", other.currency, self.currency),
            ));
        }
        self.minor
            .checked_add(other.minor)
            .map(|minor| Money { minor, currency: self.currency })
            .ok_or_else(|| Error::invalid("amount_overflow", "sum of amounts overflows 64-bit minor units"))
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.format_grouped(), self.currency)
    }
}

/// Converts integer and fraction digits to minor units with `exponent` decimals.
/// Extra fraction digits are accepted only when they are zeros. `None` on overflow or precision loss.
pub fn decimal_to_minor(int_digits: &[u8], frac_digits: &[u8], exponent: u8) -> Option<i64> {
    let exp = exponent as usize;
    let (kept, extra) = frac_digits.split_at(frac_digits.len().min(exp));
    if extra.iter().any(|&d| d != b'0') {
        return None;
    }
    let mut v: i64 = 0;
    for &d in int_digits.iter().chain(kept) {
        v = v.checked_mul(10)?.checked_add((d - b'0') as i64)?;
    }
    for _ in kept.len()..exp {
        v = v.checked_mul(10)?;
    }
    Some(v)
}

/// Formats minor units as a decimal with `exponent` places, optionally grouping thousands.
pub fn format_minor(minor: i64, exponent: u8, grouped: bool) -> String {
    let digits = minor.unsigned_abs().to_string();
    let exp = exponent as usize;
    let padded =
        if digits.len() <= exp { format!("{}{digits}", "0".repeat(exp + 1 - digits.len())) } else { digits };
    let (int_part, frac_part) = padded.split_at(padded.len() - exp);
    let mut out = String::with_capacity(padded.len() + 8);
    if minor < 0 {
        out.push('-');
    }
    if grouped {
        for (i, c) in int_part.chars().enumerate() {
            if i > 0 && (int_part.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
    } else {
        out.push_str(int_part);
    }
    if exp > 0 {
        out.push('.');
        out.push_str(frac_part);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn table_lookups() {
        assert_eq!(Currency::from_code("usd"), Some(Currency::USD));
        assert_eq!(Currency::from_numeric(978), Some(Currency::EUR));
        assert_eq!(Currency::parse_any("036").map(Currency::code), Some("AUD"));
        assert_eq!(Currency::JPY.exponent(), 0);
        assert_eq!(Currency::KWD.exponent(), 3);
        assert_eq!(Currency::from_code("XAU"), None);
        assert_eq!(Currency::from_code("ABC"), None);
        assert!(Currency::all().count() > 150);
    }

    #[test]
    fn exact_parsing() {
        let p = |s, c| Money::parse_decimal(s, c).map(|m| m.minor);
        assert_eq!(p("1234.56", Currency::USD).unwrap(), 123_456);
        assert_eq!(p("0.07", Currency::USD).unwrap(), 7);
        assert_eq!(p("12", Currency::USD).unwrap(), 1200);
        assert_eq!(p("-.5", Currency::USD).unwrap(), -50);
        assert_eq!(p("5196", Currency::JPY).unwrap(), 5196);
        assert_eq!(p("1.500", Currency::KWD).unwrap(), 1500);
        assert_eq!(p("10.10", Currency::JPY).ok(), None);
        assert_eq!(p("10.00", Currency::JPY).unwrap(), 10);
        assert_eq!(p("1.234", Currency::USD).ok(), None);
        assert_eq!(p("92233720368547758.08", Currency::USD).ok(), None);
        assert_eq!(p("92233720368547758.07", Currency::USD).unwrap(), i64::MAX);
        assert!(p("", Currency::USD).is_err() && p("1e5", Currency::USD).is_err());
    }

    #[test]
    fn formatting() {
        assert_eq!(Money::new(123_456_789, Currency::USD).format_grouped(), "1,234,567.89");
        assert_eq!(Money::new(-5, Currency::USD).format_decimal(), "-0.05");
        assert_eq!(Money::new(5196, Currency::JPY).format_grouped(), "5,196");
        assert_eq!(Money::new(1, Currency::KWD).format_decimal(), "0.001");
        assert_eq!(Money::new(i64::MIN, Currency::USD).format_decimal(), "-92233720368547758.08");
    }

    #[test]
    fn checked_add_refuses_mixing_and_overflow() {
        let a = Money::new(i64::MAX, Currency::USD);
        assert!(a.checked_add(Money::new(1, Currency::USD)).is_err());
        assert!(a.checked_add(Money::new(1, Currency::EUR)).is_err());
    }

    fn any_currency() -> impl Strategy<Value = Currency> {
        (0..Currency::all().count() as u8).prop_map(|i| Currency::from_index(i).unwrap())
    }

    proptest! {
        #[test]
        fn parse_format_round_trip(minor in (i64::MIN + 1)..=i64::MAX, currency in any_currency()) {
            let m = Money::new(minor, currency);
            prop_assert_eq!(Money::parse_decimal(&m.format_decimal(), currency).unwrap(), m);
            let ungrouped = m.format_grouped().replace(',', "");
            prop_assert_eq!(Money::parse_decimal(&ungrouped, currency).unwrap(), m);
        }

        #[test]
        fn canonical_text_round_trip(int in 0u64..10_000_000_000, frac in 0u32..100, neg: bool) {
            let text = format!("{}{int}.{frac:02}", if neg && (int > 0 || frac > 0) { "-" } else { "" });
            let m = Money::parse_decimal(&text, Currency::USD).unwrap();
            prop_assert_eq!(m.format_decimal(), text);
        }

        #[test]
        fn parsing_never_panics(s in "\\PC{0,40}", currency in any_currency()) {
            let _ = Money::parse_decimal(&s, currency);
        }
    }
}
