//! Mapping on the engine: previews of an upload (nothing stored) and the bank's mapping
//! profiles, whose every change is recorded in the bank's audit chain.

use bytes::Bytes;
use futures::{Stream, StreamExt};
use uuid::Uuid;

use super::ingest::check_options;
use super::Engine;
use crate::bank::{BankContext, Permission};
use crate::calendar::Timestamp;
use crate::error::{Error, Result};
use crate::facts::{MappingProfile, Preview, ProfileDraft, Report, ReportId, ReportOptions, Sha256};
use crate::ingest::preview::{cut_to_whole_records, needs_whole_file, preview, PREVIEW_BYTES};
use crate::store::{AnswerId, AuditRecord};

impl Engine {
    /// What uploading `body` with `options` would do — structure, mapping, first facts,
    /// problems — with the bank's profiles applied. Nothing is stored.
    pub async fn preview<S, E>(&self, ctx: &BankContext, body: S, options: ReportOptions) -> Result<Preview>
    where
        S: Stream<Item = std::result::Result<Bytes, E>> + Unpin + Send,
        E: Into<Error>,
    {
        ctx.require(Permission::Upload)?;
        check_options(&options)?;
        let (bytes, truncated) = self.preview_bytes(body).await?;
        // A preview's facts belong to no report: their lineage has the nil report id (and
        // the hash of the bytes read).
        let mut report = Report::queued(ctx.bank_id(), Sha256::digest(&bytes), bytes.len() as u64, &options);
        report.report_id = ReportId(Uuid::nil());
        let profiles = self.inner.stores.profiles.list(ctx).await?;
        let key = self.inner.key.clone();
        tokio::task::spawn_blocking(move || preview(bytes, truncated, &report, &key, &profiles)).await?
    }

    /// The head of an upload a preview reads, and whether the rest was left unread.
    async fn preview_bytes<S, E>(&self, mut body: S) -> Result<(Vec<u8>, bool)>
    where
        S: Stream<Item = std::result::Result<Bytes, E>> + Unpin + Send,
        E: Into<Error>,
    {
        let max = self.inner.options.max_upload_bytes;
        let mut bytes = Vec::new();
        let mut whole = None;
        while let Some(chunk) = body.next().await {
            bytes.extend_from_slice(&chunk.map_err(Into::into)?);
            if bytes.len() as u64 > max {
                return Err(Error::PayloadTooLarge(format!(
                    "the report is larger than the {max}-byte upload limit"
                )));
            }
            // Decided on the first bytes that can show a format (a chunk may be tiny).
            if whole.is_none() && bytes.len() >= 8 {
                whole = Some(needs_whole_file(&bytes));
            }
            if whole == Some(false) && bytes.len() > PREVIEW_BYTES {
                bytes.truncate(PREVIEW_BYTES);
                cut_to_whole_records(&mut bytes);
                return Ok((bytes, true));
            }
        }
        Ok((bytes, false))
    }

    /// The bank's mapping profiles, by name.
    pub async fn mapping_profiles(&self, ctx: &BankContext) -> Result<Vec<MappingProfile>> {
        ctx.require(Permission::Upload)?;
        self.inner.stores.profiles.list(ctx).await
    }

    /// One of the bank's mapping profiles.
    pub async fn mapping_profile(&self, ctx: &BankContext, id: Uuid) -> Result<MappingProfile> {
        ctx.require(Permission::Upload)?;
        self.inner.stores.profiles.get(ctx, id).await?.ok_or_else(|| not_found(id))
    }

    /// Saves a new mapping profile; later tables whose header has its fingerprint are read
    /// with its mapping. A bank has one profile per fingerprint (a second is a conflict).
    pub async fn create_mapping_profile(
        &self,
        ctx: &BankContext,
        draft: ProfileDraft,
    ) -> Result<MappingProfile> {
        ctx.require(Permission::ManageMappings)?;
        let now = Timestamp::now();
        let profile = MappingProfile {
            profile_id: Uuid::new_v4(),
            name: draft.name,
            fingerprint: draft.fingerprint,
            mapping: draft.mapping,
            created_at: now,
            updated_at: now,
        };
        profile.validate()?;
        let saved = self.inner.stores.profiles.put(ctx, profile).await?;
        self.audit_profile(ctx, "mapping_profile.created", &saved).await?;
        Ok(saved)
    }

    /// Replaces a mapping profile's name, fingerprint and mapping.
    pub async fn update_mapping_profile(
        &self,
        ctx: &BankContext,
        id: Uuid,
        draft: ProfileDraft,
    ) -> Result<MappingProfile> {
        ctx.require(Permission::ManageMappings)?;
        let old = self.inner.stores.profiles.get(ctx, id).await?.ok_or_else(|| not_found(id))?;
        let profile = MappingProfile {
            name: draft.name,
            fingerprint: draft.fingerprint,
            mapping: draft.mapping,
            updated_at: Timestamp::now(),
            ..old
        };
        profile.validate()?;
        let saved = self.inner.stores.profiles.put(ctx, profile).await?;
        self.audit_profile(ctx, "mapping_profile.updated", &saved).await?;
        Ok(saved)
    }

    /// Deletes a mapping profile (reports it was applied to keep their reading).
    pub async fn delete_mapping_profile(&self, ctx: &BankContext, id: Uuid) -> Result<()> {
        ctx.require(Permission::ManageMappings)?;
        let old = self.inner.stores.profiles.get(ctx, id).await?.ok_or_else(|| not_found(id))?;
        if !self.inner.stores.profiles.delete(ctx, id).await? {
            return Err(not_found(id));
        }
        self.audit_profile(ctx, "mapping_profile.deleted", &old).await
    }

    /// Appends a profile change to the bank's audit chain.
    async fn audit_profile(&self, ctx: &BankContext, event: &str, profile: &MappingProfile) -> Result<()> {
        let body = serde_json::json!({
            "event": event,
            "intent": "mapping_profile",
            "profile": profile,
            "roles": ctx.roles().iter().map(|r| r.as_str()).collect::<Vec<_>>(),
            "request_id": ctx.request_id(),
        });
        let record = AuditRecord {
            answer_id: AnswerId::new(),
            created_at: Timestamp::now(),
            asked_by: ctx.caller().cloned(),
            body: body.into(),
        };
        self.inner.stores.audit.append(ctx, record).await.map(|_| ())
    }
}

fn not_found(id: Uuid) -> Error {
    Error::NotFound(format!("mapping profile {id}"))
}
