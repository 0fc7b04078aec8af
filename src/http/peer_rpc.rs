//! `/_cluster/*`: the node-to-node RPC (Raft messages, forwarded writes, read index, joins,
//! membership, replication view). Every call carries the join key ([`PeerNode`]).

use actix_web::{web, HttpResponse};
use openraft::raft::{AppendEntriesRequest, InstallSnapshotRequest, VoteRequest};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::extract::PeerNode;
use super::params::read_body;
use crate::raft::command::Command;
use crate::raft::election::PreVoteRequest;
use crate::raft::rpc::{JoinRequest, MembershipChange};
use crate::raft::TypeConfig;
use crate::service::cluster::Cluster;
use crate::service::federation::Federation;
use crate::service::{ServiceError, ServiceResult};

/// Raft messages carry log batches and snapshot chunks.
const RPC_BODY_LIMIT: usize = 64 * 1024 * 1024;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/raft/append", web::post().to(append))
        .route("/raft/vote", web::post().to(vote))
        .route("/raft/snapshot", web::post().to(snapshot))
        .route("/raft/pre_vote", web::post().to(pre_vote))
        .route("/write", web::post().to(write))
        .route("/read_index", web::post().to(read_index))
        .route("/join", web::post().to(join))
        .route("/membership", web::post().to(membership))
        .route("/replication", web::post().to(replication))
        .route("/time", web::post().to(time))
        .route("/take_over", web::post().to(take_over))
        .route("/federation_links", web::post().to(federation_links));
}

/// The JSON body of a peer call (an empty body reads as `null`).
async fn body<T: DeserializeOwned>(payload: web::Payload) -> ServiceResult<T> {
    let body = read_body(payload, RPC_BODY_LIMIT).await?;
    let body = if body.is_empty() {
        &b"null"[..]
    } else {
        &body[..]
    };
    serde_json::from_slice(body)
        .map_err(|e| ServiceError::invalid(format!("malformed cluster RPC body: {e}")))
}

fn reply<T: Serialize>(value: &T) -> HttpResponse {
    HttpResponse::Ok().json(value)
}

async fn append(
    cluster: web::Data<Cluster>,
    _: PeerNode,
    payload: web::Payload,
) -> ServiceResult<HttpResponse> {
    let rpc: AppendEntriesRequest<TypeConfig> = body(payload).await?;
    Ok(reply(&cluster.append(rpc).await))
}

async fn vote(
    cluster: web::Data<Cluster>,
    _: PeerNode,
    payload: web::Payload,
) -> ServiceResult<HttpResponse> {
    let rpc: VoteRequest<u64> = body(payload).await?;
    Ok(reply(&cluster.vote(rpc).await))
}

async fn pre_vote(
    cluster: web::Data<Cluster>,
    _: PeerNode,
    payload: web::Payload,
) -> ServiceResult<HttpResponse> {
    let request: PreVoteRequest = body(payload).await?;
    Ok(reply(&cluster.pre_vote(&request)))
}

async fn snapshot(
    cluster: web::Data<Cluster>,
    _: PeerNode,
    payload: web::Payload,
) -> ServiceResult<HttpResponse> {
    let rpc: InstallSnapshotRequest<TypeConfig> = body(payload).await?;
    Ok(reply(&cluster.install_snapshot(rpc).await))
}

async fn write(
    cluster: web::Data<Cluster>,
    _: PeerNode,
    payload: web::Payload,
) -> ServiceResult<HttpResponse> {
    let cmd: Command = body(payload).await?;
    Ok(reply(&cluster.forwarded_write(cmd).await))
}

async fn read_index(
    cluster: web::Data<Cluster>,
    _: PeerNode,
    payload: web::Payload,
) -> ServiceResult<HttpResponse> {
    let () = body(payload).await?;
    Ok(reply(&cluster.read_index().await))
}

async fn join(
    cluster: web::Data<Cluster>,
    _: PeerNode,
    payload: web::Payload,
) -> ServiceResult<HttpResponse> {
    let join: JoinRequest = body(payload).await?;
    if join.node_id == 0 || !join.url.starts_with("http") {
        return Err(ServiceError::invalid(
            "join needs node_id >= 1 and an http(s) url",
        ));
    }
    Ok(reply(&cluster.join(join).await))
}

async fn membership(
    cluster: web::Data<Cluster>,
    _: PeerNode,
    payload: web::Payload,
) -> ServiceResult<HttpResponse> {
    let change: MembershipChange = body(payload).await?;
    Ok(reply(&cluster.change_membership(change).await))
}

async fn replication(
    cluster: web::Data<Cluster>,
    _: PeerNode,
    payload: web::Payload,
) -> ServiceResult<HttpResponse> {
    let () = body(payload).await?;
    Ok(reply(&cluster.replication_view().await))
}

/// The leader is stopping: campaign now (`Cluster::hand_over`).
async fn take_over(
    cluster: web::Data<Cluster>,
    _: PeerNode,
    payload: web::Payload,
) -> ServiceResult<HttpResponse> {
    let () = body(payload).await?;
    cluster.take_over().await;
    Ok(reply(&()))
}

/// This node's clock, for the other members' offset readings (`actors::clock_probe`).
async fn time(_: PeerNode, payload: web::Payload) -> ServiceResult<HttpResponse> {
    let () = body(payload).await?;
    Ok(reply(&crate::raft::clock::TimeReply {
        now_ms: crate::clock::now_millis(),
        format: Some(crate::domain::version::own_format()),
    }))
}

/// The federation links as this node sees them (the leader runs them: followers ask it).
async fn federation_links(
    federation: web::Data<Federation>,
    _: PeerNode,
    payload: web::Payload,
) -> ServiceResult<HttpResponse> {
    let () = body(payload).await?;
    Ok(reply(&federation.links_here()?))
}
