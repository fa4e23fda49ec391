//! `FactStore` on Postgres. A load is one transaction: batches are copied (binary `COPY`) into
//! a temporary staging table; the commit merges them into `facts` with
//! `INSERT … ON CONFLICT DO NOTHING` (so reloading never double-counts), fixes fraud
//! counting, adds the inserted facts' sums into the daily rollups (upserts into unique cells,
//! so existing days are updated in place), upserts merchants, bumps the bank's data version
//! and writes the report — all or nothing, under a per-bank lock.

use async_trait::async_trait;
use sqlx::postgres::PgRow;
use sqlx::{Postgres, Row, Transaction};

use super::copy::{encode, COPY_STAGING, CREATE_STAGING, STAGED_COLUMNS};
use super::metrics::{filter_sql, stage_index_sql, Params};
use super::{db_error, dynamic, reports, PgBackend, Planner};
use crate::bank::{BankContext, BankId};
use crate::calendar::Timestamp;
use crate::error::{Error, Result};
use crate::facts::{CardToken, Country, EntryMode, Fact, Lineage, Network, Report, ReportId, Sha256, Stage};
use crate::money::{Currency, Money};
use crate::store::{FactFilter, FactKey, FactLoad, FactStats, FactStore, LoadOutcome};

/// The columns a fact is read back from.
pub(super) const FACT_COLUMNS: &str = "stage, transaction_id, (extract(epoch from occurred_at) * 1000)::bigint AS at_ms, \
    amount_minor, currency, network, response_code, approved, merchant_id, merchant_name, mcc, merchant_country, \
    issuer_country, issuer_bin, card_token, entry_mode, interchange_fee_minor, reason_code, fraud_reported, \
    report_id, artifact_sha256, source_row";

fn bad(what: &str) -> Error {
    Error::internal(format!("a stored fact has an unreadable {what}"))
}

/// A fact from a row selected with [`FACT_COLUMNS`].
pub(super) fn fact_of(row: &PgRow) -> Result<Fact> {
    let text = |c: &str| row.get::<Option<String>, _>(c);
    let stage: String = row.get("stage");
    let currency: String = row.get("currency");
    let currency = Currency::from_code(currency.trim()).ok_or_else(|| bad("currency"))?;
    Ok(Fact {
        transaction_id: row.get("transaction_id"),
        stage: Stage::parse(&stage).ok_or_else(|| bad("stage"))?,
        occurred_at: Timestamp(row.get("at_ms")),
        amount: Money::new(row.get("amount_minor"), currency),
        network: text("network").and_then(|n| Network::parse(&n)),
        response_code: text("response_code"),
        approved: row.get("approved"),
        merchant_id: text("merchant_id"),
        merchant_name: text("merchant_name"),
        mcc: text("mcc"),
        merchant_country: text("merchant_country").and_then(|c| Country::parse(&c)),
        issuer_country: text("issuer_country").and_then(|c| Country::parse(&c)),
        issuer_bin: text("issuer_bin"),
        card_token: text("card_token").and_then(|t| CardToken::parse_hex(&t)),
        entry_mode: text("entry_mode").and_then(|e| EntryMode::parse(&e)),
        interchange_fee: row.get("interchange_fee_minor"),
        reason_code: text("reason_code"),
        fraud_reported: row.get("fraud_reported"),
        lineage: Lineage {
            report_id: ReportId(row.get("report_id")),
            sha256: Sha256::parse_hex(row.get::<String, _>("artifact_sha256").trim())
                .ok_or_else(|| bad("sha256"))?,
            row: row.get::<i32, _>("source_row") as u32,
        },
    })
}

/// An open load: one transaction with a staging table.
pub(super) struct PgLoad {
    backend: PgBackend,
    bank: BankId,
    report_id: ReportId,
    tx: Transaction<'static, Postgres>,
    staged: u64,
}

#[async_trait]
impl FactLoad for PgLoad {
    async fn append(&mut self, facts: Vec<Fact>) -> Result<()> {
        if facts.is_empty() {
            return Ok(());
        }
        let _t = self.backend.timer("load_copy");
        let payload = encode(self.bank, &facts);
        let mut copy = self.tx.copy_in_raw(COPY_STAGING).await.map_err(db_error)?;
        copy.send(payload).await.map_err(db_error)?;
        copy.finish().await.map_err(db_error)?;
        self.staged += facts.len() as u64;
        Ok(())
    }

    async fn commit(self: Box<Self>, mut report: Report) -> Result<(Report, LoadOutcome)> {
        let PgLoad { backend, bank, report_id, mut tx, staged } = *self;
        if report.bank_id != bank || report.report_id != report_id {
            return Err(Error::internal("commit of a report other than the one being loaded"));
        }
        let _t = backend.timer("load_commit");
        let b = bank.as_uuid();
        // One load per bank at a time: the rollup rebuild and fraud fix-up read what the
        // previous load wrote.
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1::text, 7))")
            .bind(b.to_string())
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        // Another worker committed this report first (its job was taken over): keep that.
        if let Some(done) = reports::stored(&mut tx, &report).await?.filter(|r| r.status.is_final()) {
            return Ok((done, LoadOutcome::default()));
        }
        // The merge sorts and aggregates a whole report: in memory, not in temporary files.
        sqlx::query("SET LOCAL work_mem = '256MB'").execute(&mut *tx).await.map_err(db_error)?;
        sqlx::query(CREATE_INSERTED).execute(&mut *tx).await.map_err(db_error)?;
        // Rows repeated inside the file: in file order, ON CONFLICT DO NOTHING keeps the first.
        // A transaction's fraud counts once: a FRAUD fact always, a fraud-reported AUTH fact
        // only when no FRAUD fact exists (stored or in this load).
        let insert = format!(
            "WITH ins AS (
                INSERT INTO payscope.facts ({STAGED_COLUMNS}, fraud_counted, confidence)
                SELECT {staged},
                       CASE WHEN s.stage = 'FRAUD' THEN true
                            WHEN s.stage = 'AUTH' AND s.fraud_reported THEN
                                NOT EXISTS (SELECT 1 FROM payscope.facts f
                                             WHERE f.bank_id = $1 AND f.stage = 'FRAUD' AND f.transaction_id = s.transaction_id)
                                AND lf.transaction_id IS NULL
                            ELSE false END,
                       $2
                  FROM load_staging s
                  LEFT JOIN (SELECT DISTINCT transaction_id FROM load_staging WHERE stage = 'FRAUD') lf
                         ON s.stage = 'AUTH' AND s.fraud_reported AND lf.transaction_id = s.transaction_id
                 ORDER BY s.source_row
                ON CONFLICT DO NOTHING
                RETURNING {ROLLUP_COLUMNS})
             INSERT INTO load_inserted SELECT {ROLLUP_COLUMNS}, true FROM ins",
            staged = STAGED_COLUMNS.split(", ").map(|c| format!("s.{c}")).collect::<Vec<_>>().join(", ")
        );
        let loaded = sqlx::query(dynamic(insert))
            .bind(b)
            .bind(report.confidence as f32)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?
            .rows_affected();
        // Statistics for the planner: the joins below would otherwise guess the table's size.
        sqlx::query("ANALYZE load_inserted").execute(&mut *tx).await.map_err(db_error)?;
        // New FRAUD facts take over the counting from AUTH facts of the same transactions.
        sqlx::query(dynamic(format!(
            "WITH uncounted AS (
                UPDATE payscope.facts f SET fraud_counted = false
                  FROM load_inserted i
                 WHERE i.stage = 'FRAUD' AND f.bank_id = $1 AND f.stage = 'AUTH'
                   AND f.transaction_id = i.transaction_id AND f.fraud_counted
                RETURNING {returning})
             INSERT INTO load_inserted SELECT {ROLLUP_COLUMNS}, false FROM uncounted",
            returning = ROLLUP_COLUMNS.split(", ").map(|c| format!("f.{c}")).collect::<Vec<_>>().join(", ")
        )))
        .bind(b)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        update_rollups(&mut tx, bank).await?;
        sqlx::query(
            "INSERT INTO payscope.merchants AS m (bank_id, merchant_id, merchant_name, mcc, country, first_seen, last_seen)
             SELECT DISTINCT ON (merchant_id) $1, merchant_id, merchant_name, mcc, merchant_country,
                    min(occurred_at) OVER (PARTITION BY merchant_id), max(occurred_at) OVER (PARTITION BY merchant_id)
               FROM load_staging WHERE merchant_id IS NOT NULL
              ORDER BY merchant_id, occurred_at DESC
             ON CONFLICT (bank_id, merchant_id) DO UPDATE
                SET merchant_name = coalesce(excluded.merchant_name, m.merchant_name),
                    mcc = coalesce(excluded.mcc, m.mcc),
                    country = coalesce(excluded.country, m.country),
                    first_seen = least(m.first_seen, excluded.first_seen),
                    last_seen = greatest(m.last_seen, excluded.last_seen)",
        )
        .bind(b)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        // Statistics count only new facts (the fraud fix-up rows only touched rollup days).
        let version: i64 = sqlx::query_scalar(dynamic(format!(
            "WITH added AS (
                SELECT {idx} AS i, count(*) AS n, min(occurred_at) AS lo, max(occurred_at) AS hi
                  FROM load_inserted WHERE new GROUP BY 1),
             by_stage AS (
                SELECT array_agg(coalesce(a.n, 0) ORDER BY s) AS counts, min(a.lo) AS lo, max(a.hi) AS hi
                  FROM generate_series(1, 6) s LEFT JOIN added a ON a.i = s)
             INSERT INTO payscope.bank_state AS st (bank_id, data_version, facts_by_stage, first_at, last_at)
             SELECT $1, 1, counts, lo, hi FROM by_stage
             ON CONFLICT (bank_id) DO UPDATE
                SET data_version = st.data_version + 1,
                    facts_by_stage = (SELECT array_agg(st.facts_by_stage[k] + excluded.facts_by_stage[k] ORDER BY k)
                                        FROM generate_series(1, 6) k),
                    first_at = least(st.first_at, excluded.first_at),
                    last_at = greatest(st.last_at, excluded.last_at),
                    updated_at = now()
             RETURNING data_version",
            idx = stage_index_sql("stage"),
        )))
        .bind(b)
        .fetch_one(&mut *tx)
        .await
        .map_err(db_error)?;
        report.facts_loaded = loaded;
        report.duplicates_skipped = staged.saturating_sub(loaded);
        report.data_version = Some(version as u64);
        if reports::write(&mut tx, &report).await? == 0 {
            return Err(Error::NotFound(format!("report {}", report.report_id)));
        }
        tx.commit().await.map_err(db_error)?;
        Ok((report, LoadOutcome { loaded, duplicates: staged.saturating_sub(loaded) }))
    }
}

/// The columns of a merged fact the rollups need (`load_inserted` holds them, with `new`:
/// true for a newly stored fact, false for an AUTH fact whose fraud a FRAUD fact took over).
const ROLLUP_COLUMNS: &str = "stage, transaction_id, occurred_at, network, currency, approved, entry_mode, \
    response_code, reason_code, merchant_country, issuer_country, amount_minor, interchange_fee_minor, fraud_counted";

const CREATE_INSERTED: &str = "CREATE TEMP TABLE load_inserted (
    stage text, transaction_id text, occurred_at timestamptz, network text, currency char(3), approved boolean,
    entry_mode text, response_code text, reason_code text, merchant_country char(2), issuer_country char(2),
    amount_minor bigint, interchange_fee_minor bigint, fraud_counted boolean, new boolean
) ON COMMIT DROP";

/// Adds this load to the daily rollups in place: new facts add to their cells; AUTH facts
/// whose fraud a new FRAUD fact took over give their fraud count and amount back.
async fn update_rollups(tx: &mut Transaction<'static, Postgres>, bank: BankId) -> Result<()> {
    let sums = "count(*) FILTER (WHERE new), coalesce(sum(amount_minor) FILTER (WHERE new), 0),
                coalesce(sum(coalesce(interchange_fee_minor, 0)) FILTER (WHERE new), 0),
                count(*) FILTER (WHERE new AND fraud_counted) - count(*) FILTER (WHERE NOT new),
                coalesce(sum(amount_minor) FILTER (WHERE new AND fraud_counted), 0)
                    - coalesce(sum(amount_minor) FILTER (WHERE NOT new), 0)";
    let add = "facts = r.facts + excluded.facts, amount_minor = r.amount_minor + excluded.amount_minor,
               fee_minor = r.fee_minor + excluded.fee_minor, fraud_count = r.fraud_count + excluded.fraud_count,
               fraud_amount_minor = r.fraud_amount_minor + excluded.fraud_amount_minor";
    sqlx::query(dynamic(format!(
        "INSERT INTO payscope.rollup_daily AS r
              (bank_id, day, stage, network, currency, approved, entry_mode, code, merchant_country,
               issuer_country, facts, amount_minor, fee_minor, fraud_count, fraud_amount_minor)
         SELECT $1, (occurred_at AT TIME ZONE 'UTC')::date, stage, network, currency, approved, entry_mode,
                CASE stage WHEN 'AUTH' THEN response_code WHEN 'CHARGEBACK' THEN reason_code END,
                merchant_country, issuer_country, {sums}
           FROM load_inserted GROUP BY 2, 3, 4, 5, 6, 7, 8, 9, 10
         ON CONFLICT (bank_id, day, stage, network, currency, approved, entry_mode, code, merchant_country,
                      issuer_country)
         DO UPDATE SET {add}"
    )))
    .bind(bank.as_uuid())
    .execute(&mut **tx)
    .await
    .map_err(db_error)?;
    sqlx::query(dynamic(format!(
        "INSERT INTO payscope.rollup_daily_totals AS r
              (bank_id, day, stage, network, currency, approved, facts, amount_minor, fee_minor, fraud_count,
               fraud_amount_minor)
         SELECT $1, (occurred_at AT TIME ZONE 'UTC')::date, stage, network, currency, approved, {sums}
           FROM load_inserted GROUP BY 2, 3, 4, 5, 6
         ON CONFLICT (bank_id, day, stage, network, currency, approved) DO UPDATE SET {add}"
    )))
    .bind(bank.as_uuid())
    .execute(&mut **tx)
    .await
    .map_err(db_error)?;
    Ok(())
}

#[async_trait]
impl FactStore for PgBackend {
    async fn begin_load(&self, ctx: &BankContext, report: &Report) -> Result<Box<dyn FactLoad>> {
        if report.bank_id != ctx.bank_id() {
            return Err(Error::NotFound(format!("report {}", report.report_id)));
        }
        let mut tx = self.bank_tx(ctx.bank_id()).await?;
        sqlx::query(CREATE_STAGING).execute(&mut *tx).await.map_err(db_error)?;
        Ok(Box::new(PgLoad {
            backend: self.clone(),
            bank: ctx.bank_id(),
            report_id: report.report_id,
            tx,
            staged: 0,
        }))
    }

    async fn scan(
        &self,
        ctx: &BankContext,
        filter: &FactFilter,
        after: Option<&FactKey>,
        limit: usize,
    ) -> Result<Vec<Fact>> {
        let _t = self.timer("fact_scan");
        let mut p = Params::new(ctx.bank_id());
        let mut sql = format!("SELECT {FACT_COLUMNS} FROM payscope.facts WHERE bank_id = $1");
        if let Some(r) = filter.range {
            sql += &format!(
                " AND occurred_at >= {} AND occurred_at < {}",
                p.timestamp(r.from),
                p.timestamp(r.to)
            );
        }
        if !filter.stages.is_empty() {
            let stages: Vec<String> = filter.stages.iter().map(|s| s.as_str().to_owned()).collect();
            sql += &format!(" AND stage = ANY({})", p.texts(stages));
        }
        if let Some(t) = &filter.transaction_id {
            sql += &format!(" AND transaction_id = {}", p.text(t.clone()));
        }
        if let Some(r) = filter.report_id {
            sql += &format!(" AND report_id = {}", p.uuid(r.0));
        }
        for f in &filter.filters {
            sql += &format!(" AND {}", filter_sql(&mut p, f, "")?);
        }
        let order = format!("(occurred_at, transaction_id COLLATE \"C\", {})", stage_index_sql("stage"));
        if let Some(k) = after {
            sql += &format!(
                " AND {order} > ({}, {} COLLATE \"C\", {})",
                p.timestamp(k.occurred_at),
                p.text(k.transaction_id.clone()),
                p.int(k.stage.index() as i64 + 1)
            );
        }
        sql += &format!(" ORDER BY {order} LIMIT {}", limit.min(i64::MAX as usize));
        let rows = self.fetch(ctx.bank_id(), sql, p, Planner::Default).await?;
        rows.iter().map(fact_of).collect()
    }

    async fn stats(&self, ctx: &BankContext) -> Result<FactStats> {
        let _t = self.timer("fact_stats");
        let bank = ctx.bank_id();
        let rows = self
            .read(bank, Planner::Default, || {
                sqlx::query(
                    "SELECT data_version, facts_by_stage,
                            (extract(epoch from first_at) * 1000)::bigint AS first_ms,
                            (extract(epoch from last_at) * 1000)::bigint AS last_ms
                       FROM payscope.bank_state WHERE bank_id = $1",
                )
                .bind(*bank.as_uuid())
            })
            .await?;
        let Some(row) = rows.first() else { return Ok(FactStats::default()) };
        let counts: Vec<i64> = row.get("facts_by_stage");
        let mut by_stage = [0u64; 6];
        for (slot, n) in by_stage.iter_mut().zip(counts) {
            *slot = n.max(0) as u64;
        }
        Ok(FactStats {
            total: by_stage.iter().sum(),
            by_stage,
            first: row.get::<Option<i64>, _>("first_ms").map(Timestamp),
            last: row.get::<Option<i64>, _>("last_ms").map(Timestamp),
            data_version: row.get::<i64, _>("data_version") as u64,
        })
    }

    async fn clear(&self, ctx: &BankContext) -> Result<u64> {
        let _t = self.timer("fact_clear");
        let b = *ctx.bank_id().as_uuid();
        let mut tx = self.bank_tx(ctx.bank_id()).await?;
        let n = sqlx::query("DELETE FROM payscope.facts WHERE bank_id = $1")
            .bind(b)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?
            .rows_affected();
        for table in ["rollup_daily", "rollup_daily_totals", "merchants"] {
            sqlx::query(dynamic(format!("DELETE FROM payscope.{table} WHERE bank_id = $1")))
                .bind(b)
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
        }
        sqlx::query(
            "UPDATE payscope.bank_state SET facts_by_stage = '{0,0,0,0,0,0}', first_at = NULL, last_at = NULL,
                    data_version = data_version + 1, updated_at = now()
              WHERE bank_id = $1",
        )
        .bind(b)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        Ok(n)
    }
}
