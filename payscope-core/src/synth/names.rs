//! Vocabulary of the generator: merchant names and categories, hours, entry modes and
//! chargeback reason codes.

use super::{country, Rng, SynthMerchant};
use crate::facts::{EntryMode, Network};
use crate::money::Currency;

const ADJECTIVES: [&str; 12] = [
    "Cedar", "Harbor", "Green", "Sunset", "Metro", "Blue", "Summit", "Union", "Golden", "River", "Prime",
    "North",
];

/// `(kind, MCC)`.
const KINDS: [(&str, &str); 14] = [
    ("Electronics", "5732"),
    ("Hotel", "7011"),
    ("Fuel", "5541"),
    ("Books", "5942"),
    ("Grocery", "5411"),
    ("Bistro", "5812"),
    ("Airlines", "4511"),
    ("Telecom", "4814"),
    ("Casino", "7995"),
    ("Outfitters", "5691"),
    ("Supply", "5999"),
    ("Deals", "5311"),
    ("Pharmacy", "5912"),
    ("Transit", "4121"),
];

/// Relative weight of each hour of the day (UTC).
pub(super) const HOUR_WEIGHTS: [(u32, f64); 24] = [
    (0, 0.6),
    (1, 0.4),
    (2, 0.3),
    (3, 0.3),
    (4, 0.4),
    (5, 0.7),
    (6, 1.2),
    (7, 2.0),
    (8, 3.0),
    (9, 3.6),
    (10, 4.0),
    (11, 4.6),
    (12, 5.0),
    (13, 4.8),
    (14, 4.4),
    (15, 4.2),
    (16, 4.4),
    (17, 4.8),
    (18, 5.0),
    (19, 4.6),
    (20, 3.8),
    (21, 2.8),
    (22, 1.8),
    (23, 1.1),
];

pub(super) const ENTRY_MODES: [(EntryMode, f64); 5] = [
    (EntryMode::Chip, 0.36),
    (EntryMode::Contactless, 0.30),
    (EntryMode::Ecommerce, 0.27),
    (EntryMode::Magstripe, 0.05),
    (EntryMode::Manual, 0.02),
];

/// Merchants of bank `bank`: ids `M{bank}{n:05}`, a name, an MCC and a country; a few are risky.
pub(super) fn merchants(r: &mut Rng, bank: usize, n: u32) -> Vec<SynthMerchant> {
    let places = [
        ("US", Currency::USD, 0.78),
        ("GB", Currency::GBP, 0.06),
        ("FR", Currency::EUR, 0.06),
        ("DE", Currency::EUR, 0.04),
        ("JP", Currency::JPY, 0.03),
        ("CA", Currency::CAD, 0.03),
    ];
    let weighted: Vec<((&str, Currency), f64)> = places.iter().map(|(c, cur, w)| ((*c, *cur), *w)).collect();
    (0..n.max(2))
        .map(|i| {
            let (kind, mcc) = KINDS[r.below(KINDS.len() as u64) as usize];
            let adjective = ADJECTIVES[r.below(ADJECTIVES.len() as u64) as usize];
            let (code, currency) = *r.pick_weighted(&weighted);
            SynthMerchant {
                id: format!("M{}{:05}", bank % 10, i),
                name: format!("{adjective} {kind} {i}"),
                mcc,
                country: country(code),
                currency,
                risky: i % 97 == 3,
            }
        })
        .collect()
}

/// The reason-code family of a network (`visa` codes look like `10.4`, Mastercard `4837`).
pub(super) fn reason_for_network(r: &mut Rng, network: &Network, fraud: bool) -> &'static str {
    match (network, fraud) {
        (Network::Visa, true) => "10.4",
        (Network::Visa, false) => {
            if r.chance(0.6) {
                "13.1"
            } else {
                "13.3"
            }
        }
        (Network::Mastercard, true) => "4837",
        (Network::Mastercard, false) => {
            if r.chance(0.7) {
                "4853"
            } else {
                "4863"
            }
        }
        (_, true) => "F29",
        (_, false) => "C08",
    }
}
