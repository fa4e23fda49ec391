//! Card numbers (PANs): Luhn detection, keyed tokenization and masking. A PAN is turned into
//! `issuer_bin` + `card_token` as soon as it is read and is never stored, logged or echoed.

use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretBox};
use sha2::Sha256;

use crate::facts::CardToken;

/// The deployment secret behind card tokens and artifact encryption.
pub struct PanKey {
    key: SecretBox<[u8; 32]>,
    /// HMAC state with the key already absorbed, cloned for each token.
    keyed: Hmac<Sha256>,
}

impl std::fmt::Debug for PanKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PanKey([REDACTED])")
    }
}

impl Clone for PanKey {
    fn clone(&self) -> Self {
        PanKey::new(*self.key.expose_secret())
    }
}

impl PanKey {
    /// Wraps 32 secret bytes.
    pub fn new(bytes: [u8; 32]) -> Self {
        let mut keyed = hmac_with(&bytes);
        keyed.update(b"card:");
        PanKey { key: SecretBox::new(Box::new(bytes)), keyed }
    }

    /// A fresh random key.
    pub fn generate() -> Self {
        use rand::RngCore;
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        PanKey::new(bytes)
    }

    /// A key derived from this one for a separate purpose (so the token key and the
    /// encryption key are never the same bytes).
    pub fn derive(&self, purpose: &str) -> [u8; 32] {
        let mut mac = hmac_with(self.key.expose_secret());
        mac.update(b"payscope/");
        mac.update(purpose.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// The card token of a PAN: HMAC-SHA256 over the digits, truncated to 128 bits.
    pub fn tokenize(&self, pan_digits: &str) -> CardToken {
        let mut mac = self.keyed.clone();
        mac.update(pan_digits.as_bytes());
        let full: [u8; 32] = mac.finalize().into_bytes().into();
        let mut t = [0u8; 16];
        t.copy_from_slice(&full[..16]);
        CardToken(t)
    }

    /// The raw key bytes, for persisting a generated embedded key.
    pub fn expose_bytes(&self) -> [u8; 32] {
        *self.key.expose_secret()
    }
}

fn hmac_with(key: &[u8; 32]) -> Hmac<Sha256> {
    match <Hmac<Sha256> as Mac>::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC accepts keys of any length"),
    }
}

/// Digits of `s` when it looks like a card number: 13–19 digits, optionally grouped with
/// spaces or dashes, passing the Luhn check.
pub fn pan_digits(s: &str) -> Option<String> {
    pan_digits_from(s, 13)
}

/// [`pan_digits`] accepting shorter numbers (from `min` digits): in a column named as card
/// numbers, 11- and 12-digit numbers passing the Luhn check are cards too (Maestro has 12).
pub fn pan_digits_from(s: &str, min: usize) -> Option<String> {
    let s = s.trim();
    if !(min..=23).contains(&s.len()) {
        return None;
    }
    let mut buf = [0u8; 23];
    let mut n = 0;
    for &b in s.as_bytes() {
        match b {
            b'0'..=b'9' => {
                buf[n] = b;
                n += 1;
            }
            b' ' | b'-' => {}
            _ => return None,
        }
    }
    let digits = &buf[..n];
    ((min..=19).contains(&n) && luhn_valid(digits)).then(|| String::from_utf8_lossy(digits).into_owned())
}

/// A card number masked by whoever wrote the file (`411234XXXXXX4113`, `4112 34** **** 4113`,
/// `XXX1234`, `546604XX`): its issuer BIN when the first six digits are shown, and the masked
/// form itself (mask characters as `X`, separators removed), which identifies the card as
/// well as the file lets anything identify it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaskedPan {
    /// The first six digits, when shown.
    pub bin: Option<String>,
    /// The masked form, normalized.
    pub text: String,
}

/// Reads a masked card number.
pub fn masked_pan(s: &str) -> Option<MaskedPan> {
    let s = s.trim();
    if !(6..=23).contains(&s.len()) {
        return None;
    }
    let mut text = String::with_capacity(s.len());
    let (mut digits, mut masks, mut lead) = (0, 0, 0);
    for c in s.chars() {
        match c {
            '0'..='9' => {
                if masks == 0 {
                    lead += 1;
                }
                digits += 1;
                text.push(c);
            }
            'X' | 'x' | '*' | '•' | '#' => {
                masks += 1;
                text.push('X');
            }
            ' ' | '-' => {}
            _ => return None,
        }
    }
    if masks < 2 || digits < 4 || digits + masks > 19 {
        return None;
    }
    Some(MaskedPan { bin: (lead >= 6).then(|| text[..6].to_owned()), text })
}

/// True when an ASCII digit string passes the Luhn check.
pub fn luhn_valid(digits: &[u8]) -> bool {
    luhn_sum(digits).is_multiple_of(10)
}

fn luhn_sum(digits: &[u8]) -> u32 {
    digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| {
            let v = (d - b'0') as u32;
            match (i % 2 == 1, v * 2) {
                (false, _) => v,
                (true, doubled) if doubled > 9 => doubled - 9,
                (true, doubled) => doubled,
            }
        })
        .sum()
}

/// The issuer BIN of a PAN (its first six digits).
pub fn issuer_bin(pan_digits: &str) -> String {
    pan_digits[..6.min(pan_digits.len())].to_owned()
}

/// A masked PAN for display: first six, last four (`534085******6325`).
pub fn mask(pan_digits: &str) -> String {
    let n = pan_digits.len();
    if n < 11 {
        return "*".repeat(n);
    }
    format!("{}{}{}", &pan_digits[..6], "*".repeat(n - 10), &pan_digits[n - 4..])
}

/// Replaces every card number inside free text with its mask (for error messages and logs).
pub fn redact(text: &str) -> String {
    redact_cow(text).into_owned()
}

/// [`redact`] without copying text that cannot hold a card number (fewer than 13 digits).
pub fn redact_cow(text: &str) -> std::borrow::Cow<'_, str> {
    if text.bytes().filter(u8::is_ascii_digit).count() < 13 {
        return std::borrow::Cow::Borrowed(text);
    }
    std::borrow::Cow::Owned(redact_digits(text))
}

fn redact_digits(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        match pan_digits(run) {
            Some(d) => out.push_str(&mask(&d)),
            None => out.push_str(run),
        }
        run.clear();
    };
    for c in text.chars() {
        if c.is_ascii_digit() || ((c == ' ' || c == '-') && !run.is_empty()) {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

/// Appends a Luhn check digit to `body` (used by the synthetic data generator and tests).
pub fn with_check_digit(body: &str) -> String {
    let with_zero = format!("{body}0");
    let check = (10 - luhn_sum(with_zero.as_bytes()) % 10) % 10;
    format!("{body}{check}")
}

/// A direct-mapped cache of card tokens (64 Ki slots, 1.5 MiB: it stays in cache, unlike a
/// map of every card in a large file). A miss costs one HMAC.
#[derive(Clone)]
pub(crate) struct TokenCache {
    slots: Vec<(u64, CardToken)>,
}

impl TokenCache {
    const BITS: u32 = 16;

    pub fn new() -> Self {
        TokenCache { slots: vec![(u64::MAX, CardToken([0; 16])); 1 << Self::BITS] }
    }

    pub fn get_or_insert(&mut self, digits: &str, key: &PanKey) -> CardToken {
        // PANs never start with 0, so the digits as a number identify the card.
        let Ok(n) = digits.parse::<u64>() else {
            return key.tokenize(digits);
        };
        let slot = (n.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - Self::BITS)) as usize;
        if self.slots[slot].0 == n {
            return self.slots[slot].1;
        }
        let token = key.tokenize(digits);
        self.slots[slot] = (n, token);
        token
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn_and_detection() {
        assert!(pan_digits("5340858851956325").is_some());
        assert!(pan_digits("4205 0949 9637 7998").is_some());
        assert!(pan_digits("4205094996377999").is_none());
        assert!(pan_digits("000000000001").is_none());
        assert!(pan_digits("378282246310005").is_some());
        assert!(pan_digits("630423337322").is_none());
        assert!(pan_digits_from("630423337322", 11).is_some());
        let m = masked_pan("411234XXXXXX4113").unwrap();
        assert_eq!((m.bin.as_deref(), m.text.as_str()), (Some("411234"), "411234XXXXXX4113"));
        assert_eq!(masked_pan("XXX1234").unwrap().bin, None);
        assert_eq!(masked_pan("546604XX").unwrap().bin.as_deref(), Some("546604"));
        assert!(masked_pan("IBAN").is_none() && masked_pan("12345678").is_none());
        assert_eq!(with_check_digit("420509499637799"), "4205094996377998");
    }

    #[test]
    fn tokens_are_keyed_and_stable() {
        let a = PanKey::new([1; 32]);
        let b = PanKey::new([2; 32]);
        assert_eq!(a.tokenize("5340858851956325"), a.tokenize("5340858851956325"));
        assert_ne!(a.tokenize("5340858851956325"), b.tokenize("5340858851956325"));
        assert_ne!(a.derive("artifacts"), a.derive("other"));
        assert!(!format!("{a:?}").contains('1'));
    }

    #[test]
    fn masking_and_redaction() {
        assert_eq!(mask("5340858851956325"), "534085******6325");
        assert_eq!(
            redact("row 3: `5340858851956325` is not an amount, ref 000000000001"),
            "row 3: `534085******6325` is not an amount, ref 000000000001"
        );
    }
}
