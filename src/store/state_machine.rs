//! The replicated state machine over sled: each run of log entries is applied in one sled
//! transaction with the applied log id, so a crash never leaves half an entry. Snapshots are
//! streamed to files while applies go on. Subscribers (key files, later metrics and
//! federation) follow the [`Applied`] notification.

use std::cell::RefCell;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use openraft::storage::{RaftStateMachine, Snapshot};
use openraft::{
    BasicNode, Entry, EntryPayload, OptionalSend, SnapshotMeta, StorageIOError, StoredMembership,
};
use sled::transaction::TransactionalTree;
use sled::Transactional;
use tokio::io::AsyncWriteExt;
use tokio::sync::watch;

use super::apply::{
    self, may_change_principals, touches_keys, touches_subjects, tx_put, Expired, Tx,
};
use super::due;
use super::expiry_scan::{ExpiryScan, Scanner};
use super::format_mark::FormatMark;
use super::io::{file_stamp, get_json, read_err, remove_snapshot_files, write_err, SNAPSHOT_META};
use super::observers::{AppliedEntry, EntryObservers};
use super::snapshot;
use super::trees::key::{LAST_APPLIED, MEMBERSHIP};
use super::trees::StateTree;
use super::view::StateView;
use crate::crypto::KeyMaterial;
use crate::raft::command::{Command, CommandResponse};
use crate::raft::snapshot_pace::SnapshotPace;
use crate::raft::{LogId, NodeId, StorageError, TypeConfig};

/// What the state machine has applied, for subscribers.
#[derive(Clone, Default)]
pub struct Applied {
    pub last_applied: Option<LogId>,
    /// The active signing key (changes on bootstrap, reset and snapshot install).
    pub active_key: Option<Arc<KeyMaterial>>,
}

/// One log entry as the state machine applies it.
struct ApplyItem<'a> {
    log_id: LogId,
    cmd: Option<&'a Command>,
    membership: Option<StoredMembership<NodeId, BasicNode>>,
}

impl ApplyItem<'_> {
    /// Entries applied alone, after a scan of the state before them.
    fn needs_scan(&self) -> bool {
        matches!(
            self.cmd,
            Some(Command::ExpireBefore { .. } | Command::RestoreChunk { first: true, .. })
        )
    }
}

pub(super) struct Inner {
    pub(super) db: sled::Db,
    pub(super) view: StateView,
    /// Current snapshot's meta (the data is a file in `snapshot_dir`).
    pub(super) snapshots: sled::Tree,
    pub(super) snapshot_dir: PathBuf,
    /// File a snapshot from the leader is being received into.
    pub(super) receiving: Mutex<Option<PathBuf>>,
    /// While a snapshot is being built: every write applied since it started reading.
    pub(super) capture: Mutex<Option<Vec<snapshot::TreeWrite>>>,
    /// One snapshot built or installed at a time.
    pub(super) snapshot_lock: tokio::sync::Mutex<()>,
    /// What has been applied, for subscribers.
    pub(super) applied: watch::Sender<Applied>,
    /// Told of every applied entry, in log order (see `subscribe_entries`).
    entry_observers: EntryObservers,
    /// Serialises applies against snapshot building/installing so a snapshot is a
    /// consistent cut.
    pub(super) apply_lock: tokio::sync::Mutex<()>,
    /// Raised before a snapshot of a newer format replaces the state.
    mark: Arc<FormatMark>,
    /// Writes since the last snapshot: when the next one is due.
    pub(super) pace: Arc<SnapshotPace>,
}

#[derive(Clone)]
pub struct StateMachine {
    pub(super) inner: Arc<Inner>,
}

impl StateMachine {
    pub fn open(
        db: &sled::Db,
        snapshot_dir: PathBuf,
        verified_cache_entries: usize,
        mark: Arc<FormatMark>,
    ) -> Result<StateMachine, StorageError> {
        let view = StateView::open(db, verified_cache_entries).map_err(read_err)?;
        due::ensure_built(view.trees())?;
        let active = view.publish_keys().map_err(read_err)?;
        view.reload_subject_cuts().map_err(read_err)?;
        let (applied, _) = watch::channel(Applied {
            last_applied: view.last_applied().map_err(read_err)?,
            active_key: active.map(Arc::new),
        });
        let snapshots = db.open_tree("sm_snapshot").map_err(read_err)?;
        // Earlier versions kept the snapshot data itself in sled.
        snapshots.remove(b"data").map_err(read_err)?;
        // Leftovers of a snapshot being written or received when the process died.
        remove_snapshot_files(&snapshot_dir, |name| {
            name.starts_with("incoming-") || name.ends_with(".tmp")
        });
        Ok(StateMachine {
            inner: Arc::new(Inner {
                db: db.clone(),
                view,
                snapshots,
                snapshot_dir,
                receiving: Mutex::new(None),
                capture: Mutex::new(None),
                snapshot_lock: tokio::sync::Mutex::new(()),
                applied,
                entry_observers: EntryObservers::default(),
                apply_lock: tokio::sync::Mutex::new(()),
                mark,
                pace: Arc::default(),
            }),
        })
    }

    pub fn view(&self) -> StateView {
        self.inner.view.clone()
    }

    /// Follow what is applied: the last applied log id and the active key.
    pub fn subscribe(&self) -> watch::Receiver<Applied> {
        self.inner.applied.subscribe()
    }

    pub fn snapshot_pace(&self) -> Arc<SnapshotPace> {
        self.inner.pace.clone()
    }

    /// Follow every applied entry (the audit trail of replicated changes): `observer` is
    /// called in log order as each run of entries is applied, so it must be quick.
    pub fn subscribe_entries(&self, observer: impl Fn(&AppliedEntry<'_>) + Send + Sync + 'static) {
        self.inner.entry_observers.add(Box::new(observer));
    }

    /// Republish the key set after keys changed, and tell subscribers.
    fn keys_changed(&self) -> Result<(), StorageError> {
        let active = self.inner.view.publish_keys().map_err(read_err)?;
        self.inner
            .applied
            .send_modify(|a| a.active_key = active.map(Arc::new));
        Ok(())
    }

    fn applied_up_to(&self, log_id: Option<LogId>) {
        self.inner.applied.send_modify(|a| a.last_applied = log_id);
    }

    /// Every key of every state tree, for the first chunk of a restore to clear.
    fn scan_all(&self) -> Result<Expired, StorageError> {
        let mut scan = Expired::default();
        for (tree, which) in self.inner.view.trees().all().iter().zip(StateTree::ALL) {
            let tag = u8::try_from(which.index()).unwrap_or(u8::MAX);
            for key in tree.iter().keys() {
                scan.restore_clear.push((tag, key.map_err(read_err)?));
            }
        }
        // The index's records (not its "built" mark: the chunks index what they insert).
        for key in self.inner.view.trees().due().iter().keys() {
            let key = key.map_err(read_err)?;
            if due::Due::parse(&key).is_some() {
                scan.due.push(key.to_vec());
            }
        }
        Ok(scan)
    }

    /// Apply a run of entries in one sled transaction (with the applied log id of the last),
    /// so a batch costs one commit. `expired` serves an `ExpireBefore`, which always comes alone.
    fn apply_group(
        &self,
        group: &[ApplyItem<'_>],
        expired: &Expired,
    ) -> Result<Vec<CommandResponse>, StorageError> {
        let Some(last) = group.last() else {
            return Ok(Vec::new());
        };
        let v = &self.inner.view;
        let trees = v.trees().transactional();
        // The capture starts and ends under the apply lock, which this apply holds.
        let capturing = self
            .inner
            .capture
            .lock()
            .map(|c| c.is_some())
            .unwrap_or(false);
        let writes = RefCell::new(Vec::new());
        let result = trees.transaction(|views: &Vec<TransactionalTree>| {
            // A conflict reruns this closure: only the last run's writes count.
            writes.borrow_mut().clear();
            let tx = Tx::new(views, capturing.then_some(&writes));
            let mut responses = Vec::with_capacity(group.len());
            for item in group {
                responses.push(match item.cmd {
                    Some(cmd) => apply::apply(&tx, cmd, expired)?,
                    None => CommandResponse::None,
                });
                if let Some(m) = &item.membership {
                    tx_put(tx.t(StateTree::Meta), MEMBERSHIP, m)?;
                }
            }
            tx_put(tx.t(StateTree::Meta), LAST_APPLIED, &Some(last.log_id))?;
            Ok(responses)
        });
        if result.is_ok() {
            group
                .iter()
                .filter_map(|i| i.cmd)
                .for_each(|c| self.inner.pace.applied(c));
        }
        if result.is_ok() && capturing {
            if let Some(capture) = self.inner.capture.lock().expect("capture lock").as_mut() {
                capture.append(&mut writes.borrow_mut());
            }
        }
        result.map_err(|e| {
            StorageIOError::apply(last.log_id, openraft::AnyError::error(format!("{e:?}"))).into()
        })
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = StateMachine;

    async fn applied_state(
        &mut self,
    ) -> Result<(Option<LogId>, StoredMembership<NodeId, BasicNode>), StorageError> {
        let v = &self.inner.view;
        let last = v.last_applied().map_err(read_err)?;
        let membership = get_json(v.tree(StateTree::Meta), MEMBERSHIP)
            .map_err(read_err)?
            .unwrap_or_default();
        Ok((last, membership))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<CommandResponse>, StorageError>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let _guard = self.inner.apply_lock.lock().await;
        let entries: Vec<Entry<TypeConfig>> = entries.into_iter().collect();
        let items: Vec<ApplyItem<'_>> = entries
            .iter()
            .map(|entry| {
                let log_id = entry.log_id;
                match &entry.payload {
                    EntryPayload::Blank => ApplyItem {
                        log_id,
                        cmd: None,
                        membership: None,
                    },
                    EntryPayload::Normal(cmd) => ApplyItem {
                        log_id,
                        cmd: Some(cmd),
                        membership: None,
                    },
                    EntryPayload::Membership(m) => ApplyItem {
                        log_id,
                        cmd: None,
                        membership: Some(StoredMembership::new(Some(log_id), m.clone())),
                    },
                }
            })
            .collect();
        let mut responses = Vec::with_capacity(items.len());
        // Runs of entries share a transaction; an ExpireBefore goes alone, after a scan of the
        // state before it (sled transactions cannot iterate), so every node removes the same.
        for group in items.chunk_by(|a, b| !a.needs_scan() && !b.needs_scan()) {
            let expired = match group[0].cmd {
                Some(Command::ExpireBefore {
                    now,
                    grace_secs,
                    logins_before_ms,
                    from,
                    limit,
                }) => Scanner(&self.inner.view).scan_expired(
                    ExpiryScan {
                        now: *now,
                        grace: *grace_secs,
                        logins_before_ms: *logins_before_ms,
                    },
                    from.as_ref(),
                    *limit,
                )?,
                Some(Command::RestoreChunk { first: true, .. }) => self.scan_all()?,
                _ => Expired::default(),
            };
            let group_responses = self.apply_group(group, &expired)?;
            let entries = group.iter().zip(&group_responses);
            self.inner
                .entry_observers
                .tell(entries.map(|(item, response)| AppliedEntry {
                    cmd: item.cmd,
                    membership: item.membership.as_ref(),
                    response,
                }));
            if group.iter().any(|i| i.cmd.is_some_and(touches_keys)) {
                self.keys_changed()?;
            }
            if group.iter().any(|i| i.cmd.is_some_and(touches_subjects)) {
                self.inner.view.reload_subject_cuts().map_err(read_err)?;
            }
            // After the keys and cut-offs are republished: a principal derived under the new
            // generation was derived from them.
            if group
                .iter()
                .any(|i| i.cmd.is_some_and(may_change_principals))
            {
                self.inner.view.principals_changed();
            }
            if let Some(last) = group.last() {
                self.applied_up_to(Some(last.log_id));
            }
            responses.extend(group_responses);
        }
        Ok(responses)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<tokio::fs::File>, StorageError> {
        let stamp = file_stamp();
        tokio::fs::create_dir_all(&self.inner.snapshot_dir)
            .await
            .map_err(write_err)?;
        let path = self
            .inner
            .snapshot_dir
            .join(format!("incoming-{stamp}.snap"));
        let file = tokio::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&path)
            .await
            .map_err(write_err)?;
        *self.inner.receiving.lock().expect("receiving lock") = Some(path);
        Ok(Box::new(file))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<NodeId, BasicNode>,
        snapshot: Box<tokio::fs::File>,
    ) -> Result<(), StorageError> {
        let mut file = *snapshot;
        file.flush().await.map_err(write_err)?;
        file.sync_all().await.map_err(write_err)?;
        let mut file = file.into_std().await;
        let _installing = self.inner.snapshot_lock.lock().await;
        {
            let _guard = self.inner.apply_lock.lock().await;
            let sm = self.clone();
            tokio::task::spawn_blocking(move || -> std::io::Result<()> {
                use std::io::Seek;
                // A snapshot of a newer format is refused before the state is replaced.
                file.seek(std::io::SeekFrom::Start(0))?;
                let header = snapshot::read_header(&file)?;
                snapshot::check_format(&header, crate::domain::version::own_format())?;
                sm.inner.mark.raise(header.format)?;
                file.seek(std::io::SeekFrom::Start(0))?;
                let trees = sm.inner.view.trees();
                due::forget(trees).map_err(std::io::Error::other)?;
                snapshot::install(&file, &trees.refs())?;
                due::rebuild(trees).map_err(std::io::Error::other)?;
                Ok(())
            })
            .await
            .map_err(write_err)?
            .map_err(write_err)?;
            // The snapshot's own meta is authoritative for what it covers.
            let v = &self.inner.view;
            v.tree(StateTree::Meta)
                .insert(
                    LAST_APPLIED,
                    serde_json::to_vec(&meta.last_log_id).map_err(write_err)?,
                )
                .map_err(write_err)?;
            v.tree(StateTree::Meta)
                .insert(
                    MEMBERSHIP,
                    serde_json::to_vec(&meta.last_membership).map_err(write_err)?,
                )
                .map_err(write_err)?;
            self.inner.db.flush_async().await.map_err(write_err)?;
        }
        // Keep the received file as the current snapshot (for followers that join later).
        let received = self.inner.receiving.lock().expect("receiving lock").take();
        if let Some(received) = received {
            tokio::fs::rename(&received, self.snapshot_path(&meta.snapshot_id))
                .await
                .map_err(write_err)?;
            self.set_current_snapshot(meta).await?;
        }
        self.inner.view.reload_subject_cuts().map_err(read_err)?;
        tracing::info!(snapshot = %meta.snapshot_id, "snapshot installed");
        self.applied_up_to(meta.last_log_id);
        self.keys_changed()?;
        self.inner.view.principals_changed();
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot<TypeConfig>>, StorageError> {
        let Some(meta) = self.inner.snapshots.get(SNAPSHOT_META).map_err(read_err)? else {
            return Ok(None);
        };
        let meta: SnapshotMeta<NodeId, BasicNode> =
            serde_json::from_slice(&meta).map_err(read_err)?;
        if !self.snapshot_path(&meta.snapshot_id).exists() {
            return Ok(None);
        }
        self.open_snapshot(meta).await.map(Some)
    }
}
