//! Backup files: every state tree as one consistent cut, with a SHA-256 trailer.
//!
//! Consistency: the reader takes the state machine's apply lock and holds it while it copies
//! the trees (after the caller's read barrier), so no entry is applied half-way through the
//! copy. Applies wait for the copy (about a second per 100,000 tokens); the capture-and-override
//! scheme of snapshot files is not needed for a file that is read once.
//!
//! Layout: [`MAGIC`], records `[tree: u8][key len: u32 BE][key][value len: u32 BE][value]`,
//! [`END`] + the record count (u64 BE), then the SHA-256 of every byte before it (32 bytes).
//! Raft's own keys (`last_applied`, `membership` in the `Meta` tree) are left out: a restore
//! goes through the log of the cluster it seeds.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::state_machine::{Inner, StateMachine};
use super::trees::key::{LAST_APPLIED, MEMBERSHIP};
use super::trees::StateTree;
use super::StoreError;

pub const MAGIC: &[u8; 8] = b"ACNBAK01";
const END: u8 = 0xFF;
const CHECKSUM_LEN: usize = 32;

/// One record of a backup: a key and value of one state tree (by its [`StateTree`] index).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupRecord {
    pub tree: u8,
    #[serde(with = "b64")]
    pub key: Vec<u8>,
    #[serde(with = "b64")]
    pub value: Vec<u8>,
}

/// Bytes as base64 in JSON (the log is JSON: a byte array would take four times the room).
mod b64 {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        STANDARD.decode(text).map_err(serde::de::Error::custom)
    }
}

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

/// Whether a record of `tree` under `key` belongs in a backup (Raft's own keys do not).
pub fn is_state_key(tree: StateTree, key: &[u8]) -> bool {
    !(tree == StateTree::Meta && (key == LAST_APPLIED || key == MEMBERSHIP))
}

/// Encode the records of `trees` (in [`StateTree::ALL`] order) as a backup file.
pub fn encode(trees: &[&sled::Tree]) -> Result<Vec<u8>, StoreError> {
    let mut out = Vec::with_capacity(1 << 20);
    out.extend_from_slice(MAGIC);
    let mut count = 0u64;
    for (tree, which) in trees.iter().zip(StateTree::ALL) {
        let tag = u8::try_from(which.index()).unwrap_or(END);
        for item in tree.iter() {
            let (key, value) = item?;
            if !is_state_key(*which, &key) {
                continue;
            }
            out.push(tag);
            push_chunk(&mut out, &key);
            push_chunk(&mut out, &value);
            count += 1;
        }
    }
    out.push(END);
    out.extend_from_slice(&count.to_be_bytes());
    let sum = Sha256::digest(&out);
    out.extend_from_slice(&sum);
    Ok(out)
}

fn push_chunk(out: &mut Vec<u8>, bytes: &[u8]) {
    // sled keys and values are far below 4 GiB.
    out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
    out.extend_from_slice(bytes);
}

/// Check the checksum and the framing of a backup file, and return its records.
pub fn decode(file: &[u8]) -> Result<Vec<BackupRecord>, BackupError> {
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
    let mut at = MAGIC.len();
    let mut records = Vec::new();
    let short = || BackupError::Malformed("record runs past the end".into());
    loop {
        let tag = *content.get(at).ok_or_else(short)?;
        at += 1;
        if tag == END {
            break;
        }
        if usize::from(tag) >= StateTree::ALL.len() {
            return Err(BackupError::Malformed(format!("unknown tree {tag}")));
        }
        let key = take_chunk(content, &mut at).ok_or_else(short)?;
        let value = take_chunk(content, &mut at).ok_or_else(short)?;
        records.push(BackupRecord {
            tree: tag,
            key: key.to_vec(),
            value: value.to_vec(),
        });
    }
    let count: [u8; 8] = content
        .get(at..at + 8)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(short)?;
    if u64::from_be_bytes(count) != records.len() as u64 || at + 8 != content.len() {
        return Err(BackupError::Malformed("record count does not match".into()));
    }
    Ok(records)
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
    /// The whole applied state as a backup file, read under the apply lock.
    pub async fn read(&self) -> Result<Vec<u8>, StoreError> {
        let _applies = self.inner.apply_lock.lock().await;
        let view = self.inner.view.clone();
        tokio::task::spawn_blocking(move || encode(&view.trees().refs()))
            .await
            .map_err(|e| StoreError::Backup(format!("reader failed: {e}")))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    }
}
