//! Backup and restore of the replicated state (`access-node backup` / `restore`).

use std::time::Duration;

use serde::Serialize;

use std::sync::Arc;

use super::writes::{being_upgraded, Writes};
use super::{ServiceError, ServiceResult};
use crate::domain::version::FIRST_FORMAT;
use crate::raft::command::{Command, CommandResponse};
use crate::store::backup;
use crate::store::trees::{key::FORMAT, key::SERVICE_ID, StateTree};
use crate::store::{BackupSource, StateView};

/// Most records per `RestoreChunk` log entry.
pub const RESTORE_CHUNK_RECORDS: usize = 2_000;
/// Most key + value bytes per `RestoreChunk` entry. Raft sends a lagging follower up to 300
/// entries per append (openraft's `max_payload_entries`), and a peer accepts 64 MiB
/// (`http::peer_rpc`): 96 KiB of records is about 130 KB of JSON in the log, 39 MB for 300.
pub const RESTORE_CHUNK_BYTES: usize = 96 * 1024;
/// How long a backup waits for this node to catch up with the leader.
const BACKUP_BARRIER: Duration = Duration::from_secs(5);

/// What a restore did.
#[derive(Debug, Clone, Serialize)]
pub struct RestoreSummary {
    pub records: u64,
    pub chunks: u64,
    pub service_id: Option<String>,
}

/// Backup and restore of the replicated state.
pub struct Backup {
    state: StateView,
    writes: Arc<Writes>,
    backup: BackupSource,
}

impl Backup {
    pub fn new(state: StateView, writes: Arc<Writes>, backup: BackupSource) -> Backup {
        Backup {
            state,
            writes,
            backup,
        }
    }
}

impl Backup {
    /// The whole replicated state as a backup file (an unlinked temporary file, rewound, and
    /// its length): a read barrier (so the backup holds everything committed before the
    /// request), then a copy under the apply lock.
    pub async fn backup(&self) -> ServiceResult<(std::fs::File, u64)> {
        self.writes.read_barrier(BACKUP_BARRIER).await?;
        Ok(self.backup.read().await?)
    }

    /// Seed this cluster with a backup through the log, in chunks every node applies. The
    /// file is checked (checksum, framing) before anything is proposed. Without `force` the
    /// cluster must be freshly bootstrapped.
    pub async fn restore(&self, file: &[u8], force: bool) -> ServiceResult<RestoreSummary> {
        let backup = backup::open(file).map_err(|e| ServiceError::invalid(e.to_string()))?;
        if !backup
            .records()
            .any(|r| usize::from(r.tree) == StateTree::Meta.index() && r.key == SERVICE_ID)
        {
            return Err(ServiceError::invalid(
                "backup holds no service id: not a backup of a bootstrapped cluster",
            ));
        }
        self.writes.read_barrier(BACKUP_BARRIER).await?;
        // A backup of a newer format than the cluster's holds records an older node would
        // drop part of: it waits until every voter reads its format.
        let format = backup
            .records()
            .find(|r| usize::from(r.tree) == StateTree::Meta.index() && r.key == FORMAT)
            .and_then(|r| serde_json::from_slice::<u32>(r.value).ok())
            .unwrap_or(FIRST_FORMAT);
        let cluster = self.state.cluster_format()?;
        if format > cluster {
            return Err(being_upgraded("this backup is of", format, cluster));
        }
        if !force && !self.state.is_fresh()? {
            return Err(ServiceError::Conflict(
                "this cluster already holds tokens, users, groups or trusted certificates: \
                 restore only seeds a freshly bootstrapped cluster (use --force / force=true \
                 to replace its state)"
                    .into(),
            ));
        }
        let started = std::time::Instant::now();
        let mut chunks = 0u64;
        let mut records = backup.records().peekable();
        while records.peek().is_some() {
            let mut chunk = Vec::new();
            let mut bytes = 0;
            while chunk.len() < RESTORE_CHUNK_RECORDS && bytes < RESTORE_CHUNK_BYTES {
                let Some(r) = records.next() else { break };
                bytes += r.key.len() + r.value.len();
                chunk.push(r.to_owned());
            }
            let response = self
                .writes
                .write(Command::RestoreChunk {
                    first: chunks == 0,
                    records: chunk,
                })
                .await?;
            if !matches!(response, CommandResponse::Restored(_)) {
                return Err(ServiceError::Internal(format!(
                    "restore chunk {chunks} answered {response:?}"
                )));
            }
            chunks += 1;
        }
        let service_id = self.state.service_id()?;
        tracing::info!(
            records = backup.len(),
            chunks,
            ms = started.elapsed().as_millis() as u64,
            "state restored from a backup"
        );
        Ok(RestoreSummary {
            records: backup.len(),
            chunks,
            service_id,
        })
    }
}
