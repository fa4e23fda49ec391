//! `MetricStore` on Postgres. SQL returns partial sums in the shape of a
//! [`Contribution`] — per (bucket, group, stage, currency, approval, cross-border) — and the
//! shared [`Measures`] and [`finalize`] turn them into metric values, ordering and top-N, so
//! every metric means exactly what it means on the embedded backend.
//!
//! Whole UTC days come from the rollup tables when every group, filter and metric allows it
//! (`rollup_daily_totals` when only network, currency and approval matter); the partial days
//! at the edges of a range, the high-cardinality dimensions and the AUTH ↔ SETTLEMENT join
//! metrics come from `facts`.

use std::collections::HashMap;

use async_trait::async_trait;
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::query::Query;
use sqlx::{Postgres, Row};
use uuid::Uuid;

use super::{PgBackend, Planner};
use crate::bank::{BankContext, BankId};
use crate::calendar::{Date, TimeRange, Timestamp, MS_PER_DAY, MS_PER_HOUR};
use crate::error::{Error, Result};
use crate::facts::{Country, Stage};
use crate::money::{Currency, Money};
use crate::store::measures::{finalize, Contribution, GroupMeasures, Measures};
use crate::store::metric::{
    AmountOp, Dimension, Filter, Granularity, MetricQuery, MetricResult, Source, WEEKDAYS,
};
use crate::store::reconcile::{Mismatch, ReconcileQuery, ReconcileSummary};
use crate::store::{Coverage, DimensionValue, MetricStore};

/// A bound parameter.
#[derive(Clone)]
enum Param {
    Uuid(Uuid),
    Text(String),
    Texts(Vec<String>),
    Int(i64),
}

/// Parameters of a statement being built; `$1` is always the bank.
#[derive(Clone)]
pub(super) struct Params(Vec<Param>);

impl Params {
    pub fn new(bank: BankId) -> Params {
        Params(vec![Param::Uuid(*bank.as_uuid())])
    }

    fn push(&mut self, p: Param) -> String {
        self.0.push(p);
        format!("${}", self.0.len())
    }

    pub fn uuid(&mut self, v: Uuid) -> String {
        self.push(Param::Uuid(v))
    }

    pub fn text(&mut self, v: String) -> String {
        self.push(Param::Text(v))
    }

    pub fn texts(&mut self, v: Vec<String>) -> String {
        format!("{}::text[]", self.push(Param::Texts(v)))
    }

    pub fn int(&mut self, v: i64) -> String {
        format!("{}::bigint", self.push(Param::Int(v)))
    }

    /// A timestamp parameter (milliseconds, exact), clamped to years 1–9999 (Postgres's
    /// range is wider than any report, narrower than `i64` milliseconds).
    pub fn timestamp(&mut self, t: Timestamp) -> String {
        format!("(timestamptz 'epoch' + {} * interval '1 millisecond')", self.int(clamp_ms(t.0)))
    }

    pub fn bind_all(
        self,
        mut q: Query<'static, Postgres, PgArguments>,
    ) -> Query<'static, Postgres, PgArguments> {
        for p in self.0 {
            q = match p {
                Param::Uuid(v) => q.bind(v),
                Param::Text(v) => q.bind(v),
                Param::Texts(v) => q.bind(v),
                Param::Int(v) => q.bind(v),
            };
        }
        q
    }
}

const MIN_MS: i64 = -62_135_596_800_000; // 0001-01-01
const MAX_MS: i64 = 253_402_300_800_000; // 10000-01-01

fn clamp_ms(ms: i64) -> i64 {
    ms.clamp(MIN_MS, MAX_MS)
}

/// The 1-based position of a stage in [`Stage::ALL`] (the order facts are scanned in).
pub(super) fn stage_index_sql(column: &str) -> String {
    format!("array_position(ARRAY['AUTH','CLEARING','SETTLEMENT','REFUND','CHARGEBACK','FRAUD']::text[], {column})")
}

/// Which table a statement reads.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Table {
    Facts,
    Rollup,
    Totals,
}

/// A dimension's canonical text as SQL (`None` when the table does not keep it). Day of
/// week comes out as the ISO number and is named in Rust.
fn dim_sql(dim: Dimension, table: Table, a: &str) -> Option<String> {
    use Dimension::*;
    let facts = table == Table::Facts;
    let at = format!("({a}occurred_at AT TIME ZONE 'UTC')");
    let countries = table != Table::Totals;
    Some(match dim {
        Network => format!("{a}network"),
        Currency => format!("{a}currency::text"),
        MerchantId if facts => format!("{a}merchant_id"),
        MerchantName if facts => format!("{a}merchant_name"),
        Mcc if facts => format!("{a}mcc::text"),
        IssuerBin if facts => format!("{a}issuer_bin"),
        HourOfDay if facts => format!("extract(hour from {at})::int::text"),
        MerchantCountry if countries => format!("{a}merchant_country::text"),
        IssuerCountry if countries => format!("{a}issuer_country::text"),
        EntryMode if countries => format!("{a}entry_mode"),
        ResponseCode if facts => format!("CASE WHEN {a}stage = 'AUTH' THEN {a}response_code END"),
        ReasonCode if facts => format!("CASE WHEN {a}stage = 'CHARGEBACK' THEN {a}reason_code END"),
        ResponseCode if countries => format!("CASE WHEN {a}stage = 'AUTH' THEN {a}code END"),
        ReasonCode if countries => format!("CASE WHEN {a}stage = 'CHARGEBACK' THEN {a}code END"),
        DayOfWeek if facts => format!("extract(isodow from {at})::int::text"),
        DayOfWeek => format!("extract(isodow from {a}day)::int::text"),
        CrossBorder if countries => format!(
            "CASE WHEN {a}merchant_country IS NULL OR {a}issuer_country IS NULL THEN NULL \
             ELSE ({a}merchant_country <> {a}issuer_country)::text END"
        ),
        _ => return None,
    })
}

/// Filter values in the canonical text [`dim_sql`] produces; values that cannot match are dropped.
fn canonical_values(f: &Filter) -> Vec<String> {
    use Dimension::*;
    f.values
        .iter()
        .filter_map(|v| match f.dimension {
            Network => crate::facts::Network::parse(v).map(|n| n.as_str().to_owned()),
            MerchantCountry | IssuerCountry => Country::parse(v).map(|c| c.alpha2().to_owned()),
            EntryMode => crate::facts::EntryMode::parse(v).map(|e| e.as_str().to_owned()),
            Currency => crate::money::Currency::from_code(v).map(|c| c.code().to_owned()),
            Mcc => {
                let t = v.trim();
                (!t.is_empty() && t.len() <= 4 && t.bytes().all(|b| b.is_ascii_digit()))
                    .then(|| format!("{t:0>4}"))
            }
            HourOfDay => v.parse::<u32>().ok().filter(|h| *h < 24).map(|h| h.to_string()),
            DayOfWeek => WEEKDAYS.iter().position(|w| *w == v).map(|i| (i + 1).to_string()),
            CrossBorder => matches!(v.as_str(), "true" | "false").then(|| v.clone()),
            MerchantId | MerchantName | IssuerBin | ResponseCode | ReasonCode => Some(v.clone()),
        })
        .collect()
}

/// `expr = ANY(values)` (or its negation) for a filter on facts (alias `a` is `""` or `"f."`).
pub(super) fn filter_sql(p: &mut Params, f: &Filter, a: &str) -> Result<String> {
    filter_on(p, f, Table::Facts, a)
}

fn filter_on(p: &mut Params, f: &Filter, table: Table, a: &str) -> Result<String> {
    let expr = dim_sql(f.dimension, table, a)
        .ok_or_else(|| Error::internal(format!("{} is not kept in this table", f.dimension)))?;
    let values = p.texts(canonical_values(f));
    Ok(if f.exclude {
        // A fact without the attribute is not one of the values: kept.
        format!("(({expr}) IS NULL OR NOT (({expr}) = ANY({values})))")
    } else {
        format!("({expr}) = ANY({values})")
    })
}

/// Turns a group's SQL text back into the canonical value (day of week by name).
fn group_value(dim: Dimension, v: Option<String>) -> Option<String> {
    match dim {
        Dimension::DayOfWeek => {
            v.and_then(|n| n.parse::<usize>().ok()).and_then(|n| WEEKDAYS.get(n - 1)).map(|w| (*w).to_owned())
        }
        _ => v,
    }
}

fn int128(row: &PgRow, column: &str) -> Result<i128> {
    let text: Option<String> = row.get(column);
    text.map_or(Ok(0), |t| {
        t.parse().map_err(|_| Error::internal(format!("postgres returned a non-integer {column}")))
    })
}

/// Whole days of `range` as `[first, end)` day numbers, when there is at least one.
fn whole_days(range: TimeRange) -> Option<(i64, i64)> {
    let range = TimeRange::new(Timestamp(clamp_ms(range.from.0)), Timestamp(clamp_ms(range.to.0)));
    let first = range.from.0.div_euclid(MS_PER_DAY) + i64::from(range.from.0.rem_euclid(MS_PER_DAY) != 0);
    let end = range.to.0.div_euclid(MS_PER_DAY);
    (first < end).then_some((first, end))
}

type Groups = HashMap<(Option<Timestamp>, Vec<Option<String>>), Measures>;

/// The statement reading contributions from `table` for `ranges` (facts: millisecond
/// ranges; rollups: day-number ranges).
fn contributions_sql(q: &MetricQuery, table: Table, ranges: &[(i64, i64)], p: &mut Params) -> Result<String> {
    let (from, time_key) = match (table, q.granularity) {
        (Table::Facts, Some(Granularity::Hour)) => {
            ("payscope.facts", "floor(extract(epoch from occurred_at) / 3600)::bigint")
        }
        (Table::Facts, Some(_)) => {
            ("payscope.facts", "floor(extract(epoch from occurred_at) / 86400)::bigint")
        }
        (Table::Facts, None) => ("payscope.facts", "0::bigint"),
        (Table::Rollup, Some(_)) => ("payscope.rollup_daily", "(day - date '1970-01-01')::bigint"),
        (Table::Totals, Some(_)) => ("payscope.rollup_daily_totals", "(day - date '1970-01-01')::bigint"),
        (Table::Rollup, None) => ("payscope.rollup_daily", "0::bigint"),
        (Table::Totals, None) => ("payscope.rollup_daily_totals", "0::bigint"),
    };
    let mut select = vec![format!("{time_key} AS t")];
    for (i, d) in q.group_by.iter().enumerate() {
        let expr = dim_sql(*d, table, "").ok_or_else(|| Error::internal(format!("{d} is not in {from}")))?;
        select.push(format!("({expr}) AS g{i}"));
    }
    let cross = match table {
        Table::Totals => "NULL::boolean".to_owned(),
        _ => "CASE WHEN merchant_country IS NULL OR issuer_country IS NULL THEN NULL ELSE merchant_country <> issuer_country END".to_owned(),
    };
    let n = select.len();
    select.push("stage".into());
    select.push("currency::text AS currency".into());
    select.push("approved".into());
    select.push(format!("{cross} AS cross"));
    let sums = if table == Table::Facts {
        "count(*)::bigint AS n, sum(amount_minor)::text AS amount, sum(coalesce(interchange_fee_minor, 0))::text AS fee, \
         (count(*) FILTER (WHERE fraud_counted))::bigint AS fraud_n, \
         coalesce(sum(amount_minor) FILTER (WHERE fraud_counted), 0)::text AS fraud_amount"
    } else {
        "sum(facts)::bigint AS n, sum(amount_minor)::text AS amount, sum(fee_minor)::text AS fee, \
         sum(fraud_count)::bigint AS fraud_n, sum(fraud_amount_minor)::text AS fraud_amount"
    };
    let stages: Vec<String> = q.stages().iter().map(|s| s.as_str().to_owned()).collect();
    let mut sql = format!(
        "SELECT {}, {sums} FROM {from} WHERE bank_id = $1 AND stage = ANY({})",
        select.join(", "),
        p.texts(stages)
    );
    let spans: Vec<String> = ranges
        .iter()
        .map(|(a, b)| match table {
            Table::Facts => format!(
                "(occurred_at >= {} AND occurred_at < {})",
                p.timestamp(Timestamp(*a)),
                p.timestamp(Timestamp(*b))
            ),
            _ => format!(
                "(day >= date '1970-01-01' + {}::int AND day < date '1970-01-01' + {}::int)",
                p.int(*a),
                p.int(*b)
            ),
        })
        .collect();
    sql += &format!(" AND ({})", spans.join(" OR "));
    for f in &q.filters {
        sql += &format!(" AND {}", filter_on(p, f, table, "")?);
    }
    sql += &amount_sql(q, p, "");
    let group_cols: Vec<String> = (1..=n + 4).map(|i| i.to_string()).collect();
    sql += &format!(" GROUP BY {}", group_cols.join(", "));
    Ok(sql)
}

/// The query's amount conditions on facts (alias `a`), each ` AND …`.
fn amount_sql(q: &MetricQuery, p: &mut Params, a: &str) -> String {
    q.amount
        .iter()
        .map(|c| {
            let op = match c.op {
                AmountOp::Gt => ">",
                AmountOp::Gte => ">=",
                AmountOp::Lt => "<",
                AmountOp::Lte => "<=",
            };
            let currency = p.text(c.value.currency.code().to_owned());
            format!(" AND {a}currency::text = {currency} AND {a}amount_minor {op} {}", p.int(c.value.minor))
        })
        .collect()
}

fn bucket_of(q: &MetricQuery, table: Table, t: i64) -> Option<Timestamp> {
    q.granularity.map(|g| match (table, g) {
        (Table::Facts, Granularity::Hour) => Timestamp(t * MS_PER_HOUR),
        _ => g.bucket_of_day(Date(t as i32)),
    })
}

fn add_rows(q: &MetricQuery, table: Table, rows: &[PgRow], groups: &mut Groups) -> Result<u64> {
    let mut facts = 0;
    for row in rows {
        let bucket = bucket_of(q, table, row.get("t"));
        let group: Vec<Option<String>> = q
            .group_by
            .iter()
            .enumerate()
            .map(|(i, d)| group_value(*d, row.get::<Option<String>, _>(format!("g{i}").as_str())))
            .collect();
        let stage: String = row.get("stage");
        let currency: String = row.get("currency");
        let n: i64 = row.get("n");
        let fraud_n: i64 = row.get("fraud_n");
        facts += n as u64;
        groups.entry((bucket, group)).or_default().add(Contribution {
            stage: Stage::parse(&stage)
                .ok_or_else(|| Error::internal("postgres returned an unknown stage"))?,
            currency: Currency::from_code(currency.trim())
                .ok_or_else(|| Error::internal("postgres returned an unknown currency"))?,
            approved: row.get("approved"),
            count: n as u64,
            amount: int128(row, "amount")?,
            fee: int128(row, "fee")?,
            fraud_count: fraud_n as u64,
            fraud_amount: int128(row, "fraud_amount")?,
            cross_border: row.get("cross"),
        });
    }
    Ok(facts)
}

/// Adds matched settlements (count and AUTH → SETTLEMENT delay) to the groups of their
/// approved authorizations.
fn join_sql(q: &MetricQuery, p: &mut Params) -> Result<String> {
    let time_key = match q.granularity {
        Some(Granularity::Hour) => "floor(extract(epoch from a.occurred_at) / 3600)::bigint",
        Some(_) => "floor(extract(epoch from a.occurred_at) / 86400)::bigint",
        None => "0::bigint",
    };
    let mut select = vec![format!("{time_key} AS t")];
    for (i, d) in q.group_by.iter().enumerate() {
        let expr = dim_sql(*d, Table::Facts, "a.").ok_or_else(|| Error::internal("unknown dimension"))?;
        select.push(format!("({expr}) AS g{i}"));
    }
    let n = select.len();
    let mut sql = format!(
        "SELECT {}, count(*)::bigint AS matched,
                sum((extract(epoch from s.occurred_at) * 1000)::bigint - (extract(epoch from a.occurred_at) * 1000)::bigint)::text AS delay
           FROM payscope.facts a
           JOIN payscope.facts s ON s.bank_id = a.bank_id AND s.stage = 'SETTLEMENT' AND s.transaction_id = a.transaction_id
          WHERE a.bank_id = $1 AND a.stage = 'AUTH' AND a.approved AND a.occurred_at >= {} AND a.occurred_at < {}",
        select.join(", "),
        p.timestamp(q.range.from),
        p.timestamp(q.range.to)
    );
    for f in &q.filters {
        sql += &format!(" AND {}", filter_on(p, f, Table::Facts, "a.")?);
    }
    sql += &amount_sql(q, p, "a.");
    sql += &format!(" GROUP BY {}", (1..=n).map(|i| i.to_string()).collect::<Vec<_>>().join(", "));
    Ok(sql)
}

#[async_trait]
impl MetricStore for PgBackend {
    async fn query(&self, ctx: &BankContext, q: &MetricQuery) -> Result<MetricResult> {
        let q = q.normalized()?;
        let _t = self.timer("metric_query");
        let bank = ctx.bank_id();
        let needs_join = q.needs_settlement_join();
        let rollup_ok = !needs_join
            && q.amount.is_empty()
            && q.granularity != Some(Granularity::Hour)
            && q.group_by.iter().all(|d| d.in_rollups())
            && q.filters.iter().all(|f| f.dimension.in_rollups());
        let coarse =
            |d: Dimension| matches!(d, Dimension::Network | Dimension::Currency | Dimension::DayOfWeek);
        let totals_ok = rollup_ok
            && q.group_by.iter().all(|d| coarse(*d))
            && q.filters.iter().all(|f| coarse(f.dimension))
            && !q.reads().any(|m| m == crate::store::metric::Metric::CrossBorderShare);
        let mut groups = Groups::new();
        let mut facts_scanned = 0;
        let mut fact_ranges = vec![(q.range.from.0, q.range.to.0)];
        let mut source = Source::Facts;
        if let (true, Some((first, end))) = (rollup_ok, whole_days(q.range)) {
            let table = if totals_ok { Table::Totals } else { Table::Rollup };
            let mut p = Params::new(bank);
            let sql = contributions_sql(&q, table, &[(first, end)], &mut p)?;
            let rows = self.fetch(bank, sql, p, Planner::Generic).await?;
            add_rows(&q, table, &rows, &mut groups)?;
            fact_ranges = [(q.range.from.0, first * MS_PER_DAY), (end * MS_PER_DAY, q.range.to.0)]
                .into_iter()
                .filter(|(a, b)| a < b)
                .collect();
            source = if fact_ranges.is_empty() { Source::Rollup } else { Source::RollupAndFacts };
        }
        if !fact_ranges.is_empty() && q.range.from < q.range.to {
            let mut p = Params::new(bank);
            let sql = contributions_sql(&q, Table::Facts, &fact_ranges, &mut p)?;
            let rows = self.fetch(bank, sql, p, Planner::Aggregate).await?;
            facts_scanned += add_rows(&q, Table::Facts, &rows, &mut groups)?;
        }
        if needs_join && q.range.from < q.range.to {
            let mut p = Params::new(bank);
            let sql = join_sql(&q, &mut p)?;
            for row in self.fetch(bank, sql, p, Planner::HashJoins).await? {
                let bucket = bucket_of(&q, Table::Facts, row.get("t"));
                let group: Vec<Option<String>> = q
                    .group_by
                    .iter()
                    .enumerate()
                    .map(|(i, d)| group_value(*d, row.get::<Option<String>, _>(format!("g{i}").as_str())))
                    .collect();
                if let Some(m) = groups.get_mut(&(bucket, group)) {
                    m.reconciled += row.get::<i64, _>("matched") as u64;
                    m.reconcile_delay_millis += int128(&row, "delay")?;
                }
            }
        }
        let groups: Vec<GroupMeasures> = groups.into_iter().map(|((b, g), m)| (b, g, m)).collect();
        let rows = finalize(&q, groups)?;
        Ok(MetricResult { query: q, rows, source, facts_scanned })
    }

    async fn reconcile(&self, ctx: &BankContext, q: &ReconcileQuery) -> Result<ReconcileSummary> {
        let _t = self.timer("reconcile");
        let bank = ctx.bank_id();
        // The approved authorizations in scope, matched to their settlement (if any).
        let scope = |p: &mut Params| -> Result<String> {
            let mut sql = format!(
                "WITH a AS (
                    SELECT transaction_id, occurred_at, amount_minor, currency::text AS currency
                      FROM payscope.facts
                     WHERE bank_id = $1 AND stage = 'AUTH' AND approved
                       AND occurred_at >= {} AND occurred_at < {}",
                p.timestamp(q.range.from),
                p.timestamp(q.range.to)
            );
            for f in &q.filters {
                sql += &format!(" AND {}", filter_sql(p, f, "")?);
            }
            sql += "), m AS (
                SELECT a.transaction_id, a.occurred_at, a.amount_minor, a.currency,
                       s.occurred_at AS s_at, s.amount_minor AS s_amount, s.currency::text AS s_currency,
                       (extract(epoch from s.occurred_at) * 1000)::bigint - (extract(epoch from a.occurred_at) * 1000)::bigint AS delay
                  FROM a JOIN payscope.facts s
                    ON s.bank_id = $1 AND s.stage = 'SETTLEMENT' AND s.transaction_id = a.transaction_id) ";
            Ok(sql)
        };
        let mut p = Params::new(bank);
        let sql = scope(&mut p)?
            + "SELECT (SELECT count(*) FROM a)::bigint AS approved,
                      (SELECT count(*) FROM a WHERE EXISTS (
                           SELECT 1 FROM payscope.facts c
                            WHERE c.bank_id = $1 AND c.stage = 'CLEARING' AND c.transaction_id = a.transaction_id))::bigint AS cleared,
                      (SELECT count(*) FROM m)::bigint AS settled,
                      (SELECT coalesce(sum(delay), 0) FROM m)::text AS delay_total,
                      (SELECT coalesce(max(delay), 0) FROM m)::bigint AS delay_max,
                      (SELECT count(*) FROM m WHERE s_amount <> amount_minor OR s_currency <> currency)::bigint AS mismatches";
        let row = self
            .fetch(bank, sql, p, Planner::HashJoins)
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| Error::internal("no row"))?;
        let mut out = ReconcileSummary {
            approved_auths: row.get::<i64, _>("approved") as u64,
            cleared: row.get::<i64, _>("cleared") as u64,
            settled: row.get::<i64, _>("settled") as u64,
            amount_mismatches: row.get::<i64, _>("mismatches") as u64,
            delay_total_millis: int128(&row, "delay_total")?.clamp(i64::MIN as i128, i64::MAX as i128) as i64,
            delay_max_millis: row.get("delay_max"),
            ..Default::default()
        };
        out.unmatched = out.approved_auths - out.settled;
        let money = |minor: i128, code: &str| -> Result<Money> {
            let c = Currency::from_code(code.trim()).ok_or_else(|| Error::internal("unknown currency"))?;
            Ok(Money::new(minor.clamp(i64::MIN as i128, i64::MAX as i128) as i64, c))
        };
        let mut p = Params::new(bank);
        let limit = p.int(q.examples as i64);
        let sql = scope(&mut p)?
            + &format!(
                "SELECT 'unmatched' AS kind, currency, sum(amount_minor)::text AS total, NULL AS tx, NULL::bigint AS a_amount,
                        NULL AS s_currency, NULL::bigint AS s_amount
                   FROM a WHERE NOT EXISTS (SELECT 1 FROM m WHERE m.transaction_id = a.transaction_id) GROUP BY currency
                 UNION ALL
                 SELECT 'difference', currency, sum(s_amount - amount_minor)::text, NULL, NULL, NULL, NULL
                   FROM m WHERE s_currency = currency AND s_amount <> amount_minor GROUP BY currency
                 UNION ALL
                 (SELECT 'example_unmatched', currency, NULL, transaction_id, NULL, NULL, NULL
                    FROM a WHERE NOT EXISTS (SELECT 1 FROM m WHERE m.transaction_id = a.transaction_id)
                   ORDER BY occurred_at, transaction_id COLLATE \"C\" LIMIT {limit})
                 UNION ALL
                 (SELECT 'example_mismatch', currency, NULL, transaction_id, amount_minor, s_currency, s_amount
                    FROM m WHERE s_amount <> amount_minor OR s_currency <> currency
                   ORDER BY CASE WHEN s_currency = currency THEN abs(s_amount - amount_minor) END DESC NULLS FIRST,
                            transaction_id COLLATE \"C\"
                   LIMIT {limit})"
            );
        let mut unmatched_amount = Vec::new();
        let mut differences = Vec::new();
        for row in self.fetch(bank, sql, p, Planner::HashJoins).await? {
            let kind: String = row.get("kind");
            let currency: String = row.get("currency");
            match kind.as_str() {
                "unmatched" => unmatched_amount.push(money(int128(&row, "total")?, &currency)?),
                "difference" => differences.push(money(int128(&row, "total")?, &currency)?),
                "example_unmatched" => out.unmatched_examples.push(row.get("tx")),
                _ => out.mismatch_examples.push(Mismatch {
                    transaction_id: row.get("tx"),
                    authorized: money(row.get::<i64, _>("a_amount") as i128, &currency)?,
                    settled: money(
                        row.get::<i64, _>("s_amount") as i128,
                        &row.get::<String, _>("s_currency"),
                    )?,
                }),
            }
        }
        unmatched_amount.sort_by_key(|m| m.currency.code());
        differences.sort_by_key(|m| m.currency.code());
        out.unmatched_amount = unmatched_amount;
        out.mismatch_difference = differences;
        Ok(out)
    }

    async fn coverage(&self, ctx: &BankContext, range: TimeRange) -> Result<Coverage> {
        let first = range.from.date().0;
        let last = Timestamp(range.to.0 - 1).date().0;
        let days_in_range = if range.to > range.from { (last - first + 1) as u32 } else { 0 };
        if days_in_range == 0 {
            return Ok(Coverage { days_in_range, days_with_data: 0 });
        }
        let _t = self.timer("coverage");
        let mut p = Params::new(ctx.bank_id());
        // A loose index scan: one probe of `rollup_daily_totals_days` per day with data,
        // rather than counting every cell of the range.
        let (first, last) = (p.int(first as i64), p.int(last as i64));
        let sql = format!(
            "WITH RECURSIVE days AS (
                SELECT min(day) AS day FROM payscope.rollup_daily_totals
                 WHERE bank_id = $1 AND facts > 0
                   AND day >= date '1970-01-01' + {first}::int AND day <= date '1970-01-01' + {last}::int
                UNION ALL
                SELECT (SELECT min(r.day) FROM payscope.rollup_daily_totals r
                         WHERE r.bank_id = $1 AND r.facts > 0
                           AND r.day > days.day AND r.day <= date '1970-01-01' + {last}::int)
                  FROM days WHERE days.day IS NOT NULL)
             SELECT count(day)::bigint FROM days"
        );
        let rows = self.fetch(ctx.bank_id(), sql, p, Planner::Generic).await?;
        let days: i64 = rows.first().map_or(0, |r| r.get(0));
        Ok(Coverage { days_in_range, days_with_data: days as u32 })
    }

    async fn dimension_values(
        &self,
        ctx: &BankContext,
        dim: Dimension,
        limit: usize,
    ) -> Result<Vec<DimensionValue>> {
        let _t = self.timer("dimension_values");
        let bank = ctx.bank_id();
        let expr = dim_sql(dim, Table::Facts, "").ok_or_else(|| Error::internal("unknown dimension"))?;
        let label = if dim == Dimension::MerchantId {
            "mode() WITHIN GROUP (ORDER BY merchant_name COLLATE \"C\")"
        } else {
            "NULL::text"
        };
        let sql = format!(
            "SELECT ({expr}) AS v, {label} AS label, count(*)::bigint AS n
               FROM payscope.facts WHERE bank_id = $1 GROUP BY 1"
        );
        let rows = self.fetch(bank, sql, Params::new(bank), Planner::Default).await?;
        let mut out: Vec<DimensionValue> = rows
            .into_iter()
            .filter_map(|r| {
                Some(DimensionValue {
                    value: group_value(dim, r.get("v"))?,
                    label: r.get("label"),
                    facts: r.get::<i64, _>("n") as u64,
                })
            })
            .collect();
        out.sort_by(|a, b| b.facts.cmp(&a.facts).then_with(|| a.value.cmp(&b.value)));
        out.truncate(limit);
        Ok(out)
    }
}
