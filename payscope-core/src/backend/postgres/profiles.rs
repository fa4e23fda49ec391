//! `ProfileStore` on Postgres: `payscope.mapping_profiles`, under row-level security like
//! every tenant table; one profile per `(bank, fingerprint)` by a unique constraint.

use async_trait::async_trait;
use sqlx::postgres::PgRow;
use sqlx::Row;
use uuid::Uuid;

use super::{db_error, dynamic, PgBackend, Planner};
use crate::bank::BankContext;
use crate::calendar::Timestamp;
use crate::error::{Error, Result};
use crate::facts::MappingProfile;
use crate::store::profiles::{fingerprint_taken, ProfileStore};

const COLUMNS: &str = "profile_id, name, fingerprint, mapping,
    (extract(epoch FROM created_at) * 1000)::int8 AS created_ms,
    (extract(epoch FROM updated_at) * 1000)::int8 AS updated_ms";

fn profile(row: &PgRow) -> Result<MappingProfile> {
    let mapping = serde_json::from_value(row.get("mapping"))
        .map_err(|e| Error::internal(format!("stored mapping profile is unreadable: {e}")))?;
    Ok(MappingProfile {
        profile_id: row.get("profile_id"),
        name: row.get("name"),
        fingerprint: row.get("fingerprint"),
        mapping,
        created_at: Timestamp(row.get("created_ms")),
        updated_at: Timestamp(row.get("updated_ms")),
    })
}

impl PgBackend {
    async fn profile_rows(&self, ctx: &BankContext, id: Option<Uuid>) -> Result<Vec<MappingProfile>> {
        let bank = ctx.bank_id();
        let sql = format!(
            "SELECT {COLUMNS} FROM payscope.mapping_profiles
              WHERE bank_id = $1 AND ($2::uuid IS NULL OR profile_id = $2) ORDER BY name, profile_id"
        );
        let rows = self
            .read(bank, Planner::Default, || sqlx::query(dynamic(sql.clone())).bind(*bank.as_uuid()).bind(id))
            .await?;
        rows.iter().map(profile).collect()
    }
}

#[async_trait]
impl ProfileStore for PgBackend {
    async fn list(&self, ctx: &BankContext) -> Result<Vec<MappingProfile>> {
        let _t = self.timer("profile_list");
        self.profile_rows(ctx, None).await
    }

    async fn get(&self, ctx: &BankContext, id: Uuid) -> Result<Option<MappingProfile>> {
        let _t = self.timer("profile_get");
        Ok(self.profile_rows(ctx, Some(id)).await?.pop())
    }

    async fn put(&self, ctx: &BankContext, p: MappingProfile) -> Result<MappingProfile> {
        let _t = self.timer("profile_put");
        let mut tx = self.bank_tx(ctx.bank_id()).await?;
        let holder = sqlx::query(dynamic(format!(
            "SELECT {COLUMNS} FROM payscope.mapping_profiles
              WHERE bank_id = $1 AND fingerprint = $2 AND profile_id <> $3"
        )))
        .bind(ctx.bank_id().as_uuid())
        .bind(&p.fingerprint)
        .bind(p.profile_id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_error)?;
        if let Some(row) = holder {
            return Err(fingerprint_taken(&profile(&row)?));
        }
        let mapping = serde_json::to_value(&p.mapping).map_err(Error::internal)?;
        let row = sqlx::query(dynamic(format!(
            "INSERT INTO payscope.mapping_profiles
                 (bank_id, profile_id, name, fingerprint, mapping, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6::timestamptz, $7::timestamptz)
             ON CONFLICT (bank_id, profile_id) DO UPDATE
                SET name = EXCLUDED.name, fingerprint = EXCLUDED.fingerprint,
                    mapping = EXCLUDED.mapping, updated_at = EXCLUDED.updated_at
             RETURNING {COLUMNS}"
        )))
        .bind(ctx.bank_id().as_uuid())
        .bind(p.profile_id)
        .bind(&p.name)
        .bind(&p.fingerprint)
        .bind(mapping)
        .bind(p.created_at.to_string())
        .bind(p.updated_at.to_string())
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| match &e {
            // A concurrent save took the fingerprint between the check and the insert.
            sqlx::Error::Database(d) if d.is_unique_violation() => Error::Conflict(format!(
                "another mapping profile already applies to header fingerprint {}",
                p.fingerprint
            )),
            _ => db_error(e),
        })?;
        let saved = profile(&row)?;
        tx.commit().await.map_err(db_error)?;
        Ok(saved)
    }

    async fn delete(&self, ctx: &BankContext, id: Uuid) -> Result<bool> {
        let _t = self.timer("profile_delete");
        let mut tx = self.bank_tx(ctx.bank_id()).await?;
        let done =
            sqlx::query("DELETE FROM payscope.mapping_profiles WHERE bank_id = $1 AND profile_id = $2")
                .bind(ctx.bank_id().as_uuid())
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        Ok(done.rows_affected() == 1)
    }
}
