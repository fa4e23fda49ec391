//! Audit-chain exports to the backups store (`payscope-backups` on S3/MinIO): one JSON-lines
//! object per export, in the format of the embedded chain files, so `verify_chain` (or any
//! SHA-256 tool) can check a backup without PayScope's database.

use object_store::path::Path;
use object_store::WriteMultipart;
use serde::Serialize;

use super::Engine;
use crate::bank::{BankContext, Permission};
use crate::calendar::Timestamp;
use crate::error::{Error, Result};
use crate::facts::Sha256;
use crate::store::audit::ChainVerifier;

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

/// Entries read at a time.
const PAGE: usize = 1000;

impl Engine {
    /// Writes the caller's bank's audit chain to the backups store as
    /// `audit/{bank_id}/{UTC time}-{records}.jsonl`, reading it a page at a time.
    pub async fn export_audit(&self, ctx: &BankContext) -> Result<AuditExport> {
        ctx.require(Permission::Audit)?;
        // First the chain as it stands: how many entries (the object's name says), its head,
        // whether it holds. Then exactly those are written; answers appended meanwhile go to
        // the next export.
        let (mut verifier, mut chain_ok, mut records, mut head_hash) =
            (ChainVerifier::default(), true, 0, None);
        let mut from = None;
        loop {
            let page = self.inner.stores.audit.entries_page(ctx, from, PAGE).await?;
            for entry in &page.entries {
                chain_ok = chain_ok && verifier.check(entry).is_none();
                (records, head_hash) = (records + 1, Some(entry.hash));
            }
            let Some(next) = page.next else { break };
            from = Some(next);
        }
        let stamp: String =
            Timestamp::now().to_string().chars().filter(char::is_ascii_alphanumeric).collect();
        let object = format!("audit/{}/{stamp}-{records}.jsonl", ctx.bank_id());
        let mut upload = WriteMultipart::new_with_chunk_size(
            self.inner.backups.put_multipart(&Path::from(object.as_str())).await?,
            PART,
        );
        let (mut left, mut from) = (records, None);
        while left > 0 {
            let page = self.inner.stores.audit.entries_page(ctx, from, PAGE).await?;
            for entry in page.entries.iter().take(left as usize) {
                upload.wait_for_capacity(2).await?;
                let mut line = serde_json::to_vec(entry)?;
                line.push(b'\n');
                upload.write(&line);
                left -= 1;
            }
            match page.next {
                Some(next) => from = Some(next),
                None if left > 0 => {
                    upload.abort().await?;
                    return Err(Error::internal(format!(
                        "the audit chain of bank {} shrank during its export",
                        ctx.bank_id()
                    )));
                }
                None => {}
            }
        }
        upload.finish().await?;
        tracing::info!(bank_id = %ctx.bank_id(), object, records, "audit chain exported");
        Ok(AuditExport { object, records, head_hash, chain_ok })
    }
}
