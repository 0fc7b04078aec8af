//! The scan behind an expiry sweep: which records one `ExpireBefore` drops. It runs inside
//! the apply (sled transactions cannot iterate), so every node finds the same keys at the
//! same log position; a slice looks at a bounded number of records, so a sweep over a
//! million tokens is many short applies instead of one that holds up every write.

use std::ops::Bound;

use super::apply::Expired;
use super::io::read_err;
use super::trees::StateTree;
use super::view::StateView;
use crate::domain::throttle::LoginFailures;
use crate::domain::token::{PairingRecord, Revocation, TokenRecord};
use crate::raft::command::SweepFrom;
use crate::raft::StorageError;

/// The times an `ExpireBefore` compares against.
#[derive(Clone, Copy)]
pub(super) struct ExpiryScan {
    pub now: u64,
    pub grace: u64,
    pub logins_before_ms: u64,
}

/// Up to `limit` records of `tree` after the key `after`, and the last key seen when the
/// limit cut the walk short (None: the tree's end was reached).
fn walk(
    tree: &sled::Tree,
    after: Option<&str>,
    limit: usize,
    mut each: impl FnMut(&[u8], &[u8]) -> Result<(), StorageError>,
) -> Result<Option<String>, StorageError> {
    let start = match after {
        Some(key) => Bound::Excluded(key.as_bytes()),
        None => Bound::Unbounded,
    };
    let mut seen = 0;
    for item in tree.range::<&[u8], _>((start, Bound::Unbounded)) {
        let (key, value) = item.map_err(read_err)?;
        each(&key, &value)?;
        seen += 1;
        if seen == limit {
            return Ok(Some(String::from_utf8_lossy(&key).into_owned()));
        }
    }
    Ok(None)
}

fn json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, StorageError> {
    serde_json::from_slice(bytes).map_err(read_err)
}

/// The state an expiry scan reads.
pub(super) struct Scanner<'a>(pub(super) &'a StateView);

impl Scanner<'_> {
    /// The records an `ExpireBefore` drops: the slice `from` (at most `limit` records), or
    /// everything when it has no limit.
    pub(super) fn scan_expired(
        &self,
        at: ExpiryScan,
        from: Option<&SweepFrom>,
        limit: Option<u64>,
    ) -> Result<Expired, StorageError> {
        let mut expired = Expired::default();
        let Some(limit) = limit else {
            self.expired_tokens(at, None, usize::MAX, &mut expired)?;
            self.expired_revocations(at, None, usize::MAX, &mut expired)?;
            self.expired_small(at, &mut expired)?;
            return Ok(expired);
        };
        let limit = usize::try_from(limit.max(1)).unwrap_or(usize::MAX);
        expired.next = match from.unwrap_or(&SweepFrom::Tokens(None)) {
            SweepFrom::Tokens(after) => {
                if after.is_none() {
                    self.expired_small(at, &mut expired)?;
                }
                Some(
                    match self.expired_tokens(at, after.as_deref(), limit, &mut expired)? {
                        Some(last) => SweepFrom::Tokens(Some(last)),
                        None => SweepFrom::Revocations(None),
                    },
                )
            }
            SweepFrom::Revocations(after) => self
                .expired_revocations(at, after.as_deref(), limit, &mut expired)?
                .map(|last| SweepFrom::Revocations(Some(last))),
        };
        Ok(expired)
    }

    /// Token records past their expiry (refreshable ones: past expiry plus the grace).
    fn expired_tokens(
        &self,
        at: ExpiryScan,
        after: Option<&str>,
        limit: usize,
        expired: &mut Expired,
    ) -> Result<Option<String>, StorageError> {
        let tree = self.0.tree(StateTree::Tokens);
        walk(tree, after, limit, |_, value| {
            let rec: TokenRecord = json(value)?;
            let deadline = if rec.refresh_hash.is_some() {
                rec.refresh_deadline(at.grace)
            } else {
                rec.expiry
            };
            if deadline.is_some_and(|d| d < at.now) {
                expired.refs.extend(rec.reference_hash);
                expired.tokens.push(rec.token_id);
            }
            Ok(())
        })
    }

    /// Revocations of tokens that would have expired by now anyway.
    fn expired_revocations(
        &self,
        at: ExpiryScan,
        after: Option<&str>,
        limit: usize,
        expired: &mut Expired,
    ) -> Result<Option<String>, StorageError> {
        let tree = self.0.tree(StateTree::Revoked);
        walk(tree, after, limit, |_, value| {
            let rev: Revocation = json(value)?;
            if rev.expiry.is_some_and(|e| e < at.now) {
                expired.revocations.push(rev.token_id);
            }
            Ok(())
        })
    }

    /// Quiet login-failure counters and expired pairings: small trees, taken whole.
    fn expired_small(&self, at: ExpiryScan, expired: &mut Expired) -> Result<(), StorageError> {
        expired.logins = self.keys_where(StateTree::Logins, |f: LoginFailures| {
            f.last_failure_ms < at.logins_before_ms
        })?;
        expired.pairings =
            self.keys_where(StateTree::Pairing, |p: PairingRecord| p.expiry < at.now)?;
        Ok(())
    }

    /// The keys of `tree` whose record passes `doomed`.
    fn keys_where<T: serde::de::DeserializeOwned>(
        &self,
        tree: StateTree,
        doomed: impl Fn(T) -> bool,
    ) -> Result<Vec<String>, StorageError> {
        let mut keys = Vec::new();
        walk(self.0.tree(tree), None, usize::MAX, |key, value| {
            if doomed(json(value)?) {
                keys.push(String::from_utf8_lossy(key).into_owned());
            }
            Ok(())
        })?;
        Ok(keys)
    }
}
