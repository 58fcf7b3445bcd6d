//! The blobs on disk, shared by every storage protocol.
//!
//! Layout under `DATA_DIR/blobs/`:
//!
//! ```text
//! data/<landing path>          committed bytes (what the processor reads)
//! meta/<landing path>.json     properties: size, MD5, ETag, content type,
//!                              committed block list (Azure)
//! staging/<sha256(path)>/      uncommitted Azure blocks (`block-<hex id>`)
//!                              and GCS resumable sessions (`gcs-<id>.*`)
//! tmp/                         bodies being received
//! ```
//!
//! A committed blob appears atomically: bytes are written to a file in
//! `tmp/` and renamed into `data/`. Landing paths are validated segment by
//! segment (no empty, `.` or `..` segments, no backslashes or control
//! characters), so nothing can escape the blob root.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};

use anyhow::Context;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use import_core::checksum::Crc64;
use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use tokio::io::AsyncWriteExt;

use super::signing::hex;

/// A validated, percent-decoded landing path (`jobs/imp_…/file.csv`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BlobPath(String);

/// Longest landing path accepted (Azure's blob name limit).
pub const MAX_PATH_LEN: usize = 1024;

impl BlobPath {
    /// Validates a decoded path.
    pub fn new(path: &str) -> Result<Self, String> {
        if path.is_empty() {
            return Err("the blob path is empty".into());
        }
        if path.len() > MAX_PATH_LEN {
            return Err(format!(
                "the blob path is {} bytes long; at most {MAX_PATH_LEN} are allowed",
                path.len()
            ));
        }
        for seg in path.split('/') {
            check_segment(seg)?;
        }
        Ok(BlobPath(path.to_string()))
    }

    /// Parses the URL path after `/storage/`: each segment is
    /// percent-decoded on its own, so an encoded `/` (`%2F`) cannot smuggle
    /// in another level.
    pub fn from_url(raw: &str) -> Result<Self, String> {
        let mut segs = Vec::new();
        for seg in raw.split('/') {
            let dec = urlencoding::decode(seg)
                .map_err(|_| format!("path segment `{seg}` is not valid percent-encoded UTF-8"))?;
            if dec.contains('/') {
                return Err("an encoded `/` (%2F) is not allowed inside a path segment".into());
            }
            segs.push(dec.into_owned());
        }
        Self::new(&segs.join("/"))
    }

    /// The decoded path.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The path as it appears in a URL (each segment percent-encoded).
    pub fn url_encoded(&self) -> String {
        self.0
            .split('/')
            .map(|s| urlencoding::encode(s).into_owned())
            .collect::<Vec<_>>()
            .join("/")
    }

    fn key(&self) -> String {
        hex(&Sha256::digest(self.0.as_bytes()))
    }
}

fn check_segment(seg: &str) -> Result<(), String> {
    if seg.is_empty() {
        return Err("the blob path has an empty segment (leading, trailing or double `/`)".into());
    }
    if seg == "." || seg == ".." {
        return Err(format!("the blob path may not contain `{seg}` segments"));
    }
    if seg.contains('\\') {
        return Err("the blob path may not contain a backslash".into());
    }
    if seg.chars().any(|c| c.is_control()) {
        return Err("the blob path may not contain control characters".into());
    }
    if seg.len() > 255 {
        return Err("a blob path segment may be at most 255 bytes long".into());
    }
    Ok(())
}

/// One committed block of an Azure blob (kept so a later Put Block List may
/// name it as `<Committed>`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CommittedBlock {
    /// The decoded block id, hex.
    pub id: String,
    /// Its length in bytes.
    pub size: u64,
}

/// Properties of a committed blob.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlobMeta {
    /// Bytes.
    pub size: u64,
    /// MD5 of the content, base64.
    pub md5: String,
    /// The ETag, quoted, in the mode's style.
    pub etag: String,
    /// `Content-Type` served on download.
    pub content_type: String,
    /// Commit time.
    pub last_modified: DateTime<Utc>,
    /// Azure: the committed block list (empty after a Put Blob).
    #[serde(default)]
    pub blocks: Vec<CommittedBlock>,
}

/// A file being received in `tmp/`; removed on drop unless committed.
#[derive(Debug)]
pub struct TempFile {
    path: PathBuf,
    keep: bool,
}

impl TempFile {
    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Hands the file over (it will not be removed on drop).
    fn disarm(mut self) -> PathBuf {
        self.keep = true;
        std::mem::take(&mut self.path)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// What a received body amounted to.
#[derive(Debug, Clone)]
pub struct Received {
    /// Bytes written.
    pub len: u64,
    /// MD5 of those bytes.
    pub md5: [u8; 16],
    /// CRC-64/NVME of those bytes (Azure's `x-ms-content-crc64`).
    pub crc64: u64,
}

impl Received {
    /// The MD5, base64 (the `Content-MD5` form).
    pub fn md5_b64(&self) -> String {
        B64.encode(self.md5)
    }
}

/// Why receiving a body failed.
#[derive(Debug)]
pub enum ReceiveError {
    /// The client's body stream broke off (aborted upload, short body).
    Body(String),
    /// More bytes than allowed arrived.
    TooLarge,
    /// Disk trouble.
    Io(std::io::Error),
}

/// The on-disk blob store.
#[derive(Debug)]
pub struct BlobStore {
    root: PathBuf,
    locks: Mutex<HashMap<String, Weak<tokio::sync::Mutex<()>>>>,
    /// Bytes of each blob's uncommitted Azure blocks, once counted (see
    /// [`BlobStore::staged_bytes`]).
    staged: Mutex<HashMap<String, u64>>,
}

impl BlobStore {
    /// Opens (creating) `DATA_DIR/blobs`, discarding bodies left half
    /// received in `tmp/` by an earlier run.
    pub fn open(data_dir: &Path) -> anyhow::Result<Self> {
        let root = data_dir.join("blobs");
        for sub in ["data", "meta", "staging", "tmp"] {
            let d = root.join(sub);
            std::fs::create_dir_all(&d).with_context(|| format!("creating {}", d.display()))?;
        }
        if let Ok(entries) = std::fs::read_dir(root.join("tmp")) {
            for entry in entries.flatten() {
                let _ = std::fs::remove_file(entry.path());
            }
        }
        Ok(BlobStore {
            root,
            locks: Mutex::new(HashMap::new()),
            staged: Mutex::new(HashMap::new()),
        })
    }

    /// Serialises changes to one blob (block commits, GCS chunks). Hold the
    /// guard only around short critical sections or a whole commit.
    pub async fn lock(&self, path: &BlobPath) -> tokio::sync::OwnedMutexGuard<()> {
        let m = {
            let mut map = self.locks.lock().unwrap();
            if map.len() > 1024 {
                map.retain(|_, w| w.strong_count() > 0);
            }
            match map.get(path.as_str()).and_then(Weak::upgrade) {
                Some(m) => m,
                None => {
                    let m = Arc::new(tokio::sync::Mutex::new(()));
                    map.insert(path.as_str().to_string(), Arc::downgrade(&m));
                    m
                }
            }
        };
        m.lock_owned().await
    }

    /// `data/<path>`.
    pub fn data_file(&self, path: &BlobPath) -> PathBuf {
        self.root.join("data").join(path.as_str())
    }

    /// `meta/<path>.json`.
    pub fn meta_file(&self, path: &BlobPath) -> PathBuf {
        self.root
            .join("meta")
            .join(format!("{}.json", path.as_str()))
    }

    /// `staging/<sha256(path)>/` (not created).
    pub fn staging_dir(&self, path: &BlobPath) -> PathBuf {
        self.root.join("staging").join(path.key())
    }

    /// Bytes of the blob's uncommitted Azure blocks (`block-*` in its
    /// staging directory). Counted from the directory the first time, then
    /// kept up to date by [`BlobStore::set_staged_bytes`]; call it, and
    /// that, under the blob's [`BlobStore::lock`].
    pub async fn staged_bytes(&self, path: &BlobPath) -> std::io::Result<u64> {
        if let Some(n) = self.staged.lock().unwrap().get(path.as_str()) {
            return Ok(*n);
        }
        let mut total = 0;
        match tokio::fs::read_dir(self.staging_dir(path)).await {
            Ok(mut dir) => {
                while let Some(entry) = dir.next_entry().await? {
                    if entry.file_name().to_string_lossy().starts_with("block-") {
                        total += entry.metadata().await?.len();
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        self.set_staged_bytes(path, total);
        Ok(total)
    }

    /// Records the bytes of the blob's uncommitted blocks.
    pub fn set_staged_bytes(&self, path: &BlobPath, bytes: u64) {
        let mut map = self.staged.lock().unwrap();
        if bytes == 0 {
            map.remove(path.as_str());
        } else {
            map.insert(path.as_str().to_string(), bytes);
        }
    }

    /// Forgets the count of a blob whose staged blocks were removed.
    pub fn forget_staged(&self, path: &BlobPath) {
        self.staged.lock().unwrap().remove(path.as_str());
    }

    /// A fresh, empty temporary file.
    pub async fn temp_file(&self) -> std::io::Result<(TempFile, tokio::fs::File)> {
        let path = self
            .root
            .join("tmp")
            .join(format!("{}.part", uuid::Uuid::new_v4().simple()));
        let file = tokio::fs::File::create(&path).await?;
        Ok((TempFile { path, keep: false }, file))
    }

    /// A fresh, empty temporary file for blocking writers.
    pub fn temp_file_std(&self) -> std::io::Result<(TempFile, std::fs::File)> {
        let path = self
            .root
            .join("tmp")
            .join(format!("{}.part", uuid::Uuid::new_v4().simple()));
        let file = std::fs::File::create(&path)?;
        Ok((TempFile { path, keep: false }, file))
    }

    /// Streams a request body into a new temporary file, computing its MD5
    /// and CRC64.
    /// Refuses (without storing) more than `limit` bytes.
    pub async fn receive(
        &self,
        body: axum::body::Body,
        limit: u64,
    ) -> Result<(TempFile, Received), ReceiveError> {
        let (tmp, file) = self.temp_file().await.map_err(ReceiveError::Io)?;
        let received = write_stream(body, file, limit, 0).await?;
        Ok((tmp, received))
    }

    /// Moves a received file to `dest` (creating parent directories),
    /// replacing what was there atomically.
    pub async fn persist(&self, tmp: TempFile, dest: &Path) -> std::io::Result<()> {
        if let Some(parent) = dest.parent() {
            tokio::fs::create_dir_all(parent).await?;
        }
        let from = tmp.path.clone();
        tokio::fs::rename(&from, dest).await?;
        tmp.disarm();
        Ok(())
    }

    /// Makes `tmp` the committed content of `path`, with its properties.
    pub async fn commit(
        &self,
        path: &BlobPath,
        tmp: TempFile,
        meta: &BlobMeta,
    ) -> std::io::Result<()> {
        self.persist(tmp, &self.data_file(path)).await?;
        self.write_meta(path, meta).await
    }

    async fn write_meta(&self, path: &BlobPath, meta: &BlobMeta) -> std::io::Result<()> {
        let dest = self.meta_file(path);
        let (tmp, mut f) = self.temp_file().await?;
        f.write_all(&serde_json::to_vec_pretty(meta).map_err(std::io::Error::other)?)
            .await?;
        f.flush().await?;
        drop(f);
        self.persist(tmp, &dest).await
    }

    /// The committed blob's properties, if there is one.
    pub async fn meta(&self, path: &BlobPath) -> std::io::Result<Option<BlobMeta>> {
        let size = match tokio::fs::metadata(self.data_file(path)).await {
            Ok(m) if m.is_file() => m.len(),
            Ok(_) => return Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        match tokio::fs::read(self.meta_file(path)).await {
            Ok(bytes) => match serde_json::from_slice::<BlobMeta>(&bytes) {
                Ok(m) if m.size == size => Ok(Some(m)),
                // Written by hand or torn by a crash: describe the bytes.
                _ => Ok(Some(self.describe(path, size).await?)),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Ok(Some(self.describe(path, size).await?))
            }
            Err(e) => Err(e),
        }
    }

    async fn describe(&self, path: &BlobPath, size: u64) -> std::io::Result<BlobMeta> {
        let md5 = md5_of_file(&self.data_file(path)).await?;
        Ok(BlobMeta {
            size,
            md5: B64.encode(md5),
            etag: format!("\"{}\"", hex(&md5)),
            content_type: guess_content_type(path.as_str()).to_string(),
            last_modified: Utc::now(),
            blocks: Vec::new(),
        })
    }

    /// Size of the committed blob.
    pub async fn committed_size(&self, path: &BlobPath) -> std::io::Result<Option<u64>> {
        match tokio::fs::metadata(self.data_file(path)).await {
            Ok(m) if m.is_file() => Ok(Some(m.len())),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Opens the committed blob for reading.
    pub async fn open_committed(
        &self,
        path: &BlobPath,
    ) -> std::io::Result<Option<tokio::fs::File>> {
        match tokio::fs::File::open(self.data_file(path)).await {
            Ok(f) => {
                if f.metadata().await?.is_file() {
                    Ok(Some(f))
                } else {
                    Ok(None)
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// Blocking [`BlobStore::persist`].
pub fn persist_std(tmp: TempFile, dest: &Path) -> std::io::Result<()> {
    if let Some(parent) = dest.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::rename(tmp.path(), dest)?;
    tmp.disarm();
    Ok(())
}

/// Writes bytes at the end of a file, leaving runs of zeros as holes:
/// a chunk of zeros is not written, the file is extended over it instead
/// (a sparse file where the filesystem has them, which reads back as
/// zeros). Large uploads of mostly zeros (sparse test files) then cost
/// neither the disk space nor the writes.
pub struct SparseWriter {
    out: tokio::io::BufWriter<tokio::fs::File>,
    hole: u64,
}

/// Zeros to compare chunks with (a slice comparison is one `memcmp`).
static ZEROS: [u8; 64 * 1024] = [0; 64 * 1024];

fn all_zeros(data: &[u8]) -> bool {
    data.chunks(ZEROS.len()).all(|c| c == &ZEROS[..c.len()])
}

impl SparseWriter {
    /// Writes to the end of `file`.
    pub fn new(file: tokio::fs::File) -> Self {
        SparseWriter {
            out: tokio::io::BufWriter::with_capacity(256 * 1024, file),
            hole: 0,
        }
    }

    /// Appends `data`.
    pub async fn write(&mut self, data: &[u8]) -> std::io::Result<()> {
        // Small chunks are written as they are: a hole smaller than a page
        // saves nothing.
        if data.len() >= 4096 && all_zeros(data) {
            self.hole += data.len() as u64;
            return Ok(());
        }
        self.fill_hole().await?;
        self.out.write_all(data).await
    }

    /// Extends the file over the pending zeros (appending files too: the
    /// next write goes to the new end either way).
    async fn fill_hole(&mut self) -> std::io::Result<()> {
        use tokio::io::AsyncSeekExt;
        if self.hole == 0 {
            return Ok(());
        }
        self.out.flush().await?;
        let file = self.out.get_mut();
        let end = file.seek(std::io::SeekFrom::End(0)).await?;
        file.set_len(end + self.hole).await?;
        file.seek(std::io::SeekFrom::End(0)).await?;
        self.hole = 0;
        Ok(())
    }

    /// Writes what is pending and syncs the file's data to disk.
    pub async fn finish(mut self) -> std::io::Result<()> {
        self.fill_hole().await?;
        self.out.flush().await?;
        self.out.into_inner().sync_data().await
    }
}

/// Appends a body stream to `file`, hashing it, refusing more than `limit`
/// bytes in total; `skip` leading bytes are read but neither written nor
/// hashed (GCS chunks that overlap what is already persisted).
pub async fn write_stream(
    body: axum::body::Body,
    file: tokio::fs::File,
    limit: u64,
    skip: u64,
) -> Result<Received, ReceiveError> {
    let mut out = SparseWriter::new(file);
    let mut stream = body.into_data_stream();
    let mut md5 = Md5::new();
    let mut crc64 = Crc64::new();
    let mut len = 0u64;
    let mut to_skip = skip;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| ReceiveError::Body(e.to_string()))?;
        let mut data = &chunk[..];
        if to_skip > 0 {
            let n = (to_skip as usize).min(data.len());
            data = &data[n..];
            to_skip -= n as u64;
        }
        len += data.len() as u64;
        if len > limit {
            return Err(ReceiveError::TooLarge);
        }
        md5.update(data);
        crc64.update(data);
        out.write(data).await.map_err(ReceiveError::Io)?;
    }
    out.finish().await.map_err(ReceiveError::Io)?;
    Ok(Received {
        len,
        md5: md5.finalize().into(),
        crc64: crc64.finish(),
    })
}

/// MD5 of a whole file, streamed.
pub async fn md5_of_file(path: &Path) -> std::io::Result<[u8; 16]> {
    use tokio::io::AsyncReadExt;
    let mut f = tokio::fs::File::open(path).await?;
    let mut md5 = Md5::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = f.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        md5.update(&buf[..n]);
    }
    Ok(md5.finalize().into())
}

/// `Content-Type` for a blob nobody described: by extension.
pub fn guess_content_type(path: &str) -> &'static str {
    let ext = path.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    match ext.as_deref() {
        Some("csv") => "text/csv",
        Some("jsonl") | Some("ndjson") => "application/x-ndjson",
        Some("json") => "application/json",
        Some("txt") => "text/plain",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs of zeros become holes, and the file reads back byte for byte:
    /// zeros inside, at the end, and after what an appending file held.
    #[tokio::test]
    async fn sparse_writer_reads_back_what_was_written() {
        let dir = std::env::temp_dir().join(format!("sparse-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("f");
        std::fs::write(&path, b"head").unwrap();
        let file = tokio::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .await
            .unwrap();
        let mut want = b"head".to_vec();
        let mut w = SparseWriter::new(file);
        let pieces: [Vec<u8>; 6] = [
            vec![0; 100],
            b"abc".to_vec(),
            vec![0; 200_000],
            b"x".to_vec(),
            vec![0; 70_000],
            vec![0; 5000],
        ];
        for p in &pieces {
            w.write(p).await.unwrap();
            want.extend_from_slice(p);
        }
        w.finish().await.unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), want);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn paths() {
        assert!(BlobPath::new("jobs/imp_1/file.csv").is_ok());
        for bad in [
            "", "/a", "a/", "a//b", "a/../b", "..", "./a", "a\\b", "a/\u{0}b",
        ] {
            assert!(BlobPath::new(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(
            BlobPath::from_url("jobs/a%20b/f.csv").unwrap().as_str(),
            "jobs/a b/f.csv"
        );
        assert!(BlobPath::from_url("jobs/%2E%2E/x").is_err());
        assert!(BlobPath::from_url("jobs%2F..%2Fx").is_err());
        let p = BlobPath::new("jobs/a b/ü.csv").unwrap();
        assert_eq!(BlobPath::from_url(&p.url_encoded()).unwrap(), p);
    }
}
