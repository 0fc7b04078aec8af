//! One log line per request: method, path (never the query string), status, time, a request
//! id (the client's `X-Request-Id` when sane, else a new one, echoed back) and the
//! authenticated subject. The address logged (`peer`) is the client's (`extract::client_ip`),
//! with `via` the proxy it came through when that differs. Raft traffic and health probes log
//! at debug, the rest at info.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::HttpMessage;

use tracing::field::display;

use super::extract::client_ip;
use crate::telemetry::context::{self, RequestContext};

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The caller's user name, left on the request where no token names it (a UI session, a
/// registry login). Token callers are read from the request context's actor instead.
#[derive(Clone)]
pub struct Subject(pub String);

fn request_id(req: &ServiceRequest) -> String {
    req.headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        })
        .map(str::to_string)
        .unwrap_or_else(next_id)
}

/// A new request id: 16 hex digits, from a counter that starts at a random point, so ids do
/// not repeat across restarts and cost no syscall per request.
fn next_id() -> String {
    static NEXT: OnceLock<AtomicU64> = OnceLock::new();
    let counter = NEXT.get_or_init(|| AtomicU64::new(rand::random::<u64>()));
    format!("{:016x}", counter.fetch_add(1, Ordering::Relaxed))
}

/// Node-to-node heartbeats and probes: every few hundred milliseconds, so not at info.
fn is_chatter(path: &str) -> bool {
    path == "/healthz"
        || path.starts_with("/_cluster/raft/")
        || path == "/_cluster/read_index"
        || path == "/_cluster/replication"
}

pub async fn log_requests(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let id = request_id(&req);
    let method = req.method().to_string();
    let path = req.path().to_string();
    // The client (behind a trusted proxy, the one its headers name), and the proxy it came
    // through when that differs.
    let peer = req.peer_addr().map(|a| a.ip());
    let client = client_ip(req.request());
    let via = peer.filter(|p| Some(*p) != client).map(display);
    let client = client.map(|ip| ip.to_string()).unwrap_or_default();
    // Audit events raised while serving carry the request's id, address and caller.
    let ctx = Arc::new(RequestContext::new(
        id.clone(),
        (!client.is_empty()).then(|| client.clone()),
    ));
    let mut res = context::scope(ctx.clone(), next.call(req)).await?;
    if let Ok(value) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(REQUEST_ID, value);
    }
    let subject = res
        .request()
        .extensions()
        .get::<Subject>()
        .map(|s| s.0.clone())
        .or_else(|| ctx.actor())
        .unwrap_or_default();
    let status = res.status().as_u16();
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    // Refused credentials stay visible even on the quiet paths.
    if is_chatter(&path) && status != 401 && status != 403 {
        tracing::debug!(request_id = %id, %method, %path, status, ms, peer = %client, via, "request");
    } else {
        tracing::info!(request_id = %id, %method, %path, status, ms, peer = %client, via, %subject, "request");
    }
    Ok(res)
}
