//! The state machine's snapshot files: built while applies go on (the writes applied
//! meanwhile become overrides), kept in `db/snapshots/` (0600), old ones unlinked off the Raft
//! thread.

use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

use openraft::storage::Snapshot;
use openraft::{BasicNode, RaftSnapshotBuilder, SnapshotMeta};

use super::io::{
    file_stamp, get_json, in_background, read_err, remove_snapshot_files, write_err, SNAPSHOT_META,
};
use super::snapshot;
use super::state_machine::StateMachine;
use super::trees::key::MEMBERSHIP;
use super::trees::StateTree;
use crate::raft::{NodeId, StorageError, TypeConfig};

impl StateMachine {
    pub(super) fn snapshot_path(&self, snapshot_id: &str) -> PathBuf {
        self.inner.snapshot_dir.join(format!("{snapshot_id}.snap"))
    }

    /// Record `meta` as the current snapshot (its file is already in place) and delete the
    /// files of older snapshots.
    pub(super) async fn set_current_snapshot(
        &self,
        meta: &SnapshotMeta<NodeId, BasicNode>,
    ) -> Result<(), StorageError> {
        let meta_bytes = serde_json::to_vec(meta).map_err(write_err)?;
        self.inner
            .snapshots
            .insert(SNAPSHOT_META, meta_bytes)
            .map_err(write_err)?;
        self.inner.db.flush_async().await.map_err(write_err)?;
        let keep = format!("{}.snap", meta.snapshot_id);
        let dir = self.inner.snapshot_dir.clone();
        // Unlinking a file of hundreds of MB takes a while: not on the Raft core's thread.
        let _ = tokio::task::spawn_blocking(move || {
            let started = std::time::Instant::now();
            remove_snapshot_files(&dir, |name| {
                name.ends_with(".snap") && !name.starts_with("incoming-") && name != keep
            });
            tracing::debug!(
                ms = started.elapsed().as_millis() as u64,
                "old snapshot files removed"
            );
        })
        .await;
        Ok(())
    }

    /// Stream the state into a new snapshot file on a blocking thread while entries keep
    /// being applied; the writes applied meanwhile become the file's overrides.
    async fn write_snapshot_file(&self) -> Result<SnapshotMeta<NodeId, BasicNode>, StorageError> {
        let _building = self.inner.snapshot_lock.lock().await;
        let stamp = file_stamp();
        let tmp = self
            .inner
            .snapshot_dir
            .join(format!("building-{stamp}.tmp"));
        let started = std::time::Instant::now();
        {
            // From here on every applied write is captured.
            let _applies = self.inner.apply_lock.lock().await;
            *self.inner.capture.lock().expect("capture lock") = Some(Vec::new());
        }
        // Read the trees while entries keep being applied.
        let sm = self.clone();
        let tmp_path = tmp.clone();
        // At a lower priority: the writes applied meanwhile come first on a busy node.
        let read = in_background(
            "snapshot",
            move || -> std::io::Result<(snapshot::SnapshotWriter<std::fs::File>, u64)> {
                std::fs::create_dir_all(&sm.inner.snapshot_dir)?;
                // The state holds the signing key: owner-only, like everything under db/.
                let file = std::fs::OpenOptions::new()
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .mode(0o600)
                    .open(&tmp_path)?;
                let mut writer = snapshot::SnapshotWriter::new(file)?;
                let records = writer.records(&sm.inner.view.trees().refs())?;
                Ok((writer, records))
            },
        )
        .await;
        // Applies pause only for this: ending the capture at a known applied index.
        let (overrides, header) = {
            let _applies = self.inner.apply_lock.lock().await;
            let overrides = self
                .inner
                .capture
                .lock()
                .expect("capture lock")
                .take()
                .unwrap_or_default();
            let v = &self.inner.view;
            let header = snapshot::SnapshotHeader {
                last_applied: v.last_applied().map_err(read_err)?,
                membership: get_json(v.tree(StateTree::Meta), MEMBERSHIP)
                    .map_err(read_err)?
                    .unwrap_or_default(),
                format: v.cluster_format().map_err(read_err)?,
            };
            (overrides, header)
        };
        let (writer, records) = read.map_err(write_err)?;
        let read_ms = started.elapsed().as_millis() as u64;
        let snapshot_id = match header.last_applied {
            Some(l) => format!("{}-{}-{stamp}", l.leader_id.term, l.index),
            None => format!("empty-{stamp}"),
        };
        let path = self.snapshot_path(&snapshot_id);
        let written = header.clone();
        let override_count = overrides.len();
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            let file = writer.finish(&overrides, &written)?;
            file.sync_all()?;
            std::fs::rename(&tmp, &path)
        })
        .await
        .map_err(write_err)?
        .map_err(write_err)?;
        self.inner
            .pace
            .snapshot_taken(records + override_count as u64);
        crate::telemetry::metrics::snapshot_built(started.elapsed().as_secs_f64());
        tracing::info!(
            snapshot = %snapshot_id,
            records,
            overrides = override_count,
            read_ms,
            total_ms = started.elapsed().as_millis() as u64,
            "snapshot built"
        );
        Ok(SnapshotMeta {
            last_log_id: header.last_applied,
            last_membership: header.membership,
            snapshot_id,
        })
    }

    pub(super) async fn open_snapshot(
        &self,
        meta: SnapshotMeta<NodeId, BasicNode>,
    ) -> Result<Snapshot<TypeConfig>, StorageError> {
        let file = tokio::fs::File::open(self.snapshot_path(&meta.snapshot_id))
            .await
            .map_err(read_err)?;
        Ok(Snapshot {
            meta,
            snapshot: Box::new(file),
        })
    }
}

impl RaftSnapshotBuilder<TypeConfig> for StateMachine {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError> {
        let meta = self.write_snapshot_file().await?;
        self.set_current_snapshot(&meta).await?;
        self.open_snapshot(meta).await
    }
}
