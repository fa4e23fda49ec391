//! Append-only JSON-lines files for the embedded state that must survive a restart
//! (report index, audit chains).

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{Error, Result};

/// A JSON-lines file opened for appending.
#[derive(Debug)]
pub(crate) struct AppendLog {
    path: PathBuf,
    file: File,
    len: u64,
}

impl AppendLog {
    /// Opens (creating) `path` for appending.
    pub fn open(path: &Path) -> Result<AppendLog> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let len = file.metadata()?.len();
        Ok(AppendLog { path: path.to_owned(), file, len })
    }

    /// The file's length in bytes (what it had when opened, plus what was appended).
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Appends one value as a line; `durable` also fsyncs. Returns the line's byte offset.
    pub fn append(&mut self, value: &impl Serialize, durable: bool) -> Result<u64> {
        let mut line = serde_json::to_vec(value)?;
        line.push(b'\n');
        self.append_line(&line, durable)
    }

    /// Appends bytes that already are one JSON line, newline included.
    /// A failed write is cut off again, so the file never ends in part of a line.
    pub fn append_line(&mut self, line: &[u8], durable: bool) -> Result<u64> {
        if let Err(e) = self.file.write_all(line) {
            let _ = self.file.set_len(self.len);
            return Err(match Error::from(e) {
                full @ Error::StorageFull(_) => full,
                other => Error::internal(format!("writing {}: {other}", self.path.display())),
            });
        }
        if durable {
            self.file.sync_data()?;
        }
        let offset = self.len;
        self.len += line.len() as u64;
        Ok(offset)
    }
}

/// Reads the one line that starts at byte `offset` of `path`.
pub(crate) fn read_line_at<T: DeserializeOwned>(path: &Path, offset: u64) -> Result<T> {
    use std::io::{Seek, SeekFrom};
    let mut file = File::open(path)?;
    file.seek(SeekFrom::Start(offset))?;
    let mut line = String::new();
    BufReader::new(file).read_line(&mut line)?;
    serde_json::from_str(&line)
        .map_err(|e| Error::internal(format!("{} at byte {offset} is not valid: {e}", path.display())))
}

/// Reads every line of `path` (missing file: nothing). A torn final line, left by a crash in
/// the middle of a write, is skipped; a bad line anywhere else is an error.
pub(crate) fn read_lines<T: DeserializeOwned>(path: &Path) -> Result<Vec<T>> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e.into()),
    };
    let lines: Vec<String> = BufReader::new(file).lines().collect::<std::io::Result<_>>()?;
    let mut out = Vec::with_capacity(lines.len());
    let last = lines.len().saturating_sub(1);
    for (i, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str(line) {
            Ok(v) => out.push(v),
            Err(_) if i == last => tracing::warn!(path = %path.display(), "skipping a torn last line"),
            Err(e) => {
                return Err(Error::internal(format!("{} line {} is not valid: {e}", path.display(), i + 1)))
            }
        }
    }
    Ok(out)
}

/// Replaces `path` with `values`, atomically (write a temporary file, then rename).
pub(crate) fn rewrite<T: Serialize>(path: &Path, values: impl IntoIterator<Item = T>) -> Result<()> {
    let tmp = path.with_extension("tmp");
    {
        let mut f = File::create(&tmp)?;
        for v in values {
            let mut line = serde_json::to_vec(&v)?;
            line.push(b'\n');
            f.write_all(&line)?;
        }
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    Ok(())
}
