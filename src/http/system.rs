//! System endpoints: ping, service id, root certificate, health.

use actix_web::HttpResponse;
use serde_json::json;

use super::extract::{MaybeCaller, Svc};
use crate::service::{ServiceError, ServiceResult};

/// `OK` for anonymous callers and valid credentials; 401 for bad ones (clients use a ping to
/// test a token).
pub async fn ping(node: Svc, _: MaybeCaller) -> ServiceResult<HttpResponse> {
    node.keyset()?;
    Ok(HttpResponse::Ok().content_type("text/plain").body("OK"))
}

pub async fn service_id(node: Svc) -> ServiceResult<HttpResponse> {
    Ok(HttpResponse::Ok()
        .content_type("text/plain")
        .body(node.service_id()?))
}

pub async fn root_cert(node: Svc) -> ServiceResult<HttpResponse> {
    let key = node
        .state
        .active_key()?
        .ok_or_else(|| ServiceError::Unavailable("the cluster is not bootstrapped yet".into()))?;
    Ok(HttpResponse::Ok()
        .content_type("application/x-pem-file")
        .body(key.certificate_pem))
}

pub async fn health(node: Svc) -> ServiceResult<HttpResponse> {
    let status = node.membership.status();
    let ready = node.is_ready() && node.state.keyset().is_some();
    let body = json!({
        "status": if ready { "UP" } else { "DOWN" },
        "node_id": status.node_id,
        "state": status.state,
        "leader": status.leader,
        "term": status.term,
        "last_applied": status.applied_index,
    });
    Ok(if ready {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    })
}
