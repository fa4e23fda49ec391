//! ISO 3166-1 countries, stored as a one-byte index into the built-in table.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::iso3166::COUNTRIES;

fn alpha_index(c: u8) -> usize {
    (c.to_ascii_uppercase() - b'A') as usize
}

/// Table index of every alpha-2 code, by letter pair (`u8::MAX` for unassigned pairs).
fn alpha2_table() -> &'static [u8; 676] {
    static TABLE: std::sync::OnceLock<[u8; 676]> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t = [u8::MAX; 676];
        for (i, (a2, ..)) in COUNTRIES.iter().enumerate() {
            let b = a2.as_bytes();
            t[alpha_index(b[0]) * 26 + alpha_index(b[1])] = i as u8;
        }
        t
    })
}

/// Country index by alpha-3 code (`u8::MAX`: none); network files give one per row.
fn alpha3_table() -> &'static [u8; 17_576] {
    static TABLE: std::sync::OnceLock<[u8; 17_576]> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t = [u8::MAX; 17_576];
        for (i, (_, a3, _)) in COUNTRIES.iter().enumerate() {
            let b = a3.as_bytes();
            t[(alpha_index(b[0]) * 26 + alpha_index(b[1])) * 26 + alpha_index(b[2])] = i as u8;
        }
        t
    })
}

/// A country, always written as its alpha-2 code.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Country(u8);

impl Country {
    /// Parses alpha-2 (`US`), alpha-3 (`USA`) or numeric (`840`) codes, case-insensitively.
    pub fn parse(s: &str) -> Option<Country> {
        let s = s.trim();
        let b = s.as_bytes();
        match b.len() {
            2 if b.iter().all(u8::is_ascii_alphabetic) => {
                let slot = alpha2_table()[alpha_index(b[0]) * 26 + alpha_index(b[1])];
                (slot != u8::MAX).then_some(Country(slot))
            }
            3 if b.iter().all(u8::is_ascii_alphabetic) => {
                let slot =
                    alpha3_table()[(alpha_index(b[0]) * 26 + alpha_index(b[1])) * 26 + alpha_index(b[2])];
                (slot != u8::MAX).then_some(Country(slot))
            }
            1..=3 if b.iter().all(u8::is_ascii_digit) => {
                let n: u16 = s.parse().ok()?;
                COUNTRIES.iter().position(|(.., num)| *num == n).map(|i| Country(i as u8))
            }
            _ => None,
        }
    }

    /// The alpha-2 code.
    pub fn alpha2(self) -> &'static str {
        COUNTRIES[self.0 as usize].0
    }

    /// The alpha-3 code.
    pub fn alpha3(self) -> &'static str {
        COUNTRIES[self.0 as usize].1
    }

    /// The numeric code.
    pub fn numeric(self) -> u16 {
        COUNTRIES[self.0 as usize].2
    }

    /// The table index, for compact columnar storage.
    pub fn index(self) -> u8 {
        self.0
    }

    /// The country at a table index.
    pub fn from_index(i: u8) -> Option<Country> {
        ((i as usize) < COUNTRIES.len()).then_some(Country(i))
    }
}

impl fmt::Display for Country {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.alpha2())
    }
}

impl fmt::Debug for Country {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.alpha2())
    }
}

impl Serialize for Country {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.alpha2())
    }
}

impl<'de> Deserialize<'de> for Country {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Country::parse(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("`{s}` is not an ISO 3166 country")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_code_forms_resolve_to_alpha2() {
        for s in ["US", "us", "USA", "840", "usa"] {
            assert_eq!(Country::parse(s).map(Country::alpha2), Some("US"), "{s}");
        }
        assert_eq!(Country::parse("276").map(Country::alpha2), Some("DE"));
        assert_eq!(Country::parse("036").map(Country::alpha2), Some("AU"));
        assert_eq!(Country::parse("GBR").map(Country::alpha2), Some("GB"));
        assert_eq!(Country::parse("XX"), None);
        assert_eq!(Country::parse(""), None);
    }
}
