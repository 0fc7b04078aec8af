//! What a service call can fail with. Typed, and free of HTTP: `http::error` maps each kind
//! to a status code in one place.

use crate::crypto::{CryptoError, Verified, VerifyError};
use crate::domain::policy::PolicyError;
use crate::domain::scope::ScopeError;
use crate::raft::writer::WriteError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("{0}")]
    BadRequest(String),
    #[error("invalid scope: {0}")]
    Scope(#[from] ScopeError),
    #[error("{0}")]
    Unauthorized(String),
    #[error(transparent)]
    Token(#[from] VerifyError),
    #[error(transparent)]
    Forbidden(#[from] PolicyError),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error(
        "token is not revocable: it expires in less than the revocable-expiry threshold ({0} s)"
    )]
    NotRevocable(u64),
    #[error("request body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    Unavailable(String),
    /// A known path asked with a method it does not serve; `allow` lists the methods it does.
    #[error("method not allowed here (use {allow})")]
    MethodNotAllowed { allow: String },
    #[error("too many failed logins: retry in {0} s")]
    TooManyRequests(u64),
    #[error("internal error: {0}")]
    Internal(String),
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
            WriteError::Unavailable(m) => ServiceError::Unavailable(m),
            WriteError::Unexpected(m) => ServiceError::Internal(m),
        }
    }
}

impl ServiceError {
    pub fn code(&self) -> &'static str {
        match self {
            ServiceError::BadRequest(_) => "BAD_REQUEST",
            ServiceError::Scope(_) => "INVALID_SCOPE",
            ServiceError::Unauthorized(_) | ServiceError::Token(_) => "UNAUTHORIZED",
            ServiceError::Forbidden(_) => "FORBIDDEN",
            ServiceError::NotFound(_) => "NOT_FOUND",
            ServiceError::Conflict(_) => "CONFLICT",
            ServiceError::NotRevocable(_) => "TOKEN_NOT_REVOCABLE",
            ServiceError::PayloadTooLarge(_) => "PAYLOAD_TOO_LARGE",
            ServiceError::UnsupportedMediaType(_) => "UNSUPPORTED_MEDIA_TYPE",
            ServiceError::Unavailable(_) => "SERVICE_UNAVAILABLE",
            ServiceError::TooManyRequests(_) => "TOO_MANY_REQUESTS",
            ServiceError::MethodNotAllowed { .. } => "METHOD_NOT_ALLOWED",
            ServiceError::Internal(_) => "INTERNAL_ERROR",
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
        Err(ServiceError::Unauthorized(_)) => "revoked",
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
        let revoked = Err(ServiceError::Unauthorized("token is revoked".into()));
        assert_eq!(validation_outcome(&revoked), "revoked");
        let down = Err(ServiceError::Unavailable("no leader".into()));
        assert_eq!(validation_outcome(&down), "error");
    }
}
