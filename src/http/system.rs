//! System endpoints: ping, service id, root certificate, health.

use actix_web::{HttpRequest, HttpResponse};
use serde_json::json;

use super::{auth, NodeData};
use crate::error::{ApiError, ApiResult};

/// `OK` for anonymous callers and valid credentials; 401 for bad ones (clients use a ping to
/// test a token).
pub async fn ping(node: NodeData, req: HttpRequest) -> ApiResult<HttpResponse> {
    node.keyset()?;
    auth::optional(&node, &req).await?;
    Ok(HttpResponse::Ok().content_type("text/plain").body("OK"))
}

pub async fn service_id(node: NodeData) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok()
        .content_type("text/plain")
        .body(node.service_id()?))
}

pub async fn root_cert(node: NodeData) -> ApiResult<HttpResponse> {
    let key = node
        .state
        .active_key()?
        .ok_or_else(|| ApiError::Unavailable("the cluster is not bootstrapped yet".into()))?;
    Ok(HttpResponse::Ok()
        .content_type("application/x-pem-file")
        .body(key.certificate_pem))
}

pub async fn health(node: NodeData) -> ApiResult<HttpResponse> {
    let metrics = node.raft.metrics().borrow().clone();
    let ready = node.is_ready() && node.state.keyset().is_some();
    let body = json!({
        "status": if ready { "UP" } else { "DOWN" },
        "node_id": node.node_id,
        "state": format!("{:?}", metrics.state),
        "leader": metrics.current_leader,
        "term": metrics.current_term,
        "last_applied": metrics.last_applied.map(|l| l.index),
    });
    Ok(if ready {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    })
}
