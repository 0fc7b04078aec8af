//! The cluster admin API (`/access/api/v1/cluster/*`: status, member removal) and the
//! readiness gate in front of the public API.

use actix_web::body::BoxBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{web, HttpResponse};
use serde_json::json;

use super::extract::Admin;
use crate::config::Config;
use crate::raft::rpc::{MembershipChange, RefusalKind};
use crate::service::cluster::Cluster;
use crate::service::{ServiceError, ServiceResult};

/// `GET /access/api/v1/cluster/status` (admin).
pub async fn status(
    cluster: web::Data<Cluster>,
    config: web::Data<Config>,
    _: Admin,
) -> ServiceResult<HttpResponse> {
    let raft = cluster.status();
    let members: Vec<_> = cluster
        .members()
        .await
        .into_iter()
        .map(|m| {
            json!({
                "id": m.id,
                "url": m.url,
                "voter": m.voter,
                "matched_index": m.matched_index,
                "lag": m.lag,
                "reachable": m.reachable,
                "last_contact_ms_ago": m.last_contact_ms_ago,
                // How far its clock is ahead of this node's, as this node last read it.
                "clock_offset_ms": cluster.member_clock_offset(m.id),
                "format": cluster.member_format(m.id),
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({
        "node_id": raft.node_id,
        "cluster_name": config.raft.cluster_name,
        "service_id": cluster.service_id()?,
        "state": raft.state,
        "ready": cluster.is_ready(),
        "leader": { "id": raft.leader, "url": raft.leader_url },
        "term": raft.term,
        "applied_index": raft.applied_index,
        "last_log_index": raft.last_log_index,
        "snapshot_index": raft.snapshot_index,
        "purged_index": raft.purged_index,
        "members": members,
        "clock": cluster.clock_json(),
        "format": cluster.formats_json(),
    })))
}

/// `DELETE /access/api/v1/cluster/members/{id}` (admin).
pub async fn remove_member(
    cluster: web::Data<Cluster>,
    _: Admin,
    id: web::Path<String>,
) -> ServiceResult<HttpResponse> {
    let id: u64 = id
        .parse()
        .map_err(|_| ServiceError::invalid(format!("'{id}' is not a node id")))?;
    match cluster
        .change_membership(MembershipChange { remove: id })
        .await
    {
        Ok(voters) => Ok(HttpResponse::Ok().json(json!({ "removed": id, "voters": voters }))),
        Err(r) => Err(match r.kind {
            RefusalKind::NotMember => ServiceError::Absent(r.message),
            RefusalKind::LastVoter => ServiceError::Conflict(r.message),
            RefusalKind::NotLeader | RefusalKind::Unavailable => {
                ServiceError::unavailable(r.message)
            }
        }),
    }
}

/// Public API gate: 503 with Retry-After until the node is a caught-up member.
pub async fn require_ready(
    req: ServiceRequest,
    next: Next<BoxBody>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let ready = req
        .app_data::<web::Data<Cluster>>()
        .is_some_and(|c| c.is_ready());
    if !ready {
        let response = actix_web::ResponseError::error_response(&ServiceError::unavailable(
            "this node is starting or catching up with the cluster",
        ));
        return Ok(req.into_response(response));
    }
    next.call(req).await
}
