//! The built-in knowledge base: ISO 8583 response codes, Visa, Mastercard and Amex chargeback
//! reason codes, merchant category codes and the metric glossary.

use crate::store::metric::Metric;

/// `(code, meaning)` of ISO 8583 authorization response codes (field 39).
pub const RESPONSE_CODES: &[(&str, &str)] = &[
    ("00", "Approved"),
    ("01", "Refer to card issuer"),
    ("02", "Refer to card issuer, special condition"),
    ("03", "Invalid merchant"),
    ("04", "Pick up card (no fraud)"),
    ("05", "Do not honor"),
    ("06", "Error"),
    ("07", "Pick up card, special condition (fraud account)"),
    ("10", "Partial approval"),
    ("11", "Approved (V.I.P.)"),
    ("12", "Invalid transaction"),
    ("13", "Invalid amount"),
    ("14", "Invalid card number"),
    ("15", "No such issuer"),
    ("19", "Re-enter transaction"),
    ("21", "No action taken"),
    ("25", "Unable to locate record"),
    ("28", "File temporarily unavailable"),
    ("30", "Format error"),
    ("39", "No credit account"),
    ("41", "Lost card, pick up"),
    ("43", "Stolen card, pick up"),
    ("51", "Insufficient funds"),
    ("52", "No checking account"),
    ("53", "No savings account"),
    ("54", "Expired card"),
    ("55", "Incorrect PIN"),
    ("57", "Transaction not permitted to cardholder"),
    ("58", "Transaction not permitted to terminal"),
    ("59", "Suspected fraud"),
    ("61", "Exceeds withdrawal amount limit"),
    ("62", "Restricted card"),
    ("63", "Security violation"),
    ("65", "Exceeds withdrawal frequency limit"),
    ("75", "Allowable number of PIN tries exceeded"),
    ("76", "Invalid or nonexistent account (to account)"),
    ("77", "Invalid or nonexistent account (from account)"),
    ("78", "Blocked, first use / no account"),
    ("85", "No reason to decline (account verification)"),
    ("91", "Issuer or switch unavailable"),
    ("92", "Unable to route transaction"),
    ("93", "Transaction cannot be completed, violation of law"),
    ("94", "Duplicate transmission"),
    ("96", "System malfunction"),
    ("N7", "Decline for CVV2 failure"),
    ("1A", "Additional customer authentication required (SCA)"),
];

/// `(code, network, meaning)` of chargeback reason codes.
pub const REASON_CODES: &[(&str, &str, &str)] = &[
    ("10.1", "Visa", "EMV liability shift counterfeit fraud"),
    ("10.2", "Visa", "EMV liability shift non-counterfeit fraud"),
    ("10.3", "Visa", "Other fraud – card-present environment"),
    ("10.4", "Visa", "Other fraud – card-absent environment"),
    ("10.5", "Visa", "Visa Fraud Monitoring Program"),
    ("11.1", "Visa", "Card recovery bulletin"),
    ("11.2", "Visa", "Declined authorization"),
    ("11.3", "Visa", "No authorization"),
    ("12.1", "Visa", "Late presentment"),
    ("12.2", "Visa", "Incorrect transaction code"),
    ("12.3", "Visa", "Incorrect currency"),
    ("12.4", "Visa", "Incorrect account number"),
    ("12.5", "Visa", "Incorrect amount"),
    ("12.6", "Visa", "Duplicate processing or paid by other means"),
    ("12.7", "Visa", "Invalid data"),
    ("13.1", "Visa", "Merchandise or services not received"),
    ("13.2", "Visa", "Cancelled recurring transaction"),
    ("13.3", "Visa", "Not as described or defective merchandise"),
    ("13.4", "Visa", "Counterfeit merchandise"),
    ("13.5", "Visa", "Misrepresentation"),
    ("13.6", "Visa", "Credit not processed"),
    ("13.7", "Visa", "Cancelled merchandise or services"),
    ("13.8", "Visa", "Original credit transaction not accepted"),
    ("13.9", "Visa", "Non-receipt of cash or load transaction value"),
    ("4807", "Mastercard", "Warning bulletin file"),
    ("4808", "Mastercard", "Authorization-related chargeback"),
    ("4812", "Mastercard", "Account number not on file"),
    ("4831", "Mastercard", "Transaction amount differs"),
    ("4834", "Mastercard", "Point-of-interaction error (duplicate processing)"),
    ("4837", "Mastercard", "No cardholder authorization (fraud)"),
    ("4840", "Mastercard", "Fraudulent processing of transactions"),
    ("4841", "Mastercard", "Cancelled recurring or digital goods transaction"),
    ("4842", "Mastercard", "Late presentment"),
    ("4846", "Mastercard", "Correct transaction currency code not provided"),
    ("4849", "Mastercard", "Questionable merchant activity"),
    ("4853", "Mastercard", "Cardholder dispute (not as described, not received)"),
    ("4855", "Mastercard", "Goods or services not provided"),
    ("4859", "Mastercard", "Addendum, no-show or ATM dispute"),
    ("4860", "Mastercard", "Credit not processed"),
    ("4863", "Mastercard", "Cardholder does not recognize – potential fraud"),
    ("4870", "Mastercard", "Chip liability shift"),
    ("4871", "Mastercard", "Chip/PIN liability shift"),
    ("A01", "Amex", "Charge amount exceeds authorization amount"),
    ("A02", "Amex", "No valid authorization"),
    ("A08", "Amex", "Authorization approval expired"),
    ("C02", "Amex", "Credit not processed"),
    ("C04", "Amex", "Goods or services returned or refused"),
    ("C05", "Amex", "Goods or services cancelled"),
    ("C08", "Amex", "Goods or services not received or only partially received"),
    ("C14", "Amex", "Paid by other means"),
    ("C18", "Amex", "No show or CARDeposit cancelled"),
    ("C28", "Amex", "Cancelled recurring billing"),
    ("C31", "Amex", "Goods or services not as described"),
    ("C32", "Amex", "Goods or services damaged or defective"),
    ("F10", "Amex", "Missing imprint"),
    ("F14", "Amex", "Missing signature"),
    ("F24", "Amex", "No card member authorization"),
    ("F29", "Amex", "Card not present"),
    ("FR2", "Amex", "Fraud full recourse program"),
    ("FR4", "Amex", "Immediate chargeback program"),
    ("FR6", "Amex", "Partial immediate chargeback program"),
    ("M01", "Amex", "Chargeback authorization"),
    ("P01", "Amex", "Unassigned card number"),
];

/// `(MCC, description)` of common merchant category codes.
pub const MCCS: &[(&str, &str)] = &[
    ("0742", "Veterinary services"),
    ("1520", "General contractors – residential and commercial"),
    ("3000", "Airlines (United Airlines)"),
    ("4011", "Railroads"),
    ("4111", "Local and suburban commuter passenger transportation"),
    ("4121", "Taxicabs and limousines"),
    ("4131", "Bus lines"),
    ("4214", "Motor freight carriers and trucking"),
    ("4411", "Cruise lines"),
    ("4511", "Airlines and air carriers"),
    ("4722", "Travel agencies and tour operators"),
    ("4789", "Transportation services"),
    ("4812", "Telecommunication equipment and telephone sales"),
    ("4814", "Telecommunication services"),
    ("4816", "Computer network and information services"),
    ("4899", "Cable, satellite and other pay television services"),
    ("4900", "Utilities – electric, gas, water, sanitary"),
    ("5045", "Computers, peripherals and software"),
    ("5085", "Industrial supplies"),
    ("5111", "Stationery, office supplies"),
    ("5200", "Home supply warehouse stores"),
    ("5310", "Discount stores"),
    ("5311", "Department stores"),
    ("5331", "Variety stores"),
    ("5399", "Miscellaneous general merchandise"),
    ("5411", "Grocery stores and supermarkets"),
    ("5462", "Bakeries"),
    ("5499", "Miscellaneous food stores"),
    ("5541", "Service stations"),
    ("5542", "Automated fuel dispensers"),
    ("5651", "Family clothing stores"),
    ("5661", "Shoe stores"),
    ("5691", "Men's and women's clothing stores"),
    ("5732", "Electronics stores"),
    ("5734", "Computer software stores"),
    ("5812", "Eating places and restaurants"),
    ("5813", "Drinking places (bars, taverns, nightclubs)"),
    ("5814", "Fast food restaurants"),
    ("5815", "Digital goods – media, books, movies, music"),
    ("5816", "Digital goods – games"),
    ("5817", "Digital goods – applications"),
    ("5818", "Digital goods – large digital goods merchant"),
    ("5912", "Drug stores and pharmacies"),
    ("5942", "Book stores"),
    ("5944", "Jewelry stores"),
    ("5945", "Hobby, toy and game shops"),
    ("5967", "Direct marketing – inbound teleservices"),
    ("5968", "Direct marketing – continuity and subscription"),
    ("5969", "Direct marketing – other"),
    ("5999", "Miscellaneous and specialty retail stores"),
    ("6010", "Financial institutions – manual cash disbursements"),
    ("6011", "Financial institutions – automated cash disbursements"),
    ("6012", "Financial institutions – merchandise and services"),
    ("6051", "Non-financial institutions – foreign currency, money orders, quasi-cash"),
    ("6211", "Security brokers and dealers"),
    ("6300", "Insurance sales and underwriting"),
    ("7011", "Hotels, motels and resorts"),
    ("7273", "Dating and escort services"),
    ("7399", "Business services"),
    ("7512", "Car rental agencies"),
    ("7801", "Government-licensed online casinos"),
    ("7802", "Government-licensed horse and dog racing"),
    ("7832", "Motion picture theaters"),
    ("7995", "Betting, casino gambling and lottery"),
    ("7997", "Membership clubs (sports, recreation, athletic)"),
    ("8011", "Doctors and physicians"),
    ("8021", "Dentists and orthodontists"),
    ("8062", "Hospitals"),
    ("8099", "Medical services and health practitioners"),
    ("8220", "Colleges, universities and professional schools"),
    ("8398", "Charitable and social service organizations"),
    ("8999", "Professional services"),
    ("9211", "Court costs, including alimony and child support"),
    ("9222", "Fines"),
    ("9311", "Tax payments"),
    ("9399", "Government services"),
];

/// The glossary entry of a metric.
pub fn glossary(metric: Metric) -> &'static str {
    use Metric::*;
    match metric {
        TransactionCount => "transaction count: the number of authorization attempts (AUTH facts), approved or declined",
        ApprovedCount => "approved count: authorizations the issuer approved",
        DeclinedCount => "declined count: authorizations the issuer declined, grouped by response code to see why",
        ApprovalRate => "approval rate: approved authorizations divided by all authorization attempts",
        DeclineRate => "decline rate: declined authorizations divided by all authorization attempts",
        TransactionAmount => "transaction amount (sales, processed volume): the sum of approved authorization amounts, per currency",
        AverageTicket => "average ticket: transaction amount divided by approved count, per currency",
        ClearedCount => "cleared count: clearing (presentment) records, when the merchant's acquirer submits the transaction",
        ClearedAmount => "cleared amount: the sum of clearing amounts, per currency",
        SettledCount => "settled count: settlement records, when funds move between issuer and acquirer",
        SettledAmount => "settled amount: the sum of settlement amounts, per currency",
        InterchangeFees => "interchange fees: the fees the acquirer pays the issuer, assessed at clearing",
        NetSettlement => "net settlement: settled amounts minus their interchange fees",
        RefundCount => "refund count: refunds of earlier transactions",
        RefundAmount => "refund amount: the sum of refunds, per currency",
        ChargebackCount => "chargeback count: disputes raised by cardholders through their issuer",
        ChargebackAmount => "chargeback amount: the disputed amounts, per currency",
        ChargebackRate => "chargeback rate: chargebacks divided by approved authorizations; the networks monitor it (Visa VAMP with fraud reports, Mastercard ECM)",
        FraudCount => "fraud count: distinct transactions reported as fraud (flagged authorizations or TC40/SAFE fraud reports), dated at the transaction",
        FraudAmount => "fraud amount: the amount of the transactions reported as fraud",
        FraudRate => "fraud rate: fraud count divided by approved authorizations",
        CrossBorderShare => "cross-border share: authorizations whose issuer and merchant countries differ, out of those with both known",
        SettlementDelayHours => "settlement delay: mean hours from an approved authorization to its settlement record",
        ReconciliationRate => "reconciliation rate: approved authorizations that have a settlement record, out of all approved authorizations",
        UnmatchedAuthCount => "unmatched authorizations: approved authorizations with no settlement record yet",
    }
}

/// Other terms analysts ask about.
pub const TERMS: &[(&str, &str)] = &[
    ("interchange", "Interchange is the fee the acquirer pays the card issuer on each transaction, set by the network per card type, merchant category and entry mode."),
    ("bin", "A BIN (bank identification number, now IIN) is the first six to eight digits of a card number; it identifies the issuer and card product."),
    ("mcc", "A merchant category code is the four-digit ISO 18245 code that classifies a merchant's business."),
    ("chargeback", "A chargeback reverses a settled transaction at the cardholder's request through the issuer; the merchant can represent it with evidence."),
    ("settlement", "Settlement is the movement of funds between issuer and acquirer for cleared transactions, typically one to three days after authorization."),
    ("clearing", "Clearing (presentment) is the acquirer's submission of the final transaction record to the network after authorization."),
    ("vdmp", "Visa's Dispute Monitoring Program (VDMP) and Fraud Monitoring Program (VFMP) were retired on 2025-04-01 and replaced by the Visa Acquirer Monitoring Program (VAMP)."),
    ("vamp", "The Visa Acquirer Monitoring Program (VAMP) measures (transactions reported as fraud + disputes) / settled transactions each month; a merchant is excessive at 2.2% from 2025-06-01 and at 1.5% from 2026-04-01 (outside MENA) when fraud reports and disputes number more than 1,500 in the month; an acquirer's whole portfolio is above standard at 0.5% and excessive at 0.7% from 2025-06-01, at 0.3% and 0.5% from 2026-04-01. It counts card-not-present transactions."),
    ("ecm", "Mastercard's Excessive Chargeback Merchant program (ECM) flags merchants with a chargeback-to-transaction ratio of 1.5% or more and at least 100 chargebacks in a month."),
    ("ecp", "Mastercard's Excessive Chargeback Program flags merchants with at least 100 chargebacks and a 1.5% chargeback-to-transaction ratio in a month (high excessive at 300 and 3%)."),
    ("efm", "Mastercard's Excessive Fraud Merchant program (EFM) flags card-not-present merchants whose fraud amount is at least 0.5% of their sales amount and at least USD 50,000 in a month (with a low 3-D Secure share)."),
    ("tc40", "A TC40 is Visa's fraud report from an issuer (Mastercard's equivalent is SAFE); fraud facts are dated at the original transaction."),
    ("cpp", "A common point of purchase is a merchant where many cards later used fraudulently were seen before the fraud — a likely point of compromise."),
];

/// The meaning of a response code.
pub fn response_code(code: &str) -> Option<&'static str> {
    RESPONSE_CODES.iter().find(|(c, _)| c.eq_ignore_ascii_case(code)).map(|(_, m)| *m)
}

/// The network and meaning of a reason code.
pub fn reason_code(code: &str) -> Option<(&'static str, &'static str)> {
    REASON_CODES.iter().find(|(c, ..)| c.eq_ignore_ascii_case(code)).map(|(_, n, m)| (*n, *m))
}

/// The description of an MCC.
pub fn mcc(code: &str) -> Option<&'static str> {
    MCCS.iter().find(|(c, _)| *c == code).map(|(_, d)| *d)
}

/// Every knowledge-base document, as `(id, text)`, for the retrieval index.
pub fn documents() -> Vec<(String, String)> {
    let mut docs = Vec::new();
    for (c, m) in RESPONSE_CODES {
        docs.push((format!("response_code:{c}"), format!("Response code {c}: {m}.")));
    }
    for (c, n, m) in REASON_CODES {
        docs.push((format!("reason_code:{c}"), format!("{n} chargeback reason code {c}: {m}.")));
    }
    for (c, d) in MCCS {
        docs.push((format!("mcc:{c}"), format!("MCC {c}: {d}.")));
    }
    for m in Metric::ALL {
        docs.push((format!("metric:{}", m.as_str()), format!("{}.", glossary(*m))));
    }
    for (t, d) in TERMS {
        docs.push((format!("term:{t}"), (*d).to_owned()));
    }
    docs
}
