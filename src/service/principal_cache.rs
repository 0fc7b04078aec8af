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

use crate::domain::policy::Principal;

/// At most this many entries however large the verified-token cache is: an entry holds the
/// whole token (about a kilobyte).
const MAX_ENTRIES: usize = 10_000;

pub struct CachedPrincipal {
    pub(super) generation: u64,
    /// The key set the token was verified with (compared by address, never dereferenced).
    pub(super) keys: usize,
    pub(super) expiry: Option<u64>,
    /// Checked against the store on every hit: a revocation is no principals change.
    pub(super) revocable_id: Option<String>,
    pub(super) principal: Principal,
}

/// What a local user's record adds to the rights of the user's tokens.
#[derive(Debug, PartialEq)]
pub struct UserRights {
    pub admin: bool,
    pub groups: Vec<String>,
}

/// A user's rights as read under one principals generation (None: no such user).
pub struct CachedRights {
    pub(super) generation: u64,
    pub(super) rights: Option<Arc<UserRights>>,
}

pub struct PrincipalCache {
    pub(super) tokens: Option<quick_cache::sync::Cache<Box<str>, Arc<CachedPrincipal>>>,
    /// Many distinct tokens share a user (a CI job gets a token per run): their first
    /// validation skips the user record's read and parse.
    pub(super) users: Option<quick_cache::sync::Cache<Box<str>, Arc<CachedRights>>>,
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
