//! What a node does, made visible: Prometheus metrics (`metrics`), the audit trail (`audit`,
//! `audit_read`), the request context audit events are stamped with
//! (`context`), and the node log's escaping of logged values (`log_escape`). Counting and
//! emitting happen where outcomes are decided (service, store, raft); this module only
//! records and encodes.

pub mod audit;
pub mod audit_read;
pub mod context;
pub mod log_escape;
pub mod metrics;
pub mod settings;
pub mod verification;

pub use verification::CountedVerify;

use crate::domain::policy::{Credential, Principal};
use crate::domain::scope::{Action, ScopeItem};

/// The scope item that lets a token read `/metrics` (JFrog's name).
pub const METRICS_SCOPE: &str = "system:metrics:r";

/// Whether `who` may read the metrics: an admin, or one of this cluster's tokens whose scope
/// holds `system:metrics:r`. A trusted cluster's token never does.
pub fn may_read_metrics(who: &Principal) -> bool {
    if who.admin {
        return true;
    }
    let Credential::LocalToken { scope, .. } = &who.credential else {
        return false;
    };
    scope.items().iter().any(|item| {
        matches!(item, ScopeItem::System { name, actions }
            if name == "metrics" && actions.contains(Action::Read))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(admin: bool, credential: Credential) -> Principal {
        Principal {
            username: "u".into(),
            admin,
            groups: Vec::new(),
            token_id: None,
            scope: None,
            credential,
        }
    }

    fn token(scope: &str) -> Credential {
        Credential::LocalToken {
            scope: Scope::parse(scope).unwrap(),
            expiry: None,
        }
    }

    use crate::domain::scope::Scope;

    #[test]
    fn metrics_need_admin_or_the_metrics_read_scope_of_a_local_token() {
        assert!(may_read_metrics(&principal(true, Credential::Password)));
        assert!(!may_read_metrics(&principal(false, Credential::Password)));
        assert!(may_read_metrics(&principal(false, token(METRICS_SCOPE))));
        assert!(may_read_metrics(&principal(
            false,
            token("applied-permissions/user system:metrics:r,w")
        )));
        assert!(!may_read_metrics(&principal(
            false,
            token("system:metrics:w")
        )));
        assert!(!may_read_metrics(&principal(
            false,
            token("system:livelogs:r")
        )));
        assert!(!may_read_metrics(&principal(
            false,
            token("applied-permissions/user")
        )));
        let foreign = Credential::ForeignToken {
            issuer: "jfrt@other".into(),
        };
        assert!(!may_read_metrics(&principal(false, foreign)));
    }
}
