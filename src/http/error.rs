//! The one mapping of service errors to HTTP: status, JSON body
//! `{"errors":[{"code","message"}],"error","error_description"}` (JFrog's shape plus the
//! OAuth-style fields token clients read), and the headers some statuses need.

use actix_web::http::header::{HeaderValue, ALLOW, RETRY_AFTER, WWW_AUTHENTICATE};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

use crate::service::ServiceError;

/// The status code of each kind of failure.
pub fn status_of(e: &ServiceError) -> StatusCode {
    match e {
        ServiceError::Invalid { .. }
        | ServiceError::Scope(_)
        | ServiceError::NotRevocable { .. }
        | ServiceError::Scim(_) => StatusCode::BAD_REQUEST,
        ServiceError::Unauthenticated(_) | ServiceError::Token(_) => StatusCode::UNAUTHORIZED,
        ServiceError::Forbidden(_) => StatusCode::FORBIDDEN,
        ServiceError::NotFound { .. } | ServiceError::Absent(_) => StatusCode::NOT_FOUND,
        ServiceError::Conflict(_) => StatusCode::CONFLICT,
        ServiceError::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
        ServiceError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        ServiceError::UnsupportedFormat(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ServiceError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
        ServiceError::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
        ServiceError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The `code` the answer carries (JFrog's names).
pub fn code_of(e: &ServiceError) -> &'static str {
    match e {
        ServiceError::Invalid { .. } | ServiceError::Scim(_) => "BAD_REQUEST",
        ServiceError::PreconditionFailed(_) => "PRECONDITION_FAILED",
        ServiceError::Scope(_) => "INVALID_SCOPE",
        ServiceError::Unauthenticated(_) | ServiceError::Token(_) => "UNAUTHORIZED",
        ServiceError::Forbidden(_) => "FORBIDDEN",
        ServiceError::NotFound { .. } | ServiceError::Absent(_) => "NOT_FOUND",
        ServiceError::Conflict(_) => "CONFLICT",
        ServiceError::NotRevocable { .. } => "TOKEN_NOT_REVOCABLE",
        ServiceError::TooLarge { .. } => "PAYLOAD_TOO_LARGE",
        ServiceError::UnsupportedFormat(_) => "UNSUPPORTED_MEDIA_TYPE",
        ServiceError::Unavailable { .. } => "SERVICE_UNAVAILABLE",
        ServiceError::Throttled { .. } => "TOO_MANY_REQUESTS",
        ServiceError::Internal(_) => "INTERNAL_ERROR",
    }
}

/// The answer's JSON: JFrog's `errors` list and the OAuth-style fields.
fn error_json(status: StatusCode, code: &str, message: &str) -> HttpResponse {
    HttpResponse::build(status).json(json!({
        "errors": [{ "code": code, "message": message }],
        "error": code.to_ascii_lowercase(),
        "error_description": message,
    }))
}

/// A known path asked with a method it does not serve; `allow` lists the methods it does.
pub fn method_not_allowed(allow: &str) -> HttpResponse {
    let message = format!("method not allowed here (use {allow})");
    let mut response = error_json(
        StatusCode::METHOD_NOT_ALLOWED,
        "METHOD_NOT_ALLOWED",
        &message,
    );
    if let Ok(v) = HeaderValue::from_str(allow) {
        response.headers_mut().insert(ALLOW, v);
    }
    response
}

impl ResponseError for ServiceError {
    fn status_code(&self) -> StatusCode {
        status_of(self)
    }

    fn error_response(&self) -> HttpResponse {
        let message = self.to_string();
        if let ServiceError::Internal(_) = self {
            tracing::error!(error = %message, "internal error");
        }
        let mut response = error_json(self.status_code(), code_of(self), &message);
        let headers = response.headers_mut();
        if let ServiceError::Unauthenticated(_) | ServiceError::Token(_) = self {
            headers.insert(
                WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"access\", Bearer"),
            );
        }
        insert_retry_after(self, headers);
        response
    }
}

/// `Retry-After` on an answer that says when to try again (the JSON API's and the web page's).
pub fn insert_retry_after(e: &ServiceError, headers: &mut actix_web::http::header::HeaderMap) {
    if let ServiceError::Unavailable {
        retry_after_secs, ..
    }
    | ServiceError::Throttled { retry_after_secs } = e
    {
        headers.insert(RETRY_AFTER, HeaderValue::from(*retry_after_secs));
    }
}

/// An error of the Docker registry token endpoint. Bad or missing credentials are a 401 in
/// the registry's shape, `{"errors":[{"code":"UNAUTHORIZED","message","detail"}]}`, with a
/// Basic challenge (the registry's clients answer it with a user and password or token);
/// everything else as every other endpoint answers it (the same `errors` array).
pub fn registry_error(e: &ServiceError) -> HttpResponse {
    match e {
        ServiceError::Unauthenticated(_) | ServiceError::Token(_) => HttpResponse::Unauthorized()
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

/// An error of the SCIM endpoints (RFC 7644 §3.12): `{"schemas": [Error], "status": "400",
/// "scimType", "detail"}` as `application/scim+json`, the status chosen as everywhere else.
pub fn scim_error(e: &ServiceError) -> HttpResponse {
    let status = status_of(e);
    if let ServiceError::Internal(_) = e {
        tracing::error!(error = %e, "internal error");
    }
    let scim_type = match e {
        ServiceError::Scim(s) => Some(s.scim_type),
        ServiceError::Invalid { .. } | ServiceError::Scope(_) => Some("invalidValue"),
        ServiceError::Conflict(_) => Some("uniqueness"),
        ServiceError::TooLarge { .. } => Some("tooMany"),
        _ => None,
    };
    let mut body = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
        "status": status.as_u16().to_string(),
        "detail": e.to_string(),
    });
    if let Some(t) = scim_type {
        body["scimType"] = json!(t);
    }
    let mut response = HttpResponse::build(status)
        .content_type(SCIM_CONTENT_TYPE)
        .body(body.to_string());
    let headers = response.headers_mut();
    if let ServiceError::Unauthenticated(_) | ServiceError::Token(_) = e {
        headers.insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    insert_retry_after(e, headers);
    response
}

/// The media type of SCIM requests and answers (RFC 7644 §8.1).
pub const SCIM_CONTENT_TYPE: &str = "application/scim+json";
