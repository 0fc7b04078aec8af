//! The expiry index: every token record and revocation that has an expiry, by expiry. An
//! expiry sweep walks only the part of it that is due, so its cost follows what expires,
//! not what is stored (a walk of a million records evicted the pages the writes needed).
//!
//! The index is derived from the `tokens` and `revoked` trees and written in the same apply
//! transaction, so every node holds the same index at the same log position. It is never in
//! a snapshot or a backup: a node rebuilds it after installing a snapshot, and on opening a
//! data directory that does not say it was built.
//!
//! Keys: `t` or `r`, the expiry (big-endian u64 seconds), the token id. Values are empty.

use std::ops::Bound;

use sled::transaction::UnabortableTransactionError;

use super::apply::Recorded;
use super::io::read_err;
use super::trees::{StateTree, Trees};
use crate::raft::StorageError;

/// Which records an index key stands for.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Due {
    Token,
    Revocation,
}

/// Present once the index holds every record: written after a rebuild, removed before a
/// snapshot replaces the state. It sorts apart from both kinds of keys.
const BUILT: &[u8] = b"built";

impl Due {
    fn tag(self) -> u8 {
        match self {
            Due::Token => b't',
            Due::Revocation => b'r',
        }
    }

    /// The index key of a record of this kind.
    pub(super) fn key(self, expiry: u64, token_id: &str) -> Vec<u8> {
        let mut key = Vec::with_capacity(9 + token_id.len());
        key.push(self.tag());
        key.extend_from_slice(&expiry.to_be_bytes());
        key.extend_from_slice(token_id.as_bytes());
        key
    }

    /// The first key of this kind at or after `expiry`.
    fn bound(self, expiry: u64) -> Vec<u8> {
        let mut key = vec![self.tag()];
        key.extend_from_slice(&expiry.to_be_bytes());
        key
    }

    /// (kind, expiry, token id) of an index key; None for anything else (the marker).
    pub(super) fn parse(key: &[u8]) -> Option<(Due, u64, &str)> {
        let kind = match key.first()? {
            b't' => Due::Token,
            b'r' => Due::Revocation,
            _ => return None,
        };
        let expiry = u64::from_be_bytes(key.get(1..9)?.try_into().ok()?);
        let id = std::str::from_utf8(key.get(9..)?).ok()?;
        Some((kind, expiry, id))
    }
}

/// In an apply: a record of `kind` with this expiry now exists (no expiry: never due).
fn add(
    due: &Recorded<'_>,
    kind: Due,
    expiry: Option<u64>,
    token_id: &str,
) -> Result<(), UnabortableTransactionError> {
    if let Some(e) = expiry {
        due.insert(&kind.key(e, token_id), sled::IVec::default())?;
    }
    Ok(())
}

/// In an apply: a record of `kind` was stored over `replaced` (the bytes it replaced, if
/// any: a retried write, a restore over a record).
pub(super) fn replace(
    due: &Recorded<'_>,
    kind: Due,
    replaced: Option<sled::IVec>,
    expiry: Option<u64>,
    token_id: &str,
) -> Result<(), UnabortableTransactionError> {
    let old = replaced.as_deref().and_then(expiry_of);
    if old != expiry {
        remove(due, kind, old, token_id)?;
    }
    add(due, kind, expiry, token_id)
}

/// In an apply: the record of `kind` with this expiry is gone.
pub(super) fn remove(
    due: &Recorded<'_>,
    kind: Due,
    expiry: Option<u64>,
    token_id: &str,
) -> Result<(), UnabortableTransactionError> {
    if let Some(e) = expiry {
        due.remove(&kind.key(e, token_id))?;
    }
    Ok(())
}

/// The expiry of a stored token record or revocation (None: none, or not a record).
pub(super) fn expiry_of(value: &[u8]) -> Option<u64> {
    #[derive(serde::Deserialize)]
    struct Expiry {
        #[serde(default)]
        expiry: Option<u64>,
    }
    serde_json::from_slice::<Expiry>(value).ok()?.expiry
}

/// Up to `limit` keys of the index that are due before `now` (expiry < now), revocations
/// first, after the key `after`, each with its kind, expiry and token id; and the last key
/// seen when the limit cut the walk short.
pub(super) fn walk_due(
    index: &sled::Tree,
    after: Option<&[u8]>,
    now: u64,
    limit: usize,
    mut each: impl FnMut(Due, u64, &str, &[u8]) -> Result<(), StorageError>,
) -> Result<Option<Vec<u8>>, StorageError> {
    let mut seen = 0;
    for kind in [Due::Revocation, Due::Token] {
        let start = match after {
            Some(a) if a.first() == Some(&kind.tag()) => Bound::Excluded(a.to_vec()),
            Some(a) if a.first() > Some(&kind.tag()) => continue,
            _ => Bound::Included(kind.bound(0)),
        };
        for item in index.range((start, Bound::Excluded(kind.bound(now)))) {
            let (key, _) = item.map_err(read_err)?;
            if let Some((_, expiry, id)) = Due::parse(&key) {
                each(kind, expiry, id, &key)?;
            }
            seen += 1;
            if seen == limit {
                return Ok(Some(key.to_vec()));
            }
        }
    }
    Ok(None)
}

/// Whether the index says it holds every record.
pub(super) fn is_built(trees: &Trees) -> Result<bool, StorageError> {
    trees.due().contains_key(BUILT).map_err(read_err)
}

/// On open: build the index of a data directory from before it, or of one whose build or
/// snapshot install was cut short.
pub(super) fn ensure_built(trees: &Trees) -> Result<(), StorageError> {
    if !is_built(trees)? {
        let started = std::time::Instant::now();
        let indexed = rebuild(trees)?;
        let ms = started.elapsed().as_millis() as u64;
        tracing::info!(indexed, ms, "expiry index built");
    }
    Ok(())
}

/// Before the state is replaced wholesale (a snapshot install): the index no longer holds.
pub(super) fn forget(trees: &Trees) -> Result<(), StorageError> {
    trees.due().remove(BUILT).map_err(read_err)?;
    trees.due().flush().map_err(read_err)?;
    Ok(())
}

/// Build the index from the state (no applies run meanwhile): clear it, index every token
/// record and revocation with an expiry, then mark it built. A crash before the mark means
/// the next open builds it again.
pub(super) fn rebuild(trees: &Trees) -> Result<u64, StorageError> {
    let index = trees.due();
    index.clear().map_err(read_err)?;
    let mut indexed = 0u64;
    for (tree, kind) in [
        (StateTree::Tokens, Due::Token),
        (StateTree::Revoked, Due::Revocation),
    ] {
        let mut batch = sled::Batch::default();
        let mut pending = 0;
        for item in trees.get(tree).iter() {
            let (id, value) = item.map_err(read_err)?;
            if let Some(e) = expiry_of(&value) {
                let id = String::from_utf8_lossy(&id);
                batch.insert(kind.key(e, &id), sled::IVec::default());
                pending += 1;
                indexed += 1;
            }
            if pending == 10_000 {
                index
                    .apply_batch(std::mem::take(&mut batch))
                    .map_err(read_err)?;
                pending = 0;
            }
        }
        index.apply_batch(batch).map_err(read_err)?;
    }
    index
        .insert(BUILT, sled::IVec::default())
        .map_err(read_err)?;
    index.flush().map_err(read_err)?;
    Ok(indexed)
}

#[cfg(test)]
mod tests {
    use super::Due;

    #[test]
    fn keys_sort_by_kind_then_expiry_and_read_back() {
        let a = Due::Token.key(5, "z");
        let b = Due::Token.key(300, "a");
        let r = Due::Revocation.key(u64::MAX, "q");
        assert!(a < b, "expiry orders before the id");
        assert!(r < a, "revocations before tokens");
        assert_eq!(Due::parse(&b), Some((Due::Token, 300, "a")));
        assert_eq!(Due::parse(&r), Some((Due::Revocation, u64::MAX, "q")));
        assert_eq!(Due::parse(super::BUILT), None);
        assert!(Due::Token.key(299, "zzz") < Due::Token.bound(300));
        assert!(Due::Token.bound(300) <= b);
    }
}
