//! Snapshot files: the state trees streamed to disk, record by record, so neither building
//! nor installing a snapshot ever holds the whole state in memory.
//!
//! Building does not stop applies. The trees are read while entries keep being applied, so
//! that pass alone is no consistent cut; but every write applied meanwhile is captured, and
//! appended as overrides. Keys nobody wrote during the pass hold the same value at the start
//! and at the end; for the others the last override is the value at the end. Records plus
//! overrides are therefore exactly the state at the header's `last_applied`.
//!
//! Layout: the magic, records `[tree: u8][key len: u32 BE][key][value len: u32 BE][value]`,
//! [`END`] + the record count (u64 BE); overrides `[tree][key][0 = delete | 1 = put][value]`,
//! [`END`] + their count; then the length-prefixed JSON header. The counts catch a
//! truncated or padded file.

use std::io::{self, BufReader, BufWriter, Read, Write};

use openraft::{BasicNode, StoredMembership};
use serde::{Deserialize, Serialize};

use crate::raft::{LogId, NodeId};

const MAGIC: &[u8; 8] = b"ACNSNAP2";
const END: u8 = 0xFF;
/// Records per sled batch while installing.
const INSTALL_BATCH: usize = 10_000;
/// Bytes written between two syncs of a snapshot file. A large file synced once at the end
/// would make every fsync of the Raft log wait for hundreds of MB of write-back (ext4
/// commits them together): writes would stall for seconds while a snapshot is made.
const SYNC_EVERY: u64 = 8 << 20;

/// Records read between two short pauses of a snapshot read (see `records`).
const YIELD_EVERY: u64 = 256;

/// Where a snapshot is written: a file is synced as it grows (see [`SYNC_EVERY`]).
pub trait SnapshotSink: Write {
    fn sync_written(&self) -> io::Result<()> {
        Ok(())
    }
}

impl SnapshotSink for std::fs::File {
    fn sync_written(&self) -> io::Result<()> {
        self.sync_data()
    }
}

impl SnapshotSink for Vec<u8> {}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SnapshotHeader {
    pub last_applied: Option<LogId>,
    pub membership: StoredMembership<NodeId, BasicNode>,
    /// The cluster format of the state it holds (absent before formats: the first).
    #[serde(default = "first_format")]
    pub format: u32,
}

fn first_format() -> u32 {
    crate::domain::version::FIRST_FORMAT
}

/// One write to a state tree: `(tree index, key, new value or None for a removal)`.
pub type TreeWrite = (u8, sled::IVec, Option<sled::IVec>);

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

fn read_u8(input: &mut impl Read) -> io::Result<u8> {
    let mut b = [0u8; 1];
    input.read_exact(&mut b)?;
    Ok(b[0])
}

fn check_count(input: &mut impl Read, count: u64, what: &str) -> io::Result<()> {
    let mut expected = [0u8; 8];
    input.read_exact(&mut expected)?;
    if u64::from_be_bytes(expected) != count {
        return Err(bad(format!("snapshot {what} count does not match")));
    }
    Ok(())
}

/// Writes a snapshot in two steps: [`SnapshotWriter::records`] (while applies go on) and
/// [`SnapshotWriter::finish`] (with the writes captured meanwhile, under the apply lock).
pub struct SnapshotWriter<W: SnapshotSink> {
    out: BufWriter<W>,
    unsynced: u64,
}

impl<W: SnapshotSink> SnapshotWriter<W> {
    pub fn new(out: W) -> io::Result<SnapshotWriter<W>> {
        let mut out = BufWriter::with_capacity(1 << 20, out);
        out.write_all(MAGIC)?;
        Ok(SnapshotWriter { out, unsynced: 0 })
    }

    fn wrote(&mut self, bytes: usize) -> io::Result<()> {
        self.unsynced += bytes as u64;
        if self.unsynced >= SYNC_EVERY {
            self.out.flush()?;
            self.out.get_ref().sync_written()?;
            self.unsynced = 0;
        }
        Ok(())
    }

    /// Stream every record of `trees`; returns how many.
    pub fn records(&mut self, trees: &[&sled::Tree]) -> io::Result<u64> {
        let mut count = 0u64;
        for (index, tree) in trees.iter().enumerate() {
            let tag = u8::try_from(index)
                .ok()
                .filter(|t| *t != END)
                .ok_or_else(|| bad("too many trees"))?;
            for item in tree.iter() {
                let (key, value) = item.map_err(io::Error::other)?;
                self.out.write_all(&[tag])?;
                write_chunk(&mut self.out, &key)?;
                write_chunk(&mut self.out, &value)?;
                count += 1;
                self.wrote(9 + key.len() + value.len())?;
                if count.is_multiple_of(YIELD_EVERY) {
                    // Each iterator step holds sled's process-wide concurrency lock for
                    // reading and every apply takes it for writing: step aside now and then
                    // so a long read does not starve the writes.
                    std::thread::sleep(std::time::Duration::from_micros(200));
                }
            }
        }
        self.out.write_all(&[END])?;
        self.out.write_all(&count.to_be_bytes())?;
        Ok(count)
    }

    /// Append the overrides and the header; returns the underlying writer, flushed.
    pub fn finish(mut self, overrides: &[TreeWrite], header: &SnapshotHeader) -> io::Result<W> {
        for (tree, key, value) in overrides {
            self.out.write_all(&[*tree])?;
            write_chunk(&mut self.out, key)?;
            match value {
                Some(v) => {
                    self.out.write_all(&[1])?;
                    write_chunk(&mut self.out, v)?;
                }
                None => self.out.write_all(&[0])?,
            }
            // Tens of MB of overrides at a million tokens: synced as they grow, like the
            // records, so the final sync never makes the log's fsync wait for all of them.
            self.wrote(10 + key.len() + value.as_ref().map_or(0, |v| 4 + v.len()))?;
        }
        self.out.write_all(&[END])?;
        self.out
            .write_all(&(overrides.len() as u64).to_be_bytes())?;
        write_chunk(
            &mut self.out,
            &serde_json::to_vec(header).map_err(io::Error::other)?,
        )?;
        self.out.into_inner().map_err(|e| e.into_error())
    }
}

fn skip_chunk(input: &mut impl Read) -> io::Result<()> {
    let mut len = [0u8; 4];
    input.read_exact(&mut len)?;
    let len = u64::from(u32::from_be_bytes(len));
    if io::copy(&mut input.take(len), &mut io::sink())? != len {
        return Err(bad("truncated snapshot"));
    }
    Ok(())
}

/// A snapshot's header, read without installing anything: records and overrides are skipped.
pub fn read_header(input: impl Read) -> io::Result<SnapshotHeader> {
    let mut input = BufReader::with_capacity(1 << 20, input);
    let mut magic = [0u8; 8];
    input.read_exact(&mut magic)?;
    if &magic != MAGIC {
        return Err(bad("not an access-node snapshot"));
    }
    for overrides in [false, true] {
        while read_u8(&mut input)? != END {
            skip_chunk(&mut input)?;
            if !overrides || read_u8(&mut input)? == 1 {
                skip_chunk(&mut input)?;
            }
        }
        input.read_exact(&mut [0u8; 8])?;
    }
    serde_json::from_slice(&read_chunk(&mut input)?).map_err(|e| bad(e.to_string()))
}

/// Refuse a snapshot of a newer format than this node `reads`, before anything is replaced.
pub fn check_format(header: &SnapshotHeader, reads: u32) -> io::Result<()> {
    match crate::domain::version::refuse_older_binary(reads, header.format) {
        Some(why) => Err(bad(format!("snapshot refused: {why}"))),
        None => Ok(()),
    }
}

/// Replace the contents of `trees` with a snapshot; returns its header.
/// The caller serialises this against applies.
pub fn install(input: impl Read, trees: &[&sled::Tree]) -> io::Result<SnapshotHeader> {
    let mut input = BufReader::with_capacity(1 << 20, input);
    let mut magic = [0u8; 8];
    input.read_exact(&mut magic)?;
    if &magic != MAGIC {
        return Err(bad("not an access-node snapshot"));
    }
    for tree in trees {
        tree.clear().map_err(io::Error::other)?;
    }
    let tree_of = |tag: u8| -> io::Result<usize> {
        let t = usize::from(tag);
        if t < trees.len() {
            Ok(t)
        } else {
            Err(bad(format!("unknown tree {t} in snapshot")))
        }
    };
    // Records, in tree order, batched.
    let mut count = 0u64;
    let mut pending: Option<(usize, sled::Batch, usize)> = None;
    let flush = |pending: &mut Option<(usize, sled::Batch, usize)>| -> io::Result<()> {
        if let Some((tree, batch, _)) = pending.take() {
            trees[tree].apply_batch(batch).map_err(io::Error::other)?;
        }
        Ok(())
    };
    loop {
        let tag = read_u8(&mut input)?;
        if tag == END {
            break;
        }
        let tree = tree_of(tag)?;
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
    check_count(&mut input, count, "record")?;
    // Overrides, in the order they were applied: a later write to a key wins.
    let mut overrides: Vec<sled::Batch> = trees.iter().map(|_| sled::Batch::default()).collect();
    let mut count = 0u64;
    loop {
        let tag = read_u8(&mut input)?;
        if tag == END {
            break;
        }
        let tree = tree_of(tag)?;
        let key = read_chunk(&mut input)?;
        match read_u8(&mut input)? {
            1 => overrides[tree].insert(key, read_chunk(&mut input)?),
            0 => overrides[tree].remove(key),
            other => return Err(bad(format!("bad override kind {other}"))),
        }
        count += 1;
    }
    check_count(&mut input, count, "override")?;
    let header: SnapshotHeader =
        serde_json::from_slice(&read_chunk(&mut input)?).map_err(|e| bad(e.to_string()))?;
    if input.read(&mut [0u8; 1])? != 0 {
        return Err(bad("trailing bytes after the snapshot"));
    }
    for (tree, batch) in trees.iter().zip(overrides) {
        tree.apply_batch(batch).map_err(io::Error::other)?;
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
            format: 2,
        };
        let src_refs: Vec<&sled::Tree> = src.iter().collect();
        let mut writer = SnapshotWriter::new(Vec::new()).unwrap();
        assert_eq!(writer.records(&src_refs).unwrap(), 25_000);
        // Writes applied while the records were read: the last one per key wins.
        let overrides: Vec<TreeWrite> = vec![
            (
                1,
                7u32.to_be_bytes().as_ref().into(),
                Some(b"changed".as_ref().into()),
            ),
            (0, 8u32.to_be_bytes().as_ref().into(), None),
            (
                1,
                7u32.to_be_bytes().as_ref().into(),
                Some(b"changed again".as_ref().into()),
            ),
            (0, b"new".as_ref().into(), Some(b"added".as_ref().into())),
        ];
        let bytes = writer.finish(&overrides, &header).unwrap();

        let dst_refs: Vec<&sled::Tree> = dst.iter().collect();
        // The header alone, as a node checks it before replacing anything.
        let read = read_header(&bytes[..]).unwrap();
        assert_eq!(read.format, 2);
        assert!(check_format(&read, 2).is_ok());
        let refused = check_format(&read, 1).unwrap_err().to_string();
        assert!(
            refused.contains("format 1") && refused.contains("format 2"),
            "{refused}"
        );
        assert!(read_header(&bytes[..bytes.len() - 20]).is_err());
        install(&bytes[..], &dst_refs).unwrap();
        assert_eq!(dst[0].len() + dst[1].len(), 25_000);
        assert!(dst[0].get(b"stale").unwrap().is_none());
        assert!(dst[0].get(8u32.to_be_bytes()).unwrap().is_none());
        assert_eq!(dst[0].get(b"new").unwrap().unwrap().as_ref(), b"added");
        assert_eq!(
            dst[1].get(7u32.to_be_bytes()).unwrap().unwrap().as_ref(),
            b"changed again"
        );
        assert_eq!(
            dst[1].get(9u32.to_be_bytes()).unwrap().unwrap().as_ref(),
            b"value 9"
        );

        assert!(install(&bytes[..bytes.len() - 20], &dst_refs).is_err());
        let mut padded = bytes.clone();
        padded.push(0);
        assert!(install(&padded[..], &dst_refs).is_err());
        assert!(install(&b"ACNSNAP1"[..], &dst_refs).is_err());
    }
}
