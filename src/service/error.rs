//! What a service call can fail with. Typed, and free of HTTP: `http::error` maps each kind
//! to a status code in one place.

use crate::crypto::{CryptoError, Verified, VerifyError};
use crate::domain::policy::PolicyError;
use crate::domain::scope::ScopeError;
use crate::raft::writer::WriteError;
use crate::store::StoreError;

/// What failed, and why. Each kind says what went wrong in the terms of the use case;
/// `http::error` alone chooses the status code and the answer's shape.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// An input the request carries is unusable: which one (when it is one field), and why.
    #[error("{why}")]
    Invalid { field: Option<String>, why: String },
    /// A scope that does not parse.
    #[error("invalid scope: {0}")]
    Scope(#[from] ScopeError),
    /// No credentials, or credentials that prove nothing: why.
    #[error("{0}")]
    Unauthenticated(String),
    /// A token refused on its own terms (signature, expiry, form).
    #[error(transparent)]
    Token(#[from] VerifyError),
    /// A caller that is known, but not allowed this: the rule that says no.
    #[error(transparent)]
    Forbidden(#[from] PolicyError),
    /// A named thing that is not here: what kind, and which.
    #[error("{what} '{which}' not found")]
    NotFound { what: &'static str, which: String },
    /// Something the request refers to that is not here, for the reason given.
    #[error("{0}")]
    Absent(String),
    /// The request contradicts what is there (a name taken, the last voter, ...).
    #[error("{0}")]
    Conflict(String),
    /// A token whose life is below the revocable threshold: nothing stored to revoke.
    #[error(
        "token is not revocable: it expires in less than the revocable-expiry threshold ({threshold_secs} s)"
    )]
    NotRevocable { threshold_secs: u64 },
    /// A SCIM request the protocol refuses (RFC 7644 §3.12): a bad filter, path or value.
    #[error("{0}")]
    Scim(#[from] crate::domain::scim::ScimError),
    /// A conditional request (`If-Match`) whose condition no longer holds: why.
    #[error("{0}")]
    PreconditionFailed(String),
    /// A body or message over its size limit.
    #[error("request body is larger than {limit} bytes")]
    TooLarge { limit: usize },
    /// A body in a format this call does not read.
    #[error("{0}")]
    UnsupportedFormat(String),
    /// This node cannot answer now (no leader, clock out of range, catching up): why, and
    /// when to try again.
    #[error("{why}")]
    Unavailable { why: String, retry_after_secs: u64 },
    /// Password logins of this name or address wait this long.
    #[error("too many failed logins: retry in {retry_after_secs} s")]
    Throttled { retry_after_secs: u64 },
    /// A fault of ours (storage, an answer the code did not expect): logged, never the
    /// caller's doing.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ServiceError {
    /// An unusable input, not tied to one field.
    pub fn invalid(why: impl Into<String>) -> ServiceError {
        ServiceError::Invalid {
            field: None,
            why: why.into(),
        }
    }

    /// Field `field` is unusable: why.
    pub fn invalid_field(field: impl Into<String>, why: impl Into<String>) -> ServiceError {
        ServiceError::Invalid {
            field: Some(field.into()),
            why: why.into(),
        }
    }

    /// The `what` named `which` is not here.
    pub fn not_found(what: &'static str, which: impl Into<String>) -> ServiceError {
        ServiceError::NotFound {
            what,
            which: which.into(),
        }
    }

    /// This node cannot answer now; a client may retry in a second.
    pub fn unavailable(why: impl Into<String>) -> ServiceError {
        ServiceError::Unavailable {
            why: why.into(),
            retry_after_secs: 1,
        }
    }
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> ServiceError {
        ServiceError::Internal(e.to_string())
    }
}

impl From<CryptoError> for ServiceError {
    fn from(e: CryptoError) -> ServiceError {
        ServiceError::Internal(e.to_string())
    }
}

impl From<WriteError> for ServiceError {
    fn from(e: WriteError) -> ServiceError {
        match e {
            WriteError::Unavailable(m) => ServiceError::unavailable(m),
            WriteError::Unexpected(m) => ServiceError::Internal(m),
        }
    }
}

pub type ServiceResult<T> = Result<T, ServiceError>;

/// The `outcome` label of a token validation.
pub fn validation_outcome(result: &Result<Verified, ServiceError>) -> &'static str {
    match result {
        Ok(_) => "valid",
        Err(ServiceError::Token(VerifyError::Expired)) => "expired",
        Err(ServiceError::Token(VerifyError::BadSignature)) => "bad_signature",
        Err(ServiceError::Token(VerifyError::UnknownKey)) => "unknown_key",
        Err(ServiceError::Token(_)) => "malformed",
        // Every other refusal of a well-signed token: revoked, or its subject's tokens were.
        Err(ServiceError::Unauthenticated(_)) => "revoked",
        Err(_) => "error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let revoked = Err(ServiceError::Unauthenticated("token is revoked".into()));
        assert_eq!(validation_outcome(&revoked), "revoked");
        let down = Err(ServiceError::unavailable("no leader"));
        assert_eq!(validation_outcome(&down), "error");
    }
}
