//! Backup files: every state tree as one consistent cut, with a SHA-256 trailer.
//!
//! Consistency: the reader takes the state machine's apply lock and holds it while it copies
//! the trees to a temporary file (after the caller's read barrier), so no entry is applied
//! half-way through the copy. Applies wait for the copy (about 0.5 s per 100,000 tokens); the
//! capture-and-override scheme of snapshot files is not needed for a file that is read once.
//!
//! Layout: [`MAGIC`], records `[tree: u8][key len: u32 BE][key][value len: u32 BE][value]`,
//! [`END`] + the record count (u64 BE), then the SHA-256 of every byte before it (32 bytes).
//! Raft's own keys (`last_applied`, `membership` in the `Meta` tree) are left out: a restore
//! goes through the log of the cluster it seeds.

use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::io::file_stamp;
use super::state_machine::{Inner, StateMachine};
use super::trees::{is_state_key, StateTree};
use super::view::StoreError;
use crate::domain::backup::BackupRecord;

pub const MAGIC: &[u8; 8] = b"ACNBAK01";
const END: u8 = 0xFF;
const CHECKSUM_LEN: usize = 32;

/// Why a backup file cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BackupError {
    #[error("not an access-node backup (bad magic)")]
    Magic,
    #[error("backup is damaged: SHA-256 checksum does not match")]
    Checksum,
    #[error("backup is damaged: {0}")]
    Malformed(String),
}

/// A writer that hashes and counts what passes through it.
struct Hashing<W: Write> {
    out: W,
    hasher: Sha256,
    written: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.out.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

fn write_chunk(out: &mut impl Write, bytes: &[u8]) -> io::Result<()> {
    let len = u32::try_from(bytes.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "record larger than 4 GiB"))?;
    out.write_all(&len.to_be_bytes())?;
    out.write_all(bytes)
}

/// Write the records of `trees` (in [`StateTree::ALL`] order) as a backup file; returns its
/// length in bytes.
pub fn write(trees: &[&sled::Tree], out: impl Write) -> io::Result<u64> {
    let mut out = Hashing {
        out: BufWriter::with_capacity(1 << 20, out),
        hasher: Sha256::new(),
        written: 0,
    };
    out.write_all(MAGIC)?;
    let mut count = 0u64;
    for (tree, which) in trees.iter().zip(StateTree::ALL) {
        let tag = u8::try_from(which.index()).unwrap_or(END);
        for item in tree.iter() {
            let (key, value) = item.map_err(io::Error::other)?;
            if !is_state_key(*which, &key) {
                continue;
            }
            out.write_all(&[tag])?;
            write_chunk(&mut out, &key)?;
            write_chunk(&mut out, &value)?;
            count += 1;
        }
    }
    out.write_all(&[END])?;
    out.write_all(&count.to_be_bytes())?;
    let sum = out.hasher.finalize_reset();
    out.out.write_all(&sum)?;
    out.out.flush()?;
    Ok(out.written + CHECKSUM_LEN as u64)
}

/// The backup file of `trees`, in memory.
pub fn encode(trees: &[&sled::Tree]) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    write(trees, &mut out)?;
    Ok(out)
}

/// A checked backup file: its records are read lazily, without copies.
pub struct Backup<'a> {
    /// From the first record to the end marker (excluded).
    records: &'a [u8],
    count: u64,
}

/// Check the checksum and the framing of a backup file.
pub fn open(file: &[u8]) -> Result<Backup<'_>, BackupError> {
    if file.len() < MAGIC.len() || &file[..MAGIC.len()] != MAGIC {
        return Err(BackupError::Magic);
    }
    if file.len() < MAGIC.len() + 1 + 8 + CHECKSUM_LEN {
        return Err(BackupError::Malformed("file is truncated".into()));
    }
    let (content, sum) = file.split_at(file.len() - CHECKSUM_LEN);
    if Sha256::digest(content).as_slice() != sum {
        return Err(BackupError::Checksum);
    }
    let body = &content[MAGIC.len()..];
    let mut at = 0;
    let mut count = 0u64;
    while next_record(body, &mut at)?.is_some() {
        count += 1;
    }
    // `at` is just past the end marker.
    let stated: [u8; 8] = body
        .get(at..at + 8)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| BackupError::Malformed("record count missing".into()))?;
    if u64::from_be_bytes(stated) != count || at + 8 != body.len() {
        return Err(BackupError::Malformed("record count does not match".into()));
    }
    Ok(Backup {
        records: &body[..at - 1],
        count,
    })
}

/// The record at `at` (moving past it), or None at the end marker (moving past it).
fn next_record<'a>(body: &'a [u8], at: &mut usize) -> Result<Option<RecordRef<'a>>, BackupError> {
    let short = || BackupError::Malformed("record runs past the end".into());
    let tag = *body.get(*at).ok_or_else(short)?;
    *at += 1;
    if tag == END {
        return Ok(None);
    }
    if usize::from(tag) >= StateTree::ALL.len() {
        return Err(BackupError::Malformed(format!("unknown tree {tag}")));
    }
    let key = take_chunk(body, at).ok_or_else(short)?;
    let value = take_chunk(body, at).ok_or_else(short)?;
    Ok(Some(RecordRef {
        tree: tag,
        key,
        value,
    }))
}

/// A record inside a checked backup file.
#[derive(Debug, Clone, Copy)]
pub struct RecordRef<'a> {
    pub tree: u8,
    pub key: &'a [u8],
    pub value: &'a [u8],
}

impl RecordRef<'_> {
    pub fn to_owned(&self) -> BackupRecord {
        BackupRecord {
            tree: self.tree,
            key: self.key.to_vec(),
            value: self.value.to_vec(),
        }
    }
}

impl<'a> Backup<'a> {
    pub fn len(&self) -> u64 {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The records, in file order (the framing was checked by [`open`]).
    pub fn records(&self) -> impl Iterator<Item = RecordRef<'a>> + 'a {
        let body = self.records;
        let mut at = 0;
        std::iter::from_fn(move || {
            if at >= body.len() {
                return None;
            }
            next_record(body, &mut at).ok().flatten()
        })
    }
}

/// Check a backup file and copy out its records.
pub fn decode(file: &[u8]) -> Result<Vec<BackupRecord>, BackupError> {
    Ok(open(file)?.records().map(|r| r.to_owned()).collect())
}

fn stream_err(e: io::Error) -> BackupError {
    match e.kind() {
        io::ErrorKind::UnexpectedEof => BackupError::Malformed("file is truncated".into()),
        _ => BackupError::Malformed(e.to_string()),
    }
}

/// Check a backup file (checksum first, then the framing, as [`open`] does) in two streaming
/// passes, without holding it in memory; returns its record count.
pub fn verify<F: io::Read + Seek>(file: &mut F) -> Result<u64, BackupError> {
    let len = file.seek(SeekFrom::End(0)).map_err(stream_err)?;
    file.seek(SeekFrom::Start(0)).map_err(stream_err)?;
    let mut input = io::BufReader::with_capacity(1 << 20, file);
    let mut magic = [0u8; 8];
    input
        .read_exact(&mut magic)
        .map_err(|_| BackupError::Magic)?;
    if &magic != MAGIC {
        return Err(BackupError::Magic);
    }
    let content = len
        .checked_sub(CHECKSUM_LEN as u64)
        .filter(|c| *c >= (MAGIC.len() + 1 + 8) as u64)
        .ok_or_else(|| BackupError::Malformed("file is truncated".into()))?;
    let mut hasher = Sha256::new();
    hasher.update(magic);
    let rest = content - MAGIC.len() as u64;
    let hashed = io::copy(&mut (&mut input).take(rest), &mut hasher).map_err(stream_err)?;
    let mut sum = [0u8; CHECKSUM_LEN];
    input.read_exact(&mut sum).map_err(stream_err)?;
    if hashed != rest || hasher.finalize().as_slice() != sum {
        return Err(BackupError::Checksum);
    }
    // The framing: records up to the end marker, then the count.
    input
        .seek(SeekFrom::Start(MAGIC.len() as u64))
        .map_err(stream_err)?;
    let mut count = 0u64;
    loop {
        let mut tag = [0u8; 1];
        input.read_exact(&mut tag).map_err(stream_err)?;
        if tag[0] == END {
            break;
        }
        if usize::from(tag[0]) >= StateTree::ALL.len() {
            return Err(BackupError::Malformed(format!("unknown tree {}", tag[0])));
        }
        for _ in 0..2 {
            let mut len = [0u8; 4];
            input.read_exact(&mut len).map_err(stream_err)?;
            input
                .seek_relative(i64::from(u32::from_be_bytes(len)))
                .map_err(stream_err)?;
        }
        count += 1;
    }
    let mut stated = [0u8; 8];
    input.read_exact(&mut stated).map_err(stream_err)?;
    let at = input.stream_position().map_err(stream_err)?;
    if u64::from_be_bytes(stated) != count || at != content {
        return Err(BackupError::Malformed("record count does not match".into()));
    }
    Ok(count)
}

fn take_chunk<'a>(content: &'a [u8], at: &mut usize) -> Option<&'a [u8]> {
    let len: [u8; 4] = content.get(*at..*at + 4)?.try_into().ok()?;
    let len = u32::from_be_bytes(len) as usize;
    let bytes = content.get(*at + 4..*at + 4 + len)?;
    *at += 4 + len;
    Some(bytes)
}

/// Reads backups of the applied state (see the module documentation for the cut).
#[derive(Clone)]
pub struct BackupSource {
    inner: Arc<Inner>,
}

impl StateMachine {
    pub fn backup_source(&self) -> BackupSource {
        BackupSource {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl BackupSource {
    /// The whole applied state as a backup file, written under the apply lock to an unlinked
    /// temporary file (0600) in the snapshot directory; returns it rewound, and its length.
    /// Memory stays flat whatever the size of the state.
    pub async fn read(&self) -> Result<(std::fs::File, u64), StoreError> {
        let _applies = self.inner.apply_lock.lock().await;
        let view = self.inner.view.clone();
        let dir = self.inner.snapshot_dir.clone();
        let written = tokio::task::spawn_blocking(move || -> io::Result<(std::fs::File, u64)> {
            std::fs::create_dir_all(&dir)?;
            let path = dir.join(format!("backup-{}.tmp", file_stamp()));
            let mut file = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)?;
            // Unlinked at once: the data lives until the handle closes, and nothing is left
            // behind if the process dies.
            std::fs::remove_file(&path)?;
            let len = write(&view.trees().refs(), &mut file)?;
            file.seek(SeekFrom::Start(0))?;
            Ok((file, len))
        })
        .await
        .map_err(|e| StoreError::Backup(format!("reader failed: {e}")))?;
        written.map_err(|e| StoreError::Backup(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::trees::key::LAST_APPLIED;

    #[test]
    fn round_trip_and_damage() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let trees = super::super::trees::Trees::open(&db).unwrap();
        trees
            .get(StateTree::Meta)
            .insert(LAST_APPLIED, &b"x"[..])
            .unwrap();
        trees
            .get(StateTree::Meta)
            .insert(b"service_id", &b"\"jfac@x\""[..])
            .unwrap();
        trees
            .get(StateTree::Users)
            .insert(b"bob", &b"{}"[..])
            .unwrap();
        let file = encode(&trees.refs()).unwrap();
        let records = decode(&file).unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!(records[1].tree, StateTree::Users.index() as u8);
        let mut damaged = file.clone();
        damaged[12] ^= 1;
        assert_eq!(decode(&damaged), Err(BackupError::Checksum));
        assert_eq!(decode(b"garbage!garbage"), Err(BackupError::Magic));
        assert!(decode(&file[..file.len() - 1]).is_err());
        let cursor = |b: &[u8]| std::io::Cursor::new(b.to_vec());
        assert_eq!(verify(&mut cursor(&file)), Ok(2));
        assert_eq!(verify(&mut cursor(&damaged)), Err(BackupError::Checksum));
        assert!(verify(&mut cursor(&file[..file.len() - 1])).is_err());
        assert_eq!(
            verify(&mut cursor(b"garbage!garbage")),
            Err(BackupError::Magic)
        );
    }
}
