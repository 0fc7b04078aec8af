//! The transaction of one apply: its trees (recording writes while a snapshot captures) and
//! typed reads and writes. Every apply module builds on this one.

use std::cell::RefCell;

use serde::de::DeserializeOwned;
use serde::Serialize;
use sled::transaction::{
    ConflictableTransactionError, TransactionalTree, UnabortableTransactionError,
};

use crate::raft::command::SweepFrom;
use crate::store::snapshot;
use crate::store::trees::StateTree;

/// A tree of one apply's transaction. While a snapshot is being built it remembers every
/// write made through it, so the snapshot can take them as overrides (see `snapshot`).
pub(in crate::store) struct Recorded<'a> {
    tree: &'a TransactionalTree,
    index: u8,
    /// `None` when no snapshot is capturing: nothing to remember.
    writes: Option<&'a RefCell<Vec<snapshot::TreeWrite>>>,
}

impl Recorded<'_> {
    pub(in crate::store) fn get(
        &self,
        key: &[u8],
    ) -> Result<Option<sled::IVec>, UnabortableTransactionError> {
        self.tree.get(key)
    }

    pub(in crate::store) fn insert(
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

    pub(in crate::store) fn remove(
        &self,
        key: &[u8],
    ) -> Result<Option<sled::IVec>, UnabortableTransactionError> {
        if let Some(writes) = self.writes {
            writes.borrow_mut().push((self.index, key.into(), None));
        }
        self.tree.remove(key)
    }
}

/// The trees of one apply, indexed by [`StateTree`].
pub(in crate::store) struct Tx<'a> {
    trees: Vec<Recorded<'a>>,
}

impl<'a> Tx<'a> {
    /// `views` are the transaction's trees in [`StateTree::ALL`] order, then the expiry
    /// index (`Trees::transactional`); `writes` records the state trees' writes while a
    /// snapshot captures (the index is derived: never in a snapshot).
    pub(in crate::store) fn new(
        views: &'a [TransactionalTree],
        writes: Option<&'a RefCell<Vec<snapshot::TreeWrite>>>,
    ) -> Tx<'a> {
        let trees = views
            .iter()
            .enumerate()
            .map(|(i, tree)| Recorded {
                tree,
                index: u8::try_from(i).unwrap_or(u8::MAX),
                writes: writes.filter(|_| i < StateTree::ALL.len()),
            })
            .collect();
        Tx { trees }
    }

    pub(in crate::store) fn t(&self, which: StateTree) -> &Recorded<'a> {
        &self.trees[which.index()]
    }

    /// The expiry index (`store::due`).
    pub(in crate::store) fn due(&self) -> &Recorded<'a> {
        &self.trees[StateTree::ALL.len()]
    }
}

pub(in crate::store) type TxResult<T> = Result<T, ConflictableTransactionError<String>>;

pub(in crate::store) fn tx_get<T: DeserializeOwned>(
    tree: &Recorded<'_>,
    key: &[u8],
) -> TxResult<Option<T>> {
    match tree.get(key)? {
        Some(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| ConflictableTransactionError::Abort(e.to_string())),
        None => Ok(None),
    }
}

pub(in crate::store) fn tx_put<T: Serialize>(
    tree: &Recorded<'_>,
    key: &[u8],
    value: &T,
) -> TxResult<()> {
    tx_replace(tree, key, value).map(drop)
}

/// Store `value` under `key`; the value it replaced, if any.
pub(in crate::store) fn tx_replace<T: Serialize>(
    tree: &Recorded<'_>,
    key: &[u8],
    value: &T,
) -> TxResult<Option<sled::IVec>> {
    let bytes = serde_json::to_vec(value)
        .map_err(|e| ConflictableTransactionError::Abort(e.to_string()))?;
    Ok(tree.insert(key, bytes)?)
}

/// Keys an `ExpireBefore` (or the first `RestoreChunk`) removes, found by a scan before the
/// transaction (sled transactions cannot iterate). Applies are serialised, so the scan sees
/// exactly the pre-apply state.
#[derive(Default)]
pub(in crate::store) struct Expired {
    pub tokens: Vec<String>,
    pub refs: Vec<String>,
    pub revocations: Vec<String>,
    pub pairings: Vec<String>,
    pub logins: Vec<String>,
    /// Keys of the expiry index the removals above leave without a record; on a first
    /// `RestoreChunk`, the whole index.
    pub due: Vec<Vec<u8>>,
    /// Every state key a first `RestoreChunk` clears: `(tree index, key)`.
    pub restore_clear: Vec<(u8, sled::IVec)>,
    /// Where the next slice of an expiry sweep starts (None: the sweep is done).
    pub next: Option<SweepFrom>,
}
