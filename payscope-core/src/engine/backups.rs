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
use crate::store::audit::{AuditEntry, AuditLog, ChainVerifier};

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

/// A bank's audit chain read in order, a page at a time, up to a number of entries.
struct AuditPages<'a> {
    audit: &'a dyn AuditLog,
    ctx: &'a BankContext,
    from: Option<u64>,
    /// Entries still to read (`u64::MAX`: the whole chain).
    left: u64,
    ended: bool,
}

impl<'a> AuditPages<'a> {
    fn new(audit: &'a dyn AuditLog, ctx: &'a BankContext, limit: u64) -> Self {
        AuditPages { audit, ctx, from: None, left: limit, ended: false }
    }

    /// The next page, or `None` once the chain or the limit is reached.
    async fn next(&mut self) -> Result<Option<Vec<AuditEntry>>> {
        if self.ended || self.left == 0 {
            return Ok(None);
        }
        let mut page = self.audit.entries_page(self.ctx, self.from, PAGE).await?;
        page.entries.truncate(usize::try_from(self.left).unwrap_or(usize::MAX));
        self.left -= page.entries.len() as u64;
        match page.next {
            Some(next) => self.from = Some(next),
            None => self.ended = true,
        }
        Ok(Some(page.entries))
    }
}

impl Engine {
    /// Writes the caller's bank's audit chain to the backups store as
    /// `audit/{bank_id}/{UTC time}-{records}.jsonl`, reading it a page at a time.
    pub async fn export_audit(&self, ctx: &BankContext) -> Result<AuditExport> {
        ctx.require(Permission::Audit)?;
        let audit = &*self.inner.stores.audit;
        // First the chain as it stands: how many entries (the object's name says), its head,
        // whether it holds. Then exactly those are written; answers appended meanwhile go to
        // the next export.
        let (mut verifier, mut chain_ok, mut head_hash, mut records) =
            (ChainVerifier::default(), true, None, 0);
        let mut pages = AuditPages::new(audit, ctx, u64::MAX);
        while let Some(page) = pages.next().await? {
            for entry in &page {
                chain_ok = chain_ok && verifier.check(entry).is_none();
                (records, head_hash) = (records + 1, Some(entry.hash));
            }
        }
        let stamp: String =
            Timestamp::now().to_string().chars().filter(char::is_ascii_alphanumeric).collect();
        let object = format!("audit/{}/{stamp}-{records}.jsonl", ctx.bank_id());
        let mut upload = WriteMultipart::new_with_chunk_size(
            self.inner.backups.put_multipart(&Path::from(object.as_str())).await?,
            PART,
        );
        // The entries not written (none, unless the chain shrank meanwhile).
        let unwritten = async {
            let mut pages = AuditPages::new(audit, ctx, records);
            while let Some(page) = pages.next().await? {
                for entry in &page {
                    upload.wait_for_capacity(2).await?;
                    let mut line = serde_json::to_vec(entry)?;
                    line.push(b'\n');
                    upload.write(&line);
                }
            }
            Ok::<_, Error>(pages.left)
        }
        .await;
        match unwritten {
            Ok(0) => upload.finish().await?,
            failed => {
                // No half-written object is left behind; the export's own error is reported.
                let _ = upload.abort().await;
                return Err(failed.err().unwrap_or_else(|| {
                    Error::internal(format!(
                        "the audit chain of bank {} shrank during its export",
                        ctx.bank_id()
                    ))
                }));
            }
        };
        tracing::info!(bank_id = %ctx.bank_id(), object, records, "audit chain exported");
        Ok(AuditExport { object, records, head_hash, chain_ok })
    }
}
