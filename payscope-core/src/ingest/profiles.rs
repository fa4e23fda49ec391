//! Mapping profiles: a bank's saved reading of a file layout. A profile holds mapping
//! overrides and is applied to every later table whose header has its fingerprint, so a
//! layout inference could not read is decided once by a person and then loads on its own.

use crate::error::{Error, Result};
use crate::facts::MappingProfile;
use csv::StringRecord;

impl MappingProfile {
    /// Checks a profile a person wrote: a name, a fingerprint of 16 hex digits, valid overrides.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: &str| Err(Error::invalid("invalid_profile", m));
        if self.name.trim().is_empty() || self.name.chars().count() > 200 {
            return bad("name must be 1–200 characters");
        }
        if self.fingerprint.len() != 16
            || !self.fingerprint.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        {
            return bad(
                "fingerprint must be the 16 lowercase hex digits a preview reports for the table's header",
            );
        }
        self.mapping.validate()
    }
}

/// The fingerprint of a header: the first 16 hex digits of SHA-256 over its cells (trimmed,
/// lowercase, trailing empty cells dropped). The same layout gives the same fingerprint
/// whatever its rows.
pub fn fingerprint(header: &StringRecord) -> String {
    use sha2::Digest;
    let cells: Vec<String> = header.iter().map(|c| c.trim().to_lowercase()).collect();
    let used = cells.iter().rposition(|c| !c.is_empty()).map_or(0, |i| i + 1);
    let mut h = sha2::Sha256::new();
    for c in &cells[..used] {
        h.update(c.as_bytes());
        h.update([0x1f]);
    }
    hex::encode(&h.finalize()[..8])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_ignore_case_spaces_and_trailing_empty_columns() {
        let a = fingerprint(&StringRecord::from(vec!["Transaction ID", " Amount", "", ""]));
        let b = fingerprint(&StringRecord::from(vec!["transaction id", "AMOUNT"]));
        assert_eq!(a, b);
        assert_eq!(a.len(), 16);
        assert_ne!(a, fingerprint(&StringRecord::from(vec!["Amount", "Transaction ID"])));
    }
}
