//! Raw report artifacts in object storage, content-addressed per bank
//! (`raw/{bank_id}/{sha256}`) and encrypted at rest with AES-256-GCM, because they may hold
//! card numbers.
//!
//! Encryption is chunked (the STREAM construction) so uploads of any size are encrypted and
//! decrypted as they stream: a header `PSA1` + a 7-byte random nonce prefix, then 64 KiB
//! plaintext chunks, each sealed with nonce `prefix ‖ counter (u32 BE) ‖ last-flag`. The last
//! chunk is always shorter than 64 KiB (possibly empty), so a truncated object fails to decrypt.

use std::sync::Arc;

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use bytes::{Bytes, BytesMut};
use futures::{Stream, StreamExt};
use object_store::path::Path;
use object_store::{ObjectStore, PutPayload};
use sha2::Digest;

use crate::bank::BankContext;
use crate::error::{Error, Result};
use crate::facts::Sha256;
use crate::ingest::pan::PanKey;

const MAGIC: &[u8; 4] = b"PSA1";
const PREFIX_LEN: usize = 7;
const CHUNK: usize = 64 * 1024;
const TAG: usize = 16;
const SEGMENT: usize = CHUNK + TAG;
/// Multipart part size (S3 needs at least 5 MiB for every part but the last).
const PART: usize = 8 * 1024 * 1024;

fn nonce(prefix: &[u8; PREFIX_LEN], counter: u32, last: bool) -> [u8; 12] {
    let mut n = [0u8; 12];
    n[..PREFIX_LEN].copy_from_slice(prefix);
    n[PREFIX_LEN..11].copy_from_slice(&counter.to_be_bytes());
    n[11] = u8::from(last);
    n
}

/// Encrypts a plaintext stream chunk by chunk.
struct Sealer {
    cipher: Aes256Gcm,
    prefix: [u8; PREFIX_LEN],
    counter: u32,
    pending: BytesMut,
}

impl Sealer {
    fn new(cipher: Aes256Gcm) -> (Sealer, Vec<u8>) {
        use rand::RngCore;
        let mut prefix = [0u8; PREFIX_LEN];
        rand::rngs::OsRng.fill_bytes(&mut prefix);
        let mut header = MAGIC.to_vec();
        header.extend_from_slice(&prefix);
        (Sealer { cipher, prefix, counter: 0, pending: BytesMut::new() }, header)
    }

    fn seal(&mut self, chunk: &[u8], last: bool, out: &mut Vec<u8>) -> Result<()> {
        let n = nonce(&self.prefix, self.counter, last);
        let sealed = self
            .cipher
            .encrypt(Nonce::from_slice(&n), chunk)
            .map_err(|_| Error::internal("artifact encryption failed"))?;
        out.extend_from_slice(&sealed);
        self.counter = self
            .counter
            .checked_add(1)
            .ok_or_else(|| Error::invalid("payload_too_large", "artifact too large"))?;
        Ok(())
    }

    /// Adds plaintext; appends the ciphertext of every full chunk to `out`.
    fn push(&mut self, data: &[u8], out: &mut Vec<u8>) -> Result<()> {
        self.pending.extend_from_slice(data);
        while self.pending.len() >= CHUNK {
            let chunk = self.pending.split_to(CHUNK);
            self.seal(&chunk, false, out)?;
        }
        Ok(())
    }

    fn finish(mut self, out: &mut Vec<u8>) -> Result<()> {
        let rest = std::mem::take(&mut self.pending);
        self.seal(&rest, true, out)
    }
}

/// Decrypts a ciphertext stream chunk by chunk.
struct Opener {
    cipher: Aes256Gcm,
    prefix: Option<[u8; PREFIX_LEN]>,
    counter: u32,
    pending: BytesMut,
}

impl Opener {
    fn open(&mut self, segment: &[u8], last: bool) -> Result<Bytes> {
        let prefix = self.prefix.ok_or_else(|| Error::internal("artifact header missing"))?;
        let n = nonce(&prefix, self.counter, last);
        self.counter += 1;
        self.cipher
            .decrypt(Nonce::from_slice(&n), segment)
            .map(Bytes::from)
            .map_err(|_| Error::internal("artifact failed authentication (wrong PAYSCOPE_PAN_KEY, or the object was altered or truncated)"))
    }

    /// Adds ciphertext; returns the plaintext of the segments known not to be the last.
    fn push(&mut self, data: &[u8]) -> Result<Vec<Bytes>> {
        self.pending.extend_from_slice(data);
        if self.prefix.is_none() {
            if self.pending.len() < MAGIC.len() + PREFIX_LEN {
                return Ok(vec![]);
            }
            let head = self.pending.split_to(MAGIC.len() + PREFIX_LEN);
            if &head[..4] != MAGIC {
                return Err(Error::internal("artifact is not in the encrypted artifact format"));
            }
            let mut p = [0u8; PREFIX_LEN];
            p.copy_from_slice(&head[4..]);
            self.prefix = Some(p);
        }
        let mut out = Vec::new();
        // Keep one full segment back until more data arrives: it could be the last.
        while self.pending.len() > SEGMENT {
            let seg = self.pending.split_to(SEGMENT);
            out.push(self.open(&seg, false)?);
        }
        Ok(out)
    }

    fn finish(mut self) -> Result<Bytes> {
        if self.prefix.is_none() || self.pending.len() < TAG || self.pending.len() >= SEGMENT {
            return Err(Error::internal("artifact is truncated"));
        }
        let rest = std::mem::take(&mut self.pending);
        self.open(&rest, true)
    }
}

/// A stored upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredArtifact {
    /// SHA-256 of the plaintext.
    pub sha256: Sha256,
    /// Plaintext size.
    pub size: u64,
}

/// Encrypted, content-addressed raw artifacts.
#[derive(Clone)]
pub struct Artifacts {
    objects: Arc<dyn ObjectStore>,
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for Artifacts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Artifacts({})", self.objects)
    }
}

/// The object key of a bank's artifact.
pub fn artifact_path(ctx: &BankContext, sha256: &Sha256) -> Path {
    Path::from(format!("raw/{}/{}", ctx.bank_id(), sha256))
}

impl Artifacts {
    /// Artifacts in `objects`, encrypted with a key derived from `key`.
    pub fn new(objects: Arc<dyn ObjectStore>, key: &PanKey) -> Self {
        let k = key.derive("artifacts/aes-256-gcm/v1");
        Artifacts { objects, cipher: Aes256Gcm::new(&k.into()) }
    }

    /// The object store underneath.
    pub fn objects(&self) -> &Arc<dyn ObjectStore> {
        &self.objects
    }

    /// Stores an upload as it streams: the plaintext is hashed and encrypted chunk by chunk
    /// into a temporary object, which then becomes `raw/{bank}/{sha256}` unless that exists.
    /// More than `max_bytes` of plaintext is refused with `payload_too_large`.
    pub async fn store<S, E>(&self, ctx: &BankContext, mut body: S, max_bytes: u64) -> Result<StoredArtifact>
    where
        S: Stream<Item = std::result::Result<Bytes, E>> + Unpin + Send,
        E: Into<Error>,
    {
        let temp = Path::from(format!("raw/{}/incoming/{}", ctx.bank_id(), uuid::Uuid::new_v4()));
        let (mut sealer, header) = Sealer::new(self.cipher.clone());
        let mut hasher = sha2::Sha256::new();
        let mut size = 0u64;
        let mut part: Vec<u8> = header;
        let mut upload: Option<Box<dyn object_store::MultipartUpload>> = None;
        let result: Result<()> = async {
            while let Some(chunk) = body.next().await {
                let chunk = chunk.map_err(Into::into)?;
                size += chunk.len() as u64;
                if size > max_bytes {
                    return Err(Error::PayloadTooLarge(format!(
                        "the report is larger than the {max_bytes}-byte upload limit"
                    )));
                }
                hasher.update(&chunk);
                sealer.push(&chunk, &mut part)?;
                if part.len() >= PART {
                    let up = match &mut upload {
                        Some(u) => u,
                        None => upload.insert(self.objects.put_multipart(&temp).await?),
                    };
                    up.put_part(PutPayload::from(std::mem::take(&mut part))).await?;
                }
            }
            Ok(())
        }
        .await;
        if let Err(e) = result {
            if let Some(mut up) = upload {
                let _ = up.abort().await;
            }
            return Err(e);
        }
        sealer.finish(&mut part)?;
        match upload {
            Some(mut up) => {
                up.put_part(PutPayload::from(part)).await?;
                up.complete().await?;
            }
            None => {
                self.objects.put(&temp, PutPayload::from(part)).await?;
            }
        }
        let sha256 = Sha256(hasher.finalize().into());
        let target = artifact_path(ctx, &sha256);
        if self.objects.head(&target).await.is_ok() {
            let _ = self.objects.delete(&temp).await;
        } else {
            self.objects.rename(&temp, &target).await?;
        }
        Ok(StoredArtifact { sha256, size })
    }

    /// Stores bytes already in memory.
    pub async fn store_bytes(
        &self,
        ctx: &BankContext,
        bytes: Bytes,
        max_bytes: u64,
    ) -> Result<StoredArtifact> {
        let body = futures::stream::iter([Ok::<Bytes, Error>(bytes)]);
        self.store(ctx, body, max_bytes).await
    }

    /// Streams the decrypted artifact.
    pub async fn read(
        &self,
        ctx: &BankContext,
        sha256: &Sha256,
    ) -> Result<impl Stream<Item = Result<Bytes>> + Send + 'static> {
        let got = self.objects.get(&artifact_path(ctx, sha256)).await?;
        let mut opener =
            Some(Opener { cipher: self.cipher.clone(), prefix: None, counter: 0, pending: BytesMut::new() });
        let mut inner = got.into_stream();
        Ok(async_stream(move |tx| async move {
            while let Some(chunk) = inner.next().await {
                let chunk = match chunk {
                    Ok(c) => c,
                    Err(e) => return tx.send(Err(e.into())).await.map_err(drop),
                };
                let Some(o) = opener.as_mut() else { return Ok(()) };
                match o.push(&chunk) {
                    Ok(parts) => {
                        for p in parts {
                            tx.send(Ok(p)).await.map_err(drop)?;
                        }
                    }
                    Err(e) => return tx.send(Err(e)).await.map_err(drop),
                }
            }
            if let Some(o) = opener.take() {
                tx.send(o.finish()).await.map_err(drop)?;
            }
            Ok(())
        }))
    }

    /// A blocking [`std::io::Read`] over the decrypted artifact, for parsers on a blocking
    /// thread. At most a few chunks are buffered.
    pub async fn reader(&self, ctx: &BankContext, sha256: &Sha256) -> Result<ArtifactReader> {
        let mut stream = Box::pin(self.read(ctx, sha256).await?);
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes>>(4);
        tokio::spawn(async move {
            while let Some(item) = stream.next().await {
                if tx.send(item).await.is_err() {
                    break;
                }
            }
        });
        Ok(ArtifactReader { rx, current: Bytes::new() })
    }

    /// Removes a bank's artifact.
    pub async fn delete(&self, ctx: &BankContext, sha256: &Sha256) -> Result<()> {
        Ok(self.objects.delete(&artifact_path(ctx, sha256)).await?)
    }

    /// Checks the store answers (for readiness).
    pub async fn check(&self) -> Result<()> {
        let probe = Path::from("health/probe");
        match self.objects.head(&probe).await {
            Ok(_) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(Error::unavailable("object_store", e)),
        }
    }
}

/// Runs a producer that sends into a bounded channel and exposes the receiver as a stream.
fn async_stream<F, Fut>(producer: F) -> impl Stream<Item = Result<Bytes>> + Send + 'static
where
    F: FnOnce(tokio::sync::mpsc::Sender<Result<Bytes>>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = std::result::Result<(), ()>> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tokio::spawn(async move {
        let _ = producer(tx).await;
    });
    futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) })
}

/// A blocking reader over a decrypted artifact stream.
pub struct ArtifactReader {
    rx: tokio::sync::mpsc::Receiver<Result<Bytes>>,
    current: Bytes,
}

impl std::io::Read for ArtifactReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                None => return Ok(0),
                Some(Ok(b)) => self.current = b,
                Some(Err(e)) => return Err(std::io::Error::other(e.to_string())),
            }
        }
        let n = self.current.len().min(buf.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        let _ = self.current.split_to(n);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bank::{BankId, Role};
    use object_store::memory::InMemory;

    fn ctx() -> BankContext {
        BankContext::embedded(BankId::from_uuid(uuid::Uuid::new_v4()), [Role::Admin])
    }

    async fn collect(a: &Artifacts, ctx: &BankContext, sha: &Sha256) -> Result<Vec<u8>> {
        let mut s = Box::pin(a.read(ctx, sha).await?);
        let mut out = Vec::new();
        while let Some(c) = s.next().await {
            out.extend_from_slice(&c?);
        }
        Ok(out)
    }

    #[tokio::test]
    async fn round_trips_every_size_and_is_encrypted_at_rest() {
        let store = Arc::new(InMemory::new());
        let a = Artifacts::new(store.clone(), &PanKey::new([3; 32]));
        let ctx = ctx();
        for size in [0usize, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, PART + 17] {
            let data: Vec<u8> = (0..size).map(|i| (i * 31 % 251) as u8).collect();
            let chunks: Vec<std::result::Result<Bytes, Error>> =
                data.chunks(10_000).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
            let stored = a.store(&ctx, futures::stream::iter(chunks), u64::MAX).await.unwrap();
            assert_eq!(stored.sha256, Sha256::digest(&data));
            assert_eq!(collect(&a, &ctx, &stored.sha256).await.unwrap(), data, "size {size}");
        }
        let pan = b"5340858851956325,19.04";
        let stored = a.store_bytes(&ctx, Bytes::from_static(pan), 1 << 20).await.unwrap();
        let raw = store.get(&artifact_path(&ctx, &stored.sha256)).await.unwrap().bytes().await.unwrap();
        assert!(!raw.windows(16).any(|w| w == &pan[..16]), "PAN stored in clear");
        // Another key cannot read it; truncation is detected.
        let other = Artifacts::new(store.clone(), &PanKey::new([4; 32]));
        assert!(collect(&other, &ctx, &stored.sha256).await.is_err());
        store
            .put(&artifact_path(&ctx, &stored.sha256), PutPayload::from(raw.slice(..raw.len() - 3)))
            .await
            .unwrap();
        assert!(collect(&a, &ctx, &stored.sha256).await.is_err());
    }

    #[tokio::test]
    async fn refuses_oversize_uploads() {
        let a = Artifacts::new(Arc::new(InMemory::new()), &PanKey::new([3; 32]));
        let e = a.store_bytes(&ctx(), Bytes::from(vec![0u8; 100]), 10).await.unwrap_err();
        assert_eq!(e.code(), "payload_too_large");
    }
}
