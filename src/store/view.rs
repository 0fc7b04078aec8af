//! Read access to the applied state: straight from sled (reads are lock-free) and from the
//! published key set and subject cut-offs. Handlers never go through Raft or an actor.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use arc_swap::{ArcSwap, ArcSwapOption};
use serde::de::DeserializeOwned;

use super::trees::key::{ACTIVE_KEY, LAST_APPLIED, RETIRED_KEYS, SERVICE_ID};
use super::trees::{StateTree, Trees};
use crate::crypto::{KeyMaterial, KeySet, TrustedKey};
use crate::domain::token::PairingRecord;
use crate::domain::token::{Revocation, TokenRecord};
use crate::domain::trust::TrustedCert;
use crate::raft::LogId;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("storage error: {0}")]
    Sled(#[from] sled::Error),
    #[error("corrupt record: {0}")]
    Corrupt(#[from] serde_json::Error),
    #[error("bad key material: {0}")]
    Keys(String),
    #[error("backup: {0}")]
    Backup(String),
}

/// Read access to the applied state, cheap to clone.
#[derive(Clone)]
pub struct StateView {
    trees: Trees,
    keyset: Arc<ArcSwapOption<KeySet>>,
    /// The `subjects` tree in memory: every validation reads it, and it stays small.
    subject_cuts: Arc<ArcSwap<HashMap<String, u64>>>,
    /// Moves after every applied change that may change what a token lets its holder act
    /// as (users, groups, cut-offs, keys, trust, restores, federation), so a principal
    /// derived from the state before it is known to be stale.
    principals_generation: Arc<AtomicU64>,
    verified_cache_entries: usize,
}

pub(super) fn get_json<T: DeserializeOwned>(
    tree: &sled::Tree,
    key: &[u8],
) -> Result<Option<T>, StoreError> {
    match tree.get(key)? {
        Some(bytes) => Ok(Some(serde_json::from_slice(&bytes)?)),
        None => Ok(None),
    }
}

pub(super) fn all_json<T: DeserializeOwned>(tree: &sled::Tree) -> Result<Vec<T>, StoreError> {
    tree.iter()
        .values()
        .map(|v| Ok(serde_json::from_slice(&v?)?))
        .collect()
}

impl StateView {
    pub(super) fn open(
        db: &sled::Db,
        verified_cache_entries: usize,
    ) -> Result<StateView, sled::Error> {
        Ok(StateView {
            trees: Trees::open(db)?,
            keyset: Arc::new(ArcSwapOption::empty()),
            subject_cuts: Arc::new(ArcSwap::from_pointee(HashMap::new())),
            principals_generation: Arc::new(AtomicU64::new(0)),
            verified_cache_entries,
        })
    }

    pub(super) fn trees(&self) -> &Trees {
        &self.trees
    }

    pub(super) fn tree(&self, which: StateTree) -> &sled::Tree {
        self.trees.get(which)
    }

    /// Read before reading the state a principal is derived from: if it is unchanged later,
    /// nothing applied since could have changed that principal.
    pub fn principals_generation(&self) -> u64 {
        self.principals_generation.load(Ordering::Acquire)
    }

    /// Called after such a change is applied (and visible to readers).
    pub(super) fn principals_changed(&self) {
        self.principals_generation.fetch_add(1, Ordering::AcqRel);
    }

    /// Tokens of `subject` issued at or before this time are revoked.
    pub fn subject_revoked_at(&self, subject: &str) -> Result<Option<u64>, StoreError> {
        Ok(self.subject_cuts.load().get(subject).copied())
    }

    /// Re-read the subject cut-offs after an apply or install that may have changed them.
    pub(super) fn reload_subject_cuts(&self) -> Result<(), StoreError> {
        let mut cuts = HashMap::new();
        for item in self.tree(StateTree::Subjects).iter() {
            let (key, value) = item?;
            cuts.insert(
                String::from_utf8_lossy(&key).into_owned(),
                serde_json::from_slice(&value)?,
            );
        }
        self.subject_cuts.store(Arc::new(cuts));
        Ok(())
    }

    pub fn trusted_certs(&self) -> Result<Vec<TrustedCert>, StoreError> {
        all_json(self.tree(StateTree::Trusted))
    }

    pub fn retired_certs(&self) -> Result<Vec<String>, StoreError> {
        Ok(get_json(self.tree(StateTree::Keys), RETIRED_KEYS)?.unwrap_or_default())
    }

    /// Token id behind a reference token's hash.
    pub fn reference(&self, hash: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .tree(StateTree::Refs)
            .get(hash.as_bytes())?
            .map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    pub fn pairing(&self, hash: &str) -> Result<Option<PairingRecord>, StoreError> {
        get_json(self.tree(StateTree::Pairing), hash.as_bytes())
    }

    /// The signing/verification keys of the applied state; None before bootstrap.
    pub fn keyset(&self) -> Option<Arc<KeySet>> {
        self.keyset.load_full()
    }

    /// Which key set is published, by address: "is it still the one I verified with" without
    /// touching its reference count, which every request thread would write.
    pub fn keyset_address(&self) -> Option<usize> {
        self.keyset.load().as_ref().map(|k| Arc::as_ptr(k) as usize)
    }

    pub fn default_expiry(&self) -> Result<Option<u64>, StoreError> {
        get_json(
            self.tree(StateTree::Meta),
            super::trees::key::DEFAULT_EXPIRY,
        )
    }

    /// The cluster's format (`domain::version`): the first format until a bootstrap or a
    /// raise says otherwise.
    pub fn cluster_format(&self) -> Result<u32, StoreError> {
        Ok(
            get_json(self.tree(StateTree::Meta), super::trees::key::FORMAT)?
                .unwrap_or(crate::domain::version::FIRST_FORMAT),
        )
    }

    pub fn service_id(&self) -> Result<Option<String>, StoreError> {
        get_json(self.tree(StateTree::Meta), SERVICE_ID)
    }

    pub fn active_key(&self) -> Result<Option<KeyMaterial>, StoreError> {
        get_json(self.tree(StateTree::Keys), ACTIVE_KEY)
    }

    pub fn last_applied(&self) -> Result<Option<LogId>, StoreError> {
        get_json(self.tree(StateTree::Meta), LAST_APPLIED)
    }

    pub fn token(&self, token_id: &str) -> Result<Option<TokenRecord>, StoreError> {
        get_json(self.tree(StateTree::Tokens), token_id.as_bytes())
    }

    /// Whether the token is stored (live): the validation path needs no more than that.
    pub fn holds_token(&self, token_id: &str) -> Result<bool, StoreError> {
        Ok(self
            .tree(StateTree::Tokens)
            .contains_key(token_id.as_bytes())?)
    }

    pub fn revocation(&self, token_id: &str) -> Result<Option<Revocation>, StoreError> {
        get_json(self.tree(StateTree::Revoked), token_id.as_bytes())
    }

    pub fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        all_json(self.tree(StateTree::Tokens))
    }

    /// Whether the state is that of a freshly bootstrapped cluster: no tokens, revocations,
    /// groups or trusted certificates, and at most one user (the bootstrap admin).
    pub fn is_fresh(&self) -> Result<bool, StoreError> {
        let empty = [
            StateTree::Tokens,
            StateTree::Revoked,
            StateTree::Groups,
            StateTree::Trusted,
            StateTree::Subjects,
        ];
        for tree in empty {
            if !self.tree(tree).is_empty() {
                return Ok(false);
            }
        }
        Ok(self.tree(StateTree::Users).len() <= 1)
    }

    /// Rebuild the published key set from the stored keys; the active key, if any.
    pub(super) fn publish_keys(&self) -> Result<Option<KeyMaterial>, StoreError> {
        let (Some(service_id), Some(active)) = (self.service_id()?, self.active_key()?) else {
            return Ok(None);
        };
        let retired = self.retired_certs()?;
        let certs = self.trusted_certs()?;
        for unbound in certs.iter().filter(|t| t.service_id.is_empty()) {
            tracing::warn!(name = %unbound.name, "trusted certificate has no service id (added before issuer binding): it verifies nothing until re-added");
        }
        let trusted: Vec<TrustedKey<'_>> = certs
            .iter()
            .filter(|t| !t.service_id.is_empty() && !t.withdrawn)
            .map(|t| TrustedKey {
                name: &t.name,
                certificate_pem: &t.certificate_pem,
                service_id: &t.service_id,
            })
            .collect();
        let keyset = KeySet::with_trust(service_id, &active, &retired, &trusted)
            .map_err(|e| StoreError::Keys(e.to_string()))?
            .with_verified_cache(self.verified_cache_entries);
        self.keyset.store(Some(Arc::new(keyset)));
        Ok(Some(active))
    }
}
