//! The canonical model of docs/ingestion.md: one [`Fact`] per transaction stage, with lineage back to
//! the report row it came from, and the [`Report`] status that describes a loaded file.

mod country;
mod iso3166;
mod load;
mod report;

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub use country::Country;
pub use load::{
    Control, MappingOverrides, MappingProfile, Preview, ProfileDraft, SectionInfo, SkipCount, Structure,
};
pub use report::{
    MappingDecision, Report, ReportId, ReportOptions, ReportStatus, ReportType, RowError, Sha256,
};

use crate::calendar::Timestamp;
use crate::money::Money;

/// The stage of a transaction a fact records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Stage {
    /// An authorization attempt (approved or declined).
    Auth,
    /// A clearing (presentment) record.
    Clearing,
    /// A settlement record.
    Settlement,
    /// A refund of an earlier transaction.
    Refund,
    /// A chargeback (dispute).
    Chargeback,
    /// A fraud report (TC40 / SAFE), dated at the original transaction.
    Fraud,
}

impl Stage {
    /// All stages, in lifecycle order.
    pub const ALL: [Stage; 6] =
        [Stage::Auth, Stage::Clearing, Stage::Settlement, Stage::Refund, Stage::Chargeback, Stage::Fraud];

    /// The wire name (`AUTH`, `CLEARING`, ...).
    pub const fn as_str(self) -> &'static str {
        match self {
            Stage::Auth => "AUTH",
            Stage::Clearing => "CLEARING",
            Stage::Settlement => "SETTLEMENT",
            Stage::Refund => "REFUND",
            Stage::Chargeback => "CHARGEBACK",
            Stage::Fraud => "FRAUD",
        }
    }

    /// Parses a stage or report-type word (`AUTH`, `authorization`, `settle`, `cb`, `tc40`, ...).
    pub fn parse(s: &str) -> Option<Stage> {
        let s = s.trim().to_ascii_lowercase();
        Some(match s.as_str() {
            "auth" | "authorization" | "authorisation" | "authorizations" | "authorized" | "a" | "0100" => {
                Stage::Auth
            }
            "clearing" | "clear" | "cleared" | "presentment" | "capture" | "first_presentment" | "c" => {
                Stage::Clearing
            }
            "settlement" | "settle" | "settled" | "funding" | "s" => Stage::Settlement,
            "refund" | "refunds" | "credit" | "return" | "r" => Stage::Refund,
            "chargeback" | "chargebacks" | "cb" | "dispute" | "disputes" | "retrieval" => Stage::Chargeback,
            "fraud" | "tc40" | "safe" | "fraud_report" | "f" => Stage::Fraud,
            _ => return None,
        })
    }

    /// Index 0–5, for compact storage.
    pub const fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A card network.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Network {
    /// Visa.
    Visa,
    /// Mastercard.
    Mastercard,
    /// American Express.
    Amex,
    /// Discover.
    Discover,
    /// UnionPay.
    Unionpay,
    /// JCB.
    Jcb,
    /// Any other network, as lowercase text.
    Other(String),
}

impl Network {
    /// The known networks.
    pub const KNOWN: [Network; 6] = [
        Network::Visa,
        Network::Mastercard,
        Network::Amex,
        Network::Discover,
        Network::Unionpay,
        Network::Jcb,
    ];

    /// Parses the many spellings networks appear under (`VISA`, `MC`, `Master Card`,
    /// `American Express`, and the card variants of processor reports: `visadankort`,
    /// `mcstandarddebit`, `Visa (VI) - Credit`, `Chase VISA Credit`). Unknown non-empty names
    /// become [`Network::Other`] in lowercase; empty text is `None`.
    pub fn parse(s: &str) -> Option<Network> {
        // Normalized into a stack buffer: this runs for every row of every report.
        let mut buf = [0u8; 64];
        let mut n = 0;
        for b in s.bytes().filter(u8::is_ascii_alphanumeric) {
            if n == buf.len() {
                return Some(Network::Other(s.trim().to_ascii_lowercase()));
            }
            buf[n] = b.to_ascii_lowercase();
            n += 1;
        }
        let key = std::str::from_utf8(&buf[..n]).unwrap_or("");
        Some(match key {
            "" => return None,
            "visa" | "vi" | "vis" | "visanet" | "visadebit" | "visacredit" => Network::Visa,
            "mastercard" | "mc" | "master" | "mcard" | "maestro" | "mastercarddebit" | "mcrd" => {
                Network::Mastercard
            }
            "amex" | "americanexpress" | "ax" | "amx" => Network::Amex,
            "discover" | "disc" | "ds" | "dinersclub" | "diners" => Network::Discover,
            "unionpay" | "cup" | "chinaunionpay" | "up" => Network::Unionpay,
            "jcb" | "japancreditbureau" => Network::Jcb,
            _ => match Network::variant(key) {
                Some(n) => n,
                None => Network::Other(s.trim().to_ascii_lowercase()),
            },
        })
    }

    /// A card variant or a brand written with qualifiers.
    fn variant(key: &str) -> Option<Network> {
        const MC_QUALIFIERS: &[&str] = &[
            "standard",
            "premium",
            "corporate",
            "commercial",
            "debit",
            "credit",
            "prepaid",
            "business",
            "fleet",
            "purchasing",
            "pro",
            "super",
            "world",
            "gold",
            "platinum",
            "signature",
            "consumer",
        ];
        let starts = |p: &str| key.starts_with(p);
        Some(if starts("visa") || key.contains("visa") {
            Network::Visa
        } else if starts("mastercard")
            || starts("maestro")
            || key.strip_prefix("mc").is_some_and(|rest| MC_QUALIFIERS.iter().any(|q| rest.starts_with(q)))
        {
            Network::Mastercard
        } else if starts("amex") || starts("americanexpress") {
            Network::Amex
        } else if starts("discover") || starts("diners") {
            Network::Discover
        } else if starts("jcb") {
            Network::Jcb
        } else if starts("unionpay") || starts("chinaunionpay") {
            Network::Unionpay
        } else {
            return None;
        })
    }

    /// The canonical lowercase name.
    pub fn as_str(&self) -> &str {
        match self {
            Network::Visa => "visa",
            Network::Mastercard => "mastercard",
            Network::Amex => "amex",
            Network::Discover => "discover",
            Network::Unionpay => "unionpay",
            Network::Jcb => "jcb",
            Network::Other(s) => s,
        }
    }

    /// A display name (`Visa`, `Mastercard`, `Amex`).
    pub fn display_name(&self) -> String {
        match self {
            Network::Visa => "Visa".into(),
            Network::Mastercard => "Mastercard".into(),
            Network::Amex => "Amex".into(),
            Network::Discover => "Discover".into(),
            Network::Unionpay => "UnionPay".into(),
            Network::Jcb => "JCB".into(),
            Network::Other(s) => s.clone(),
        }
    }
}

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Network {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Network {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Network::parse(&s).ok_or_else(|| serde::de::Error::custom("network must not be empty"))
    }
}

/// How the card was presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryMode {
    /// EMV chip.
    Chip,
    /// Contactless (NFC).
    Contactless,
    /// Card not present, online.
    Ecommerce,
    /// Magnetic stripe.
    Magstripe,
    /// Key-entered.
    Manual,
    /// Anything else.
    Other,
}

impl EntryMode {
    /// All modes.
    pub const ALL: [EntryMode; 6] = [
        EntryMode::Chip,
        EntryMode::Contactless,
        EntryMode::Ecommerce,
        EntryMode::Magstripe,
        EntryMode::Manual,
        EntryMode::Other,
    ];

    /// Parses a name (`chip`, `EMV`, `tap`, `CNP`, `swiped`, `keyed`) or an ISO 8583 POS entry
    /// mode (`05` chip, `07` contactless, `81` e-commerce, `90` magstripe, `01` manual; only
    /// the first two digits of a three-digit field 22 matter).
    pub fn parse(s: &str) -> Option<EntryMode> {
        let t = s.trim();
        if !t.is_empty() && t.len() <= 3 && t.bytes().all(|b| b.is_ascii_digit()) {
            let pan_mode = if t.len() == 3 { &t[..2] } else { t };
            return Some(match pan_mode.parse::<u8>().ok()? {
                1 | 6 => EntryMode::Manual,
                2 | 80 | 90 => EntryMode::Magstripe,
                5 | 79 | 95 => EntryMode::Chip,
                7 | 91 => EntryMode::Contactless,
                9 | 10 | 81 | 82 => EntryMode::Ecommerce,
                _ => EntryMode::Other,
            });
        }
        let key: String =
            t.chars().filter(|c| c.is_ascii_alphanumeric()).collect::<String>().to_ascii_lowercase();
        if key.is_empty() {
            return None;
        }
        // The whole value, else its first word that names a mode (`Swipe Transaction`).
        let mode = EntryMode::word(&key).or_else(|| {
            t.split(|c: char| !c.is_ascii_alphanumeric())
                .find_map(|w| EntryMode::word(&w.to_ascii_lowercase()))
        });
        Some(mode.unwrap_or(EntryMode::Other))
    }

    fn word(key: &str) -> Option<EntryMode> {
        Some(match key {
            "chip" | "emv" | "icc" | "chipread" | "dip" | "integratedcircuitcard" => EntryMode::Chip,
            "contactless" | "nfc" | "tap" | "ctls" | "proximity" | "contactlesschip" | "wallet" => {
                EntryMode::Contactless
            }
            "ecommerce" | "ecom" | "online" | "cnp" | "cardnotpresent" | "web" | "internet" | "moto" => {
                EntryMode::Ecommerce
            }
            "magstripe" | "swipe" | "swiped" | "mag" | "magneticstripe" | "stripe" | "fallback" => {
                EntryMode::Magstripe
            }
            "manual" | "keyed" | "keyentered" | "manualentry" | "pan" => EntryMode::Manual,
            _ => return None,
        })
    }

    /// The canonical name.
    pub const fn as_str(self) -> &'static str {
        match self {
            EntryMode::Chip => "chip",
            EntryMode::Contactless => "contactless",
            EntryMode::Ecommerce => "ecommerce",
            EntryMode::Magstripe => "magstripe",
            EntryMode::Manual => "manual",
            EntryMode::Other => "other",
        }
    }
}

impl fmt::Display for EntryMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A keyed, truncated HMAC-SHA256 of a PAN: 128 bits, written as 32 hex characters.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CardToken(pub [u8; 16]);

impl CardToken {
    /// Parses 32 hex characters.
    pub fn parse_hex(s: &str) -> Option<CardToken> {
        let mut out = [0u8; 16];
        hex::decode_to_slice(s.trim(), &mut out).ok()?;
        Some(CardToken(out))
    }
}

impl fmt::Display for CardToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for CardToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CardToken({self})")
    }
}

impl Serialize for CardToken {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for CardToken {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        CardToken::parse_hex(&s)
            .ok_or_else(|| serde::de::Error::custom("card_token must be 32 hex characters"))
    }
}

/// Where a fact came from: the report, its artifact hash and the source row (1-based, header excluded).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Lineage {
    /// The report the fact was loaded from.
    pub report_id: ReportId,
    /// SHA-256 of the raw artifact.
    pub sha256: Sha256,
    /// The data row number within the file (1 = first row after the header).
    pub row: u32,
}

/// One canonical fact (docs/ingestion.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fact {
    /// The network's transaction id, shared by all stages of one transaction.
    pub transaction_id: String,
    /// The stage this fact records.
    pub stage: Stage,
    /// When it happened (for FRAUD facts: when the original transaction happened).
    pub occurred_at: Timestamp,
    /// The amount, exact.
    pub amount: Money,
    /// The card network.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<Network>,
    /// ISO 8583 response code (AUTH).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_code: Option<String>,
    /// Whether the authorization was approved (AUTH).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved: Option<bool>,
    /// The merchant's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merchant_id: Option<String>,
    /// The merchant's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merchant_name: Option<String>,
    /// Merchant category code, 4 digits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mcc: Option<String>,
    /// The merchant's country.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merchant_country: Option<Country>,
    /// The card issuer's country.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer_country: Option<Country>,
    /// The first 6–8 digits of the card.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer_bin: Option<String>,
    /// Keyed hash of the card number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card_token: Option<CardToken>,
    /// How the card was presented.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry_mode: Option<EntryMode>,
    /// Interchange fee in minor units of `amount.currency` (CLEARING, SETTLEMENT).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interchange_fee: Option<i64>,
    /// Chargeback reason code (CHARGEBACK).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason_code: Option<String>,
    /// Whether the transaction was reported as fraud.
    #[serde(default)]
    pub fraud_reported: bool,
    /// Where the fact came from.
    pub lineage: Lineage,
}

impl Fact {
    /// A fact with only the required fields set; the rest are `None`/`false`.
    pub fn new(
        transaction_id: impl Into<String>,
        stage: Stage,
        occurred_at: Timestamp,
        amount: Money,
        lineage: Lineage,
    ) -> Fact {
        Fact {
            transaction_id: transaction_id.into(),
            stage,
            occurred_at,
            amount,
            network: None,
            response_code: None,
            approved: None,
            merchant_id: None,
            merchant_name: None,
            mcc: None,
            merchant_country: None,
            issuer_country: None,
            issuer_bin: None,
            card_token: None,
            entry_mode: None,
            interchange_fee: None,
            reason_code: None,
            fraud_reported: false,
            lineage,
        }
    }

    /// True for an approved authorization.
    pub fn is_approved_auth(&self) -> bool {
        self.stage == Stage::Auth && self.approved == Some(true)
    }

    /// `Some(true)` when issuer and merchant countries are both known and differ.
    pub fn cross_border(&self) -> Option<bool> {
        Some(self.issuer_country? != self.merchant_country?)
    }
}

/// True when an ISO 8583 response code (or a status word) means approved: `00`, `000`,
/// `approved`, `A`, and the partial/VIP approvals `10` and `11`.
pub fn response_code_is_approved(code: &str) -> bool {
    let c = code.trim();
    matches!(c, "00" | "000" | "0" | "10" | "11" | "A" | "a" | "Y" | "y")
        || c.eq_ignore_ascii_case("approved")
        || c.eq_ignore_ascii_case("approve")
        || c.eq_ignore_ascii_case("success")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn network_spellings() {
        for (s, n) in [
            ("VISA", "visa"),
            ("MasterCard", "mastercard"),
            ("MC", "mastercard"),
            ("Master Card", "mastercard"),
        ] {
            assert_eq!(Network::parse(s).unwrap().as_str(), n);
        }
        assert_eq!(Network::parse("American Express"), Some(Network::Amex));
        assert_eq!(Network::parse("Rupay"), Some(Network::Other("rupay".into())));
        assert_eq!(Network::parse("  "), None);
        assert_eq!(Network::parse("visastandardcredit"), Some(Network::Visa));
        assert_eq!(Network::parse("mcstandarddebit"), Some(Network::Mastercard));
        assert_eq!(Network::parse("MasterCard  (MC) - Signature Debit"), Some(Network::Mastercard));
        assert_eq!(Network::parse("mcb"), Some(Network::Other("mcb".into())));
    }

    #[test]
    fn pos_entry_modes() {
        let p = |s| EntryMode::parse(s).unwrap();
        assert_eq!(p("05"), EntryMode::Chip);
        assert_eq!(p("051"), EntryMode::Chip);
        assert_eq!(p("07"), EntryMode::Contactless);
        assert_eq!(p("81"), EntryMode::Ecommerce);
        assert_eq!(p("90"), EntryMode::Magstripe);
        assert_eq!(p("01"), EntryMode::Manual);
        assert_eq!(p("Card Not Present"), EntryMode::Ecommerce);
        assert_eq!(p("tap"), EntryMode::Contactless);
        assert_eq!(p("Swipe Transaction"), EntryMode::Magstripe);
        assert_eq!(p("Chip Transaction"), EntryMode::Chip);
        assert_eq!(p("Online Transaction"), EntryMode::Ecommerce);
    }

    #[test]
    fn approval_codes() {
        for c in ["00", "000", "approved", "A", "APPROVED"] {
            assert!(response_code_is_approved(c), "{c}");
        }
        for c in ["05", "51", "91", "declined", "D"] {
            assert!(!response_code_is_approved(c), "{c}");
        }
    }

    #[test]
    fn stages_parse_from_report_types() {
        assert_eq!(Stage::parse("authorization"), Some(Stage::Auth));
        assert_eq!(Stage::parse("TC40"), Some(Stage::Fraud));
        assert_eq!(Stage::parse("SETTLEMENT"), Some(Stage::Settlement));
        assert_eq!(Stage::parse("auto"), None);
    }
}
