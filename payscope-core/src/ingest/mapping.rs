//! Header mapping: which source column holds which canonical field. Headers are matched
//! case- and punctuation-insensitively against a table of the names used in Visa,
//! Mastercard, Amex and processor exports, then fuzzily, then by the shape of the values.
//! Every decision is recorded with its confidence and rule.

use std::collections::HashMap;
use std::sync::OnceLock;

use csv::StringRecord;

use super::normalize::{looks_like_timestamp, DecimalStyle};
use super::pan::pan_digits;
use crate::facts::{EntryMode, MappingDecision, Network};
use crate::money::Currency;

/// A canonical field a column can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Field {
    /// Transaction id.
    TransactionId,
    /// Per-row stage or record type.
    Stage,
    /// Date and time together.
    OccurredAt,
    /// Date only (combined with `Time` when both exist).
    Date,
    /// Time only.
    Time,
    /// Amount in major units (`12.34`).
    Amount,
    /// Amount in minor units (`1234`).
    AmountMinor,
    /// Currency code.
    Currency,
    /// Card network.
    Network,
    /// ISO 8583 response code.
    ResponseCode,
    /// Approved/declined word.
    Status,
    /// Merchant id.
    MerchantId,
    /// Merchant name.
    MerchantName,
    /// Merchant category code.
    Mcc,
    /// Merchant country.
    MerchantCountry,
    /// Issuer country.
    IssuerCountry,
    /// Issuer BIN.
    IssuerBin,
    /// Full card number.
    Pan,
    /// Card token.
    CardToken,
    /// POS entry mode.
    EntryMode,
    /// Interchange fee in major units.
    InterchangeFee,
    /// Interchange fee in minor units.
    InterchangeFeeMinor,
    /// Chargeback reason code.
    ReasonCode,
    /// Fraud flag.
    FraudReported,
}

impl Field {
    /// Every field.
    pub const ALL: [Field; 24] = [
        Field::TransactionId,
        Field::Stage,
        Field::OccurredAt,
        Field::Date,
        Field::Time,
        Field::Amount,
        Field::AmountMinor,
        Field::Currency,
        Field::Network,
        Field::ResponseCode,
        Field::Status,
        Field::MerchantId,
        Field::MerchantName,
        Field::Mcc,
        Field::MerchantCountry,
        Field::IssuerCountry,
        Field::IssuerBin,
        Field::Pan,
        Field::CardToken,
        Field::EntryMode,
        Field::InterchangeFee,
        Field::InterchangeFeeMinor,
        Field::ReasonCode,
        Field::FraudReported,
    ];

    /// The name recorded in mapping decisions (the canonical fact field it feeds).
    pub fn as_str(self) -> &'static str {
        match self {
            Field::TransactionId => "transaction_id",
            Field::Stage => "stage",
            Field::OccurredAt => "occurred_at",
            Field::Date => "occurred_at.date",
            Field::Time => "occurred_at.time",
            Field::Amount => "amount",
            Field::AmountMinor => "amount.minor_units",
            Field::Currency => "currency",
            Field::Network => "network",
            Field::ResponseCode => "response_code",
            Field::Status => "approved",
            Field::MerchantId => "merchant_id",
            Field::MerchantName => "merchant_name",
            Field::Mcc => "mcc",
            Field::MerchantCountry => "merchant_country",
            Field::IssuerCountry => "issuer_country",
            Field::IssuerBin => "issuer_bin",
            Field::Pan => "card_number",
            Field::CardToken => "card_token",
            Field::EntryMode => "entry_mode",
            Field::InterchangeFee => "interchange_fee",
            Field::InterchangeFeeMinor => "interchange_fee.minor_units",
            Field::ReasonCode => "reason_code",
            Field::FraudReported => "fraud_reported",
        }
    }

    /// Header names used for the field in network and processor exports.
    fn synonyms(self) -> &'static [&'static str] {
        match self {
            Field::TransactionId => &[
                "transaction_id",
                "transaction id",
                "txn id",
                "trans id",
                "tran id",
                "txn ref",
                "transaction reference",
                "network_transaction_id",
                "network transaction id",
                "trace id",
                "trace number",
                "arn",
                "acquirer reference number",
                "original transaction id",
                "retrieval reference number",
                "rrn",
                "reference number",
                "transaction identifier",
                "tid",
                "txnid",
            ],
            Field::Stage => &[
                "stage",
                "record type",
                "transaction type",
                "txn type",
                "message type",
                "event type",
                "type",
                "record_type",
            ],
            Field::OccurredAt => &[
                "occurred_at",
                "timestamp",
                "transaction timestamp",
                "transaction datetime",
                "transaction date time",
                "txn datetime",
                "settlement_timestamp",
                "settlement timestamp",
                "date time",
                "datetime",
                "event time",
                "created at",
                "posted at",
                "local transaction date time",
                "auth timestamp",
                "authorization timestamp",
            ],
            Field::Date => &[
                "transaction date",
                "txn date",
                "trans date",
                "date",
                "processing date",
                "settlement date",
                "chargeback date",
                "refund date",
                "posting date",
                "business date",
                "dispute date",
                "fraud date",
                "auth date",
                "capture date",
                "report date",
                "clearing date",
            ],
            Field::Time => &["transaction time", "txn time", "trans time", "time", "local time", "auth time"],
            Field::Amount => &[
                "amount",
                "transaction amount",
                "txn amt",
                "txn amount",
                "amt",
                "transaction_amount",
                "settled amount",
                "dispute amount",
                "refund amount",
                "fraud amount",
                "sale amount",
                "gross amount",
                "auth amount",
                "authorized amount",
                "billing amount",
                "chargeback amount",
                "cb amount",
                "clearing amount",
                "settlement amount",
                "trans amt",
            ],
            Field::AmountMinor => &[
                "amount_minor",
                "amount minor",
                "settled_amount_minor",
                "amount in cents",
                "amount cents",
                "amount_cents",
                "minor units",
                "amount minor units",
                "transaction amount minor",
                "amount_minor_units",
            ],
            Field::Currency => &[
                "currency",
                "currency code",
                "curr",
                "ccy",
                "transaction currency",
                "currency_numeric",
                "currency numeric",
                "settlement currency",
                "iso currency",
                "currency_code",
                "txn currency",
                "cur",
            ],
            Field::Network => &[
                "network",
                "card network",
                "scheme",
                "card brand",
                "brand",
                "card scheme",
                "card type",
                "association",
                "network name",
            ],
            Field::ResponseCode => &[
                "response code",
                "resp code",
                "resp_code",
                "action code",
                "action_code",
                "auth response code",
                "rc",
                "iso response code",
                "response_code",
                "authorization response code",
                "de39",
            ],
            Field::Status => &[
                "status",
                "auth status",
                "authorization status",
                "result",
                "decision",
                "approval status",
                "outcome",
                "approved",
            ],
            Field::MerchantId => &[
                "merchant id",
                "mid",
                "card acceptor id",
                "card_acceptor_id",
                "merchant number",
                "merchant_id",
                "merchant no",
                "caid",
                "card acceptor id code",
                "merchant code",
            ],
            Field::MerchantName => &[
                "merchant name",
                "dba name",
                "dba",
                "card acceptor name",
                "merchant",
                "merchant_dba",
                "store name",
                "descriptor",
                "merchant_name",
                "merchant dba name",
                "card acceptor name location",
            ],
            Field::Mcc => &[
                "mcc",
                "merchant category code",
                "sic",
                "category code",
                "merchant_category_code",
                "mcc code",
                "merchant category",
            ],
            Field::MerchantCountry => &[
                "merchant country",
                "card acceptor country",
                "acquirer country",
                "merchant country code",
                "merchant_ctry",
                "merchant_country",
                "acceptor country",
            ],
            Field::IssuerCountry => &[
                "issuer country",
                "card country",
                "issuing country",
                "bin country",
                "cardholder country",
                "issuer_ctry",
                "issuer_country",
                "issuer country code",
            ],
            Field::IssuerBin => &[
                "bin",
                "issuer bin",
                "card bin",
                "iin",
                "bin number",
                "issuer_bin",
                "card prefix",
                "first six",
            ],
            Field::Pan => &[
                "card number",
                "pan",
                "card_number",
                "primary account number",
                "account number",
                "card no",
                "cc number",
                "card num",
                "cardnumber",
                "full pan",
            ],
            Field::CardToken => {
                &["card token", "token", "card_token", "pan token", "card hash", "card id", "card reference"]
            }
            Field::EntryMode => &[
                "pos entry mode",
                "entry mode",
                "pem",
                "pos_entry_mode",
                "presentation mode",
                "channel",
                "capture method",
                "pos entry",
                "entry_mode",
                "pos mode",
            ],
            Field::InterchangeFee => &[
                "interchange fee",
                "interchange",
                "ic fee",
                "interchange amount",
                "interchange_fee",
                "interchange fees",
                "ic amount",
                "interchange fee amount",
            ],
            Field::InterchangeFeeMinor => &[
                "interchange_fee_minor",
                "interchange fee minor",
                "interchange minor",
                "ic fee minor",
                "interchange fee cents",
                "interchange_minor",
            ],
            Field::ReasonCode => &[
                "reason code",
                "chargeback reason",
                "dispute reason",
                "cb reason code",
                "reason",
                "reason_code",
                "chargeback reason code",
                "dispute reason code",
            ],
            Field::FraudReported => &[
                "fraud flag",
                "fraud",
                "is fraud",
                "fraud_reported",
                "fraud indicator",
                "tc40 flag",
                "reported fraud",
                "fraud_flag",
                "fraud type",
            ],
        }
    }
}

/// Lowercases and keeps only letters and digits (`Txn Amt` → `txnamt`).
pub fn normalize_header(h: &str) -> String {
    h.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect()
}

fn synonym_table() -> &'static HashMap<String, Field> {
    static TABLE: OnceLock<HashMap<String, Field>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t = HashMap::new();
        for f in Field::ALL {
            for s in f.synonyms() {
                t.entry(normalize_header(s)).or_insert(f);
            }
        }
        t
    })
}

/// The field a header names exactly (after normalization), if any.
pub fn synonym(header: &str) -> Option<Field> {
    synonym_table().get(&normalize_header(header)).copied()
}

/// How many cells of a row are known header names (used to find the header row).
pub fn header_score(row: &StringRecord) -> usize {
    row.iter().filter(|c| synonym(c).is_some()).count()
}

/// Similarity of two strings, 0–1, from the Levenshtein distance.
fn similarity(a: &str, b: &str) -> f64 {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != cb)).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    1.0 - prev[b.len()] as f64 / a.len().max(b.len()) as f64
}

/// The best fuzzy match of a header: (field, similarity).
fn fuzzy(header: &str) -> Option<(Field, f64)> {
    let h = normalize_header(header);
    if h.len() < 3 {
        return None;
    }
    let mut best: Option<(Field, f64)> = None;
    for (syn, field) in synonym_table() {
        let mut score = similarity(&h, syn);
        // A header that contains a long synonym (`transactionamountusd`) is nearly as good.
        if syn.len() >= 6 && h.contains(syn.as_str()) {
            score = score.max(0.86);
        }
        if best.is_none_or(|(_, s)| score > s) {
            best = Some((*field, score));
        }
    }
    best.filter(|(_, s)| *s >= 0.84)
}

/// ISO 8583 response codes seen in authorization reports.
const RESPONSE_CODES: &[&str] = &[
    "00", "01", "02", "03", "04", "05", "06", "07", "10", "11", "12", "13", "14", "15", "19", "21", "25",
    "28", "30", "39", "41", "43", "51", "52", "53", "54", "55", "57", "58", "59", "61", "62", "63", "65",
    "75", "76", "77", "78", "85", "91", "92", "93", "94", "96", "N7", "1A",
];

/// The field a column's values look like, with the share of sampled values that fit.
fn value_shape(values: &[&str]) -> Option<(Field, f64)> {
    let vals: Vec<&str> = values.iter().map(|v| v.trim()).filter(|v| !v.is_empty()).collect();
    if vals.len() < 3 {
        return None;
    }
    let share =
        |pred: &dyn Fn(&str) -> bool| vals.iter().filter(|v| pred(v)).count() as f64 / vals.len() as f64;
    let candidates: [(Field, f64, f64); 7] = [
        (Field::Pan, share(&|v| pan_digits(v).is_some()), 0.95),
        (Field::ResponseCode, share(&|v| RESPONSE_CODES.contains(&v)), 0.75),
        (Field::Network, share(&|v| Network::parse(v).is_some_and(|n| !matches!(n, Network::Other(_)))), 0.8),
        (
            Field::Currency,
            share(&|v| {
                v.len() == 3 && v.bytes().all(|b| b.is_ascii_alphabetic()) && Currency::from_code(v).is_some()
            }),
            0.8,
        ),
        (Field::OccurredAt, share(&|v| looks_like_timestamp(v)), 0.7),
        (
            Field::EntryMode,
            share(&|v| {
                !v.bytes().all(|b| b.is_ascii_digit())
                    && EntryMode::parse(v).is_some_and(|e| e != EntryMode::Other)
            }),
            0.65,
        ),
        (Field::Amount, share(&|v| DecimalStyle::looks_like_amount(v)), 0.6),
    ];
    candidates
        .into_iter()
        .filter(|(_, s, _)| *s >= 0.9)
        .map(|(f, s, weight)| (f, s * weight))
        .max_by(|a, b| a.1.total_cmp(&b.1))
}

/// The result of mapping a header row.
#[derive(Debug, Clone, Default)]
pub struct ColumnMap {
    /// Field of each column (`None`: ignored).
    pub columns: Vec<Option<Field>>,
    /// One decision per column, in column order.
    pub decisions: Vec<MappingDecision>,
}

impl ColumnMap {
    /// The column holding `field`.
    pub fn column(&self, field: Field) -> Option<usize> {
        self.columns.iter().position(|c| *c == Some(field))
    }

    /// The confidence of the decision that mapped `field`.
    pub fn confidence(&self, field: Field) -> Option<f64> {
        self.column(field).map(|i| self.decisions[i].confidence)
    }

    /// The headers as they appear in the file.
    pub fn headers(&self) -> Vec<&str> {
        self.decisions.iter().map(|d| d.column.as_str()).collect()
    }
}

/// Maps a header row, using `sample` rows for value-shape inference of unmatched columns.
pub fn map_columns(headers: &StringRecord, sample: &[StringRecord]) -> ColumnMap {
    let n = headers.len();
    let mut candidates: Vec<Option<(Field, f64, &'static str)>> = vec![None; n];
    for (i, h) in headers.iter().enumerate() {
        let norm = normalize_header(h);
        candidates[i] = if let Some(f) = synonym_table().get(&norm) {
            let exact = normalize_header(f.as_str()) == norm;
            Some((*f, if exact { 1.0 } else { 0.95 }, if exact { "canonical" } else { "synonym" }))
        } else {
            fuzzy(h).map(|(f, s)| (f, (s * 0.9 * 100.0).round() / 100.0, "fuzzy"))
        };
    }
    for (i, c) in candidates.iter_mut().enumerate() {
        if c.is_none() {
            let values: Vec<&str> = sample.iter().filter_map(|r| r.get(i)).collect();
            *c = value_shape(&values).map(|(f, s)| (f, (s * 100.0).round() / 100.0, "value_shape"));
        }
    }
    // A field goes to its most confident column (the first on ties); other claimants are ignored.
    let mut winner: HashMap<Field, usize> = HashMap::new();
    for (i, c) in candidates.iter().enumerate() {
        if let Some((f, conf, _)) = c {
            match winner.get(f) {
                Some(&j) if candidates[j].is_some_and(|(_, cj, _)| cj >= *conf) => {}
                _ => {
                    winner.insert(*f, i);
                }
            }
        }
    }
    let mut map = ColumnMap::default();
    for (i, h) in headers.iter().enumerate() {
        let decision = match candidates[i] {
            Some((f, conf, rule)) if winner.get(&f) == Some(&i) => {
                map.columns.push(Some(f));
                MappingDecision {
                    column: h.to_owned(),
                    field: f.as_str().to_owned(),
                    confidence: conf,
                    rule: rule.to_owned(),
                }
            }
            Some((f, _, _)) => {
                map.columns.push(None);
                MappingDecision {
                    column: h.to_owned(),
                    field: "ignored".to_owned(),
                    confidence: 0.0,
                    rule: format!("duplicate of the {} column", f.as_str()),
                }
            }
            None => {
                map.columns.push(None);
                MappingDecision {
                    column: h.to_owned(),
                    field: "ignored".to_owned(),
                    confidence: 0.0,
                    rule: "unmatched".to_owned(),
                }
            }
        };
        map.decisions.push(decision);
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(cells: &[&str]) -> StringRecord {
        StringRecord::from(cells.to_vec())
    }

    #[test]
    fn every_field_has_at_least_five_synonyms() {
        for f in Field::ALL {
            assert!(f.synonyms().len() >= 5 || matches!(f, Field::Time), "{f:?}");
        }
    }

    #[test]
    fn sample_headers_map() {
        let h = rec(&[
            "Transaction ID",
            "Transaction Date",
            "Transaction Time",
            "Card Number",
            "Card Network",
            "Merchant ID",
            "Merchant Name",
            "MCC",
            "Merchant Country",
            "Issuer Country",
            "POS Entry Mode",
            "Transaction Amount",
            "Currency Code",
            "Response Code",
            "Fraud Flag",
        ]);
        let m = map_columns(&h, &[]);
        let fields: Vec<Option<Field>> = m.columns.clone();
        assert_eq!(fields.iter().filter(|f| f.is_some()).count(), 15, "{:?}", m.decisions);
        assert_eq!(m.column(Field::Pan), Some(3));
        assert_eq!(m.column(Field::Date), Some(1));
        assert_eq!(m.column(Field::Time), Some(2));
        let h = rec(&[
            "Trace ID",
            "Processing Date",
            "Card Brand",
            "MID",
            "DBA Name",
            "Amount",
            "Currency",
            "Interchange Fee",
        ]);
        let m = map_columns(&h, &[]);
        assert!(m.columns.iter().all(Option::is_some), "{:?}", m.decisions);
        let h = rec(&[
            "network_transaction_id",
            "settlement_timestamp",
            "scheme",
            "merchant_id",
            "settled_amount_minor",
            "currency_numeric",
            "interchange_fee_minor",
        ]);
        let m = map_columns(&h, &[]);
        assert!(m.columns.iter().all(Option::is_some), "{:?}", m.decisions);
        assert_eq!(m.column(Field::AmountMinor), Some(4));
    }

    #[test]
    fn fuzzy_and_value_shape() {
        let h = rec(&["Txn Amnt", "Respnse Code", "col_x", "col_y"]);
        let sample: Vec<StringRecord> = (0..10)
            .map(|i| rec(&["1.00", "00", "4111111111111111", if i % 2 == 0 { "VISA" } else { "MasterCard" }]))
            .collect();
        let m = map_columns(&h, &sample);
        assert_eq!(
            m.columns,
            vec![Some(Field::Amount), Some(Field::ResponseCode), Some(Field::Pan), Some(Field::Network)],
            "{:?}",
            m.decisions
        );
        assert_eq!(m.decisions[0].rule, "fuzzy");
        assert_eq!(m.decisions[2].rule, "value_shape");
    }

    #[test]
    fn duplicate_headers_keep_the_first() {
        let m = map_columns(&rec(&["Amount", "Amount", "Currency"]), &[]);
        assert_eq!(m.columns, vec![Some(Field::Amount), None, Some(Field::Currency)]);
        assert!(m.decisions[1].rule.starts_with("duplicate"));
    }
}
