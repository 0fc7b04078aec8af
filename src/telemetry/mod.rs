//! What a node does, made visible: Prometheus metrics (`metrics`), the audit trail (`audit`,
//! `audit_read`, `replicated`), the request context audit events are stamped with
//! (`context`), and the node log's escaping of logged values (`log_escape`). Counting and
//! emitting happen where outcomes are decided (service, store, raft); this module only
//! records and encodes.

pub mod audit;
pub mod audit_read;
pub mod context;
pub mod log_escape;
pub mod metrics;
pub mod replicated;
pub mod settings;

use crate::crypto::{Verified, VerifyError};
use crate::domain::policy::{Credential, Principal};
use crate::domain::scope::{Action, ScopeItem};
use crate::service::ServiceError;

/// The `outcome` label of a token validation.
pub fn validation_outcome(result: &Result<Verified, ServiceError>) -> &'static str {
    match result {
        Ok(_) => "valid",
        Err(ServiceError::Token(VerifyError::Expired)) => "expired",
        Err(ServiceError::Token(VerifyError::BadSignature)) => "bad_signature",
        Err(ServiceError::Token(VerifyError::UnknownKey)) => "unknown_key",
        Err(ServiceError::Token(_)) => "malformed",
        // Every other refusal of a well-signed token: revoked, or its subject's tokens were.
        Err(ServiceError::Unauthorized(_)) => "revoked",
        Err(_) => "error",
    }
}

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

    #[test]
    fn validation_outcomes_name_the_reason() {
        let token = |e| Err(ServiceError::Token(e));
        assert_eq!(validation_outcome(&token(VerifyError::Expired)), "expired");
        assert_eq!(
            validation_outcome(&token(VerifyError::BadSignature)),
            "bad_signature"
        );
        assert_eq!(
            validation_outcome(&token(VerifyError::UnknownKey)),
            "unknown_key"
        );
        assert_eq!(
            validation_outcome(&token(VerifyError::Malformed)),
            "malformed"
        );
        let revoked = Err(ServiceError::Unauthorized("token is revoked".into()));
        assert_eq!(validation_outcome(&revoked), "revoked");
        let down = Err(ServiceError::Unavailable("no leader".into()));
        assert_eq!(validation_outcome(&down), "error");
    }
}
