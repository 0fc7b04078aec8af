//! The scan behind an expiry sweep: which records one `ExpireBefore` drops. It runs inside
//! the apply (sled transactions cannot iterate), so every node finds the same keys at the
//! same log position; a slice looks at a bounded number of records, so a sweep is many short
//! applies instead of one that holds up every write. From format 2 a sweep walks the expiry
//! index (`due`): only what is due. Before, it walked every record.

use std::borrow::Cow;
use std::ops::Bound;

use super::apply::Expired;
use super::due::{walk_due, Due};
use super::io::read_err;
use super::trees::StateTree;
use super::view::StateView;
use crate::domain::throttle::LoginFailures;
use crate::domain::token::{PairingRecord, Revocation};
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

/// What a sweep reads of a [`TokenRecord`](crate::domain::token::TokenRecord): borrowed from
/// the stored bytes, every other field skipped unread. A sweep walks every record, and at a
/// million tokens decoding whole records was most of its cost.
#[derive(serde::Deserialize)]
struct ExpiryFields<'a> {
    #[serde(borrow)]
    token_id: Cow<'a, str>,
    expiry: Option<u64>,
    #[serde(default)]
    refresh_hash: Option<serde::de::IgnoredAny>,
    #[serde(default, borrow)]
    reference_hash: Option<Cow<'a, str>>,
}

impl ExpiryFields<'_> {
    /// When the record goes: its expiry, or for a refreshable one (a refresh token not used
    /// yet) its expiry plus the grace, as
    /// [`TokenRecord::refresh_deadline`](crate::domain::token::TokenRecord::refresh_deadline) says.
    fn deadline(&self, grace: u64) -> Option<u64> {
        match self.refresh_hash {
            Some(_) => self.expiry.map(|e| e.saturating_add(grace)),
            None => self.expiry,
        }
    }
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
            SweepFrom::Due(after) => {
                if after.is_none() {
                    self.expired_small(at, &mut expired)?;
                }
                self.expired_due(at, after.as_deref(), limit, &mut expired)?
                    .map(|last| SweepFrom::Due(Some(last)))
            }
        };
        Ok(expired)
    }

    /// What the expiry index says is due, checked against the records themselves: a token
    /// still within its refresh grace stays, and an index key whose record is gone or has
    /// another expiry only loses the key.
    fn expired_due(
        &self,
        at: ExpiryScan,
        after: Option<&[u8]>,
        limit: usize,
        expired: &mut Expired,
    ) -> Result<Option<Vec<u8>>, StorageError> {
        let tokens = self.0.tree(StateTree::Tokens);
        let revoked = self.0.tree(StateTree::Revoked);
        let index = self.0.trees().due();
        walk_due(index, after, at.now, limit, |kind, key_expiry, id, key| {
            let tree = match kind {
                Due::Token => tokens,
                Due::Revocation => revoked,
            };
            let Some(value) = tree.get(id.as_bytes()).map_err(read_err)? else {
                expired.due.push(key.to_vec());
                return Ok(());
            };
            match kind {
                Due::Token => {
                    let rec: ExpiryFields = serde_json::from_slice(&value).map_err(read_err)?;
                    if rec.expiry != Some(key_expiry) {
                        expired.due.push(key.to_vec());
                    } else if rec.deadline(at.grace).is_some_and(|d| d < at.now) {
                        expired.refs.extend(rec.reference_hash.map(Cow::into_owned));
                        expired.tokens.push(id.to_owned());
                        expired.due.push(key.to_vec());
                    }
                }
                Due::Revocation => {
                    let rev: Revocation = json(&value)?;
                    if rev.expiry != Some(key_expiry) {
                        expired.due.push(key.to_vec());
                    } else if key_expiry < at.now {
                        expired.revocations.push(rev.token_id);
                        expired.due.push(key.to_vec());
                    }
                }
            }
            Ok(())
        })
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
            let rec: ExpiryFields = serde_json::from_slice(value).map_err(read_err)?;
            if rec.deadline(at.grace).is_some_and(|d| d < at.now) {
                expired.refs.extend(rec.reference_hash.map(Cow::into_owned));
                if let Some(e) = rec.expiry {
                    expired.due.push(Due::Token.key(e, &rec.token_id));
                }
                expired.tokens.push(rec.token_id.into_owned());
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
            if let Some(e) = rev.expiry.filter(|e| *e < at.now) {
                expired.due.push(Due::Revocation.key(e, &rev.token_id));
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

#[cfg(test)]
mod tests {
    use super::ExpiryFields;
    use crate::domain::token::{TokenKind, TokenRecord};

    fn record(expiry: Option<u64>, refresh: bool, reference: bool) -> TokenRecord {
        TokenRecord {
            token_id: "id-\"quoted\"".into(),
            username: "jenkins".into(),
            subject: "jfac@01abc/users/jenkins".into(),
            scope: "applied-permissions/user".into(),
            audience: "*@*".into(),
            issuer: "jfac@01abc".into(),
            issued_at: 1_000,
            expiry,
            revocable: true,
            refreshable: refresh,
            refresh_hash: refresh.then(|| "ab".repeat(32)),
            description: Some("line\nbreak \u{e9}".into()),
            kind: TokenKind::Access,
            reference_hash: reference.then(|| "cd".repeat(32)),
        }
    }

    #[test]
    fn the_fields_a_sweep_reads_agree_with_the_whole_record() {
        for expiry in [None, Some(5_000)] {
            for refresh in [false, true] {
                for reference in [false, true] {
                    let rec = record(expiry, refresh, reference);
                    let bytes = serde_json::to_vec(&rec).unwrap();
                    let fields: ExpiryFields = serde_json::from_slice(&bytes).unwrap();
                    assert_eq!(fields.token_id, rec.token_id);
                    assert_eq!(
                        fields.reference_hash.as_deref(),
                        rec.reference_hash.as_deref()
                    );
                    let whole = if rec.refresh_hash.is_some() {
                        rec.refresh_deadline(60)
                    } else {
                        rec.expiry
                    };
                    assert_eq!(fields.deadline(60), whole);
                }
            }
        }
        // Records written before `reference_hash` existed still read.
        let old = br#"{"token_id":"t","expiry":7,"refresh_hash":null,"username":"u"}"#;
        let fields: ExpiryFields = serde_json::from_slice(old).unwrap();
        assert_eq!(
            (fields.deadline(60), fields.reference_hash),
            (Some(7), None)
        );
    }
}
