//! What a load adds to the daily rollups, the merchants and the bank's statistics, summed in
//! Rust while its batches are stored, so the commit writes a few thousand aggregate rows
//! instead of re-reading millions of facts.

use std::collections::{HashMap, HashSet};

use sqlx::postgres::PgArguments;
use sqlx::query::Query;
use sqlx::{Postgres, Transaction};

use super::{db_error, dynamic};
use crate::bank::BankId;
use crate::error::Result;
use crate::facts::{Country, EntryMode, Fact, Network, Stage};
use crate::money::Currency;

/// A `rollup_daily` cell (without the bank). `code` is the response code of AUTH facts and
/// the reason code of CHARGEBACK facts.
#[derive(Clone, PartialEq, Eq, Hash)]
struct Cell {
    day: i32,
    stage: Stage,
    network: Option<Network>,
    currency: Currency,
    approved: Option<bool>,
    entry_mode: Option<EntryMode>,
    code: Option<Box<str>>,
    merchant_country: Option<Country>,
    issuer_country: Option<Country>,
}

impl Cell {
    fn of(f: &Fact) -> Cell {
        let code = match f.stage {
            Stage::Auth => f.response_code.as_deref(),
            Stage::Chargeback => f.reason_code.as_deref(),
            _ => None,
        };
        Cell {
            day: f.occurred_at.date().0,
            stage: f.stage,
            network: f.network.clone(),
            currency: f.amount.currency,
            approved: f.approved,
            entry_mode: f.entry_mode,
            code: code.map(Into::into),
            merchant_country: f.merchant_country,
            issuer_country: f.issuer_country,
        }
    }

    /// The `rollup_daily_totals` cell this one sums into.
    fn total(&self) -> (i32, Stage, Option<Network>, Currency, Option<bool>) {
        (self.day, self.stage, self.network.clone(), self.currency, self.approved)
    }
}

/// Sums of one cell (`i128`: a load's amounts cannot overflow them).
#[derive(Clone, Copy, Default)]
struct Sums {
    facts: i64,
    amount: i128,
    fee: i128,
    fraud_count: i64,
    fraud_amount: i128,
}

impl Sums {
    fn add(&mut self, o: &Sums) {
        self.facts += o.facts;
        self.amount += o.amount;
        self.fee += o.fee;
        self.fraud_count += o.fraud_count;
        self.fraud_amount += o.fraud_amount;
    }
}

/// A merchant as the load saw it: attributes of its latest fact, first and last times.
struct Merchant {
    name: Option<String>,
    mcc: Option<String>,
    country: Option<Country>,
    first: i64,
    last: i64,
}

/// A fact's fraud counting as stored: every FRAUD fact, and a fraud-reported AUTH fact until
/// a FRAUD fact of its transaction exists (the commit's fix-up settles that).
pub(super) fn counts_as_fraud(f: &Fact) -> bool {
    f.stage == Stage::Fraud || (f.stage == Stage::Auth && f.fraud_reported)
}

/// The running sums of one load.
#[derive(Default)]
pub(super) struct Tally {
    cells: HashMap<Cell, Sums>,
    merchants: HashMap<String, Merchant>,
    by_stage: [i64; 6],
    first: Option<i64>,
    last: Option<i64>,
    /// Transactions of the stored FRAUD and fraud-reported AUTH facts: the only ones whose
    /// fraud counting this load can change.
    fraud_transactions: HashSet<String>,
}

impl Tally {
    /// A fact of the file, stored or not: merchants are refreshed from every row.
    pub fn seen(&mut self, f: &Fact) {
        let Some(id) = &f.merchant_id else { return };
        let at = f.occurred_at.0;
        // Looked up before inserting: the id is copied once per merchant, not once per fact.
        if !self.merchants.contains_key(id) {
            let new = Merchant { name: None, mcc: None, country: None, first: at, last: i64::MIN };
            self.merchants.insert(id.clone(), new);
        }
        let Some(m) = self.merchants.get_mut(id) else { return };
        m.first = m.first.min(at);
        if at > m.last {
            m.last = at;
            m.name.clone_from(&f.merchant_name);
            m.mcc.clone_from(&f.mcc);
            m.country = f.merchant_country;
        }
    }

    /// A newly stored fact.
    pub fn stored(&mut self, f: &Fact) {
        let fraud = counts_as_fraud(f);
        let s = self.cells.entry(Cell::of(f)).or_default();
        s.facts += 1;
        s.amount += f.amount.minor as i128;
        s.fee += f.interchange_fee.unwrap_or(0) as i128;
        if fraud {
            s.fraud_count += 1;
            s.fraud_amount += f.amount.minor as i128;
            self.fraud_transactions.insert(f.transaction_id.clone());
        }
        self.by_stage[f.stage.index()] += 1;
        let at = f.occurred_at.0;
        self.first = Some(self.first.map_or(at, |t| t.min(at)));
        self.last = Some(self.last.map_or(at, |t| t.max(at)));
    }

    /// An AUTH fact (stored before or in this load) that stopped counting as fraud.
    pub fn uncounted(&mut self, f: &Fact) {
        let s = self.cells.entry(Cell::of(f)).or_default();
        s.fraud_count -= 1;
        s.fraud_amount -= f.amount.minor as i128;
    }

    /// Newly stored facts.
    pub fn loaded(&self) -> u64 {
        self.by_stage.iter().sum::<i64>() as u64
    }

    /// Transactions whose fraud counting the commit re-checks (taken: asked once).
    pub fn take_fraud_transactions(&mut self) -> Vec<String> {
        std::mem::take(&mut self.fraud_transactions).into_iter().collect()
    }

    /// Adds the sums into the bank's rollups, merchants and statistics; returns the new data
    /// version.
    pub async fn write(self, tx: &mut Transaction<'static, Postgres>, bank: BankId) -> Result<i64> {
        let b = *bank.as_uuid();
        let mut totals: HashMap<_, Sums> = HashMap::new();
        for (cell, sums) in &self.cells {
            totals.entry(cell.total()).or_default().add(sums);
        }
        let add = "facts = r.facts + excluded.facts, amount_minor = r.amount_minor + excluded.amount_minor,
                   fee_minor = r.fee_minor + excluded.fee_minor, fraud_count = r.fraud_count + excluded.fraud_count,
                   fraud_amount_minor = r.fraud_amount_minor + excluded.fraud_amount_minor";
        let cells: Vec<(&Cell, &Sums)> = self.cells.iter().collect();
        let sums = Columns::of(cells.iter().map(|(_, s)| **s));
        sqlx::query(dynamic(format!(
            "INSERT INTO payscope.rollup_daily AS r
                  (bank_id, day, stage, network, currency, approved, entry_mode, code, merchant_country,
                   issuer_country, facts, amount_minor, fee_minor, fraud_count, fraud_amount_minor)
             SELECT $1, date 'epoch' + c.day, c.stage, c.network, c.currency, c.approved, c.entry_mode, c.code,
                    c.merchant_country, c.issuer_country, c.facts, c.amount, c.fee, c.fraud_count, c.fraud_amount
               FROM unnest($2::int[], $3::text[], $4::text[], $5::text[], $6::bool[], $7::text[], $8::text[],
                           $9::text[], $10::text[], $11::bigint[], $12::numeric[], $13::numeric[], $14::bigint[],
                           $15::numeric[])
                    AS c(day, stage, network, currency, approved, entry_mode, code, merchant_country,
                         issuer_country, facts, amount, fee, fraud_count, fraud_amount)
             ON CONFLICT (bank_id, day, stage, network, currency, approved, entry_mode, code, merchant_country,
                          issuer_country)
             DO UPDATE SET {add}"
        )))
        .bind(b)
        .bind(cells.iter().map(|(c, _)| c.day).collect::<Vec<_>>())
        .bind(cells.iter().map(|(c, _)| c.stage.as_str()).collect::<Vec<_>>())
        .bind(cells.iter().map(|(c, _)| c.network.as_ref().map(Network::as_str)).collect::<Vec<_>>())
        .bind(cells.iter().map(|(c, _)| c.currency.code()).collect::<Vec<_>>())
        .bind(cells.iter().map(|(c, _)| c.approved).collect::<Vec<_>>())
        .bind(cells.iter().map(|(c, _)| c.entry_mode.map(EntryMode::as_str)).collect::<Vec<_>>())
        .bind(cells.iter().map(|(c, _)| c.code.as_deref()).collect::<Vec<_>>())
        .bind(cells.iter().map(|(c, _)| c.merchant_country.map(Country::alpha2)).collect::<Vec<_>>())
        .bind(cells.iter().map(|(c, _)| c.issuer_country.map(Country::alpha2)).collect::<Vec<_>>())
        .bind_sums(sums)
        .execute(&mut **tx)
        .await
        .map_err(db_error)?;

        let totals: Vec<_> = totals.into_iter().collect();
        let sums = Columns::of(totals.iter().map(|(_, s)| *s));
        sqlx::query(dynamic(format!(
            "INSERT INTO payscope.rollup_daily_totals AS r
                  (bank_id, day, stage, network, currency, approved, facts, amount_minor, fee_minor, fraud_count,
                   fraud_amount_minor)
             SELECT $1, date 'epoch' + c.day, c.stage, c.network, c.currency, c.approved, c.facts, c.amount,
                    c.fee, c.fraud_count, c.fraud_amount
               FROM unnest($2::int[], $3::text[], $4::text[], $5::text[], $6::bool[], $7::bigint[],
                           $8::numeric[], $9::numeric[], $10::bigint[], $11::numeric[])
                    AS c(day, stage, network, currency, approved, facts, amount, fee, fraud_count, fraud_amount)
             ON CONFLICT (bank_id, day, stage, network, currency, approved) DO UPDATE SET {add}"
        )))
        .bind(b)
        .bind(totals.iter().map(|(k, _)| k.0).collect::<Vec<_>>())
        .bind(totals.iter().map(|(k, _)| k.1.as_str()).collect::<Vec<_>>())
        .bind(totals.iter().map(|(k, _)| k.2.as_ref().map(Network::as_str)).collect::<Vec<_>>())
        .bind(totals.iter().map(|(k, _)| k.3.code()).collect::<Vec<_>>())
        .bind(totals.iter().map(|(k, _)| k.4).collect::<Vec<_>>())
        .bind_sums(sums)
        .execute(&mut **tx)
        .await
        .map_err(db_error)?;

        let merchants: Vec<(&String, &Merchant)> = self.merchants.iter().collect();
        sqlx::query(
            "INSERT INTO payscope.merchants AS m (bank_id, merchant_id, merchant_name, mcc, country, first_seen, last_seen)
             SELECT $1, id, name, mcc, country, timestamptz 'epoch' + first_ms * interval '1 millisecond',
                    timestamptz 'epoch' + last_ms * interval '1 millisecond'
               FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::bigint[])
                    AS u(id, name, mcc, country, first_ms, last_ms)
             ON CONFLICT (bank_id, merchant_id) DO UPDATE
                SET merchant_name = coalesce(excluded.merchant_name, m.merchant_name),
                    mcc = coalesce(excluded.mcc, m.mcc),
                    country = coalesce(excluded.country, m.country),
                    first_seen = least(m.first_seen, excluded.first_seen),
                    last_seen = greatest(m.last_seen, excluded.last_seen)",
        )
        .bind(b)
        .bind(merchants.iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>())
        .bind(merchants.iter().map(|(_, m)| m.name.as_deref()).collect::<Vec<_>>())
        .bind(merchants.iter().map(|(_, m)| m.mcc.as_deref()).collect::<Vec<_>>())
        .bind(merchants.iter().map(|(_, m)| m.country.map(Country::alpha2)).collect::<Vec<_>>())
        .bind(merchants.iter().map(|(_, m)| m.first).collect::<Vec<_>>())
        .bind(merchants.iter().map(|(_, m)| m.last).collect::<Vec<_>>())
        .execute(&mut **tx)
        .await
        .map_err(db_error)?;

        // Statistics count only new facts.
        let version: i64 = sqlx::query_scalar(
            "INSERT INTO payscope.bank_state AS st (bank_id, data_version, facts_by_stage, first_at, last_at)
             VALUES ($1, 1, $2, timestamptz 'epoch' + $3 * interval '1 millisecond',
                     timestamptz 'epoch' + $4 * interval '1 millisecond')
             ON CONFLICT (bank_id) DO UPDATE
                SET data_version = st.data_version + 1,
                    facts_by_stage = (SELECT array_agg(st.facts_by_stage[k] + excluded.facts_by_stage[k] ORDER BY k)
                                        FROM generate_series(1, 6) k),
                    first_at = least(st.first_at, excluded.first_at),
                    last_at = greatest(st.last_at, excluded.last_at),
                    updated_at = now()
             RETURNING data_version",
        )
        .bind(b)
        .bind(self.by_stage.to_vec())
        .bind(self.first)
        .bind(self.last)
        .fetch_one(&mut **tx)
        .await
        .map_err(db_error)?;
        Ok(version)
    }
}

/// Binds a query's trailing sums parameters.
trait BindSums {
    fn bind_sums(self, sums: Columns) -> Self;
}

impl<'q> BindSums for Query<'q, Postgres, PgArguments> {
    fn bind_sums(self, c: Columns) -> Self {
        self.bind(c.facts).bind(c.amount).bind(c.fee).bind(c.fraud_count).bind(c.fraud_amount)
    }
}

/// Cell sums as parameter arrays (sums as text: they bind to `numeric`).
struct Columns {
    facts: Vec<i64>,
    amount: Vec<String>,
    fee: Vec<String>,
    fraud_count: Vec<i64>,
    fraud_amount: Vec<String>,
}

impl Columns {
    fn of(sums: impl Iterator<Item = Sums>) -> Columns {
        let mut c =
            Columns { facts: vec![], amount: vec![], fee: vec![], fraud_count: vec![], fraud_amount: vec![] };
        for s in sums {
            c.facts.push(s.facts);
            c.amount.push(s.amount.to_string());
            c.fee.push(s.fee.to_string());
            c.fraud_count.push(s.fraud_count);
            c.fraud_amount.push(s.fraud_amount.to_string());
        }
        c
    }
}
