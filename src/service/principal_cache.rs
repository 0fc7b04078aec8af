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

use super::auth::Auth;
use super::ServiceResult;
use crate::crypto::Verified;
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

/// What a local user's record adds to the rights of the user's tokens.
#[derive(Debug, PartialEq)]
pub struct UserRights {
    pub admin: bool,
    pub groups: Vec<String>,
}

/// A user's rights as read under one principals generation (None: no such user).
struct CachedRights {
    generation: u64,
    rights: Option<Arc<UserRights>>,
}

pub struct PrincipalCache {
    tokens: Option<quick_cache::sync::Cache<Box<str>, Arc<CachedPrincipal>>>,
    /// Many distinct tokens share a user (a CI job gets a token per run): their first
    /// validation skips the user record's read and parse.
    users: Option<quick_cache::sync::Cache<Box<str>, Arc<CachedRights>>>,
}

impl PrincipalCache {
    /// Sized like the verified-token cache (`token.verified-cache-entries`), up to
    /// [`MAX_ENTRIES`]; 0 turns it off.
    pub fn new(entries: usize) -> PrincipalCache {
        let on = entries > 0;
        let size = entries.min(MAX_ENTRIES);
        PrincipalCache {
            tokens: on.then(|| quick_cache::sync::Cache::new(size)),
            users: on.then(|| quick_cache::sync::Cache::new(size)),
        }
    }

    pub fn enabled(&self) -> bool {
        self.tokens.is_some()
    }
}

impl Auth {
    /// What a principal derived from the state read after this call depends on.
    pub(super) fn principal_inputs(&self) -> (u64, Option<usize>) {
        (
            self.state.principals_generation(),
            self.state.keyset_address(),
        )
    }

    /// The principal remembered for `token`, if everything it was derived from still holds.
    pub(super) fn remembered_principal(&self, token: &str) -> Option<Principal> {
        let hit = self.principals.tokens.as_ref()?.get(token)?;
        if hit.generation != self.state.principals_generation()
            || Some(hit.keys) != self.state.keyset_address()
            || hit.expiry.is_some_and(|exp| exp <= self.clock.now_secs())
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
        (generation, keys): (u64, Option<usize>),
        verified: &Verified,
        principal: &Principal,
    ) {
        let (Some(cache), Some(keys)) = (&self.principals.tokens, keys) else {
            return;
        };
        let claims = &verified.claims;
        let revocable = claims.revocable(self.config.token.revocable_expiry_threshold);
        cache.insert(
            token.into(),
            Arc::new(CachedPrincipal {
                generation,
                keys,
                expiry: claims.exp,
                revocable_id: revocable.then(|| claims.jti.clone()),
                principal: principal.clone(),
            }),
        );
    }

    /// The admin flag and groups of local user `username`, as the state holds them now.
    pub(super) fn user_rights(&self, username: &str) -> ServiceResult<Option<Arc<UserRights>>> {
        // Read before the record: an entry is never newer than its generation says.
        let generation = self.state.principals_generation();
        let cache = self.principals.users.as_ref();
        if let Some(hit) = cache.and_then(|c| c.get(username)) {
            if hit.generation == generation {
                return Ok(hit.rights.clone());
            }
        }
        let rights = self.state.accounts().user(username)?.map(|u| {
            Arc::new(UserRights {
                admin: u.admin,
                groups: u.groups,
            })
        });
        if let Some(cache) = cache {
            let entry = CachedRights {
                generation,
                rights: rights.clone(),
            };
            cache.insert(username.into(), Arc::new(entry));
        }
        Ok(rights)
    }
}
