//! Audit-chain exports to the backups store (`payscope-backups` on S3/MinIO): one JSON-lines
//! object per export, in the format of the embedded chain files, so `verify_chain` (or any
//! SHA-256 tool) can check a backup without PayScope's database.

use object_store::path::Path;
use object_store::WriteMultipart;
use serde::Serialize;

use super::Engine;
use crate::bank::{BankContext, Permission};
use crate::calendar::Timestamp;
use crate::error::Result;
use crate::facts::Sha256;
use crate::store::audit::verify_chain;

/// Part size of the multipart upload (S3's minimum is 5 MiB).
const PART: usize = 8 * 1024 * 1024;

/// What an export wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditExport {
    /// The object's key in the backups store.
    pub object: String,
    /// Entries exported.
    pub records: u64,
    /// Hash of the last entry (the chain's head), when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub head_hash: Option<Sha256>,
    /// Whether the exported chain verified (a broken chain is exported as it is, for forensics).
    pub chain_ok: bool,
}

impl Engine {
    /// Writes the caller's bank's audit chain to the backups store as
    /// `audit/{bank_id}/{UTC time}-{records}.jsonl`.
    pub async fn export_audit(&self, ctx: &BankContext) -> Result<AuditExport> {
        ctx.require(Permission::Audit)?;
        let entries = self.inner.stores.audit.entries(ctx).await?;
        let stamp: String =
            Timestamp::now().to_string().chars().filter(char::is_ascii_alphanumeric).collect();
        let object = format!("audit/{}/{stamp}-{}.jsonl", ctx.bank_id(), entries.len());
        let mut upload = WriteMultipart::new_with_chunk_size(
            self.inner.backups.put_multipart(&Path::from(object.as_str())).await?,
            PART,
        );
        for entry in &entries {
            upload.wait_for_capacity(2).await?;
            let mut line = serde_json::to_vec(entry)?;
            line.push(b'\n');
            upload.write(&line);
        }
        upload.finish().await?;
        tracing::info!(bank_id = %ctx.bank_id(), object, records = entries.len(), "audit chain exported");
        Ok(AuditExport {
            object,
            records: entries.len() as u64,
            head_hash: entries.last().map(|e| e.hash),
            chain_ok: verify_chain(&entries).ok,
        })
    }
}
