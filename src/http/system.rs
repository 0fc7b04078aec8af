//! System endpoints: ping, service id, root certificate, health, backup and restore.

use std::collections::HashMap;

use actix_web::{web, HttpResponse};
use serde_json::json;
use tokio::io::AsyncReadExt;

use super::extract::{Admin, MaybeCaller, Svc};
use super::params::read_body;
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
        // From the state machine itself: Raft's metrics can trail an answered write by an
        // instant, and callers compare this across nodes to know they agree.
        "last_applied": node.state.last_applied()?.map(|l| l.index).or(status.applied_index),
        // Degraded: the node still validates, but mints nothing until its clock is in range.
        "degraded": node.clock_problem().is_some(),
        "clock": node.clock_json(),
    });
    Ok(if ready {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    })
}

/// The largest backup file `restore` accepts.
const RESTORE_BODY_LIMIT: usize = 4 << 30;

/// `GET /access/api/v1/system/backup` (admin): the replicated state as one consistent cut
/// (`store::backup`), SHA-256 trailer included.
pub async fn backup(svc: Svc, _: Admin) -> ServiceResult<HttpResponse> {
    let (file, len) = svc.backup().await?;
    // Streamed from the (unlinked) file in 256 KiB pieces: memory stays flat.
    let stream =
        futures::stream::unfold(Some(tokio::fs::File::from_std(file)), |file| async move {
            let mut file = file?;
            let mut buf = vec![0u8; 256 * 1024];
            match file.read(&mut buf).await {
                Ok(0) => None,
                Ok(n) => {
                    buf.truncate(n);
                    Some((Ok(web::Bytes::from(buf)), Some(file)))
                }
                Err(e) => Some((Err(e), None)),
            }
        });
    Ok(HttpResponse::Ok()
        .content_type("application/octet-stream")
        .insert_header(("cache-control", "no-store"))
        .no_chunking(len)
        .streaming::<_, std::io::Error>(stream))
}

/// `POST /access/api/v1/system/restore[?force=true]` (admin): the body is a backup file.
pub async fn restore(
    svc: Svc,
    _: Admin,
    query: web::Query<HashMap<String, String>>,
    payload: web::Payload,
) -> ServiceResult<HttpResponse> {
    let force = match query.get("force").map(|f| f.to_ascii_lowercase()) {
        None => false,
        Some(f) if f == "true" => true,
        Some(f) if f == "false" => false,
        Some(_) => {
            return Err(ServiceError::BadRequest(
                "'force' must be true or false".into(),
            ))
        }
    };
    let file = read_body(payload, RESTORE_BODY_LIMIT).await?;
    let summary = svc.restore(&file, force).await?;
    Ok(HttpResponse::Ok().json(summary))
}
