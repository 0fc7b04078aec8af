//! Cluster endpoints. `/_cluster/*` is the node-to-node RPC (Raft messages, forwarded writes,
//! read index, joins), authenticated by the join key; `/access/api/v1/cluster/*` is the admin
//! API (status, member removal).

use std::sync::Arc;

use actix_web::body::BoxBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{web, HttpRequest, HttpResponse};
use openraft::raft::{AppendEntriesRequest, InstallSnapshotRequest, VoteRequest};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::json;

use super::params::read_body;
use super::{auth, NodeData};
use crate::error::{ApiError, ApiResult};
use crate::node::Node;
use crate::raft::command::Command;
use crate::raft::network::JOIN_KEY_HEADER;
use crate::raft::rpc::{JoinRequest, MembershipChange};
use crate::raft::TypeConfig;

/// Raft messages carry log batches and snapshot chunks.
const RPC_BODY_LIMIT: usize = 64 * 1024 * 1024;

pub fn rpc_routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/raft/append", web::post().to(append))
        .route("/raft/vote", web::post().to(vote))
        .route("/raft/snapshot", web::post().to(snapshot))
        .route("/write", web::post().to(write))
        .route("/read_index", web::post().to(read_index))
        .route("/join", web::post().to(join))
        .route("/membership", web::post().to(membership))
        .route("/replication", web::post().to(replication));
}

/// Check the join key (constant time) and parse the JSON body.
async fn rpc_body<T: DeserializeOwned>(
    node: &Node,
    req: &HttpRequest,
    payload: web::Payload,
) -> ApiResult<T> {
    let given = req
        .headers()
        .get(JOIN_KEY_HEADER)
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    if !constant_time_eq::constant_time_eq(given, node.join_key.as_bytes()) {
        tracing::warn!(peer = ?req.peer_addr(), path = req.path(), "cluster RPC with a wrong or missing join key");
        return Err(ApiError::Unauthorized(
            "cluster RPC needs the cluster join key".into(),
        ));
    }
    let body = read_body(payload, RPC_BODY_LIMIT).await?;
    let body = if body.is_empty() {
        &b"null"[..]
    } else {
        &body[..]
    };
    serde_json::from_slice(body)
        .map_err(|e| ApiError::BadRequest(format!("malformed cluster RPC body: {e}")))
}

fn reply<T: Serialize>(value: &T) -> HttpResponse {
    HttpResponse::Ok().json(value)
}

async fn append(
    node: NodeData,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let rpc: AppendEntriesRequest<TypeConfig> = rpc_body(&node, &req, payload).await?;
    Ok(reply(&node.raft.append_entries(rpc).await))
}

async fn vote(node: NodeData, req: HttpRequest, payload: web::Payload) -> ApiResult<HttpResponse> {
    let rpc: VoteRequest<u64> = rpc_body(&node, &req, payload).await?;
    Ok(reply(&node.raft.vote(rpc).await))
}

async fn snapshot(
    node: NodeData,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let rpc: InstallSnapshotRequest<TypeConfig> = rpc_body(&node, &req, payload).await?;
    Ok(reply(&node.raft.install_snapshot(rpc).await))
}

async fn write(node: NodeData, req: HttpRequest, payload: web::Payload) -> ApiResult<HttpResponse> {
    let cmd: Command = rpc_body(&node, &req, payload).await?;
    Ok(reply(&node.write_as_leader(cmd).await))
}

async fn read_index(
    node: NodeData,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let () = rpc_body(&node, &req, payload).await?;
    Ok(reply(&node.read_index_as_leader().await))
}

async fn join(node: NodeData, req: HttpRequest, payload: web::Payload) -> ApiResult<HttpResponse> {
    let join: JoinRequest = rpc_body(&node, &req, payload).await?;
    if join.node_id == 0 || !join.url.starts_with("http") {
        return Err(ApiError::BadRequest(
            "join needs node_id >= 1 and an http(s) url".into(),
        ));
    }
    Ok(reply(&node.handle_join(join).await))
}

async fn membership(
    node: NodeData,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let change: MembershipChange = rpc_body(&node, &req, payload).await?;
    Ok(reply(&node.handle_remove(change).await))
}

async fn replication(
    node: NodeData,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let () = rpc_body(&node, &req, payload).await?;
    Ok(reply(&node.replication_view().await))
}

/// `GET /access/api/v1/cluster/status` (admin).
pub async fn status(node: NodeData, req: HttpRequest) -> ApiResult<HttpResponse> {
    auth::required_admin(&node, &req).await?;
    let metrics = node.raft.metrics().borrow().clone();
    let leader_url = metrics.current_leader.and_then(|id| {
        metrics
            .membership_config
            .membership()
            .get_node(&id)
            .map(|n| n.addr.clone())
    });
    let members: Vec<_> = node
        .members()
        .await
        .into_iter()
        .map(|(id, url, voter, matched, lag)| {
            json!({ "id": id, "url": url, "voter": voter, "matched_index": matched, "lag": lag })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({
        "node_id": node.node_id,
        "cluster_name": node.config.raft.cluster_name,
        "service_id": node.state.service_id()?,
        "state": format!("{:?}", metrics.state),
        "ready": node.is_ready(),
        "leader": { "id": metrics.current_leader, "url": leader_url },
        "term": metrics.current_term,
        "applied_index": metrics.last_applied.map(|l| l.index),
        "last_log_index": metrics.last_log_index,
        "snapshot_index": metrics.snapshot.map(|l| l.index),
        "purged_index": metrics.purged.map(|l| l.index),
        "members": members,
    })))
}

/// `DELETE /access/api/v1/cluster/members/{id}` (admin).
pub async fn remove_member(
    node: NodeData,
    req: HttpRequest,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    auth::required_admin(&node, &req).await?;
    let id: u64 = id
        .parse()
        .map_err(|_| ApiError::BadRequest(format!("'{id}' is not a node id")))?;
    match node.handle_remove(MembershipChange { remove: id }).await {
        Ok(voters) => Ok(HttpResponse::Ok().json(json!({ "removed": id, "voters": voters }))),
        Err(r) if r.message.contains("not a member") => Err(ApiError::NotFound(r.message)),
        Err(r) if r.message.contains("last voter") => Err(ApiError::Conflict(r.message)),
        Err(r) => Err(ApiError::Unavailable(r.message)),
    }
}

/// Public API gate: 503 with Retry-After until the node is a caught-up member.
pub async fn require_ready(
    req: ServiceRequest,
    next: Next<BoxBody>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let ready = req
        .app_data::<web::Data<Arc<Node>>>()
        .is_some_and(|n| n.is_ready());
    if !ready {
        let response = actix_web::ResponseError::error_response(&ApiError::Unavailable(
            "this node is starting or catching up with the cluster".into(),
        ));
        return Ok(req.into_response(response));
    }
    next.call(req).await
}
