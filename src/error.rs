//! Typed API errors and their one mapping to HTTP: status, JSON body
//! `{"errors":[{"code","message"}],"error","error_description"}` (JFrog's shape plus the
//! OAuth-style fields token clients read).

use actix_web::http::header::{HeaderValue, RETRY_AFTER, WWW_AUTHENTICATE};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

use crate::crypto::VerifyError;
use crate::domain::policy::PolicyError;
use crate::domain::scope::ScopeError;
use crate::store::state::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
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
    #[error("too many failed logins: retry in {0} s")]
    TooManyRequests(u64),
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        ApiError::Internal(e.to_string())
    }
}

impl ApiError {
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "BAD_REQUEST",
            ApiError::Scope(_) => "INVALID_SCOPE",
            ApiError::Unauthorized(_) | ApiError::Token(_) => "UNAUTHORIZED",
            ApiError::Forbidden(_) => "FORBIDDEN",
            ApiError::NotFound(_) => "NOT_FOUND",
            ApiError::Conflict(_) => "CONFLICT",
            ApiError::NotRevocable(_) => "TOKEN_NOT_REVOCABLE",
            ApiError::PayloadTooLarge(_) => "PAYLOAD_TOO_LARGE",
            ApiError::UnsupportedMediaType(_) => "UNSUPPORTED_MEDIA_TYPE",
            ApiError::Unavailable(_) => "SERVICE_UNAVAILABLE",
            ApiError::TooManyRequests(_) => "TOO_MANY_REQUESTS",
            ApiError::Internal(_) => "INTERNAL_ERROR",
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) | ApiError::Scope(_) | ApiError::NotRevocable(_) => {
                StatusCode::BAD_REQUEST
            }
            ApiError::Unauthorized(_) | ApiError::Token(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let message = self.to_string();
        if let ApiError::Internal(_) = self {
            tracing::error!(error = %message, "internal error");
        }
        let mut response = HttpResponse::build(self.status_code()).json(json!({
            "errors": [{ "code": self.code(), "message": message }],
            "error": self.code().to_ascii_lowercase(),
            "error_description": message,
        }));
        let headers = response.headers_mut();
        match self {
            ApiError::Unauthorized(_) | ApiError::Token(_) => {
                headers.insert(
                    WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"access\", Bearer"),
                );
            }
            ApiError::Unavailable(_) => {
                headers.insert(RETRY_AFTER, HeaderValue::from_static("1"));
            }
            ApiError::TooManyRequests(secs) => {
                headers.insert(RETRY_AFTER, HeaderValue::from(*secs));
            }
            _ => {}
        }
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
