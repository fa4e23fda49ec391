//! Raw report artifacts in object storage, content-addressed per bank
//! (`raw/{bank_id}/{sha256}`) and encrypted at rest with AES-256-GCM, because they may hold
//! card numbers.
//!
//! Encryption is chunked with the STREAM construction (`aead::stream`, 32-bit big-endian
//! counter and last-block flag in the nonce) so uploads of any size are encrypted and decrypted
//! as they stream: 64 KiB plaintext chunks, the last always shorter (possibly empty), so a
//! truncated object fails to decrypt. Two formats are read:
//!
//! - `PSA2` (written): magic, a 4-byte key id, a 7-byte random nonce prefix, then the chunks.
//!   Every chunk's associated data is the bank's id, and the last chunk's also the SHA-256 of
//!   the plaintext: an object moved to another bank's or another hash's key does not decrypt.
//!   The key id names the key, so keys can be rotated: [`Artifacts::with_previous_keys`] keeps
//!   older keys for reading.
//! - `PSA1` (earlier releases): magic and prefix, no associated data, the current key.
//!
//! On every read the plaintext is hashed again and must match the hash it is stored under.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aes_gcm::aead::stream::{DecryptorBE32, EncryptorBE32};
use aes_gcm::aead::{KeyInit, Payload};
use aes_gcm::Aes256Gcm;
use bytes::{Bytes, BytesMut};
use futures::{Stream, StreamExt};
use object_store::path::Path;
use object_store::{GetResult, GetResultPayload, ObjectStore, PutPayload};
use sha2::Digest;

use crate::bank::{BankContext, BankId};
use crate::error::{Error, Result};
use crate::facts::Sha256;
use crate::ingest::pan::PanKey;

const MAGIC_V1: &[u8; 4] = b"PSA1";
const MAGIC_V2: &[u8; 4] = b"PSA2";
const KEY_ID: usize = 4;
const PREFIX_LEN: usize = 7;
const CHUNK: usize = 64 * 1024;
const TAG: usize = 16;
const SEGMENT: usize = CHUNK + TAG;
/// Multipart part size (S3 needs at least 5 MiB for every part but the last).
const PART: usize = 8 * 1024 * 1024;

/// A key artifacts are sealed with, and its id: the first bytes of a hash of it.
#[derive(Clone)]
struct ArtifactKey {
    id: [u8; KEY_ID],
    cipher: Aes256Gcm,
}

impl ArtifactKey {
    fn of(key: &PanKey) -> ArtifactKey {
        let k = key.derive("artifacts/aes-256-gcm/v1");
        let digest = sha2::Sha256::digest([b"payscope artifact key id ".as_slice(), &k].concat());
        let mut id = [0; KEY_ID];
        id.copy_from_slice(&digest[..KEY_ID]);
        ArtifactKey { id, cipher: Aes256Gcm::new(&k.into()) }
    }
}

/// The associated data of a `PSA2` chunk: the bank, and for the last chunk the content hash.
fn associated(bank: BankId, sha256: Option<&Sha256>) -> Vec<u8> {
    let mut aad = b"payscope artifact v2 ".to_vec();
    aad.extend_from_slice(bank.as_uuid().as_bytes());
    if let Some(sha) = sha256 {
        aad.extend_from_slice(&sha.0);
    }
    aad
}

fn sealing_failed(_: aes_gcm::aead::Error) -> Error {
    Error::internal("artifact encryption failed (the artifact is too large for one key stream)")
}

fn unauthentic(_: aes_gcm::aead::Error) -> Error {
    Error::internal("artifact failed authentication (wrong PAYSCOPE_PAN_KEY, or the object was altered, truncated or moved)")
}

/// Encrypts a plaintext stream chunk by chunk (`PSA2`).
struct Sealer {
    stream: EncryptorBE32<Aes256Gcm>,
    bank: BankId,
    aad: Vec<u8>,
    pending: BytesMut,
    /// One chunk, encrypted in place (no allocation per chunk).
    scratch: Vec<u8>,
}

impl Sealer {
    fn new(key: &ArtifactKey, bank: BankId) -> (Sealer, Vec<u8>) {
        use rand::RngCore;
        let mut prefix = [0u8; PREFIX_LEN];
        rand::rngs::OsRng.fill_bytes(&mut prefix);
        let mut header = MAGIC_V2.to_vec();
        header.extend_from_slice(&key.id);
        header.extend_from_slice(&prefix);
        let stream = EncryptorBE32::from_aead(key.cipher.clone(), (&prefix).into());
        let scratch = Vec::with_capacity(SEGMENT);
        (Sealer { stream, bank, aad: associated(bank, None), pending: BytesMut::new(), scratch }, header)
    }

    /// Adds plaintext; appends the ciphertext of every full chunk to `out`.
    fn push(&mut self, data: &[u8], out: &mut Vec<u8>) -> Result<()> {
        self.pending.extend_from_slice(data);
        while self.pending.len() >= CHUNK {
            self.scratch.clear();
            self.scratch.extend_from_slice(&self.pending.split_to(CHUNK));
            self.stream.encrypt_next_in_place(&self.aad, &mut self.scratch).map_err(sealing_failed)?;
            out.extend_from_slice(&self.scratch);
        }
        Ok(())
    }

    /// Seals the last chunk, binding the content hash.
    fn finish(self, sha256: &Sha256, out: &mut Vec<u8>) -> Result<()> {
        let aad = associated(self.bank, Some(sha256));
        let sealed =
            self.stream.encrypt_last(Payload { msg: &self.pending, aad: &aad }).map_err(sealing_failed)?;
        out.extend_from_slice(&sealed);
        Ok(())
    }
}

/// Decrypts a ciphertext stream chunk by chunk and checks the plaintext's hash.
struct Opener {
    keys: Arc<Vec<ArtifactKey>>,
    bank: BankId,
    sha256: Sha256,
    /// The stream and the associated data of its chunks, once the header is read.
    stream: Option<(DecryptorBE32<Aes256Gcm>, Option<Vec<u8>>)>,
    hasher: sha2::Sha256,
    pending: BytesMut,
}

impl Opener {
    fn new(keys: Arc<Vec<ArtifactKey>>, bank: BankId, sha256: Sha256) -> Opener {
        Opener { keys, bank, sha256, stream: None, hasher: sha2::Sha256::new(), pending: BytesMut::new() }
    }

    /// Reads the header once enough bytes are there: the format, the key and the prefix.
    fn header(&mut self) -> Result<bool> {
        let (key, aad, len) = match self.pending.get(..4) {
            None => return Ok(false),
            Some(m) if m == MAGIC_V2 => {
                let Some(id) = self.pending.get(4..4 + KEY_ID) else { return Ok(false) };
                let key = self.keys.iter().find(|k| k.id == id).ok_or_else(|| {
                    Error::internal(
                        "artifact was sealed with a key PayScope does not hold (an older PAYSCOPE_PAN_KEY?)",
                    )
                })?;
                (key.clone(), Some(associated(self.bank, None)), 4 + KEY_ID + PREFIX_LEN)
            }
            // Earlier releases: no key id, the current key, no associated data.
            Some(m) if m == MAGIC_V1 => (self.keys[0].clone(), None, 4 + PREFIX_LEN),
            Some(_) => return Err(Error::internal("artifact is not in the encrypted artifact format")),
        };
        if self.pending.len() < len {
            return Ok(false);
        }
        let head = self.pending.split_to(len);
        let prefix: [u8; PREFIX_LEN] =
            head[len - PREFIX_LEN..].try_into().map_err(|_| Error::internal("artifact header"))?;
        self.stream = Some((DecryptorBE32::from_aead(key.cipher, (&prefix).into()), aad));
        Ok(true)
    }

    /// Adds ciphertext; returns the plaintext of the segments known not to be the last.
    fn push(&mut self, data: &[u8]) -> Result<Vec<Bytes>> {
        self.pending.extend_from_slice(data);
        if self.stream.is_none() && !self.header()? {
            return Ok(vec![]);
        }
        let mut out = Vec::new();
        // Keep one full segment back until more data arrives: it could be the last.
        while self.pending.len() > SEGMENT {
            let segment = self.pending.split_to(SEGMENT);
            let Some((stream, aad)) = self.stream.as_mut() else { break };
            let aad = aad.as_deref().unwrap_or_default();
            let plain = stream.decrypt_next(Payload { msg: &segment, aad }).map_err(unauthentic)?;
            self.hasher.update(&plain);
            out.push(Bytes::from(plain));
        }
        Ok(out)
    }

    /// The last segment's plaintext, once it and the whole plaintext's hash check out.
    fn finish(mut self) -> Result<Bytes> {
        let Some((stream, aad)) = self.stream.take() else {
            return Err(Error::internal("artifact is truncated"));
        };
        if self.pending.len() < TAG || self.pending.len() >= SEGMENT {
            return Err(Error::internal("artifact is truncated"));
        }
        let aad = aad.map(|_| associated(self.bank, Some(&self.sha256))).unwrap_or_default();
        let plain = stream.decrypt_last(Payload { msg: &self.pending, aad: &aad }).map_err(unauthentic)?;
        self.hasher.update(&plain);
        if Sha256(self.hasher.finalize().into()) != self.sha256 {
            return Err(Error::internal(format!("artifact does not match its content hash {}", self.sha256)));
        }
        Ok(Bytes::from(plain))
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
    /// The key artifacts are sealed with, then older keys kept for reading.
    keys: Arc<Vec<ArtifactKey>>,
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
        Artifacts { objects, keys: Arc::new(vec![ArtifactKey::of(key)]) }
    }

    /// The same artifacts, also reading those sealed with `previous` keys (after a rotation;
    /// new artifacts are sealed with the current key).
    pub fn with_previous_keys<'a>(mut self, previous: impl IntoIterator<Item = &'a PanKey>) -> Self {
        let mut keys = (*self.keys).clone();
        keys.extend(previous.into_iter().map(ArtifactKey::of));
        self.keys = Arc::new(keys);
        self
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
        let (mut sealer, header) = Sealer::new(&self.keys[0], ctx.bank_id());
        let mut hasher = sha2::Sha256::new();
        let mut size = 0u64;
        let mut part: Vec<u8> = header;
        let mut upload: Option<Box<dyn object_store::MultipartUpload>> = None;
        // The last full part being written while the next one is received and sealed.
        let mut in_flight: Option<tokio::task::JoinHandle<object_store::Result<()>>> = None;
        // Where the time goes (benches/upload.sh reads this from the debug log).
        let (mut receiving, mut sealing, mut writing) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
        let result: Result<()> = async {
            loop {
                let t = Instant::now();
                let Some(chunk) = body.next().await else { break };
                receiving += t.elapsed();
                let chunk = chunk.map_err(Into::into)?;
                size += chunk.len() as u64;
                if size > max_bytes {
                    return Err(Error::PayloadTooLarge(format!(
                        "the report is larger than the {max_bytes}-byte upload limit"
                    )));
                }
                let t = Instant::now();
                hasher.update(&chunk);
                sealer.push(&chunk, &mut part)?;
                sealing += t.elapsed();
                if part.len() >= PART {
                    let t = Instant::now();
                    let up = match &mut upload {
                        Some(u) => u,
                        None => upload.insert(self.objects.put_multipart(&temp).await?),
                    };
                    let full = std::mem::replace(&mut part, Vec::with_capacity(PART + SEGMENT));
                    // Parts are placed by the order of `put_part` calls, whenever they finish.
                    let write = tokio::spawn(up.put_part(PutPayload::from(full)));
                    if let Some(previous) = in_flight.replace(write) {
                        previous.await??;
                    }
                    writing += t.elapsed();
                }
            }
            if let Some(last) = in_flight.take() {
                let t = Instant::now();
                last.await??;
                writing += t.elapsed();
            }
            Ok(())
        }
        .await;
        if let Err(e) = result {
            if let Some(write) = in_flight.take() {
                let _ = write.await;
            }
            if let Some(mut up) = upload {
                let _ = up.abort().await;
            }
            return Err(e);
        }
        let t = Instant::now();
        let sha256 = Sha256(hasher.finalize().into());
        sealer.finish(&sha256, &mut part)?;
        match upload {
            Some(mut up) => {
                up.put_part(PutPayload::from(part)).await?;
                up.complete().await?;
            }
            None => {
                self.objects.put(&temp, PutPayload::from(part)).await?;
            }
        }
        let target = artifact_path(ctx, &sha256);
        if self.objects.head(&target).await.is_ok() {
            let _ = self.objects.delete(&temp).await;
        } else {
            self.objects.rename(&temp, &target).await?;
        }
        writing += t.elapsed();
        tracing::debug!(
            bytes = size,
            receive_ms = receiving.as_millis() as u64,
            hash_encrypt_ms = sealing.as_millis() as u64,
            write_ms = writing.as_millis() as u64,
            "artifact stored"
        );
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
        let rx = self.decrypting(got, ctx.bank_id(), sha256);
        Ok(futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) }))
    }

    /// A blocking [`std::io::Read`] over the decrypted artifact, for parsers on a blocking
    /// thread. At most a few chunks are buffered. An artifact in a local directory is read and
    /// decrypted on the reader's own thread (object_store would read it 8 KiB at a time, each
    /// read a task of its own).
    pub async fn reader(&self, ctx: &BankContext, sha256: &Sha256) -> Result<ArtifactReader> {
        let got = self.objects.get(&artifact_path(ctx, sha256)).await?;
        let source = match got.payload {
            GetResultPayload::File(mut file, _) => {
                use std::io::{Read, Seek, SeekFrom};
                file.seek(SeekFrom::Start(got.range.start))?;
                let file = file.take(got.range.end - got.range.start);
                let opener = Some(Opener::new(self.keys.clone(), ctx.bank_id(), *sha256));
                Source::File(Box::new(LocalFile { file, opener, buf: vec![0; FILE_READ] }))
            }
            GetResultPayload::Stream(_) => Source::Stream(self.decrypting(got, ctx.bank_id(), sha256)),
        };
        Ok(ArtifactReader::new(source))
    }

    /// Decrypts a fetched artifact on a task of its own into a bounded channel; a failed
    /// check is the last item.
    fn decrypting(
        &self,
        got: GetResult,
        bank: BankId,
        sha256: &Sha256,
    ) -> tokio::sync::mpsc::Receiver<Result<Bytes>> {
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        let mut opener = Some(Opener::new(self.keys.clone(), bank, *sha256));
        let mut inner = got.into_stream();
        tokio::spawn(async move {
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
        });
        rx
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

/// A blocking reader over a decrypted artifact.
pub struct ArtifactReader {
    source: Source,
    /// Plaintext decrypted and not yet read.
    ready: std::collections::VecDeque<Bytes>,
    current: Bytes,
}

/// Where an artifact's plaintext comes from.
enum Source {
    /// Decrypted on the async side, arriving in chunks.
    Stream(tokio::sync::mpsc::Receiver<Result<Bytes>>),
    /// A local file, decrypted here.
    File(Box<LocalFile>),
}

/// A local artifact being read: the opener is gone once the last segment is checked.
struct LocalFile {
    file: std::io::Take<std::fs::File>,
    opener: Option<Opener>,
    buf: Vec<u8>,
}

/// Ciphertext read from a local artifact at a time.
const FILE_READ: usize = 1 << 20;

impl ArtifactReader {
    fn new(source: Source) -> Self {
        ArtifactReader { source, ready: Default::default(), current: Bytes::new() }
    }

    /// The next plaintext, `None` at the end.
    fn next_plain(&mut self) -> Result<Option<Bytes>> {
        loop {
            if let Some(b) = self.ready.pop_front() {
                return Ok(Some(b));
            }
            match &mut self.source {
                Source::Stream(rx) => return rx.blocking_recv().transpose(),
                Source::File(local) => {
                    let LocalFile { file, opener, buf } = &mut **local;
                    let Some(o) = opener.as_mut() else { return Ok(None) };
                    let n = std::io::Read::read(file, buf)?;
                    if n == 0 {
                        let last = opener.take().map(Opener::finish).transpose()?;
                        self.ready.extend(last);
                    } else {
                        self.ready.extend(o.push(&buf[..n])?);
                    }
                }
            }
        }
    }
}

impl std::io::Read for ArtifactReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.next_plain() {
                Ok(None) => return Ok(0),
                Ok(Some(b)) => self.current = b,
                Err(e) => return Err(std::io::Error::other(e.to_string())),
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

    /// A `PSA1` object as earlier releases wrote it (raw AES-GCM, the nonce laid out by hand).
    fn v1_object(key: &PanKey, plain: &[u8]) -> Vec<u8> {
        use aes_gcm::aead::Aead;
        let cipher = Aes256Gcm::new(&key.derive("artifacts/aes-256-gcm/v1").into());
        let prefix = [9u8, 8, 7, 6, 5, 4, 3];
        let mut out = [MAGIC_V1.as_slice(), &prefix].concat();
        let mut chunks: Vec<&[u8]> = plain.chunks(CHUNK).collect();
        if chunks.last().is_none_or(|c| c.len() == CHUNK) {
            chunks.push(&[]);
        }
        for (i, chunk) in chunks.iter().enumerate() {
            let mut nonce = [0u8; 12];
            nonce[..7].copy_from_slice(&prefix);
            nonce[7..11].copy_from_slice(&(i as u32).to_be_bytes());
            nonce[11] = u8::from(i == chunks.len() - 1);
            out.extend(cipher.encrypt(aes_gcm::Nonce::from_slice(&nonce), *chunk).unwrap());
        }
        out
    }

    /// Artifacts of earlier releases stay readable; a new one is bound to its bank and hash
    /// (moved to another bank or hash it does not decrypt), its key can be rotated, and the
    /// plaintext's hash is checked on read.
    #[tokio::test]
    async fn artifacts_are_bound_to_bank_and_hash_and_keys_rotate() {
        let store = Arc::new(InMemory::new());
        let key = PanKey::new([3; 32]);
        let a = Artifacts::new(store.clone(), &key);
        let (ctx, other) = (ctx(), self::ctx());
        let plain: Vec<u8> = (0..CHUNK + 500).map(|i| (i % 97) as u8).collect();
        let sha = Sha256::digest(&plain);
        let put = |c: &BankContext, sha: &Sha256, bytes: Vec<u8>| {
            let (store, path) = (store.clone(), artifact_path(c, sha));
            async move { store.put(&path, PutPayload::from(bytes)).await.unwrap() }
        };
        // Written by an earlier release: read as it was.
        put(&ctx, &sha, v1_object(&key, &plain)).await;
        assert_eq!(collect(&a, &ctx, &sha).await.unwrap(), plain);
        // ... and its hash is checked: under another hash's name it is refused.
        let elsewhere = Sha256::digest(b"something else");
        put(&ctx, &elsewhere, v1_object(&key, &plain)).await;
        let e = collect(&a, &ctx, &elsewhere).await.unwrap_err().to_string();
        assert!(e.contains("does not match its content hash"), "{e}");
        // Written now (other bytes: the same ones would be the artifact above): PSA2, bound to
        // the bank and the hash.
        let plain: Vec<u8> = plain.iter().rev().copied().collect();
        let stored = a.store_bytes(&ctx, Bytes::from(plain.clone()), u64::MAX).await.unwrap();
        let raw = store.get(&artifact_path(&ctx, &stored.sha256)).await.unwrap().bytes().await.unwrap();
        assert_eq!(&raw[..4], MAGIC_V2);
        put(&other, &stored.sha256, raw.to_vec()).await;
        let e = collect(&a, &other, &stored.sha256).await.unwrap_err().to_string();
        assert!(e.contains("failed authentication"), "another bank's copy: {e}");
        put(&ctx, &elsewhere, raw.to_vec()).await;
        assert!(collect(&a, &ctx, &elsewhere).await.is_err(), "under another hash");
        // Rotation: a new key writes, the old one still reads.
        let rotated = Artifacts::new(store.clone(), &PanKey::new([5; 32])).with_previous_keys([&key]);
        assert_eq!(collect(&rotated, &ctx, &stored.sha256).await.unwrap(), plain);
        let newer =
            rotated.store_bytes(&ctx, Bytes::from_static(b"after the rotation"), 1 << 20).await.unwrap();
        assert_eq!(collect(&rotated, &ctx, &newer.sha256).await.unwrap(), b"after the rotation");
        let without = Artifacts::new(store.clone(), &PanKey::new([5; 32]));
        let e = collect(&without, &ctx, &stored.sha256).await.unwrap_err().to_string();
        assert!(e.contains("a key PayScope does not hold"), "{e}");
    }

    /// Reads through the blocking reader, as the parser does.
    async fn read_all(a: &Artifacts, ctx: &BankContext, sha: &Sha256) -> Result<Vec<u8>> {
        let mut r = a.reader(ctx, sha).await?;
        tokio::task::spawn_blocking(move || {
            let mut out = Vec::new();
            std::io::Read::read_to_end(&mut r, &mut out).map(|_| out)
        })
        .await?
        .map_err(|e| Error::internal(e.to_string()))
    }

    /// From a local directory the blocking reader decrypts on its own thread, from any other
    /// store it takes the stream: both give the bytes back and refuse a truncated artifact or
    /// one under another hash.
    #[tokio::test]
    async fn the_blocking_reader_checks_local_and_remote_artifacts_alike() {
        let dir = tempfile::tempdir().unwrap();
        let local = object_store::local::LocalFileSystem::new_with_prefix(dir.path()).unwrap();
        let stores: [Arc<dyn ObjectStore>; 2] = [Arc::new(local), Arc::new(InMemory::new())];
        for store in stores {
            let a = Artifacts::new(store.clone(), &PanKey::new([3; 32]));
            let ctx = ctx();
            for size in [0usize, 1, CHUNK, CHUNK + 1, FILE_READ + 5, 2 * PART + 5] {
                let data: Vec<u8> = (0..size).map(|i| (i * 7 % 253) as u8).collect();
                let stored = a.store_bytes(&ctx, Bytes::from(data.clone()), u64::MAX).await.unwrap();
                assert_eq!(read_all(&a, &ctx, &stored.sha256).await.unwrap(), data, "{store} size {size}");
            }
            let data: Vec<u8> = (0..2 * FILE_READ).map(|i| (i % 199) as u8).collect();
            let stored = a.store_bytes(&ctx, Bytes::from(data), u64::MAX).await.unwrap();
            let path = artifact_path(&ctx, &stored.sha256);
            let raw = store.get(&path).await.unwrap().bytes().await.unwrap();
            let elsewhere = Sha256::digest(b"another file");
            store.put(&artifact_path(&ctx, &elsewhere), PutPayload::from(raw.clone())).await.unwrap();
            assert!(read_all(&a, &ctx, &elsewhere).await.is_err(), "{store}: read under another hash");
            store.put(&path, PutPayload::from(raw.slice(..raw.len() - 3))).await.unwrap();
            let e = read_all(&a, &ctx, &stored.sha256).await.unwrap_err().to_string();
            assert!(e.contains("truncated") || e.contains("authentication"), "{store}: {e}");
        }
    }

    #[tokio::test]
    async fn refuses_oversize_uploads() {
        let a = Artifacts::new(Arc::new(InMemory::new()), &PanKey::new([3; 32]));
        let e = a.store_bytes(&ctx(), Bytes::from(vec![0u8; 100]), 10).await.unwrap_err();
        assert_eq!(e.code(), "payload_too_large");
    }
}
