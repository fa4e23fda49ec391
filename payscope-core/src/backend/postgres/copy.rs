//! Facts in Postgres's binary `COPY` format, for the load staging table (`COPY` cannot write
//! to a table under row-level security, so facts reach `payscope.facts` through it).

use super::tally::counts_as_fraud;
use crate::facts::Fact;

/// The staging table a load copies each batch into (dropped at commit or rollback). It holds
/// only what varies between a report's facts: the bank and the lineage's report and digest
/// are the load's, added as the rows move into `facts`.
pub(super) const CREATE_STAGING: &str = "CREATE TEMP TABLE load_staging (
    stage text, transaction_id text, occurred_at timestamptz, amount_minor bigint, currency char(3),
    network text, response_code text, approved boolean, merchant_id text, merchant_name text, mcc char(4),
    merchant_country char(2), issuer_country char(2), issuer_bin text, card_token text, entry_mode text,
    interchange_fee_minor bigint, reason_code text, fraud_reported boolean, source_row integer,
    fraud_counted boolean
) ON COMMIT DROP";

/// The `COPY` statement matching [`encode`].
pub(super) const COPY_STAGING: &str = "COPY load_staging FROM STDIN (FORMAT binary)";

/// The staged columns, in table order.
pub(super) const STAGED_COLUMNS: &str =
    "stage, transaction_id, occurred_at, amount_minor, currency, network, \
    response_code, approved, merchant_id, merchant_name, mcc, merchant_country, issuer_country, issuer_bin, \
    card_token, entry_mode, interchange_fee_minor, reason_code, fraud_reported, source_row, fraud_counted";

const FIELDS: i16 = 21;
/// Microseconds from the Unix epoch to Postgres's epoch (2000-01-01).
const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;

/// One binary COPY payload (header, tuples, trailer) for `facts`.
pub(super) fn encode(facts: &[Fact]) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + facts.len() * 180);
    out.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
    out.extend_from_slice(&0i32.to_be_bytes());
    out.extend_from_slice(&0i32.to_be_bytes());
    for f in facts {
        out.extend_from_slice(&FIELDS.to_be_bytes());
        text(&mut out, Some(f.stage.as_str()));
        text(&mut out, Some(&f.transaction_id));
        field(&mut out, Some(&(f.occurred_at.0 * 1000 - PG_EPOCH_MICROS).to_be_bytes()));
        field(&mut out, Some(&f.amount.minor.to_be_bytes()));
        text(&mut out, Some(f.amount.currency.code()));
        text(&mut out, f.network.as_ref().map(|n| n.as_str()));
        text(&mut out, f.response_code.as_deref());
        field(&mut out, f.approved.map(|a| [a as u8]).as_ref().map(|b| &b[..]));
        text(&mut out, f.merchant_id.as_deref());
        text(&mut out, f.merchant_name.as_deref());
        text(&mut out, f.mcc.as_deref());
        text(&mut out, f.merchant_country.map(|c| c.alpha2()));
        text(&mut out, f.issuer_country.map(|c| c.alpha2()));
        text(&mut out, f.issuer_bin.as_deref());
        text(&mut out, f.card_token.map(|t| t.to_string()).as_deref());
        text(&mut out, f.entry_mode.map(|e| e.as_str()));
        field(&mut out, f.interchange_fee.map(i64::to_be_bytes).as_ref().map(|b| &b[..]));
        text(&mut out, f.reason_code.as_deref());
        field(&mut out, Some(&[f.fraud_reported as u8]));
        field(&mut out, Some(&(f.lineage.row as i32).to_be_bytes()));
        field(&mut out, Some(&[counts_as_fraud(f) as u8]));
    }
    out.extend_from_slice(&(-1i16).to_be_bytes());
    out
}

fn field(out: &mut Vec<u8>, value: Option<&[u8]>) {
    match value {
        Some(v) => {
            out.extend_from_slice(&(v.len() as i32).to_be_bytes());
            out.extend_from_slice(v);
        }
        None => out.extend_from_slice(&(-1i32).to_be_bytes()),
    }
}

fn text(out: &mut Vec<u8>, value: Option<&str>) {
    field(out, value.map(str::as_bytes));
}
