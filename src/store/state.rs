//! The replicated state machine in sled trees. Each log entry is applied in one sled
//! transaction together with the applied log id, so a crash never leaves half an entry.
//! Handlers read through [`StateView`] directly (sled reads are lock-free); they never go
//! through the Raft core or an actor mailbox.

use std::cell::RefCell;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use std::collections::HashMap;

use arc_swap::{ArcSwap, ArcSwapOption};
use openraft::storage::{RaftStateMachine, Snapshot};
use openraft::{
    BasicNode, Entry, EntryPayload, OptionalSend, RaftSnapshotBuilder, SnapshotMeta,
    StorageIOError, StoredMembership,
};
use serde::de::DeserializeOwned;
use serde::Serialize;
use sled::transaction::{
    ConflictableTransactionError, TransactionalTree, UnabortableTransactionError,
};
use sled::Transactional;
use tokio::io::AsyncWriteExt;

use super::{any_err, snapshot};
use crate::crypto::{KeyMaterial, KeySet, TrustedKey};
use crate::domain::throttle::LoginFailures;
use crate::domain::token::{Revocation, TokenRecord};
use crate::raft::command::{
    Command, CommandResponse, GroupRecord, PairingRecord, TrustedCert, UserRecord,
};
use crate::raft::{LogId, NodeId, StorageError, TypeConfig};

const LAST_APPLIED: &[u8] = b"last_applied";
const MEMBERSHIP: &[u8] = b"membership";
pub(super) const SERVICE_ID: &[u8] = b"service_id";
const ACTIVE_KEY: &[u8] = b"active";
const SNAPSHOT_META: &[u8] = b"meta";

/// Names of the trees that make up the replicated state (snapshot order; new trees go last
/// so older snapshot files still install).
const STATE_TREES: [&str; 11] = [
    "sm_meta", "keys", "tokens", "revoked", "users", "groups", "trusted", "refs", "pairing",
    "subjects", "logins",
];
const RETIRED_KEYS: &[u8] = b"retired";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("storage error: {0}")]
    Sled(#[from] sled::Error),
    #[error("corrupt record: {0}")]
    Corrupt(#[from] serde_json::Error),
}

/// Told (and awaited) when the applied key set changes, so key files follow the log.
#[derive(actix::Message, Clone)]
#[rtype(result = "()")]
pub struct KeysChanged {
    pub active: KeyMaterial,
}

pub type KeyListener = actix::Recipient<KeysChanged>;

/// Read access to the applied state, cheap to clone.
#[derive(Clone)]
pub struct StateView {
    meta: sled::Tree,
    keys: sled::Tree,
    tokens: sled::Tree,
    revoked: sled::Tree,
    users: sled::Tree,
    groups: sled::Tree,
    trusted: sled::Tree,
    /// reference-token hash → token id
    refs: sled::Tree,
    /// pairing-token hash → PairingRecord
    pairing: sled::Tree,
    /// subject → Unix seconds: tokens of the subject issued at or before it are revoked
    subjects: sled::Tree,
    /// `user:<name>` / `addr:<ip>` → LoginFailures
    logins: sled::Tree,
    keyset: Arc<ArcSwapOption<KeySet>>,
    /// The `subjects` tree in memory: every validation reads it, and it stays small.
    subject_cuts: Arc<ArcSwap<HashMap<String, u64>>>,
    verified_cache_entries: usize,
}

fn get_json<T: DeserializeOwned>(tree: &sled::Tree, key: &[u8]) -> Result<Option<T>, StoreError> {
    match tree.get(key)? {
        Some(bytes) => Ok(Some(serde_json::from_slice(&bytes)?)),
        None => Ok(None),
    }
}

fn all_json<T: DeserializeOwned>(tree: &sled::Tree) -> Result<Vec<T>, StoreError> {
    tree.iter()
        .values()
        .map(|v| Ok(serde_json::from_slice(&v?)?))
        .collect()
}

impl StateView {
    fn open(db: &sled::Db, verified_cache_entries: usize) -> Result<StateView, sled::Error> {
        Ok(StateView {
            meta: db.open_tree(STATE_TREES[0])?,
            keys: db.open_tree(STATE_TREES[1])?,
            tokens: db.open_tree(STATE_TREES[2])?,
            revoked: db.open_tree(STATE_TREES[3])?,
            users: db.open_tree(STATE_TREES[4])?,
            groups: db.open_tree(STATE_TREES[5])?,
            trusted: db.open_tree(STATE_TREES[6])?,
            refs: db.open_tree(STATE_TREES[7])?,
            pairing: db.open_tree(STATE_TREES[8])?,
            subjects: db.open_tree(STATE_TREES[9])?,
            logins: db.open_tree(STATE_TREES[10])?,
            keyset: Arc::new(ArcSwapOption::empty()),
            subject_cuts: Arc::new(ArcSwap::from_pointee(HashMap::new())),
            verified_cache_entries,
        })
    }

    fn trees(&self) -> [&sled::Tree; 11] {
        [
            &self.meta,
            &self.keys,
            &self.tokens,
            &self.revoked,
            &self.users,
            &self.groups,
            &self.trusted,
            &self.refs,
            &self.pairing,
            &self.subjects,
            &self.logins,
        ]
    }

    /// Tokens of `subject` issued at or before this time are revoked.
    pub fn subject_revoked_at(&self, subject: &str) -> Result<Option<u64>, StoreError> {
        Ok(self.subject_cuts.load().get(subject).copied())
    }

    /// Re-read the subject cut-offs after an apply or install that may have changed them.
    fn reload_subject_cuts(&self) -> Result<(), StoreError> {
        let mut cuts = HashMap::new();
        for item in self.subjects.iter() {
            let (key, value) = item?;
            cuts.insert(
                String::from_utf8_lossy(&key).into_owned(),
                serde_json::from_slice(&value)?,
            );
        }
        self.subject_cuts.store(Arc::new(cuts));
        Ok(())
    }

    /// Failed logins counted under `key` (`user:<name>` or `addr:<ip>`).
    pub fn login_failures(&self, key: &str) -> Result<Option<LoginFailures>, StoreError> {
        get_json(&self.logins, key.as_bytes())
    }

    pub fn trusted_certs(&self) -> Result<Vec<TrustedCert>, StoreError> {
        all_json(&self.trusted)
    }

    pub fn retired_certs(&self) -> Result<Vec<String>, StoreError> {
        Ok(get_json(&self.keys, RETIRED_KEYS)?.unwrap_or_default())
    }

    /// Token id behind a reference token's hash.
    pub fn reference(&self, hash: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .refs
            .get(hash.as_bytes())?
            .map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    pub fn pairing(&self, hash: &str) -> Result<Option<PairingRecord>, StoreError> {
        get_json(&self.pairing, hash.as_bytes())
    }

    /// The signing/verification keys of the applied state; None before bootstrap.
    pub fn keyset(&self) -> Option<Arc<KeySet>> {
        self.keyset.load_full()
    }

    pub fn service_id(&self) -> Result<Option<String>, StoreError> {
        get_json(&self.meta, SERVICE_ID)
    }

    pub fn active_key(&self) -> Result<Option<KeyMaterial>, StoreError> {
        get_json(&self.keys, ACTIVE_KEY)
    }

    pub fn last_applied(&self) -> Result<Option<LogId>, StoreError> {
        get_json(&self.meta, LAST_APPLIED)
    }

    pub fn token(&self, token_id: &str) -> Result<Option<TokenRecord>, StoreError> {
        get_json(&self.tokens, token_id.as_bytes())
    }

    /// Whether the token is stored (live): the validation path needs no more than that.
    pub fn holds_token(&self, token_id: &str) -> Result<bool, StoreError> {
        Ok(self.tokens.contains_key(token_id.as_bytes())?)
    }

    pub fn revocation(&self, token_id: &str) -> Result<Option<Revocation>, StoreError> {
        get_json(&self.revoked, token_id.as_bytes())
    }

    pub fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        all_json(&self.tokens)
    }

    pub fn user(&self, username: &str) -> Result<Option<UserRecord>, StoreError> {
        get_json(&self.users, username.as_bytes())
    }

    pub fn users(&self) -> Result<Vec<UserRecord>, StoreError> {
        all_json(&self.users)
    }

    pub fn group(&self, name: &str) -> Result<Option<GroupRecord>, StoreError> {
        get_json(&self.groups, name.as_bytes())
    }

    pub fn groups(&self) -> Result<Vec<GroupRecord>, StoreError> {
        all_json(&self.groups)
    }

    /// Rebuild the published key set from the stored keys.
    fn publish_keys(&self) -> Result<Option<KeyMaterial>, StorageError> {
        let read = |e: StoreError| StorageIOError::read_state_machine(any_err(e));
        let (Some(service_id), Some(active)) = (
            self.service_id().map_err(read)?,
            self.active_key().map_err(read)?,
        ) else {
            return Ok(None);
        };
        let retired = self.retired_certs().map_err(read)?;
        let certs = self.trusted_certs().map_err(read)?;
        for unbound in certs.iter().filter(|t| t.service_id.is_empty()) {
            tracing::warn!(name = %unbound.name, "trusted certificate has no service id (added before issuer binding): it verifies nothing until re-added");
        }
        let trusted: Vec<TrustedKey<'_>> = certs
            .iter()
            .filter(|t| !t.service_id.is_empty())
            .map(|t| TrustedKey {
                name: &t.name,
                certificate_pem: &t.certificate_pem,
                service_id: &t.service_id,
            })
            .collect();
        let keyset = KeySet::with_trust(service_id, &active, &retired, &trusted)
            .map_err(|e| StorageIOError::read_state_machine(any_err(e)))?
            .with_verified_cache(self.verified_cache_entries);
        self.keyset.store(Some(Arc::new(keyset)));
        Ok(Some(active))
    }
}

/// A tree of one apply's transaction. While a snapshot is being built it remembers every
/// write made through it, so the snapshot can take them as overrides (see `snapshot`).
pub(super) struct Recorded<'a> {
    tree: &'a TransactionalTree,
    index: u8,
    /// `None` when no snapshot is capturing: nothing to remember.
    writes: Option<&'a RefCell<Vec<snapshot::TreeWrite>>>,
}

impl Recorded<'_> {
    pub(super) fn get(
        &self,
        key: &[u8],
    ) -> Result<Option<sled::IVec>, UnabortableTransactionError> {
        self.tree.get(key)
    }

    pub(super) fn insert(
        &self,
        key: &[u8],
        value: impl Into<sled::IVec>,
    ) -> Result<Option<sled::IVec>, UnabortableTransactionError> {
        let value = value.into();
        if let Some(writes) = self.writes {
            writes
                .borrow_mut()
                .push((self.index, key.into(), Some(value.clone())));
        }
        self.tree.insert(key, value)
    }

    pub(super) fn remove(
        &self,
        key: &[u8],
    ) -> Result<Option<sled::IVec>, UnabortableTransactionError> {
        if let Some(writes) = self.writes {
            writes.borrow_mut().push((self.index, key.into(), None));
        }
        self.tree.remove(key)
    }
}

/// The trees of one apply, in `STATE_TREES` order.
pub(super) struct Tx<'a> {
    pub(super) meta: Recorded<'a>,
    keys: Recorded<'a>,
    tokens: Recorded<'a>,
    revoked: Recorded<'a>,
    pub(super) users: Recorded<'a>,
    pub(super) groups: Recorded<'a>,
    trusted: Recorded<'a>,
    refs: Recorded<'a>,
    pairing: Recorded<'a>,
    pub(super) subjects: Recorded<'a>,
    pub(super) logins: Recorded<'a>,
}

pub(super) type TxResult<T> = Result<T, ConflictableTransactionError<String>>;

pub(super) fn tx_get<T: DeserializeOwned>(tree: &Recorded<'_>, key: &[u8]) -> TxResult<Option<T>> {
    match tree.get(key)? {
        Some(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| ConflictableTransactionError::Abort(e.to_string())),
        None => Ok(None),
    }
}

pub(super) fn tx_put<T: Serialize>(tree: &Recorded<'_>, key: &[u8], value: &T) -> TxResult<()> {
    let bytes = serde_json::to_vec(value)
        .map_err(|e| ConflictableTransactionError::Abort(e.to_string()))?;
    tree.insert(key, bytes)?;
    Ok(())
}

impl Tx<'_> {
    fn revoke(&self, record: &TokenRecord, revoked_at: u64) -> TxResult<()> {
        self.tokens.remove(record.token_id.as_bytes())?;
        if let Some(hash) = &record.reference_hash {
            self.refs.remove(hash.as_bytes())?;
        }
        if record.revocable {
            let revocation = Revocation {
                token_id: record.token_id.clone(),
                revoked_at,
                expiry: record.expiry,
            };
            tx_put(&self.revoked, record.token_id.as_bytes(), &revocation)?;
        }
        Ok(())
    }

    /// Deterministic: depends only on the command and the state before it.
    fn apply(&self, cmd: &Command, expired: &Expired) -> TxResult<CommandResponse> {
        Ok(match cmd {
            Command::Bootstrap {
                service_id,
                key,
                admin,
            } => {
                if self.meta.get(SERVICE_ID)?.is_some() {
                    CommandResponse::AlreadyBootstrapped
                } else {
                    tx_put(&self.meta, SERVICE_ID, service_id)?;
                    tx_put(&self.keys, ACTIVE_KEY, key)?;
                    tx_put(&self.users, admin.username.as_bytes(), admin)?;
                    CommandResponse::Bootstrapped
                }
            }
            Command::Batch { commands } => CommandResponse::Batch(
                commands
                    .iter()
                    .map(|c| self.apply(c, expired))
                    .collect::<TxResult<Vec<_>>>()?,
            ),
            Command::IssueToken { record } => {
                tx_put(&self.tokens, record.token_id.as_bytes(), record)?;
                if let Some(hash) = &record.reference_hash {
                    self.refs
                        .insert(hash.as_bytes(), record.token_id.as_bytes())?;
                }
                CommandResponse::Issued
            }
            Command::RefreshToken {
                old_token_id,
                refresh_hash,
                now,
                grace_secs,
                new_record,
            } => {
                let old: Option<TokenRecord> = tx_get(&self.tokens, old_token_id.as_bytes())?;
                // A retried proposal (forwarded write whose answer was lost) is a success.
                let already_done =
                    old.is_none() && self.tokens.get(new_record.token_id.as_bytes())?.is_some();
                match old {
                    None if already_done => CommandResponse::Refreshed,
                    None => CommandResponse::RefreshRejected("token is revoked or unknown".into()),
                    Some(old) if old.refresh_hash.as_deref() != Some(refresh_hash.as_str()) => {
                        CommandResponse::RefreshRejected(
                            "refresh token is invalid or already used".into(),
                        )
                    }
                    Some(old) if old.refresh_deadline(*grace_secs).is_some_and(|d| *now > d) => {
                        CommandResponse::RefreshRejected("refresh grace period is over".into())
                    }
                    Some(old) if self.subject_cut_off(&old.subject, old.issued_at)? => {
                        CommandResponse::RefreshRejected(
                            "every token of this user was revoked".into(),
                        )
                    }
                    Some(old) => {
                        self.revoke(&old, *now)?;
                        tx_put(&self.tokens, new_record.token_id.as_bytes(), new_record)?;
                        if let Some(hash) = &new_record.reference_hash {
                            self.refs
                                .insert(hash.as_bytes(), new_record.token_id.as_bytes())?;
                        }
                        CommandResponse::Refreshed
                    }
                }
            }
            Command::RevokeToken {
                token_id,
                revoked_at,
            } => match tx_get::<TokenRecord>(&self.tokens, token_id.as_bytes())? {
                Some(record) => {
                    self.revoke(&record, *revoked_at)?;
                    CommandResponse::Revoked(record)
                }
                None if self.revoked.get(token_id.as_bytes())?.is_some() => {
                    CommandResponse::AlreadyRevoked
                }
                None => CommandResponse::NotFound,
            },
            Command::PutUser { user, create_only } => {
                let existing: Option<UserRecord> = tx_get(&self.users, user.username.as_bytes())?;
                if *create_only && existing.as_ref().is_some_and(|e| e != user) {
                    CommandResponse::Conflict
                } else {
                    tx_put(&self.users, user.username.as_bytes(), user)?;
                    CommandResponse::Ok
                }
            }
            Command::DeleteUser { .. }
            | Command::UpdateUser { .. }
            | Command::UpdateGroupMembers { .. }
            | Command::RevokeSubject { .. }
            | Command::LoginFailed { .. }
            | Command::LoginSucceeded { .. } => self.apply_account(cmd)?,
            Command::PutGroup { group, create_only } => {
                let existing: Option<GroupRecord> = tx_get(&self.groups, group.name.as_bytes())?;
                if *create_only && existing.as_ref().is_some_and(|e| e != group) {
                    CommandResponse::Conflict
                } else {
                    tx_put(&self.groups, group.name.as_bytes(), group)?;
                    CommandResponse::Ok
                }
            }
            Command::DeleteGroup { name } => match self.groups.remove(name.as_bytes())? {
                Some(_) => CommandResponse::Ok,
                None => CommandResponse::NotFound,
            },
            Command::PutTrusted { cert } => {
                tx_put(&self.trusted, cert.name.as_bytes(), cert)?;
                CommandResponse::Ok
            }
            Command::RemoveTrusted { name } => match self.trusted.remove(name.as_bytes())? {
                Some(_) => CommandResponse::Ok,
                None => CommandResponse::NotFound,
            },
            Command::RotateKey { key, keep_old } => {
                let old: Option<KeyMaterial> = tx_get(&self.keys, ACTIVE_KEY)?;
                // Without keep_old every earlier key stops being trusted: a full reset.
                let mut retired: Vec<String> = match keep_old {
                    true => tx_get(&self.keys, RETIRED_KEYS)?.unwrap_or_default(),
                    false => Vec::new(),
                };
                if let Some(old) = old.filter(|o| o.kid != key.kid && *keep_old) {
                    if !retired.contains(&old.certificate_pem) {
                        retired.push(old.certificate_pem);
                    }
                }
                tx_put(&self.keys, RETIRED_KEYS, &retired)?;
                tx_put(&self.keys, ACTIVE_KEY, key)?;
                CommandResponse::Ok
            }
            Command::IssuePairing { hash, record } => {
                tx_put(&self.pairing, hash.as_bytes(), record)?;
                CommandResponse::Issued
            }
            Command::ConsumePairing { hash, now } => {
                match tx_get::<PairingRecord>(&self.pairing, hash.as_bytes())? {
                    None => CommandResponse::PairingRejected(
                        "pairing token is unknown or already used".into(),
                    ),
                    Some(p) if p.expiry < *now => {
                        self.pairing.remove(hash.as_bytes())?;
                        CommandResponse::PairingRejected("pairing token has expired".into())
                    }
                    Some(p) if self.user_cut_off(&p.username, p.issued_at)? => {
                        self.pairing.remove(hash.as_bytes())?;
                        CommandResponse::PairingRejected(
                            "every token of this user was revoked".into(),
                        )
                    }
                    Some(p) => {
                        self.pairing.remove(hash.as_bytes())?;
                        CommandResponse::Paired(p)
                    }
                }
            }
            Command::ExpireBefore { .. } => {
                for id in &expired.tokens {
                    self.tokens.remove(id.as_bytes())?;
                }
                for hash in &expired.refs {
                    self.refs.remove(hash.as_bytes())?;
                }
                for hash in &expired.pairings {
                    self.pairing.remove(hash.as_bytes())?;
                }
                for id in &expired.revocations {
                    self.revoked.remove(id.as_bytes())?;
                }
                for key in &expired.logins {
                    self.logins.remove(key.as_bytes())?;
                }
                CommandResponse::Expired {
                    tokens: expired.tokens.len() as u64,
                    revocations: expired.revocations.len() as u64,
                }
            }
        })
    }
}

/// Whether applying `cmd` may move a subject cut-off.
fn touches_subjects(cmd: &Command) -> bool {
    match cmd {
        Command::DeleteUser { .. } | Command::UpdateUser { .. } | Command::RevokeSubject { .. } => {
            true
        }
        Command::Batch { commands } => commands.iter().any(touches_subjects),
        _ => false,
    }
}

/// One log entry as the state machine applies it.
struct ApplyItem<'a> {
    log_id: LogId,
    cmd: Option<&'a Command>,
    membership: Option<StoredMembership<NodeId, BasicNode>>,
}

impl ApplyItem<'_> {
    fn is_expiry(&self) -> bool {
        matches!(self.cmd, Some(Command::ExpireBefore { .. }))
    }
}

/// Ids an `ExpireBefore` removes, found by a scan before the transaction (sled transactions
/// cannot iterate). Applies are serialised, so the scan sees exactly the pre-apply state.
#[derive(Default)]
struct Expired {
    tokens: Vec<String>,
    refs: Vec<String>,
    revocations: Vec<String>,
    pairings: Vec<String>,
    logins: Vec<String>,
}

struct Inner {
    db: sled::Db,
    view: StateView,
    /// Current snapshot's meta (the data is a file in `snapshot_dir`).
    snapshots: sled::Tree,
    snapshot_dir: PathBuf,
    /// File a snapshot from the leader is being received into.
    receiving: Mutex<Option<PathBuf>>,
    /// While a snapshot is being built: every write applied since it started reading.
    capture: Mutex<Option<Vec<snapshot::TreeWrite>>>,
    /// One snapshot built or installed at a time.
    snapshot_lock: tokio::sync::Mutex<()>,
    key_listener: Mutex<Option<KeyListener>>,
    /// Serialises applies against snapshot building/installing so a snapshot is a
    /// consistent cut.
    apply_lock: tokio::sync::Mutex<()>,
}

#[derive(Clone)]
pub struct StateMachine {
    inner: Arc<Inner>,
}

/// Nanoseconds since the epoch: makes snapshot file names unique.
fn file_stamp() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default()
}

/// Delete the files of the snapshot directory whose names `doomed` picks (best effort).
fn remove_snapshot_files(dir: &std::path::Path, doomed: impl Fn(&str) -> bool) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if doomed(&entry.file_name().to_string_lossy()) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

fn write_err(e: impl std::error::Error + 'static) -> StorageError {
    StorageIOError::write_state_machine(any_err(e)).into()
}

fn read_err(e: impl std::error::Error + 'static) -> StorageError {
    StorageIOError::read_state_machine(any_err(e)).into()
}

impl StateMachine {
    pub fn open(
        db: &sled::Db,
        snapshot_dir: PathBuf,
        verified_cache_entries: usize,
    ) -> Result<StateMachine, StorageError> {
        let view = StateView::open(db, verified_cache_entries).map_err(read_err)?;
        view.publish_keys()?;
        view.reload_subject_cuts().map_err(read_err)?;
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
                key_listener: Mutex::new(None),
                apply_lock: tokio::sync::Mutex::new(()),
            }),
        })
    }

    pub fn view(&self) -> StateView {
        self.inner.view.clone()
    }

    /// Register the key-file writer and bring it up to date with the applied keys.
    pub async fn set_key_listener(&self, listener: KeyListener) {
        let current = self.inner.view.active_key().ok().flatten();
        *self.inner.key_listener.lock().expect("listener lock") = Some(listener.clone());
        if let Some(active) = current {
            let _ = listener.send(KeysChanged { active }).await;
        }
    }

    async fn keys_changed(&self) -> Result<(), StorageError> {
        if let Some(active) = self.inner.view.publish_keys()? {
            let listener = self
                .inner
                .key_listener
                .lock()
                .expect("listener lock")
                .clone();
            if let Some(listener) = listener {
                // Awaited: the apply completes only after the files are on disk.
                if let Err(e) = listener.send(KeysChanged { active }).await {
                    tracing::error!(error = %e, "key file writer unavailable");
                }
            }
        }
        Ok(())
    }

    fn scan_expired(
        &self,
        now: u64,
        grace: u64,
        logins_before_ms: u64,
    ) -> Result<Expired, StorageError> {
        let mut expired = Expired::default();
        for rec in self.inner.view.tokens().map_err(read_err)? {
            let deadline = if rec.refresh_hash.is_some() {
                rec.refresh_deadline(grace)
            } else {
                rec.expiry
            };
            if deadline.is_some_and(|d| d < now) {
                expired.refs.extend(rec.reference_hash);
                expired.tokens.push(rec.token_id);
            }
        }
        for item in self.inner.view.revoked.iter().values() {
            let rev: Revocation =
                serde_json::from_slice(&item.map_err(read_err)?).map_err(read_err)?;
            if rev.expiry.is_some_and(|e| e < now) {
                expired.revocations.push(rev.token_id);
            }
        }
        for item in self.inner.view.logins.iter() {
            let (key, value) = item.map_err(read_err)?;
            let f: LoginFailures = serde_json::from_slice(&value).map_err(read_err)?;
            if f.last_failure_ms < logins_before_ms {
                expired
                    .logins
                    .push(String::from_utf8_lossy(&key).into_owned());
            }
        }
        for item in self.inner.view.pairing.iter() {
            let (hash, value) = item.map_err(read_err)?;
            let p: PairingRecord = serde_json::from_slice(&value).map_err(read_err)?;
            if p.expiry < now {
                expired
                    .pairings
                    .push(String::from_utf8_lossy(&hash).into_owned());
            }
        }
        Ok(expired)
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
        let trees = (
            &v.meta,
            &v.keys,
            &v.tokens,
            &v.revoked,
            &v.users,
            &v.groups,
            &v.trusted,
            &v.refs,
            &v.pairing,
            &v.subjects,
            &v.logins,
        );
        // The capture starts and ends under the apply lock, which this apply holds.
        let capturing = self.inner.capture.lock().expect("capture lock").is_some();
        let writes = RefCell::new(Vec::new());
        let result = trees.transaction(
            |(
                meta,
                keys,
                tokens,
                revoked,
                users,
                groups,
                trusted,
                refs,
                pairing,
                subjects,
                logins,
            )| {
                // A conflict reruns this closure: only the last run's writes count.
                writes.borrow_mut().clear();
                let rec = |tree, index| Recorded {
                    tree,
                    index,
                    writes: capturing.then_some(&writes),
                };
                let tx = Tx {
                    meta: rec(meta, 0),
                    keys: rec(keys, 1),
                    tokens: rec(tokens, 2),
                    revoked: rec(revoked, 3),
                    users: rec(users, 4),
                    groups: rec(groups, 5),
                    trusted: rec(trusted, 6),
                    refs: rec(refs, 7),
                    pairing: rec(pairing, 8),
                    subjects: rec(subjects, 9),
                    logins: rec(logins, 10),
                };
                let mut responses = Vec::with_capacity(group.len());
                for item in group {
                    responses.push(match item.cmd {
                        Some(cmd) => tx.apply(cmd, expired)?,
                        None => CommandResponse::None,
                    });
                    if let Some(m) = &item.membership {
                        tx_put(&tx.meta, MEMBERSHIP, m)?;
                    }
                }
                tx_put(&tx.meta, LAST_APPLIED, &Some(last.log_id))?;
                Ok(responses)
            },
        );
        if result.is_ok() && capturing {
            if let Some(capture) = self.inner.capture.lock().expect("capture lock").as_mut() {
                capture.append(&mut writes.borrow_mut());
            }
        }
        result.map_err(|e| {
            StorageIOError::apply(last.log_id, openraft::AnyError::error(format!("{e:?}"))).into()
        })
    }

    fn snapshot_path(&self, snapshot_id: &str) -> PathBuf {
        self.inner.snapshot_dir.join(format!("{snapshot_id}.snap"))
    }

    /// Record `meta` as the current snapshot (its file is already in place) and delete the
    /// files of older snapshots.
    async fn set_current_snapshot(
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
            remove_snapshot_files(&dir, |name| {
                name.ends_with(".snap") && !name.starts_with("incoming-") && name != keep
            })
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
        let read = tokio::task::spawn_blocking(
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
                let records = writer.records(&sm.inner.view.trees())?;
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
                membership: get_json(&v.meta, MEMBERSHIP)
                    .map_err(read_err)?
                    .unwrap_or_default(),
            };
            (overrides, header)
        };
        let (writer, records) = read.map_err(write_err)?.map_err(write_err)?;
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

    async fn open_snapshot(
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

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = StateMachine;

    async fn applied_state(
        &mut self,
    ) -> Result<(Option<LogId>, StoredMembership<NodeId, BasicNode>), StorageError> {
        let v = &self.inner.view;
        let last = v.last_applied().map_err(read_err)?;
        let membership = get_json(&v.meta, MEMBERSHIP)
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
        for group in items.chunk_by(|a, b| !a.is_expiry() && !b.is_expiry()) {
            let expired = match group[0].cmd {
                Some(Command::ExpireBefore {
                    now,
                    grace_secs,
                    logins_before_ms,
                }) => self.scan_expired(*now, *grace_secs, *logins_before_ms)?,
                _ => Expired::default(),
            };
            let group_responses = self.apply_group(group, &expired)?;
            let keys_touched = group.iter().any(|i| {
                matches!(
                    i.cmd,
                    Some(
                        Command::RotateKey { .. }
                            | Command::PutTrusted { .. }
                            | Command::RemoveTrusted { .. }
                    )
                )
            }) || group_responses.contains(&CommandResponse::Bootstrapped);
            if keys_touched {
                self.keys_changed().await?;
            }
            if group.iter().any(|i| i.cmd.is_some_and(touches_subjects)) {
                self.inner.view.reload_subject_cuts().map_err(read_err)?;
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
                file.seek(std::io::SeekFrom::Start(0))?;
                snapshot::install(&file, &sm.inner.view.trees()).map(|_| ())
            })
            .await
            .map_err(write_err)?
            .map_err(write_err)?;
            // The snapshot's own meta is authoritative for what it covers.
            let v = &self.inner.view;
            v.meta
                .insert(
                    LAST_APPLIED,
                    serde_json::to_vec(&meta.last_log_id).map_err(write_err)?,
                )
                .map_err(write_err)?;
            v.meta
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
        self.keys_changed().await
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
