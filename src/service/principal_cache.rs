//! The callers of recently seen bearer tokens. A client that sends the same token again
//! (CI jobs, package managers) skips the header check, the claim checks and the user lookup:
//! one hash of the token, a string compare, and the checks that can change without the state
//! changing (expiry, and presence for revocable tokens).
//!
//! An entry is keyed by the whole token, compared in full, so only its holder can hit it. It
//! is used only while the key set it was verified with is still the published one and the
//! state's principals generation has not moved: users, groups, cut-offs, keys and trust
//! changing all move it (`StateView::principals_generation`).

use std::sync::Arc;

use super::{now_secs, Service};
use crate::crypto::{KeySet, Verified};
use crate::domain::policy::Principal;
use crate::telemetry::metrics;

/// At most this many entries however large the verified-token cache is: an entry holds the
/// whole token (about a kilobyte).
const MAX_ENTRIES: usize = 10_000;

pub struct CachedPrincipal {
    generation: u64,
    /// The key set the token was verified with (compared by address, never dereferenced).
    keys: usize,
    expiry: Option<u64>,
    /// Checked against the store on every hit: a revocation is no principals change.
    revocable_id: Option<String>,
    principal: Principal,
}

pub struct PrincipalCache(Option<quick_cache::sync::Cache<Box<str>, Arc<CachedPrincipal>>>);

impl PrincipalCache {
    /// Sized like the verified-token cache (`token.verified-cache-entries`), up to
    /// [`MAX_ENTRIES`]; 0 turns it off.
    pub fn new(entries: usize) -> PrincipalCache {
        PrincipalCache(
            (entries > 0).then(|| quick_cache::sync::Cache::new(entries.min(MAX_ENTRIES))),
        )
    }
}

impl PrincipalCache {
    pub fn enabled(&self) -> bool {
        self.0.is_some()
    }
}

fn address(keys: &Arc<KeySet>) -> usize {
    Arc::as_ptr(keys) as usize
}

impl Service {
    /// What a principal derived from the state read after this call depends on.
    pub(super) fn principal_inputs(&self) -> (u64, Option<Arc<KeySet>>) {
        (self.state.principals_generation(), self.state.keyset())
    }

    /// The principal remembered for `token`, if everything it was derived from still holds.
    pub(super) fn remembered_principal(&self, token: &str) -> Option<Principal> {
        let hit = self.principals.0.as_ref()?.get(token)?;
        if hit.generation != self.state.principals_generation()
            || hit.keys != address(&self.state.keyset()?)
            || hit.expiry.is_some_and(|exp| exp <= now_secs())
        {
            return None;
        }
        if let Some(id) = &hit.revocable_id {
            // Not held (revoked, or not applied here yet): the full path decides.
            if !self.state.holds_token(id).ok()? {
                return None;
            }
        }
        metrics::verified_cache(true);
        metrics::validation("valid");
        Some(hit.principal.clone())
    }

    /// Remember `principal` for `token`; `generation` and `keys` were read before the state
    /// it was derived from.
    pub(super) fn remember_principal(
        &self,
        token: &str,
        (generation, keys): (u64, Option<Arc<KeySet>>),
        verified: &Verified,
        principal: &Principal,
    ) {
        let (Some(cache), Some(keys)) = (&self.principals.0, keys) else {
            return;
        };
        let claims = &verified.claims;
        let revocable = claims.revocable(self.config.token.revocable_expiry_threshold);
        cache.insert(
            token.into(),
            Arc::new(CachedPrincipal {
                generation,
                keys: address(&keys),
                expiry: claims.exp,
                revocable_id: revocable.then(|| claims.jti.clone()),
                principal: principal.clone(),
            }),
        );
    }
}
