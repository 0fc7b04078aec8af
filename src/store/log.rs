//! The Raft log, vote and committed id in sled. Appends are flushed to disk before openraft
//! is told they are durable.

use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};

use openraft::storage::{LogFlushed, LogState, RaftLogStorage};
use openraft::{Entry, OptionalSend, RaftLogReader, StorageIOError, Vote};

use super::format_mark::FormatMark;
use super::io::{any_err, index_key};
use super::log_tail::LogTail;
use crate::domain::version::{refuse_older_binary, FIRST_FORMAT};
use crate::raft::command::Command;
use crate::raft::election::LastLogId;
use crate::raft::{LogId, NodeId, StorageError, TypeConfig};

const VOTE: &[u8] = b"vote";
const COMMITTED: &[u8] = b"committed";
const LAST_PURGED: &[u8] = b"last_purged";

#[derive(Clone)]
pub struct LogStore {
    db: sled::Db,
    log: sled::Tree,
    meta: sled::Tree,
    flusher: tokio::sync::mpsc::UnboundedSender<LogFlushed<TypeConfig>>,
    /// Purged entries are deleted in the background, one purge at a time.
    purging: std::sync::Arc<tokio::sync::Mutex<()>>,
    /// The newest entries, decoded: replication and apply read them from here.
    tail: std::sync::Arc<LogTail>,
    /// Raised before an entry of a newer format is appended (see `FormatMark`).
    mark: std::sync::Arc<FormatMark>,
}

/// Delete every entry up to `upto` (inclusive), a chunk per batch. Purged entries are never
/// read again, so this may run behind the purge itself; if the process dies first, the next
/// purge (or start) finishes it.
fn delete_purged(log: &sled::Tree, upto: u64) -> sled::Result<()> {
    // Small chunks with a pause between them: a purge after a snapshot frees tens of MB of
    // log, and sled deleting it in one go holds up the writes committing meanwhile.
    const CHUNK: u64 = 200;
    const PAUSE: std::time::Duration = std::time::Duration::from_millis(5);
    while let Some(first) = log.first()?.map(|(k, _)| k) {
        let Ok(bytes) = <[u8; 8]>::try_from(first.as_ref()) else {
            return Ok(());
        };
        let start = u64::from_be_bytes(bytes);
        if start > upto {
            break;
        }
        let mut batch = sled::Batch::default();
        for index in start..=upto.min(start.saturating_add(CHUNK - 1)) {
            batch.remove(&index_key(index));
        }
        log.apply_batch(batch)?;
        std::thread::sleep(PAUSE);
    }
    Ok(())
}

/// Flushes sled once for every run of appends that arrived while the previous flush ran,
/// then completes their callbacks in order.
async fn run_flusher(
    db: sled::Db,
    mut rx: tokio::sync::mpsc::UnboundedReceiver<LogFlushed<TypeConfig>>,
) {
    while let Some(first) = rx.recv().await {
        let mut waiting = vec![first];
        while let Ok(next) = rx.try_recv() {
            waiting.push(next);
        }
        let result = db
            .flush_async()
            .await
            .map(|_| ())
            .map_err(|e| e.to_string());
        if let Err(e) = &result {
            tracing::error!(error = %e, "flushing the Raft log failed");
        }
        for callback in waiting {
            callback.log_io_completed(result.clone().map_err(std::io::Error::other));
        }
    }
}

impl LogStore {
    /// Must be called inside a tokio runtime: it starts the flusher task.
    pub fn open(db: &sled::Db, mark: std::sync::Arc<FormatMark>) -> Result<LogStore, sled::Error> {
        let (flusher, rx) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(run_flusher(db.clone(), rx));
        let store = LogStore {
            db: db.clone(),
            log: db.open_tree("raft_log")?,
            meta: db.open_tree("raft_meta")?,
            flusher,
            purging: Default::default(),
            tail: Default::default(),
            mark,
        };
        // Finish a background purge the last process did not.
        if let Ok(Some(purged)) = store
            .get_meta::<Option<LogId>>(LAST_PURGED)
            .map(Option::flatten)
        {
            store.delete_in_background(purged.index);
        }
        Ok(store)
    }

    fn get_meta<T: serde::de::DeserializeOwned>(
        &self,
        key: &[u8],
    ) -> Result<Option<T>, StorageError> {
        let Some(bytes) = self
            .meta
            .get(key)
            .map_err(|e| StorageIOError::read(any_err(e)))?
        else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| StorageIOError::read(any_err(e)).into())
    }

    fn put_meta<T: serde::Serialize>(&self, key: &[u8], value: &T) -> Result<(), StorageError> {
        let bytes = serde_json::to_vec(value).map_err(|e| StorageIOError::write(any_err(e)))?;
        self.meta
            .insert(key, bytes)
            .map_err(|e| StorageIOError::write(any_err(e)))?;
        Ok(())
    }

    async fn flush(&self) -> Result<(), StorageError> {
        self.db
            .flush_async()
            .await
            .map_err(|e| StorageIOError::write(any_err(e)))?;
        Ok(())
    }

    fn delete_in_background(&self, upto: u64) {
        let (log, purging) = (self.log.clone(), self.purging.clone());
        tokio::spawn(async move {
            let _one_at_a_time = purging.lock().await;
            let deleted = tokio::task::spawn_blocking(move || delete_purged(&log, upto)).await;
            if let Ok(Err(e)) = deleted {
                tracing::warn!(error = %e, "deleting purged log entries failed; the next purge retries");
            }
        });
    }

    /// The id of the last entry in the log (or the last purged one), read straight from
    /// sled: for the pre-vote, which compares logs without asking the Raft core.
    pub fn last_log_id(&self) -> Result<Option<LogId>, StorageError> {
        let last_purged: Option<LogId> = self.get_meta(LAST_PURGED)?;
        Ok(
            match self
                .log
                .last()
                .map_err(|e| StorageIOError::read_logs(any_err(e)))?
            {
                // An entry not deleted yet by a background purge is not the log's end.
                Some((_, v)) => Some(Self::decode(&v)?.log_id).max(last_purged),
                None => last_purged,
            },
        )
    }

    fn decode(bytes: &[u8]) -> Result<Entry<TypeConfig>, StorageError> {
        serde_json::from_slice(bytes).map_err(|e| StorageIOError::read_logs(any_err(e)).into())
    }
}

/// An entry as the log stores it: with the format a node needs to apply it (`format`; absent
/// in entries written before formats: the first). Older binaries skip the field, so a log
/// written at the first format still opens with them.
#[derive(serde::Serialize)]
struct StoredEntry<'a> {
    #[serde(flatten)]
    entry: &'a Entry<TypeConfig>,
    format: u32,
}

/// The format an entry needs: its command's, and a raise's own version (only nodes that
/// read it are voters by then).
fn entry_format(entry: &Entry<TypeConfig>) -> u32 {
    match &entry.payload {
        openraft::EntryPayload::Normal(Command::RaiseFormat { version }) => *version,
        openraft::EntryPayload::Normal(cmd) => cmd.format_needed(),
        _ => FIRST_FORMAT,
    }
}

fn encode(entry: &Entry<TypeConfig>) -> serde_json::Result<Vec<u8>> {
    let format = entry_format(entry);
    serde_json::to_vec(&StoredEntry { entry, format })
}

/// Why this binary may not apply the entries of `db`'s log after `applied`: one needs a
/// newer format than it `reads`, or does not decode at all. Read straight from sled before
/// the log is opened, so a refused start changes nothing.
pub fn refuse_unapplied(db: &sled::Db, applied: Option<u64>, reads: u32) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct FormatOnly {
        #[serde(default)]
        format: Option<u32>,
    }
    let log = db.open_tree("raft_log").ok()?;
    let from = applied.map_or(0, |i| i + 1);
    for item in log.range(index_key(from)..) {
        let (key, bytes) = match item {
            Ok(kv) => kv,
            Err(e) => return Some(format!("the Raft log cannot be read: {e}")),
        };
        let index = <[u8; 8]>::try_from(key.as_ref()).map_or(0, u64::from_be_bytes);
        let format = serde_json::from_slice::<FormatOnly>(&bytes)
            .ok()
            .and_then(|f| f.format)
            .unwrap_or(FIRST_FORMAT);
        if let Some(why) = refuse_older_binary(reads, format) {
            return Some(format!("log entry {index}: {why}"));
        }
        if let Err(e) = serde_json::from_slice::<Entry<TypeConfig>>(&bytes) {
            return Some(format!(
                "log entry {index} was written by a newer binary (this one cannot read it: {e})"
            ));
        }
    }
    None
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry<TypeConfig>>, StorageError> {
        let start = match range.start_bound() {
            Bound::Included(i) => *i,
            Bound::Excluded(i) => i + 1,
            Bound::Unbounded => 0,
        };
        let end = match range.end_bound() {
            Bound::Included(i) => Some(*i),
            Bound::Excluded(0) => return Ok(Vec::new()),
            Bound::Excluded(i) => Some(i - 1),
            Bound::Unbounded => None,
        };
        if end.is_some_and(|end| end < start) {
            return Ok(Vec::new());
        }
        if let Some(entries) = self.tail.get(start, end) {
            return Ok(entries);
        }
        let iter = match end {
            Some(end) => self.log.range(index_key(start)..=index_key(end)),
            None => self.log.range(index_key(start)..),
        };
        let mut out = Vec::new();
        for item in iter {
            let (_, v) = item.map_err(|e| StorageIOError::read_logs(any_err(e)))?;
            out.push(Self::decode(&v)?);
        }
        Ok(out)
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError> {
        let last_purged: Option<LogId> = self.get_meta(LAST_PURGED)?;
        let last = self.last_log_id()?;
        Ok(LogState {
            last_purged_log_id: last_purged,
            last_log_id: last,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<NodeId>) -> Result<(), StorageError> {
        self.put_meta(VOTE, vote)?;
        self.flush().await
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<NodeId>>, StorageError> {
        self.get_meta(VOTE)
    }

    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), StorageError> {
        self.put_meta(COMMITTED, &committed)
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, StorageError> {
        Ok(self.get_meta::<Option<LogId>>(COMMITTED)?.flatten())
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), StorageError>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let entries: Vec<Entry<TypeConfig>> = entries.into_iter().collect();
        let newest = entries
            .iter()
            .map(entry_format)
            .max()
            .unwrap_or(FIRST_FORMAT);
        if newest > self.mark.get() {
            self.mark
                .raise(newest)
                .map_err(|e| StorageIOError::write_logs(any_err(e)))?;
        }
        // Plain inserts, in log order, not a sled batch: every sled batch or transaction
        // writes out sled's I/O buffer first, and that was one more disk write per entry on
        // every node. Nothing here needs a batch: openraft learns an append is durable only
        // from the flush below, and after a crash sled recovers its writes in the order they
        // were made, so what survives of an unflushed append is a prefix of it.
        for entry in &entries {
            let bytes = encode(entry)
                .map_err(|e| StorageIOError::write_log_entry(entry.log_id, any_err(e)))?;
            self.log
                .insert(index_key(entry.log_id.index), bytes)
                .map_err(|e| StorageIOError::write_logs(any_err(e)))?;
        }
        self.tail.appended(&entries);
        // Group commit: the flusher makes everything appended so far durable with one fsync
        // and only then tells openraft, for this append and any that queued up meanwhile.
        self.flusher.send(callback).map_err(|_| {
            StorageIOError::write_logs(any_err(std::io::Error::other("log flusher stopped")))
        })?;
        Ok(())
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<(), StorageError> {
        self.tail.truncated(log_id.index);
        let mut batch = sled::Batch::default();
        for item in self.log.range(index_key(log_id.index)..) {
            let (k, _) = item.map_err(|e| StorageIOError::write_logs(any_err(e)))?;
            batch.remove(k);
        }
        self.log
            .apply_batch(batch)
            .map_err(|e| StorageIOError::write_logs(any_err(e)))?;
        self.flush().await
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), StorageError> {
        // Deleting tens of thousands of entries here would hold up the Raft core (and with it
        // every write) for a second or more after each snapshot.
        self.put_meta(LAST_PURGED, &Some(log_id))?;
        self.tail.purged(log_id.index);
        self.delete_in_background(log_id.index);
        Ok(())
    }
}

impl LastLogId for LogStore {
    fn last_log_id(&self) -> Result<Option<LogId>, StorageError> {
        LogStore::last_log_id(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::federation::protocol::Held;
    use openraft::{CommittedLeaderId, EntryPayload};

    fn entry(index: u64, held: Option<Held>) -> Entry<TypeConfig> {
        Entry {
            log_id: LogId::new(CommittedLeaderId::new(1, 1), index),
            payload: EntryPayload::Normal(Command::FederationAck {
                peer: "b".into(),
                cursor: 1,
                synced_epoch: None,
                held,
            }),
        }
    }

    /// Entries carry the format they need and read back unchanged; a node refuses to start
    /// on a log whose unapplied entries need a newer format, or that it cannot decode.
    #[test]
    fn entries_carry_their_format_and_newer_ones_are_refused() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let log = db.open_tree("raft_log").unwrap();
        let old = entry(4, None);
        let new = entry(5, Some(Held::default()));
        for (e, format) in [(&old, 1), (&new, 2)] {
            let bytes = encode(e).unwrap();
            let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            assert_eq!(value["format"], format, "{value}");
            let json = |e: &Entry<TypeConfig>| serde_json::to_value(e).unwrap();
            assert_eq!(json(&LogStore::decode(&bytes).unwrap()), json(e));
            log.insert(index_key(e.log_id.index), bytes).unwrap();
        }
        assert_eq!(refuse_unapplied(&db, Some(3), 2), None);
        assert_eq!(refuse_unapplied(&db, Some(5), 1), None, "all applied");
        let why = refuse_unapplied(&db, Some(3), 1).unwrap();
        assert!(
            why.contains("log entry 5") && why.contains("format 1") && why.contains("format 2"),
            "{why}"
        );
        // An entry of a kind this binary does not know, from before formats were written.
        let unknown = br#"{"log_id":{"leader_id":{"term":1,"node_id":1},"index":6},"payload":{"Normal":{"FutureCommand":{}}}}"#;
        log.insert(index_key(6), &unknown[..]).unwrap();
        let why = refuse_unapplied(&db, Some(5), 2).unwrap();
        assert!(
            why.contains("log entry 6") && why.contains("newer binary"),
            "{why}"
        );
    }
}
