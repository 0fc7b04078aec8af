//! The one mapping of service errors to HTTP: status, JSON body
//! `{"errors":[{"code","message"}],"error","error_description"}` (JFrog's shape plus the
//! OAuth-style fields token clients read), and the headers some statuses need.

use actix_web::http::header::{HeaderValue, ALLOW, RETRY_AFTER, WWW_AUTHENTICATE};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

use crate::service::ServiceError;

impl ResponseError for ServiceError {
    fn status_code(&self) -> StatusCode {
        match self {
            ServiceError::BadRequest(_)
            | ServiceError::Scope(_)
            | ServiceError::NotRevocable(_) => StatusCode::BAD_REQUEST,
            ServiceError::Unauthorized(_) | ServiceError::Token(_) => StatusCode::UNAUTHORIZED,
            ServiceError::Forbidden(_) => StatusCode::FORBIDDEN,
            ServiceError::NotFound(_) => StatusCode::NOT_FOUND,
            ServiceError::Conflict(_) => StatusCode::CONFLICT,
            ServiceError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ServiceError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ServiceError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ServiceError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            ServiceError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ServiceError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let message = self.to_string();
        if let ServiceError::Internal(_) = self {
            tracing::error!(error = %message, "internal error");
        }
        let mut response = HttpResponse::build(self.status_code()).json(json!({
            "errors": [{ "code": self.code(), "message": message }],
            "error": self.code().to_ascii_lowercase(),
            "error_description": message,
        }));
        let headers = response.headers_mut();
        match self {
            ServiceError::Unauthorized(_) | ServiceError::Token(_) => {
                headers.insert(
                    WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"access\", Bearer"),
                );
            }
            ServiceError::Unavailable(_) => {
                headers.insert(RETRY_AFTER, HeaderValue::from_static("1"));
            }
            ServiceError::TooManyRequests(secs) => {
                headers.insert(RETRY_AFTER, HeaderValue::from(*secs));
            }
            ServiceError::MethodNotAllowed { allow } => {
                if let Ok(v) = HeaderValue::from_str(allow) {
                    headers.insert(ALLOW, v);
                }
            }
            _ => {}
        }
        response
    }
}

/// An error of the Docker registry token endpoint. Bad or missing credentials are a 401 in
/// the registry's shape, `{"errors":[{"code":"UNAUTHORIZED","message","detail"}]}`, with a
/// Basic challenge (the registry's clients answer it with a user and password or token);
/// everything else as every other endpoint answers it (the same `errors` array).
pub fn registry_error(e: &ServiceError) -> HttpResponse {
    match e {
        ServiceError::Unauthorized(_) | ServiceError::Token(_) => HttpResponse::Unauthorized()
            .insert_header((
                WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"access-node registry token service\""),
            ))
            .json(json!({
                "errors": [{ "code": "UNAUTHORIZED", "message": e.to_string(), "detail": null }],
            })),
        other => other.error_response(),
    }
}
