//! When a node builds its next snapshot. A snapshot reads the whole state, so what it costs
//! grows with the state: taken every `raft.snapshot-after-entries` entries alone, a million
//! stored tokens made every write pay a share that grew with the store. A large state
//! therefore also waits until the writes since its last snapshot reach its size beyond
//! [`SMALL_STATE`] records, which keeps the cost per write flat; a small state snapshots
//! exactly as the setting says.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::command::Command;
use super::Raft;

/// Records up to which the entry count alone decides.
pub const SMALL_STATE: u64 = 100_000;
/// How often a node looks whether its next snapshot is due.
const LOOK_EVERY: Duration = Duration::from_secs(1);

/// Writes applied since the last snapshot this node built, and the records it held. Kept by
/// the state machine; read by [`run`]. Until a node's first snapshot since it started, the
/// records are 0 and the entry count alone decides.
#[derive(Default)]
pub struct SnapshotPace {
    writes: AtomicU64,
    records: AtomicU64,
}

impl SnapshotPace {
    /// An entry was applied: its writes (a batch's commands each count).
    pub fn applied(&self, cmd: &Command) {
        let writes = match cmd {
            Command::Batch { commands } => commands.len() as u64,
            _ => 1,
        };
        self.writes.fetch_add(writes, Ordering::Relaxed);
    }

    /// A snapshot of `records` records was built: the count starts over.
    pub fn snapshot_taken(&self, records: u64) {
        self.records.store(records, Ordering::Relaxed);
        self.writes.store(0, Ordering::Relaxed);
    }

    /// Whether to build a snapshot now, `entries` log entries after the last one.
    pub fn due(&self, entries: u64, after_entries: u64) -> bool {
        snapshot_due(
            entries,
            after_entries,
            self.writes.load(Ordering::Relaxed),
            self.records.load(Ordering::Relaxed),
        )
    }
}

/// The rule: enough entries, and for a large state enough writes to pay for reading it.
pub fn snapshot_due(entries: u64, after_entries: u64, writes: u64, records: u64) -> bool {
    entries >= after_entries && writes >= records.saturating_sub(SMALL_STATE)
}

/// Ask openraft (whose own policy is `Never`) for a snapshot whenever one is due.
pub async fn run(raft: Raft, pace: Arc<SnapshotPace>, after_entries: u64) {
    let mut metrics = raft.metrics();
    loop {
        tokio::time::sleep(LOOK_EVERY).await;
        let entries = {
            let m = metrics.borrow_and_update();
            let applied = m.last_applied.map_or(0, |l| l.index + 1);
            let snapshot = m.snapshot.map_or(0, |l| l.index + 1);
            applied.saturating_sub(snapshot)
        };
        // A trigger while one is being built is ignored by openraft.
        if pace.due(entries, after_entries) && raft.trigger().snapshot().await.is_err() {
            return; // raft has stopped
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_state_snapshots_on_the_entry_count_alone() {
        assert!(!snapshot_due(19_999, 20_000, 0, 50));
        assert!(snapshot_due(20_000, 20_000, 0, 50));
        assert!(snapshot_due(20_000, 20_000, 0, SMALL_STATE));
    }

    #[test]
    fn a_large_state_also_waits_for_writes_as_many_as_it_is_large() {
        let records = 1_000_000;
        assert!(!snapshot_due(50_000, 20_000, 899_999, records));
        assert!(snapshot_due(50_000, 20_000, 900_000, records));
        // Writes never stand in for entries.
        assert!(!snapshot_due(19_999, 20_000, 5_000_000, records));
    }

    #[test]
    fn the_count_starts_over_at_each_snapshot_and_a_batch_counts_its_commands() {
        let pace = SnapshotPace::default();
        pace.snapshot_taken(SMALL_STATE + 3);
        let revoke = || Command::RevokeToken {
            token_id: "t".into(),
            revoked_at: 1,
        };
        pace.applied(&revoke());
        assert!(!pace.due(10, 10));
        pace.applied(&Command::Batch {
            commands: vec![revoke(), revoke()],
        });
        assert!(pace.due(10, 10));
        pace.snapshot_taken(SMALL_STATE + 3);
        assert!(!pace.due(10, 10));
    }
}
