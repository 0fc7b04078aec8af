//! Snapshot files: the state trees streamed to disk, record by record, so neither building
//! nor installing a snapshot ever holds the whole state in memory.
//!
//! Layout: the magic line, a length-prefixed JSON header, then records
//! `[tree: u8][key len: u32 BE][key][value len: u32 BE][value]`, ended by the tree byte
//! [`END`] and the record count (u64 BE), which catches a truncated or padded file.

use std::io::{self, BufReader, BufWriter, Read, Write};

use openraft::{BasicNode, StoredMembership};
use serde::{Deserialize, Serialize};

use crate::raft::{LogId, NodeId};

const MAGIC: &[u8; 8] = b"ACNSNAP1";
const END: u8 = 0xFF;
/// Records per sled batch while installing.
const INSTALL_BATCH: usize = 10_000;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SnapshotHeader {
    pub last_applied: Option<LogId>,
    pub membership: StoredMembership<NodeId, BasicNode>,
}

fn bad(message: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.into())
}

fn write_chunk(out: &mut impl Write, bytes: &[u8]) -> io::Result<()> {
    let len = u32::try_from(bytes.len()).map_err(|_| bad("record larger than 4 GiB"))?;
    out.write_all(&len.to_be_bytes())?;
    out.write_all(bytes)
}

fn read_chunk(input: &mut impl Read) -> io::Result<Vec<u8>> {
    let mut len = [0u8; 4];
    input.read_exact(&mut len)?;
    let mut bytes = vec![0u8; u32::from_be_bytes(len) as usize];
    input.read_exact(&mut bytes)?;
    Ok(bytes)
}

/// Stream `header` and every record of `trees` into `out`; returns the record count.
pub fn write(out: impl Write, header: &SnapshotHeader, trees: &[&sled::Tree]) -> io::Result<u64> {
    let mut out = BufWriter::with_capacity(1 << 20, out);
    out.write_all(MAGIC)?;
    write_chunk(
        &mut out,
        &serde_json::to_vec(header).map_err(io::Error::other)?,
    )?;
    let mut count = 0u64;
    for (index, tree) in trees.iter().enumerate() {
        let tag = u8::try_from(index).map_err(|_| bad("too many trees"))?;
        for item in tree.iter() {
            let (key, value) = item.map_err(io::Error::other)?;
            out.write_all(&[tag])?;
            write_chunk(&mut out, &key)?;
            write_chunk(&mut out, &value)?;
            count += 1;
        }
    }
    out.write_all(&[END])?;
    out.write_all(&count.to_be_bytes())?;
    out.flush()?;
    Ok(count)
}

/// Replace the contents of `trees` with the records of a snapshot; returns its header.
/// The caller serialises this against applies.
pub fn install(input: impl Read, trees: &[&sled::Tree]) -> io::Result<SnapshotHeader> {
    let mut input = BufReader::with_capacity(1 << 20, input);
    let mut magic = [0u8; 8];
    input.read_exact(&mut magic)?;
    if &magic != MAGIC {
        return Err(bad("not an access-node snapshot"));
    }
    let header: SnapshotHeader =
        serde_json::from_slice(&read_chunk(&mut input)?).map_err(|e| bad(e.to_string()))?;
    for tree in trees {
        tree.clear().map_err(io::Error::other)?;
    }
    let mut count = 0u64;
    let mut pending: Option<(usize, sled::Batch, usize)> = None;
    let flush = |pending: &mut Option<(usize, sled::Batch, usize)>| -> io::Result<()> {
        if let Some((tree, batch, _)) = pending.take() {
            trees[tree].apply_batch(batch).map_err(io::Error::other)?;
        }
        Ok(())
    };
    loop {
        let mut tag = [0u8; 1];
        input.read_exact(&mut tag)?;
        if tag[0] == END {
            break;
        }
        let tree = usize::from(tag[0]);
        if tree >= trees.len() {
            return Err(bad(format!("unknown tree {tree} in snapshot")));
        }
        let key = read_chunk(&mut input)?;
        let value = read_chunk(&mut input)?;
        if pending
            .as_ref()
            .is_some_and(|(t, _, n)| *t != tree || *n >= INSTALL_BATCH)
        {
            flush(&mut pending)?;
        }
        let (_, batch, n) = pending.get_or_insert_with(|| (tree, sled::Batch::default(), 0));
        batch.insert(key, value);
        *n += 1;
        count += 1;
    }
    flush(&mut pending)?;
    let mut expected = [0u8; 8];
    input.read_exact(&mut expected)?;
    if u64::from_be_bytes(expected) != count {
        return Err(bad("snapshot record count does not match"));
    }
    if input.read(&mut [0u8; 1])? != 0 {
        return Err(bad("trailing bytes after the snapshot"));
    }
    Ok(header)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trees(db: &sled::Db) -> Vec<sled::Tree> {
        ["a", "b"]
            .iter()
            .map(|n| db.open_tree(n).unwrap())
            .collect()
    }

    #[test]
    fn round_trip_replaces_contents_and_rejects_damage() {
        let from = sled::Config::new().temporary(true).open().unwrap();
        let to = sled::Config::new().temporary(true).open().unwrap();
        let (src, dst) = (trees(&from), trees(&to));
        for i in 0..25_000u32 {
            src[(i % 2) as usize]
                .insert(i.to_be_bytes(), format!("value {i}").as_bytes())
                .unwrap();
        }
        dst[0].insert(b"stale", b"gone after install").unwrap();
        let header = SnapshotHeader {
            last_applied: None,
            membership: StoredMembership::default(),
        };
        let mut bytes = Vec::new();
        let src_refs: Vec<&sled::Tree> = src.iter().collect();
        assert_eq!(write(&mut bytes, &header, &src_refs).unwrap(), 25_000);

        let dst_refs: Vec<&sled::Tree> = dst.iter().collect();
        install(&bytes[..], &dst_refs).unwrap();
        assert_eq!(dst[0].len() + dst[1].len(), 25_000);
        assert!(dst[0].get(b"stale").unwrap().is_none());
        assert_eq!(
            dst[1].get(7u32.to_be_bytes()).unwrap().unwrap().as_ref(),
            b"value 7"
        );

        assert!(install(&bytes[..bytes.len() - 20], &dst_refs).is_err());
        let mut padded = bytes.clone();
        padded.push(0);
        assert!(install(&padded[..], &dst_refs).is_err());
        assert!(install(&b"ACNSNAP0"[..], &dst_refs).is_err());
    }
}
