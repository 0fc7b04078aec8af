//! The use cases every caller goes through (the JSON API, the web page, the actors): one
//! struct per use case — tokens, authentication, accounts, keys and trust, permissions,
//! federation, registry tokens, web sessions, backup, telemetry, the cluster itself — each
//! holding only the handles it uses. A use case signs, builds `Command`s, proposes them
//! through [`writes::Writes`] and reads the applied state. Its errors know nothing of HTTP.

pub mod accounts;
pub mod auth;
pub mod backup;
pub mod bootstrap;
pub mod clock;
pub mod cluster;
pub mod error;
pub mod federation;
pub mod federation_inbound;
pub mod federation_outbound;
mod federation_sync;
mod groups;
pub mod housekeeping;
pub mod keys;
mod login;
pub mod login_audit;
pub mod minting;
pub mod oidc;
mod pairing;
pub mod permissions;
pub mod principal_cache;
mod queries;
pub mod registry;
pub mod scim;
mod scim_groups;
pub mod sessions;
pub mod telemetry;
pub mod tokens;
pub mod writes;

use std::sync::Arc;
use std::time::Duration;

pub use error::{ServiceError, ServiceResult};

use crate::crypto::KeySet;
use crate::store::StateView;

pub use crate::clock::now_secs;

/// A new token id (`jti`): a version 7 UUID. Ids from one node sort by issue time, so each new
/// record lands at the right edge of the tokens tree instead of on a random page (cheaper
/// writes on every node), and expiry sweeps and in-order revocations touch neighbouring pages.
/// The id is no secret: it is in the token itself and in listings.
pub(crate) fn new_token_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// 400 unless `name` is a valid user or group name (see `domain::names`).
pub(crate) fn check_name(kind: &str, name: &str) -> ServiceResult<()> {
    if crate::domain::names::valid_name(name) {
        Ok(())
    } else {
        Err(ServiceError::invalid_field(
            kind,
            format!("invalid {kind} '{name}'"),
        ))
    }
}

/// The published key set (503 before the cluster is bootstrapped).
pub(crate) fn keyset(state: &StateView) -> ServiceResult<Arc<KeySet>> {
    state
        .keyset()
        .ok_or_else(|| ServiceError::unavailable("the cluster is not bootstrapped yet"))
}

/// This cluster's service id (`jfac@...`).
pub(crate) fn own_service_id(state: &StateView) -> ServiceResult<String> {
    Ok(keyset(state)?.service_id.clone())
}

/// How long a strict validation may wait for the leader's read index.
pub(crate) const STRICT_READ_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a read of something unknown here may wait to catch up.
pub(crate) const CATCH_UP_TIMEOUT: Duration = Duration::from_secs(1);

#[cfg(test)]
mod token_id_tests {
    #[test]
    fn token_ids_are_version_7_uuids_in_issue_order() {
        let ids: Vec<String> = (0..1000).map(|_| super::new_token_id()).collect();
        for id in &ids {
            let parsed = uuid::Uuid::parse_str(id).expect("a UUID");
            assert_eq!(parsed.get_version_num(), 7, "{id}");
            assert_eq!(id, &parsed.hyphenated().to_string(), "canonical form");
        }
        assert!(
            ids.windows(2).all(|w| w[0] < w[1]),
            "ids sort by issue order"
        );
    }
}
