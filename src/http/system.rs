//! System endpoints: ping, service id, root certificate, health, backup and restore.

use std::collections::HashMap;

use actix_web::{web, HttpResponse};
use tokio::io::AsyncReadExt;

use super::extract::{Admin, MaybeCaller};
use super::params::read_body;
use crate::service::backup::Backup;
use crate::service::cluster::Cluster;
use crate::service::keys::Keys;
use crate::service::{ServiceError, ServiceResult};

/// `OK` for anonymous callers and valid credentials; 401 for bad ones (clients use a ping to
/// test a token).
pub async fn ping(keys: web::Data<Keys>, _: MaybeCaller) -> ServiceResult<HttpResponse> {
    keys.keyset()?;
    Ok(HttpResponse::Ok().content_type("text/plain").body("OK"))
}

pub async fn service_id(keys: web::Data<Keys>) -> ServiceResult<HttpResponse> {
    Ok(HttpResponse::Ok()
        .content_type("text/plain")
        .body(keys.service_id()?))
}

pub async fn root_cert(keys: web::Data<Keys>) -> ServiceResult<HttpResponse> {
    Ok(HttpResponse::Ok()
        .content_type("application/x-pem-file")
        .body(keys.root_certificate()?))
}

pub async fn health(cluster: web::Data<Cluster>) -> ServiceResult<HttpResponse> {
    let (ready, body) = cluster.health()?;
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
pub async fn backup(backup: web::Data<Backup>, _: Admin) -> ServiceResult<HttpResponse> {
    let (file, len) = backup.backup().await?;
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
    backup: web::Data<Backup>,
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
    let summary = backup.restore(&file, force).await?;
    Ok(HttpResponse::Ok().json(summary))
}
