//! Token verification, counted: the verified-token cache's hits and misses.

use super::metrics;
use crate::crypto::{KeySet, Verified, VerifyError};

/// [`KeySet::verify_noting_cache`], counting the cache's answer in the metrics.
pub trait CountedVerify {
    fn verify(&self, token: &str, now: u64, allow_expired: bool) -> Result<Verified, VerifyError>;
}

impl CountedVerify for KeySet {
    fn verify(&self, token: &str, now: u64, allow_expired: bool) -> Result<Verified, VerifyError> {
        let (result, cache_hit) = self.verify_noting_cache(token, now, allow_expired);
        if let Some(hit) = cache_hit {
            metrics::verified_cache(hit);
        }
        result
    }
}
