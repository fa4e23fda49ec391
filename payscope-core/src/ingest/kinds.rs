//! What a row says it is. A type or action column (`SALE`/`REFUND`, `DP`/`RF`,
//! `Settled`/`Refunded`/`MerchantPayout`, `charge`/`refund`/`adjustment`, `Website Payment`,
//! `General Withdrawal`) is read as a [`Kind`]: a stage, a sale whose stage is the report's,
//! or a row that is not a card transaction and is skipped with its reason. A payment-method
//! column is read as a card network or a non-card method (iDEAL, SEPA, ACH, bank transfer).

use super::vocabulary::split;
use crate::facts::{Network, Stage};

/// Why a row that is not a card transaction is skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Skip {
    /// An authorization reversal or void.
    Reversal,
    /// A chargeback the merchant won back.
    ChargebackReversal,
    /// A refund taken back.
    RefundReversal,
    /// A payout, transfer or withdrawal to the merchant's bank.
    Payout,
    /// A fee or commission.
    Fee,
    /// A currency conversion between balances.
    Conversion,
    /// A balance hold or its release.
    Hold,
    /// An adjustment that is not a chargeback.
    Adjustment,
    /// An authorization in a clearing or settlement report: nothing was cleared or settled.
    NotSettled,
    /// A payment the account holder sent (a negative sale in a ledger).
    Sent,
    /// A non-card payment method.
    NonCard,
    /// A row whose status says it did not complete.
    NotCompleted,
    /// A row a mapping override says to skip.
    Override,
}

impl Skip {
    /// The reason as reported.
    pub fn as_str(self) -> &'static str {
        match self {
            Skip::Reversal => "authorization reversal",
            Skip::ChargebackReversal => "chargeback reversal",
            Skip::RefundReversal => "refund reversal",
            Skip::Payout => "payout/transfer",
            Skip::Fee => "fee",
            Skip::Conversion => "currency conversion",
            Skip::Hold => "balance hold/release",
            Skip::Adjustment => "adjustment",
            Skip::NotSettled => "authorization only, not cleared or settled",
            Skip::Sent => "payment sent by the account holder (negative sale)",
            Skip::NonCard => "non-card payment method",
            Skip::NotCompleted => "not completed",
            Skip::Override => "skipped by the mapping",
        }
    }
}

/// What a row's type says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A stage named outright (`AUTH`, `CLEARING`, ... in a stage column).
    Stage(Stage),
    /// A sale or payment; the stage when the word names one (`Settled`, `DEPOSITS`).
    Sale(Option<Stage>),
    /// An authorization only (`AU`, `Sale Authorize Only`, `AUTHORIZATIONS`).
    Authorization,
    /// A refund.
    Refund,
    /// A chargeback or dispute.
    Chargeback,
    /// A fraud report.
    Fraud,
    /// An adjustment: a chargeback when its description says so.
    Adjustment,
    /// Not a card transaction.
    Skip(Skip),
    /// Not a word of any kind.
    Unknown,
}

impl Kind {
    /// True for a word this module knows.
    pub fn is_known(self) -> bool {
        self != Kind::Unknown
    }
}

const FEE: &[&str] = &[
    "fee",
    "fees",
    "commission",
    "commissions",
    "deduction",
    "costs",
    "cost",
    "frais",
    "comision",
    "gebuhr",
    "gebuehr",
    "gebuhren",
    "taxa",
    "tarifa",
    "commissione",
    "costo",
    "markup",
];
const CHARGEBACK: &[&str] = &[
    "chargeback",
    "chargebacks",
    "dispute",
    "disputes",
    "disputed",
    "contracargo",
    "retrofacturation",
    "impaye",
    "ruckbuchung",
    "rueckbuchung",
];
const REFUND: &[&str] = &[
    "refund",
    "refunds",
    "refunded",
    "return",
    "returned",
    "reembolso",
    "devolucion",
    "remboursement",
    "rembourse",
    "erstattung",
    "ruckerstattung",
    "rueckerstattung",
    "gutschrift",
    "rimborso",
    "reso",
    "estorno",
    "devolucao",
    "reembolsado",
];
const REVERSAL: &[&str] = &[
    "reversal",
    "reversals",
    "reversed",
    "reverse",
    "void",
    "voided",
    "cancel",
    "cancelled",
    "canceled",
    "cancellation",
    "annulation",
    "annule",
    "anulacion",
    "anulada",
    "anulado",
    "storno",
    "stornierung",
    "annullamento",
    "annullato",
    "won",
    "representment",
];
const AUTH: &[&str] = &[
    "authorization",
    "authorizations",
    "authorisation",
    "authorisations",
    "authorised",
    "authorized",
    "authorize",
    "authorise",
    "auth",
    "preauth",
    "preauthorization",
    "autorizacion",
    "autorisation",
    "autorizzazione",
    "autorizacao",
    "autorisierung",
    "genehmigung",
];
const PAYOUT: &[&str] = &[
    "payout",
    "payouts",
    // The acquirer's payment of the balance to the merchant (es, it, pt, fr).
    "liquidacion",
    "liquidaciones",
    "liquidazione",
    "liquidacao",
    "reversement",
    "transfer",
    "transfers",
    "withdrawal",
    "withdrawals",
    "paidout",
    "auszahlung",
    "virement",
    "retiro",
    "transferencia",
    "saque",
    "bonifico",
    "prelievo",
    "sweep",
];
const CONVERSION: &[&str] =
    &["conversion", "exchange", "fx", "conversao", "conversione", "umrechnung", "cambio"];
const HOLD: &[&str] =
    &["hold", "holds", "release", "released", "reserve", "retenue", "retencion", "sperre", "blocco", "held"];
const ADJUSTMENT: &[&str] = &[
    "adjustment",
    "adjustments",
    "correction",
    "adj",
    "ajuste",
    "ajustement",
    "anpassung",
    "korrektur",
    "rettifica",
];
const FRAUD: &[&str] = &["fraud", "tc40", "fraude", "betrug", "frode"];
const SETTLED: &[&str] =
    &["settled", "settlement", "funded", "liquidado", "liquidada", "regle", "abgerechnet", "liquidato"];
const CLEARED: &[&str] = &[
    "deposit",
    "deposits",
    "capture",
    "captured",
    "presentment",
    "cleared",
    "clearing",
    "submission",
    "submitted",
];
const SALE: &[&str] = &[
    "sale",
    "sales",
    "purchase",
    "purchases",
    "payment",
    "payments",
    "charge",
    "charges",
    "paid",
    "venta",
    "ventas",
    "vente",
    "ventes",
    "verkauf",
    "kauf",
    "zahlung",
    "venda",
    "vendas",
    "pagamento",
    "vendita",
    "vendite",
    "achat",
    "achats",
    "compra",
    "compras",
    "acquisto",
    "pago",
    "cobro",
    "debit",
];

/// Reads a type or action value.
pub(crate) fn classify(value: &str) -> Kind {
    let t = value.trim();
    if t.is_empty() {
        return Kind::Unknown;
    }
    // Processor action codes (J.P. Morgan's and others').
    match t.to_ascii_uppercase().as_str() {
        "AU" => return Kind::Authorization,
        "AR" => return Kind::Skip(Skip::Reversal),
        "DP" => return Kind::Sale(Some(Stage::Clearing)),
        "RF" => return Kind::Refund,
        "CB" => return Kind::Chargeback,
        "AJ" => return Kind::Adjustment,
        _ => {}
    }
    if t.eq_ignore_ascii_case("credit") || t.eq_ignore_ascii_case("credit voucher") {
        return Kind::Refund;
    }
    let tokens = split(t);
    // A word, or a long token that holds one (`Balancetransfer`, `settledbulk`).
    let has = |list: &[&str]| {
        tokens.iter().any(|tk| {
            list.contains(&tk.as_str())
                || tk.len() >= 8 && list.iter().any(|w| w.len() >= 5 && tk.contains(w))
        })
    };
    if has(FEE) {
        Kind::Skip(Skip::Fee)
    } else if has(CHARGEBACK) {
        if has(REVERSAL) {
            Kind::Skip(Skip::ChargebackReversal)
        } else {
            Kind::Chargeback
        }
    } else if has(REFUND) {
        if has(REVERSAL) {
            Kind::Skip(Skip::RefundReversal)
        } else {
            Kind::Refund
        }
    } else if has(REVERSAL) {
        Kind::Skip(Skip::Reversal)
    } else if has(AUTH) {
        if has(CLEARED) {
            Kind::Sale(Some(Stage::Clearing))
        } else if has(SETTLED) {
            Kind::Sale(Some(Stage::Settlement))
        } else {
            Kind::Authorization
        }
    } else if has(PAYOUT) {
        Kind::Skip(Skip::Payout)
    } else if has(CONVERSION) {
        Kind::Skip(Skip::Conversion)
    } else if has(HOLD) {
        Kind::Skip(Skip::Hold)
    } else if has(ADJUSTMENT) {
        Kind::Adjustment
    } else if has(FRAUD) {
        Kind::Fraud
    } else if has(SETTLED) {
        Kind::Sale(Some(Stage::Settlement))
    } else if has(CLEARED) {
        Kind::Sale(Some(Stage::Clearing))
    } else if has(SALE) {
        Kind::Sale(None)
    } else {
        Kind::Unknown
    }
}

/// Reads a canonical stage column (`AUTH`, `clearing`, `cb`, `tc40`): a stage name first,
/// then any kind word.
pub(crate) fn classify_stage(value: &str) -> Kind {
    match Stage::parse(value) {
        Some(s) => Kind::Stage(s),
        None => classify(value),
    }
}

/// A payment method as a card network or a non-card method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Method {
    /// A card network.
    Card(Network),
    /// Not a card (bank transfer, direct debit, wallet balance, voucher).
    NonCard,
}

/// Non-card methods, by the start of their normalized name.
const NON_CARD: &[&str] = &[
    "ideal",
    "sofort",
    "directebanking",
    "giropay",
    "banktransfer",
    "sepa",
    "europeandirectdebit",
    "ach",
    "ecp",
    "echeck",
    "electroniccheck",
    "paypal",
    "klarna",
    "afterpay",
    "clearpay",
    "alipay",
    "wechatpay",
    "bcmcmobile",
    "bizum",
    "blik",
    "multibanco",
    "boleto",
    "trustly",
    "przelewy24",
    "mobilepay",
    "swish",
    "vipps",
    "twint",
    "bacs",
    "becs",
    "payconiq",
    "oxxo",
    "konbini",
    "grabpay",
    "gcash",
    "paysafecard",
    "onlinebanking",
    "openbanking",
    "dotpay",
    "trustpay",
    "ebanking",
    "giftcard",
    "voucher",
];

/// Non-card methods written as a whole short word.
const NON_CARD_EXACT: &[&str] = &["check", "cheque", "iban", "pix", "eps", "p24", "wire", "cash"];

/// Reads a payment method or brand value; `None` when it is neither a card network nor a
/// known non-card method (the value is then kept as the network's name).
pub(crate) fn method(value: &str) -> Option<Method> {
    let key: String =
        value.chars().filter(char::is_ascii_alphanumeric).collect::<String>().to_ascii_lowercase();
    if key.is_empty() {
        return None;
    }
    // Two-letter method-of-payment codes of processor reports (J.P. Morgan's MOP table).
    let code = match key.as_str() {
        "vi" | "cz" => Some(Method::Card(Network::Visa)),
        "mc" => Some(Method::Card(Network::Mastercard)),
        "ax" => Some(Method::Card(Network::Amex)),
        "di" | "dd" => Some(Method::Card(Network::Discover)),
        "jc" => Some(Method::Card(Network::Jcb)),
        "sp" => Some(Method::Card(Network::Other("star".into()))),
        "np" => Some(Method::Card(Network::Other("nyce".into()))),
        "pp" => Some(Method::Card(Network::Other("pulse".into()))),
        "ap" => Some(Method::Card(Network::Other("accel".into()))),
        "ed" | "ec" => Some(Method::NonCard),
        _ => None,
    };
    if code.is_some() {
        return code;
    }
    if NON_CARD.iter().any(|p| key.starts_with(p))
        || NON_CARD_EXACT.contains(&key.as_str())
        || key.contains("directdebit")
        || key.contains("banktransfer")
    {
        return Some(Method::NonCard);
    }
    match Network::parse(value)? {
        Network::Other(name) => OTHER_CARD_SCHEMES
            .iter()
            .find(|s| key.starts_with(*s))
            .map(|s| Method::Card(Network::Other(if name.len() > 24 { (*s).to_owned() } else { name }))),
        known => Some(Method::Card(known)),
    }
}

/// Card schemes beyond the six with their own [`Network`] variant.
const OTHER_CARD_SCHEMES: &[&str] = &[
    "cartebancaire",
    "cartesbancaires",
    "bcmc",
    "bancontact",
    "elo",
    "hipercard",
    "rupay",
    "mir",
    "interac",
    "eftpos",
    "dankort",
    "star",
    "nyce",
    "pulse",
    "accel",
    "troy",
    "verve",
    "meeza",
    "cb",
    "girocard",
    "vpay",
    "electron",
    "uatp",
    "dinersclub",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_words_of_real_reports() {
        use Kind::*;
        for (v, k) in [
            ("Settled", Sale(Some(crate::facts::Stage::Settlement))),
            ("Refunded", Refund),
            ("Fee", Skip(super::Skip::Fee)),
            ("MerchantPayout", Skip(super::Skip::Payout)),
            ("charge", Sale(None)),
            ("transfer", Skip(super::Skip::Payout)),
            ("adjustment", Adjustment),
            ("SALE", Sale(None)),
            ("DP", Sale(Some(crate::facts::Stage::Clearing))),
            ("RF", Refund),
            ("AU", Authorization),
            ("AR", Skip(super::Skip::Reversal)),
            ("Sale Authorize Only", Authorization),
            ("Auth Reversal", Skip(super::Skip::Reversal)),
            ("General Withdrawal", Skip(super::Skip::Payout)),
            ("User Initiated Currency Conversion", Skip(super::Skip::Conversion)),
            ("Payment Hold", Skip(super::Skip::Hold)),
            ("Website Payment", Sale(None)),
            ("ChargebackReversed", Skip(super::Skip::ChargebackReversal)),
            ("Chargeback withdrawal for ch_1", Chargeback),
            ("Remboursement", Refund),
            ("Devolución", Refund),
            ("Rückerstattung", Refund),
            ("Venda", Sale(None)),
            ("ECI Indicator - Channel Encrypted Transaction", Unknown),
            ("Balancetransfer", Skip(super::Skip::Payout)),
            ("credit", Refund),
            ("Pago estándar_1", Sale(None)),
        ] {
            assert_eq!(classify(v), k, "{v}");
        }
    }

    #[test]
    fn methods() {
        let card = |v: &str| match method(v) {
            Some(Method::Card(n)) => n.as_str().to_owned(),
            other => format!("{other:?}"),
        };
        assert_eq!(card("visadankort"), "visa");
        assert_eq!(card("mcstandarddebit"), "mastercard");
        assert_eq!(card("Visa  (VI) - Credit"), "visa");
        assert_eq!(card("MasterCard  (MC) - Signature Debit"), "mastercard");
        assert_eq!(card("CZ"), "visa");
        assert_eq!(card("cartebancaire"), "cartebancaire");
        for v in [
            "ideal",
            "bankTransfer_NL",
            "directEbanking",
            "giropay",
            "bcmc_mobile",
            "ED",
            "European Direct Debit  (ED)",
        ] {
            assert_eq!(method(v), Some(Method::NonCard), "{v}");
        }
        assert_eq!(method("somethingelse"), None);
    }
}
