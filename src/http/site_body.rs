//! Bodies of the site-to-site endpoints: authenticate before reading. A body within
//! `server.max-body-bytes` is read as any other (its own signature is checked after). A larger
//! one is read only after its upload header (`federation::upload`) has authenticated a
//! federated site, and only up to the length that header signs, into one buffer of that size.
//! Anyone else gets 413 (401 for a header that does not verify) before more is read.

use actix_web::http::header::CONTENT_LENGTH;
use actix_web::{web, HttpRequest};
use futures::StreamExt;

use super::extract::body_limit;
use crate::federation::upload;
use crate::service::federation_inbound::SiteInbox;
use crate::service::{ServiceError, ServiceResult};

/// Whether an endpoint takes messages larger than `server.max-body-bytes` (`_hello` does not).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Size {
    Small,
    Large,
}

fn declared_length(req: &HttpRequest) -> ServiceResult<Option<usize>> {
    let Some(v) = req.headers().get(CONTENT_LENGTH) else {
        return Ok(None);
    };
    v.to_str()
        .ok()
        .and_then(|s| s.trim().parse::<usize>().ok())
        .map(Some)
        .ok_or_else(|| ServiceError::BadRequest("invalid Content-Length".into()))
}

/// At most `limit` bytes, refused at once when the declared length is over it; the buffer
/// is sized once from the declared length.
async fn read_up_to(
    mut payload: web::Payload,
    limit: usize,
    declared: Option<usize>,
) -> ServiceResult<Vec<u8>> {
    if declared.is_some_and(|n| n > limit) {
        return Err(ServiceError::PayloadTooLarge(limit));
    }
    let mut body = Vec::with_capacity(declared.unwrap_or(0));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk
            .map_err(|e| ServiceError::BadRequest(format!("cannot read request body: {e}")))?;
        if body.len() + chunk.len() > limit {
            return Err(ServiceError::PayloadTooLarge(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The body of a site message, read under the rule above.
pub async fn read(
    inbox: &SiteInbox,
    req: &HttpRequest,
    payload: web::Payload,
    size: Size,
) -> ServiceResult<Vec<u8>> {
    let small = body_limit(req);
    let declared = declared_length(req)?;
    let header = req.headers().get(upload::HEADER);
    // Within the ordinary limit, or a stream that must stay within it: read as usual.
    if size == Size::Small || declared.is_some_and(|n| n <= small) || header.is_none() {
        return read_up_to(payload, small, declared).await;
    }
    let header = header
        .and_then(|h| h.to_str().ok())
        .ok_or_else(|| ServiceError::BadRequest("invalid upload header".into()))?;
    let upload = inbox.open_upload_header(header)?;
    let len = usize::try_from(upload.len)
        .map_err(|_| ServiceError::PayloadTooLarge(inbox.max_message_bytes()))?;
    if declared.is_some_and(|n| n != len) {
        return Err(ServiceError::BadRequest(
            "Content-Length is not the length the upload header signs".into(),
        ));
    }
    let body = read_up_to(payload, len, Some(len)).await?;
    if !upload.matches(&body) {
        return Err(ServiceError::Unauthorized(
            "the body is not the one its upload header signs".into(),
        ));
    }
    Ok(body)
}

/// The message as text, borrowed from the buffer.
pub fn text(body: &[u8]) -> ServiceResult<&str> {
    std::str::from_utf8(body)
        .map_err(|_| ServiceError::BadRequest("federation message is not text".into()))
}
