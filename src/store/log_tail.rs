//! The newest Raft log entries, kept decoded in memory. Every entry is read back soon after
//! it is appended: by the leader once per follower it replicates to, and by every node to
//! apply it. Served from here, those reads cost a clone instead of a sled lookup and a JSON
//! decode of the whole batch. sled stays the log; this only mirrors its tail.

use std::collections::VecDeque;
use std::sync::Mutex;

use openraft::Entry;

use crate::raft::TypeConfig;

/// Entries kept: far more than are ever in flight between appending and applying.
const KEEP: usize = 1024;

/// A contiguous run of the log's last entries (possibly empty).
#[derive(Default)]
pub struct LogTail(Mutex<VecDeque<Entry<TypeConfig>>>);

impl LogTail {
    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Entry<TypeConfig>>> {
        // A panic while holding it leaves at worst a shorter tail: keep using it.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// After `entries` were written to the log (after any earlier entry they follow).
    pub fn appended(&self, entries: &[Entry<TypeConfig>]) {
        let mut tail = self.lock();
        for entry in entries {
            let follows = tail
                .back()
                .is_none_or(|last| last.log_id.index + 1 == entry.log_id.index);
            if !follows {
                tail.clear();
            }
            tail.push_back(entry.clone());
            if tail.len() > KEEP {
                tail.pop_front();
            }
        }
    }

    /// After the log dropped every entry from `index` on.
    pub fn truncated(&self, index: u64) {
        let mut tail = self.lock();
        while tail.back().is_some_and(|e| e.log_id.index >= index) {
            tail.pop_back();
        }
    }

    /// After the log dropped every entry up to `index`.
    pub fn purged(&self, index: u64) {
        let mut tail = self.lock();
        while tail.front().is_some_and(|e| e.log_id.index <= index) {
            tail.pop_front();
        }
    }

    /// Entries `start..=end` (`end` None: to the last), if all of them are held here.
    pub fn get(&self, start: u64, end: Option<u64>) -> Option<Vec<Entry<TypeConfig>>> {
        let tail = self.lock();
        let first = tail.front()?.log_id.index;
        let last = tail.back()?.log_id.index;
        let end = end.unwrap_or(last);
        if start > end {
            return Some(Vec::new());
        }
        if start < first || end > last {
            return None;
        }
        let from = usize::try_from(start - first).ok()?;
        let to = usize::try_from(end - first).ok()?;
        Some(tail.range(from..=to).cloned().collect())
    }
}

#[cfg(test)]
mod tests {
    use openraft::{CommittedLeaderId, EntryPayload, LogId};

    use super::*;

    fn entries(range: std::ops::RangeInclusive<u64>) -> Vec<Entry<TypeConfig>> {
        range
            .map(|index| Entry {
                log_id: LogId::new(CommittedLeaderId::new(1, 1), index),
                payload: EntryPayload::Blank,
            })
            .collect()
    }

    fn indexes(got: Option<Vec<Entry<TypeConfig>>>) -> Option<Vec<u64>> {
        got.map(|v| v.iter().map(|e| e.log_id.index).collect())
    }

    #[test]
    fn serves_only_what_it_holds_and_follows_truncation_and_purge() {
        let tail = LogTail::default();
        assert_eq!(indexes(tail.get(1, None)), None);
        tail.appended(&entries(1..=5));
        assert_eq!(indexes(tail.get(2, Some(4))), Some(vec![2, 3, 4]));
        assert_eq!(indexes(tail.get(4, None)), Some(vec![4, 5]));
        assert_eq!(indexes(tail.get(6, None)), Some(vec![]));
        assert_eq!(indexes(tail.get(5, Some(6))), None, "beyond the end");
        tail.truncated(4);
        assert_eq!(indexes(tail.get(1, None)), Some(vec![1, 2, 3]));
        tail.appended(&entries(4..=6));
        tail.purged(2);
        assert_eq!(indexes(tail.get(1, Some(3))), None, "purged");
        assert_eq!(indexes(tail.get(3, None)), Some(vec![3, 4, 5, 6]));
        // A gap (never happens in a log) starts the tail afresh rather than lying.
        tail.appended(&entries(9..=9));
        assert_eq!(indexes(tail.get(6, None)), None);
        assert_eq!(indexes(tail.get(9, None)), Some(vec![9]));
        tail.appended(&entries(10..=(10 + KEEP as u64)));
        assert_eq!(
            indexes(tail.get(10, Some(10))),
            None,
            "only the newest are kept"
        );
        assert_eq!(
            indexes(tail.get(10 + KEEP as u64, None)),
            Some(vec![10 + KEEP as u64])
        );
    }
}
