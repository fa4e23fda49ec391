//! Column mapping: which column holds which canonical field.
//!
//! Each header is read as [`W`]ords (any language, see [`super::vocabulary`]) and scored
//! against each field's [`Spec`]: rules of words that name the field, the words that may
//! qualify it, and the words that mean the column is something else. A candidate must then
//! fit its values ([`super::profile`]): a transaction id the spreadsheet turned into
//! `1.55E+12`, or a timestamp column that lost its dates, is not taken, and the reason is
//! kept for the error a person reads. Columns no header rule names are tried by the shape of
//! their values. Fields go to their best viable columns; every decision is recorded with its
//! rule and confidence, and the runners-up are kept to explain what was not chosen.

use std::collections::HashMap;

use csv::StringRecord;
use serde::{Deserialize, Serialize};

use super::values::Profile;
use super::vocabulary::{HeaderWords, W};
use crate::facts::{MappingDecision, MappingOverrides, Stage};
use crate::money::Currency;

/// A canonical field (or part of one) a column can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Field {
    /// Transaction id.
    TransactionId,
    /// What the row is (a stage, or a type/action such as `SALE`, `Refunded`, `payout`).
    Kind,
    /// Date, or date and time together.
    OccurredAt,
    /// Time of day (combined with a date column).
    Time,
    /// Year of a date split over columns.
    Year,
    /// Month of a date split over columns.
    Month,
    /// Day of a date split over columns.
    Day,
    /// Each row's time zone (`CET`, `PST`, `Europe/Paris`, `+02:00`).
    Zone,
    /// Amount in major units (`12.34`).
    Amount,
    /// Amount in minor units (`1234`).
    AmountMinor,
    /// Debit amount, when debits and credits are separate columns.
    AmountDebit,
    /// Credit amount, when debits and credits are separate columns.
    AmountCredit,
    /// Currency code.
    Currency,
    /// Card network, brand or payment method.
    Network,
    /// Authorization response code.
    ResponseCode,
    /// The response code's description (`Approved`, `Do Not Honor`).
    ResponseText,
    /// Approved/declined word.
    Status,
    /// An error or decline reason: the authorization was declined when it is not empty.
    Error,
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
    /// Card number, full or masked.
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
    /// Free-text description (read to tell what an adjustment row is).
    Description,
}

impl Field {
    /// Every field.
    pub const ALL: [Field; 32] = [
        Field::TransactionId,
        Field::Kind,
        Field::OccurredAt,
        Field::Time,
        Field::Year,
        Field::Month,
        Field::Day,
        Field::Zone,
        Field::Amount,
        Field::AmountMinor,
        Field::AmountDebit,
        Field::AmountCredit,
        Field::Currency,
        Field::Network,
        Field::ResponseCode,
        Field::ResponseText,
        Field::Status,
        Field::Error,
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
        Field::Description,
    ];

    /// The name recorded in mapping decisions and used in mapping overrides.
    pub fn as_str(self) -> &'static str {
        match self {
            Field::TransactionId => "transaction_id",
            Field::Kind => "stage",
            Field::OccurredAt => "occurred_at",
            Field::Time => "occurred_at.time",
            Field::Year => "occurred_at.year",
            Field::Month => "occurred_at.month",
            Field::Day => "occurred_at.day",
            Field::Zone => "occurred_at.zone",
            Field::Amount => "amount",
            Field::AmountMinor => "amount.minor_units",
            Field::AmountDebit => "amount.debit",
            Field::AmountCredit => "amount.credit",
            Field::Currency => "currency",
            Field::Network => "network",
            Field::ResponseCode => "response_code",
            Field::ResponseText => "response_code.text",
            Field::Status => "approved",
            Field::Error => "approved.error",
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
            Field::Description => "description",
        }
    }

    /// The field a decision or override name stands for.
    pub fn from_name(name: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|f| f.as_str() == name)
    }

    /// The canonical column names of JSON Lines facts and of files written by PayScope itself.
    fn canonical(self) -> &'static [&'static str] {
        match self {
            Field::TransactionId => &["transaction_id"],
            Field::Kind => &["stage"],
            Field::OccurredAt => &["occurred_at"],
            Field::Amount => &["amount"],
            Field::AmountMinor => &["amount_minor"],
            Field::Currency => &["currency"],
            Field::Network => &["network"],
            Field::ResponseCode => &["response_code"],
            Field::Status => &["approved"],
            Field::MerchantId => &["merchant_id"],
            Field::MerchantName => &["merchant_name"],
            Field::Mcc => &["mcc"],
            Field::MerchantCountry => &["merchant_country"],
            Field::IssuerCountry => &["issuer_country"],
            Field::IssuerBin => &["issuer_bin"],
            Field::Pan => &["card_number", "pan"],
            Field::CardToken => &["card_token"],
            Field::EntryMode => &["entry_mode"],
            Field::InterchangeFeeMinor => &["interchange_fee_minor"],
            Field::InterchangeFee => &["interchange_fee"],
            Field::ReasonCode => &["reason_code"],
            Field::FraudReported => &["fraud_reported"],
            _ => &[],
        }
    }

    /// True for the parts a fact needs.
    pub fn required(self) -> bool {
        matches!(self, Field::TransactionId | Field::OccurredAt | Field::Amount)
    }
}

/// A rule: one slot per word the header must contain (any word of the slot), a weight, and
/// whether every other word of the header must be one the field allows (for rules as weak
/// as a bare `ID`, which `Merchant ID` must not satisfy).
struct Rule(&'static [&'static [W]], f64, bool);

/// How headers name a field.
struct Spec {
    field: Field,
    rules: &'static [Rule],
    /// Words that may qualify the field without weakening the match.
    context: &'static [W],
    /// Words that mean the column is something else (unless a rule asks for them).
    veto: &'static [W],
}

const ID: &[W] = &[W::Id, W::Reference, W::Number, W::Sequence, W::Key];
const ID_NO_REF: &[W] = &[W::Id, W::Number, W::Key];

/// Stage words that may qualify a time or an amount (`Refund Date`, `Dispute Amount`).
const EVENT: &[W] = &[
    W::Txn,
    W::Payment,
    W::Sale,
    W::Order,
    W::Created,
    W::Authorization,
    W::Clearing,
    W::Presentment,
    W::Submission,
    W::Deposit,
    W::Capture,
    W::Processing,
    W::Settlement,
    W::Refund,
    W::Chargeback,
    W::Dispute,
    W::Fraud,
    W::Initiated,
    W::Activity,
    W::Original,
    W::Local,
    W::Event,
    W::Issuer,
    W::Action,
    W::Gross,
    W::Total,
];

static SPECS: &[Spec] = &[
    Spec {
        field: Field::TransactionId,
        rules: &[
            Rule(&[&[W::Txn], ID], 0.95, false),
            Rule(&[&[W::Payment], ID], 0.95, false),
            Rule(&[&[W::Dispute, W::Chargeback], ID], 0.85, false),
            Rule(&[&[W::Arn]], 0.88, false),
            Rule(&[&[W::Acquirer], &[W::Reference]], 0.88, false),
            Rule(&[&[W::Rrn]], 0.8, false),
            Rule(&[&[W::Retrieval], &[W::Reference]], 0.8, false),
            Rule(&[&[W::Trace], ID], 0.85, false),
            Rule(&[&[W::Trace]], 0.8, false),
            Rule(&[&[W::Order, W::Invoice], ID], 0.7, false),
            Rule(&[&[W::Merchant], &[W::Reference]], 0.7, true),
            Rule(&[&[W::Source]], 0.7, true),
            Rule(&[&[W::Txn]], 0.6, true),
            Rule(&[ID], 0.6, true),
        ],
        context: &[
            W::Original,
            W::Network,
            W::Payment,
            W::Txn,
            W::Source,
            W::Merchant,
            W::Number,
            W::Retrieval,
        ],
        veto: &[
            W::Terminal,
            W::Batch,
            W::Entity,
            W::Record,
            W::Submission,
            W::Customer,
            W::Card,
            W::Account,
            W::Token,
            W::Company,
            W::Division,
            W::Authorization,
            W::Type,
            W::Status,
            W::Date,
            W::Time,
            W::Timestamp,
            W::Amount,
            W::Currency,
            W::Fund,
            W::Transfer,
            W::Mandate,
            W::Fee,
            W::Count,
            W::Bin,
            W::Payout,
            W::Pan,
            W::Zone,
            W::Reason,
            W::Response,
            W::Code,
            W::Description,
            W::Name,
            W::Country,
            W::Category,
            W::Method,
            W::Expiry,
            W::Score,
            W::Level,
            W::Security,
            W::Verification,
            W::Email,
            W::Phone,
            W::Product,
            W::Usage,
            W::Flag,
            W::Mid,
            W::Mcc,
            W::Action,
            W::Activity,
            W::Modification,
        ],
    },
    Spec {
        field: Field::Kind,
        rules: &[
            Rule(&[&[W::Txn], &[W::Type]], 0.85, false),
            Rule(&[&[W::Record], &[W::Type]], 0.85, false),
            Rule(&[&[W::Type]], 0.8, false),
            Rule(&[&[W::Action]], 0.75, false),
            Rule(&[&[W::Activity]], 0.7, false),
            Rule(&[&[W::Event]], 0.7, false),
            Rule(&[&[W::Category]], 0.5, false),
            Rule(&[&[W::Description]], 0.5, false),
        ],
        context: &[
            W::Code,
            W::Txn,
            W::Record,
            W::Merchant,
            W::Authorization,
            W::Dispute,
            W::Payment,
            W::Description,
            W::Activity,
            W::Action,
            W::Type,
            W::Sale,
            W::Refund,
        ],
        veto: &[
            W::Date,
            W::Time,
            W::Amount,
            W::Currency,
            W::Card,
            W::Network,
            W::Method,
            W::Fee,
            W::Mcc,
            W::Count,
        ],
    },
    Spec {
        field: Field::OccurredAt,
        rules: &[
            Rule(&[&[W::Timestamp]], 0.9, false),
            Rule(&[&[W::Date], &[W::Time]], 0.9, false),
            Rule(&[&[W::Created]], 0.88, false),
            Rule(&[&[W::Date]], 0.8, false),
            Rule(&[&[W::Epoch]], 0.7, false),
        ],
        context: EVENT,
        veto: &[
            W::Expiry,
            W::Birth,
            W::Due,
            W::Zone,
            W::Count,
            W::Amount,
            W::Available,
            W::Year,
            W::Month,
            W::Day,
            W::Transfer,
            W::Payout,
            W::Fund,
            W::Customer,
            W::Mandate,
            W::Batch,
            W::Description,
            W::Type,
            W::Status,
            W::Rate,
            W::Exchange,
            W::Code,
        ],
    },
    Spec {
        field: Field::Time,
        rules: &[Rule(&[&[W::Time]], 0.9, false)],
        context: EVENT,
        veto: &[
            W::Zone,
            W::Date,
            W::Timestamp,
            W::Epoch,
            W::Expiry,
            W::Birth,
            W::Available,
            W::Due,
            W::Count,
            W::Amount,
        ],
    },
    Spec {
        field: Field::Year,
        rules: &[Rule(&[&[W::Year]], 0.9, false)],
        context: EVENT,
        veto: &[W::Birth, W::Expiry],
    },
    Spec {
        field: Field::Month,
        rules: &[Rule(&[&[W::Month]], 0.9, false)],
        context: EVENT,
        veto: &[W::Birth, W::Expiry],
    },
    Spec {
        field: Field::Day,
        rules: &[Rule(&[&[W::Day]], 0.9, false)],
        context: EVENT,
        veto: &[W::Birth, W::Expiry],
    },
    Spec {
        field: Field::Zone,
        rules: &[Rule(&[&[W::Zone]], 0.9, false)],
        context: &[W::Time, W::Date, W::Created, W::Booking, W::Txn, W::Local],
        veto: &[],
    },
    Spec {
        field: Field::Amount,
        rules: &[Rule(&[&[W::Amount]], 0.9, false), Rule(&[&[W::Gross]], 0.85, false)],
        context: &[
            W::Txn,
            W::Presentment,
            W::Original,
            W::Authorization,
            W::Settlement,
            W::Clearing,
            W::Refund,
            W::Chargeback,
            W::Dispute,
            W::Fraud,
            W::Sale,
            W::Payment,
            W::Gross,
            W::Currency,
            W::Total,
            W::Order,
            W::Issuer,
            W::Action,
            W::Deposit,
            W::Capture,
            W::Submission,
            W::Processing,
            W::Billing,
        ],
        veto: &[
            W::Fee,
            W::Interchange,
            W::Tax,
            W::Tip,
            W::Cashback,
            W::Count,
            W::Rate,
            W::Balance,
            W::Exchange,
            W::Unit,
            W::Assessment,
            W::Debit,
            W::Credit,
            W::Net,
            W::Minor,
            W::Level,
            W::Customer,
            W::Available,
            W::Fund,
            W::Payout,
            W::Transfer,
            W::Score,
            W::Zone,
            W::Date,
            W::Time,
            W::Security,
            W::Response,
            W::Verification,
            W::Card,
        ],
    },
    Spec {
        field: Field::AmountMinor,
        rules: &[Rule(&[&[W::Amount], &[W::Minor]], 0.95, false), Rule(&[&[W::Minor]], 0.8, false)],
        context: &[
            W::Txn,
            W::Presentment,
            W::Original,
            W::Settlement,
            W::Refund,
            W::Chargeback,
            W::Dispute,
            W::Gross,
            W::Sale,
            W::Authorization,
        ],
        veto: &[W::Fee, W::Interchange, W::Tax, W::Tip, W::Count, W::Rate, W::Balance, W::Net],
    },
    Spec {
        field: Field::AmountDebit,
        rules: &[
            Rule(&[&[W::Gross], &[W::Debit]], 0.9, false),
            Rule(&[&[W::Debit]], 0.8, false),
            Rule(&[&[W::Net], &[W::Debit]], 0.65, false),
        ],
        context: &[W::Amount, W::Gross, W::Presentment, W::Txn],
        veto: &[
            W::Fee,
            W::Interchange,
            W::Flag,
            W::Credit,
            W::Card,
            W::Count,
            W::Type,
            W::Code,
            W::Mandate,
            W::Date,
            W::Account,
            W::Id,
            W::Reference,
            W::Number,
        ],
    },
    Spec {
        field: Field::AmountCredit,
        rules: &[
            Rule(&[&[W::Gross], &[W::Credit]], 0.9, false),
            Rule(&[&[W::Credit]], 0.8, false),
            Rule(&[&[W::Net], &[W::Credit]], 0.65, false),
        ],
        context: &[W::Amount, W::Gross, W::Presentment, W::Txn],
        veto: &[
            W::Fee,
            W::Interchange,
            W::Flag,
            W::Debit,
            W::Card,
            W::Count,
            W::Type,
            W::Code,
            W::Date,
            W::Account,
            W::Id,
            W::Reference,
            W::Number,
        ],
    },
    Spec {
        field: Field::Currency,
        rules: &[Rule(&[&[W::Currency]], 0.9, false)],
        context: &[
            W::Code,
            W::Txn,
            W::Presentment,
            W::Original,
            W::Gross,
            W::Sale,
            W::Authorization,
            W::Payment,
            W::Settlement,
            W::Net,
            W::Billing,
            W::Refund,
            W::Chargeback,
            W::Dispute,
        ],
        veto: &[W::Exchange, W::Rate, W::Amount, W::Customer, W::Balance, W::Count, W::Fee],
    },
    Spec {
        field: Field::Network,
        rules: &[
            Rule(&[&[W::Card], &[W::Network]], 0.95, false),
            Rule(&[&[W::Network]], 0.9, false),
            Rule(&[&[W::Card], &[W::Type]], 0.85, false),
            Rule(&[&[W::Payment], &[W::Method]], 0.75, false),
            Rule(&[&[W::Method]], 0.7, false),
        ],
        context: &[W::Card, W::Payment, W::Code, W::Name, W::Method, W::Txn, W::Type],
        veto: &[
            W::Fee,
            W::Amount,
            W::Rate,
            W::Response,
            W::Country,
            W::Description,
            W::Variant,
            W::Id,
            W::Reference,
            W::Number,
            W::Product,
            W::Usage,
            W::Level,
            W::Holder,
            W::Token,
            W::Bin,
            W::Date,
            W::Zone,
            W::Category,
            W::Status,
            W::Count,
            W::Security,
        ],
    },
    Spec {
        field: Field::ResponseCode,
        rules: &[
            Rule(&[&[W::Response], &[W::Code]], 0.95, false),
            Rule(&[&[W::Result], &[W::Code]], 0.85, false),
            Rule(&[&[W::Response]], 0.8, false),
            Rule(&[&[W::Action], &[W::Code]], 0.7, true),
        ],
        context: &[W::Authorization, W::Txn, W::Payment, W::Network, W::Issuer, W::Approval],
        veto: &[
            W::Description,
            W::Reason,
            W::Category,
            W::Verification,
            W::Security,
            W::Address,
            W::Count,
            W::Flag,
            W::Type,
            W::Merchant,
            W::Date,
            W::Rate,
        ],
    },
    Spec {
        field: Field::ResponseText,
        rules: &[
            Rule(&[&[W::Response], &[W::Description]], 0.9, false),
            Rule(&[&[W::Result], &[W::Description]], 0.8, false),
        ],
        context: &[W::Authorization, W::Txn, W::Payment, W::Code, W::Network],
        veto: &[W::Verification, W::Security, W::Address, W::Category, W::Reason],
    },
    Spec {
        field: Field::Status,
        rules: &[
            Rule(&[&[W::Status]], 0.85, false),
            Rule(&[&[W::Approval]], 0.85, false),
            Rule(&[&[W::Result]], 0.7, false),
        ],
        context: &[W::Authorization, W::Txn, W::Payment, W::Approval, W::Status],
        veto: &[
            W::Count,
            W::Date,
            W::Reason,
            W::Description,
            W::Customer,
            W::Address,
            W::Record,
            W::Flag,
            W::Code,
            W::Merchant,
            W::Card,
            W::Verification,
            W::Submission,
            W::File,
        ],
    },
    Spec {
        field: Field::Error,
        rules: &[Rule(&[&[W::Error]], 0.8, false)],
        context: &[W::Reason, W::Description, W::Code, W::Authorization, W::Txn],
        veto: &[W::Count, W::Rate, W::Date, W::Time],
    },
    Spec {
        field: Field::MerchantId,
        rules: &[
            Rule(&[&[W::Merchant], ID_NO_REF], 0.95, false),
            Rule(&[&[W::Mid]], 0.92, false),
            Rule(&[&[W::Acceptor], ID_NO_REF], 0.9, false),
            Rule(&[&[W::Merchant], &[W::Code]], 0.85, false),
            Rule(&[&[W::Store], ID_NO_REF], 0.85, false),
            Rule(&[&[W::Merchant], &[W::Account]], 0.75, false),
            Rule(&[&[W::Entity], ID_NO_REF], 0.6, false),
            Rule(&[&[W::Division], ID_NO_REF], 0.6, false),
        ],
        context: &[W::Card, W::Acceptor, W::Txn, W::Merchant],
        veto: &[
            W::Name,
            W::Category,
            W::Country,
            W::Order,
            W::Reference,
            W::City,
            W::State,
            W::Address,
            W::Type,
            W::Date,
            W::Mcc,
            W::Processing,
            W::Internal,
            W::Action,
            W::Activity,
        ],
    },
    Spec {
        field: Field::MerchantName,
        rules: &[
            Rule(&[&[W::Merchant], &[W::Name]], 0.95, false),
            Rule(&[&[W::Dba]], 0.9, false),
            Rule(&[&[W::Acceptor], &[W::Name]], 0.9, false),
            Rule(&[&[W::Store], &[W::Name]], 0.85, false),
            Rule(&[&[W::Merchant]], 0.8, true),
        ],
        context: &[W::Card, W::Acceptor, W::Dba, W::Name, W::Merchant],
        veto: &[
            W::Id,
            W::Number,
            W::Key,
            W::Category,
            W::Country,
            W::City,
            W::State,
            W::Zip,
            W::Address,
            W::Account,
            W::Order,
            W::Reference,
            W::Code,
            W::Type,
            W::Mcc,
            W::Action,
            W::Activity,
            W::Customer,
        ],
    },
    Spec {
        field: Field::Mcc,
        rules: &[
            Rule(&[&[W::Mcc]], 0.95, false),
            Rule(&[&[W::Merchant], &[W::Category], &[W::Code]], 0.95, false),
            Rule(&[&[W::Category], &[W::Code]], 0.8, false),
            Rule(&[&[W::Merchant], &[W::Category]], 0.7, false),
        ],
        context: &[W::Code, W::Merchant],
        veto: &[W::Description, W::Name],
    },
    Spec {
        field: Field::MerchantCountry,
        rules: &[
            Rule(&[&[W::Merchant, W::Acceptor], &[W::Country]], 0.95, false),
            Rule(&[&[W::Acquirer], &[W::Country]], 0.9, false),
            Rule(&[&[W::Country]], 0.6, true),
        ],
        context: &[W::Code, W::Card],
        veto: &[W::Issuer, W::Customer, W::Name],
    },
    Spec {
        field: Field::IssuerCountry,
        rules: &[
            Rule(&[&[W::Issuer], &[W::Country]], 0.95, false),
            Rule(&[&[W::Card, W::Bin], &[W::Country]], 0.9, false),
        ],
        context: &[W::Code, W::Card, W::Issuer],
        veto: &[W::Merchant, W::Acquirer, W::Acceptor],
    },
    Spec {
        field: Field::IssuerBin,
        rules: &[Rule(&[&[W::Bin]], 0.9, false), Rule(&[&[W::First], &[W::Card, W::Pan]], 0.85, false)],
        context: &[W::Card, W::Issuer, W::Number, W::Code],
        veto: &[W::Country, W::Name, W::Type, W::Count],
    },
    Spec {
        field: Field::Pan,
        rules: &[
            Rule(&[&[W::Card], &[W::Number]], 0.95, false),
            Rule(&[&[W::Pan]], 0.95, false),
            Rule(&[&[W::Account], &[W::Number]], 0.7, false),
            Rule(&[&[W::Card]], 0.5, true),
        ],
        context: &[W::Masked, W::Credit, W::Debit, W::Number, W::Card, W::Account],
        veto: &[
            W::Token,
            W::Type,
            W::Network,
            W::Bin,
            W::Expiry,
            W::Holder,
            W::Name,
            W::Country,
            W::Product,
            W::Usage,
            W::Level,
            W::Count,
            W::Merchant,
            W::Company,
            W::Sequence,
            W::Security,
            W::Flag,
            W::Method,
        ],
    },
    Spec {
        field: Field::CardToken,
        rules: &[
            Rule(&[&[W::Card], &[W::Token]], 0.9, false),
            Rule(&[&[W::Token]], 0.7, false),
            Rule(&[&[W::Card], &[W::Id]], 0.7, false),
        ],
        context: &[W::Pan, W::Card],
        veto: &[W::Requestor, W::Method, W::Type],
    },
    Spec {
        field: Field::EntryMode,
        rules: &[
            Rule(&[&[W::Entry], &[W::Mode]], 0.95, false),
            Rule(&[&[W::Pos], &[W::Entry]], 0.9, false),
            Rule(&[&[W::Pos], &[W::Mode]], 0.85, false),
            Rule(&[&[W::Entry]], 0.75, false),
            Rule(&[&[W::Capture], &[W::Method]], 0.75, false),
            Rule(&[&[W::Channel]], 0.6, false),
            Rule(&[&[W::Chip]], 0.6, false),
        ],
        context: &[W::Pos, W::Mode, W::Code, W::Card],
        veto: &[W::Date, W::Amount, W::Authentication],
    },
    Spec {
        field: Field::InterchangeFee,
        rules: &[Rule(&[&[W::Interchange]], 0.9, false)],
        context: &[W::Fee, W::Amount, W::Total, W::Settlement, W::Net, W::Clearing],
        veto: &[W::Rate, W::Unit, W::Qualification, W::Code, W::Count, W::Minor, W::Description, W::Level],
    },
    Spec {
        field: Field::InterchangeFeeMinor,
        rules: &[Rule(&[&[W::Interchange], &[W::Minor]], 0.95, false)],
        context: &[W::Fee, W::Amount, W::Total],
        veto: &[W::Rate, W::Unit, W::Qualification, W::Count],
    },
    Spec {
        field: Field::ReasonCode,
        rules: &[Rule(&[&[W::Reason], &[W::Code]], 0.95, false), Rule(&[&[W::Reason]], 0.8, false)],
        context: &[W::Chargeback, W::Dispute, W::Network, W::Payment, W::Code],
        veto: &[W::Description, W::Category, W::Response, W::Error, W::Count, W::Downgrade, W::Reject],
    },
    Spec {
        field: Field::FraudReported,
        rules: &[
            Rule(&[&[W::Is], &[W::Fraud]], 0.9, false),
            Rule(&[&[W::Fraud], &[W::Flag]], 0.9, false),
            Rule(&[&[W::Fraud], &[W::Type]], 0.85, false),
            Rule(&[&[W::Fraud]], 0.8, false),
        ],
        context: &[W::Is, W::Flag, W::Type],
        veto: &[W::Score, W::Amount, W::Date, W::Count, W::Rate, W::Time, W::Reason, W::Description],
    },
    Spec {
        field: Field::Description,
        rules: &[Rule(&[&[W::Description]], 0.8, false)],
        context: &[W::Txn, W::Payment],
        veto: &[
            W::Response,
            W::Reason,
            W::Code,
            W::Type,
            W::Method,
            W::Merchant,
            W::Category,
            W::Action,
            W::Interchange,
            W::Qualification,
            W::Error,
        ],
    },
];

fn spec(field: Field) -> Option<&'static Spec> {
    SPECS.iter().find(|s| s.field == field)
}

/// How well `rule` of `spec` names a header of words `hw`: the rule's weight, lowered as
/// fewer of the header's words are the rule's or the field's context words.
fn rule_score(spec: &Spec, rule: &Rule, hw: &HeaderWords) -> Option<f64> {
    let mut used = vec![false; hw.words.len()];
    let mut matched_words: Vec<W> = Vec::new();
    for slot in rule.0 {
        let i = hw.words.iter().enumerate().position(|(i, w)| !used[i] && slot.contains(w))?;
        used[i] = true;
        matched_words.push(hw.words[i]);
    }
    let in_rule = |w: &W| rule.0.iter().any(|slot| slot.contains(w));
    if hw.words.iter().any(|w| spec.veto.contains(w) && !in_rule(w)) {
        return None;
    }
    let explained = hw
        .words
        .iter()
        .enumerate()
        .filter(|(i, w)| used[*i] || spec.context.contains(w) || matched_words.contains(w))
        .count();
    let coverage = explained as f64 / hw.len().max(1) as f64;
    if rule.2 && coverage < 1.0 {
        return None;
    }
    Some(rule.1 * (0.7 + 0.3 * coverage))
}

/// The best a header's words name `field`.
fn name_score(field: Field, hw: &HeaderWords) -> Option<f64> {
    let spec = spec(field)?;
    spec.rules.iter().filter_map(|r| rule_score(spec, r, hw)).max_by(f64::total_cmp)
}

/// Why a candidate column was or was not taken.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    /// The column's header.
    pub column: String,
    /// The column's position.
    #[serde(skip)]
    pub index: usize,
    /// The field it could hold.
    pub field: String,
    /// 0–1.
    pub confidence: f64,
    /// `canonical`, `vocabulary`, `fuzzy`, `value_shape`.
    pub rule: String,
    /// Why its values rule it out, when they do.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejected: Option<String>,
}

impl MappingOverrides {
    /// Checks names and values; the error names what is wrong.
    pub fn validate(&self) -> crate::error::Result<()> {
        let bad = |m: String| Err(crate::error::Error::invalid("invalid_mapping", m));
        for name in self.columns.keys() {
            if Field::from_name(name).is_none() {
                let names: Vec<&str> = Field::ALL.iter().map(|f| f.as_str()).collect();
                return bad(format!("`{name}` is not a field; fields are {}", names.join(", ")));
            }
        }
        if let Some(o) = &self.date_order {
            if !matches!(o.as_str(), "dmy" | "mdy" | "ymd") {
                return bad(format!("date_order `{o}` must be dmy, mdy or ymd"));
            }
        }
        for (value, stage) in &self.kinds {
            if !stage.eq_ignore_ascii_case("skip") && Stage::parse(stage).is_none() {
                return bad(format!(
                    "kinds: `{value}` → `{stage}` must be AUTH, CLEARING, SETTLEMENT, REFUND, CHARGEBACK, FRAUD or skip"
                ));
            }
        }
        if self.columns.len() > 64 || self.kinds.len() > 256 {
            return bad("too many overrides".into());
        }
        let long = |s: &str| s.chars().count() > 256;
        if self.columns.values().flatten().any(|h| long(h)) || self.kinds.keys().any(|k| long(k)) {
            return bad("a header or row type in the mapping is longer than 256 characters".into());
        }
        if let Some(c) = &self.currency {
            if Currency::parse_any(c).is_none() {
                return bad(format!("currency `{c}` is not an ISO 4217 code"));
            }
        }
        if let Some(tz) = &self.timezone {
            if tz != "UTC" && jiff::tz::TimeZone::get(tz).is_err() {
                return bad(format!("timezone `{tz}` is not an IANA time zone name"));
            }
        }
        Ok(())
    }
}

/// The result of mapping a header row.
#[derive(Debug, Clone, Default)]
pub struct ColumnMap {
    /// Field of each column (`None`: ignored).
    pub columns: Vec<Option<Field>>,
    /// One decision per column, in column order.
    pub decisions: Vec<MappingDecision>,
    /// Every candidate considered, best first (to explain what was not chosen).
    pub candidates: Vec<Candidate>,
    /// The headers as read.
    pub(crate) words: Vec<HeaderWords>,
    headers: Vec<String>,
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
        self.headers.iter().map(String::as_str).collect()
    }

    /// The candidates for `field` that were not taken, best first.
    pub fn runners_up(&self, field: Field) -> impl Iterator<Item = &Candidate> {
        let taken = self.column(field);
        self.candidates.iter().filter(move |c| c.field == field.as_str() && Some(c.index) != taken)
    }

    /// Clears `field` (the row plan found it unusable).
    pub fn drop_field(&mut self, field: Field, why: &str) {
        if let Some(i) = self.column(field) {
            self.columns[i] = None;
            let d = &mut self.decisions[i];
            d.rule = format!("not used as {}: {why}", d.field);
            d.field = "ignored".into();
            d.confidence = 0.0;
        }
    }
}

/// What maps the columns: the stage the uploader declared (time and amount columns that name
/// it are preferred), and explicit overrides.
#[derive(Debug, Clone, Copy, Default)]
pub struct MapContext<'a> {
    /// The declared (or file-named) stage.
    pub stage: Option<Stage>,
    /// Explicit choices.
    pub overrides: Option<&'a MappingOverrides>,
    /// Where the overrides come from (`override` or `profile`).
    pub override_rule: &'a str,
}

/// Words of a stage's own events: a time column that names them is the stage's time.
pub(crate) fn event_words(stage: Stage) -> &'static [W] {
    match stage {
        Stage::Auth => &[W::Authorization],
        Stage::Clearing => {
            &[W::Clearing, W::Presentment, W::Submission, W::Deposit, W::Capture, W::Processing]
        }
        Stage::Settlement => &[W::Settlement],
        Stage::Refund => &[W::Refund],
        Stage::Chargeback => &[W::Chargeback, W::Dispute, W::Initiated],
        Stage::Fraud => &[W::Fraud, W::Txn],
    }
}

/// A column that could hold a field, and how well.
struct Cand {
    col: usize,
    field: Field,
    score: f64,
    rule: &'static str,
    rejected: Option<String>,
}

/// Maps a header row, using `sample` rows to check candidates against their values.
pub fn map_columns(headers: &StringRecord, sample: &[StringRecord], cx: MapContext<'_>) -> ColumnMap {
    let words: Vec<HeaderWords> = headers.iter().map(HeaderWords::of).collect();
    let mut cands = candidates(headers, &words, sample, cx.stage);
    pair_with_best(
        &mut cands,
        &words,
        headers,
        Field::Currency,
        &[Field::Amount, Field::AmountCredit, Field::AmountDebit],
    );
    pair_with_best(&mut cands, &words, headers, Field::Zone, &[Field::OccurredAt]);
    cands.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.col.cmp(&b.col)));
    let (mut chosen, absent) = forced(headers, cx);
    let mut taken: Vec<bool> = vec![false; headers.len()];
    for (i, _, _) in chosen.values() {
        taken[*i] = true;
    }
    for c in cands.iter().filter(|c| c.rejected.is_none()) {
        let blocked = exclusive_with(c.field).iter().any(|g| chosen.contains_key(g));
        if taken[c.col] || chosen.contains_key(&c.field) || absent.contains(&c.field) || blocked {
            continue;
        }
        chosen.insert(c.field, (c.col, round2(c.score), c.rule.to_owned()));
        taken[c.col] = true;
    }
    let by_column: HashMap<usize, (Field, f64, String)> =
        chosen.into_iter().map(|(f, (i, s, r))| (i, (f, s, r))).collect();
    let mut map = ColumnMap { headers: headers.iter().map(str::to_owned).collect(), ..Default::default() };
    for (i, h) in headers.iter().enumerate() {
        let (field, decision) = match by_column.get(&i) {
            Some((f, conf, rule)) => (Some(*f), MappingDecision::new(h, f.as_str(), *conf, rule.clone())),
            None => (None, ignored(h, i, &cands, &by_column, &absent)),
        };
        map.columns.push(field);
        map.decisions.push(decision);
    }
    map.candidates = cands
        .into_iter()
        .map(|c| Candidate {
            column: headers.get(c.col).unwrap_or("").to_owned(),
            index: c.col,
            field: c.field.as_str().into(),
            confidence: round2(c.score),
            rule: c.rule.into(),
            rejected: c.rejected,
        })
        .collect();
    map.words = words;
    map
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Every (column, field) a header or its values suggest, each checked against the values.
fn candidates(
    headers: &StringRecord,
    words: &[HeaderWords],
    sample: &[StringRecord],
    stage: Option<Stage>,
) -> Vec<Cand> {
    let mut cands = Vec::new();
    for (col, h) in headers.iter().enumerate() {
        let profile = Profile::of(sample, col);
        let canon = h.trim().to_ascii_lowercase();
        if let Some(field) = Field::ALL.into_iter().find(|f| f.canonical().contains(&canon.as_str())) {
            cands.push(Cand { col, field, score: 1.0, rule: "canonical", rejected: None });
            continue;
        }
        let (hw, rule) = match words[col].fuzzy_fixed() {
            Some(fixed) => (fixed, "fuzzy"),
            None => (words[col].clone(), "vocabulary"),
        };
        let mut named = false;
        for field in Field::ALL {
            let Some(mut score) = name_score(field, &hw) else { continue };
            named = true;
            if rule == "fuzzy" {
                score *= 0.9;
            }
            score += preference(field, &hw, stage);
            if profile.is_blank() {
                score *= 0.5;
            }
            let (score, rejected) = match profile.fits(field, &hw) {
                Ok(quality) => (score * (0.9 + 0.1 * quality), None),
                Err(why) => (score, Some(why)),
            };
            cands.push(Cand { col, field, score: score.min(1.0), rule, rejected });
        }
        if !named && !words[col].names_something_else() {
            if let Some((field, score)) = profile.shape() {
                cands.push(Cand { col, field, score, rule: "value_shape", rejected: None });
            }
        }
    }
    cands
}

/// Small adjustments between columns that name the same field: the presentment amount over
/// a converted one, the declared stage's own time and row type over others, UTC over a
/// local zone.
fn preference(field: Field, hw: &HeaderWords, stage: Option<Stage>) -> f64 {
    let names_stage = stage.is_some_and(|s| event_words(s).iter().any(|w| hw.has(*w)));
    let mut p = 0.0;
    match field {
        Field::OccurredAt | Field::Time | Field::Kind => {
            if names_stage {
                p += 0.06;
            }
            if field != Field::Kind && (hw.has(W::Txn) || hw.has(W::Created)) {
                p += 0.02;
            }
            if hw.has(W::Booking) {
                p -= 0.1;
            }
            if hw.has(W::Local) || hw.zone.is_some_and(|z| z != "utc" && z != "gmt") {
                p -= 0.03;
            }
        }
        Field::Amount | Field::Currency | Field::AmountCredit | Field::AmountDebit => {
            if hw.has(W::Presentment) || hw.has(W::Original) || hw.has(W::Gross) {
                p += 0.03;
            }
            if hw.has(W::Settlement) || hw.has(W::Billing) || hw.has(W::Net) {
                p -= 0.05;
            }
        }
        Field::ResponseCode if hw.has(W::Authorization) && hw.has(W::Code) => p += 0.02,
        _ => {}
    }
    p
}

/// Raises the candidates of `field` whose qualifying words match the best candidate of one of
/// `partners` (`Gross Currency` goes with `Gross Credit (GC)`); a zone column that qualifies
/// another time column (`Booking Date TimeZone`) is not the zone of the chosen time.
fn pair_with_best(
    cands: &mut [Cand],
    words: &[HeaderWords],
    headers: &StringRecord,
    field: Field,
    partners: &[Field],
) {
    let Some(partner) = cands
        .iter()
        .filter(|c| partners.contains(&c.field) && c.rejected.is_none())
        .max_by(|a, b| a.score.total_cmp(&b.score))
        .map(|c| c.col)
    else {
        return;
    };
    let qualifiers = [
        W::Gross,
        W::Net,
        W::Presentment,
        W::Settlement,
        W::Billing,
        W::Original,
        W::Booking,
        W::Created,
        W::Txn,
    ];
    for c in cands.iter_mut().filter(|c| c.field == field) {
        let own: Vec<W> = qualifiers.iter().copied().filter(|w| words[c.col].has(*w)).collect();
        if own.is_empty() {
            continue;
        }
        if own.iter().any(|w| words[partner].has(*w)) {
            c.score += 0.04;
        } else if field == Field::Zone {
            c.rejected = Some(format!(
                "it is the zone of another column, not of `{}`",
                headers.get(partner).unwrap_or("")
            ));
        }
    }
}

/// Fields that cannot both be mapped: a single amount column, or separate debit and credit.
fn exclusive_with(field: Field) -> &'static [Field] {
    match field {
        Field::Amount | Field::AmountMinor => &[Field::AmountDebit, Field::AmountCredit],
        Field::AmountDebit | Field::AmountCredit => &[Field::Amount, Field::AmountMinor],
        _ => &[],
    }
}

type Chosen = HashMap<Field, (usize, f64, String)>;

/// The overrides' choices: fields bound to a named column, and fields declared absent.
fn forced(headers: &StringRecord, cx: MapContext<'_>) -> (Chosen, Vec<Field>) {
    let (mut chosen, mut absent) = (Chosen::new(), Vec::new());
    let Some(o) = cx.overrides else { return (chosen, absent) };
    for (name, column) in &o.columns {
        let Some(field) = Field::from_name(name) else { continue };
        match column.as_deref().and_then(|h| headers.iter().position(|x| x.trim() == h.trim())) {
            Some(i) => {
                chosen.insert(field, (i, 1.0, cx.override_rule.to_owned()));
            }
            None if column.is_none() => absent.push(field),
            // A named column the file does not have: inference decides (the preview says so).
            None => {}
        }
    }
    (chosen, absent)
}

/// The decision for a column no field took: why, naming what won instead.
fn ignored(
    h: &str,
    i: usize,
    cands: &[Cand],
    by_column: &HashMap<usize, (Field, f64, String)>,
    absent: &[Field],
) -> MappingDecision {
    let rule = match cands.iter().find(|c| c.col == i) {
        None => "unmatched".to_owned(),
        Some(Cand { field, rejected: Some(why), .. }) => format!("not {}: {why}", field.as_str()),
        Some(Cand { field, .. }) if absent.contains(field) => {
            format!("{} is absent by override", field.as_str())
        }
        Some(Cand { field, .. }) => match by_column.iter().find(|(_, (g, _, _))| g == field) {
            Some(_) => format!("duplicate of the {} column", field.as_str()),
            None => format!("not {}: its alternative was taken", field.as_str()),
        },
    };
    MappingDecision::new(h, "ignored", 0.0, rule)
}

/// The currency a header names (`Amount (EUR)`), for amounts without a currency column.
pub fn header_currency(map: &ColumnMap, column: usize) -> Option<Currency> {
    map.words.get(column).and_then(|w| w.currency)
}

/// How many cells of a row read as column names: the header row has several.
pub fn header_score(row: &StringRecord) -> usize {
    row.iter()
        .filter(|c| {
            let c = c.trim();
            if c.is_empty()
                || c.len() > 80
                || c.contains('=')
                || c.bytes().any(|b| b.is_ascii_digit()) && !c.contains(char::is_alphabetic)
            {
                return false;
            }
            let canon = c.to_ascii_lowercase();
            if Field::ALL.iter().any(|f| f.canonical().contains(&canon.as_str())) {
                return true;
            }
            let hw = HeaderWords::of(c);
            Field::ALL.iter().any(|f| name_score(*f, &hw).is_some_and(|s| s >= 0.6))
        })
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(cells: &[&str]) -> StringRecord {
        StringRecord::from(cells.to_vec())
    }

    fn map(h: &[&str], rows: &[&[&str]]) -> ColumnMap {
        let sample: Vec<StringRecord> = rows.iter().map(|r| rec(r)).collect();
        map_columns(&rec(h), &sample, MapContext::default())
    }

    #[test]
    fn sample_layouts_map() {
        let m = map(
            &[
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
            ],
            &[],
        );
        assert_eq!(m.columns.iter().filter(|f| f.is_some()).count(), 15, "{:?}", m.decisions);
        assert_eq!(m.column(Field::Pan), Some(3));
        assert_eq!(m.column(Field::OccurredAt), Some(1));
        assert_eq!(m.column(Field::Time), Some(2));
        let m = map(
            &[
                "Trace ID",
                "Processing Date",
                "Card Brand",
                "MID",
                "DBA Name",
                "Amount",
                "Currency",
                "Interchange Fee",
            ],
            &[],
        );
        assert!(m.columns.iter().all(Option::is_some), "{:?}", m.decisions);
        let m = map(
            &[
                "network_transaction_id",
                "settlement_timestamp",
                "scheme",
                "merchant_id",
                "settled_amount_minor",
                "currency_numeric",
                "interchange_fee_minor",
            ],
            &[],
        );
        assert!(m.columns.iter().all(Option::is_some), "{:?}", m.decisions);
        assert_eq!(m.column(Field::AmountMinor), Some(4));
    }

    #[test]
    fn real_world_names_in_several_languages() {
        for (h, f) in [
            ("Id. de transacción", Field::TransactionId),
            ("Code de réponse", Field::ResponseCode),
            ("Código de respuesta", Field::ResponseCode),
            ("Transaction Ref", Field::TransactionId),
            ("auth_ts", Field::OccurredAt),
            ("Montant", Field::Amount),
            ("Devise", Field::Currency),
            ("Währung", Field::Currency),
            ("Kartennummer", Field::Pan),
            ("Numéro de carte", Field::Pan),
            ("Händlername", Field::MerchantName),
            ("Nome esercente", Field::MerchantName),
            ("Bandeira", Field::Network),
            ("Motivo del contracargo", Field::ReasonCode),
            ("Psp Reference", Field::TransactionId),
            ("Payment Transaction Identifier", Field::TransactionId),
            ("Country Of Issuance", Field::IssuerCountry),
            ("Data da transação", Field::OccurredAt),
        ] {
            let m = map(&[h, "x"], &[]);
            assert_eq!(m.column(f), Some(0), "{h}: {:?}", m.decisions);
        }
    }

    #[test]
    fn values_rule_out_damaged_columns() {
        let rows: Vec<Vec<&str>> = (0..10)
            .map(|i| {
                vec![
                    "1.55274E+12",
                    if i % 2 == 0 { "ORD1" } else { "ORD2" },
                    "16:43.0",
                    "2023-09-08T04:53:19Z",
                ]
            })
            .collect();
        let rows: Vec<&[&str]> = rows.iter().map(Vec::as_slice).collect();
        let m = map(
            &[
                "Transaction Identifier",
                "Merchant Order Number",
                "Authorization Timestamp",
                "Activity Timestamp",
            ],
            &rows,
        );
        assert_eq!(m.column(Field::TransactionId), Some(1), "{:?}", m.candidates);
        assert_eq!(m.column(Field::OccurredAt), Some(3), "{:?}", m.candidates);
        let why = m.runners_up(Field::TransactionId).find(|c| c.index == 0).and_then(|c| c.rejected.clone());
        assert!(why.is_some_and(|w| w.contains("scientific")));
    }

    #[test]
    fn weak_names_need_the_whole_header() {
        let m = map(&["Merchant ID", "Amount"], &[]);
        assert_eq!(m.column(Field::TransactionId), None);
        assert_eq!(m.column(Field::MerchantId), Some(0));
        let m = map(&["id", "Source", "Amount"], &[]);
        assert_eq!(m.column(Field::TransactionId), Some(1));
    }

    #[test]
    fn fuzzy_and_value_shape() {
        let sample: Vec<&[&str]> = vec![
            &["1.00", "00", "4111111111111111", "VISA"],
            &["2.00", "05", "4111111111111111", "MasterCard"],
            &["3.00", "00", "5340858851956325", "VISA"],
        ];
        let m = map(&["Txn Amnt", "Respnse Code", "col_x", "col_y"], &sample);
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
        let m = map(&["Amount", "Amount", "Currency"], &[]);
        assert_eq!(m.columns, vec![Some(Field::Amount), None, Some(Field::Currency)]);
        assert!(m.decisions[1].rule.starts_with("duplicate"), "{:?}", m.decisions);
    }

    #[test]
    fn overrides_win() {
        let o = MappingOverrides {
            columns: [
                ("transaction_id".to_owned(), Some("Ref B".to_owned())),
                ("merchant_name".to_owned(), None),
            ]
            .into(),
            ..Default::default()
        };
        let cx = MapContext { overrides: Some(&o), override_rule: "override", ..Default::default() };
        let m = map_columns(&rec(&["Transaction ID", "Ref B", "Merchant Name"]), &[], cx);
        assert_eq!(m.column(Field::TransactionId), Some(1));
        assert_eq!(m.column(Field::MerchantName), None);
        assert!(o.validate().is_ok());
        let bad = MappingOverrides { columns: [("amout".to_owned(), None)].into(), ..Default::default() };
        assert!(bad.validate().unwrap_err().to_string().contains("amout"));
    }
}
