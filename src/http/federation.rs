//! Access Federation (JFrog paths): peer sites, full_broadcast, validate_server, the digest;
//! and the site-to-site endpoints, which authenticate the signed message, not a caller (and,
//! for a large one, its upload header before reading it: `site_body`).

use std::time::Instant;

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

use super::extract::{Admin, Svc};
use super::params::Params;
use super::site_body::{self, Size};
use crate::federation::protocol::{Answer, PeerSite};
use crate::service::federation::{NewPeer, PeerPatch};
use crate::service::ServiceResult;

pub(crate) fn peer_json(svc: &Svc, p: &PeerSite) -> ServiceResult<Value> {
    let cursor = svc.state.fed_cursor(&p.name)?;
    let (tail, head) = svc.state.fed_journal_range()?;
    let epoch = svc.state.fed_epoch()?;
    let live = svc.links.get(&p.name).unwrap_or_default();
    let refusals = svc.state.fed_refusals(&p.service_id)?;
    let behind = cursor
        .next
        .map(|n| head.saturating_sub(n))
        .unwrap_or(head - tail);
    let stale = cursor.next.is_some_and(|n| n < tail);
    let full_sync = cursor.next.is_none() || cursor.resync || cursor.synced_epoch < epoch || stale;
    let state = match (p.active, svc.membership.status().is_leader) {
        (false, _) => "inactive",
        (true, false) => "standby",
        (true, true) => live.state,
    };
    Ok(json!({
        "name": p.name,
        "url": p.url,
        "service_id": p.service_id,
        "entities": p.entities,
        "active": p.active,
        "exclude_users": p.exclude_users,
        "status": {
            "state": state,
            "last_contact_ms_ago": live.last_contact.map(|t| Instant::now().duration_since(t).as_millis() as u64),
            "events_behind": behind,
            "lag_ms": live.lag_ms,
            "last_error": live.last_error,
            "full_sync": full_sync,
            "full_syncs": cursor.full_syncs,
            "stale": stale,
            "cursor": cursor.next,
            "events_sent": live.events_sent,
            "refused": refusals.count,
            // How far its clock is ahead of ours, as the link last read it (leader only).
            "clock_offset_ms": svc.clocks.site_offset(&p.name),
            "last_refused": refusals.last,
        }
    }))
}

async fn params(svc: &Svc, req: &HttpRequest, payload: web::Payload) -> ServiceResult<Params> {
    Params::from_request(req, payload, svc.config.server.max_body_bytes).await
}

fn optional_list(p: &Params, name: &str) -> ServiceResult<Option<Vec<String>>> {
    Ok(match p.present(name) {
        true => Some(p.string_list(name)?),
        false => None,
    })
}

/// Status lives on the leader: a follower asks it, and answers from its own view if that fails.
async fn from_leader(svc: &Svc, req: &HttpRequest) -> Option<HttpResponse> {
    let status = svc.membership.status();
    if status.is_leader {
        return None;
    }
    let url = format!("{}{}", status.leader_url?, req.uri());
    let mut call = svc
        .peer_http()
        .get(url)
        .timeout(std::time::Duration::from_secs(3));
    if let Some(auth) = req.headers().get("authorization") {
        call = call.header("authorization", auth.as_bytes());
    }
    let r = call.send().await.ok()?;
    if !r.status().is_success() {
        return None;
    }
    let body = r.bytes().await.ok()?;
    Some(
        HttpResponse::Ok()
            .content_type("application/json")
            .body(body),
    )
}

pub async fn list(svc: Svc, _: Admin, req: HttpRequest) -> ServiceResult<HttpResponse> {
    if let Some(r) = from_leader(&svc, &req).await {
        return Ok(r);
    }
    let peers = svc
        .peers()?
        .iter()
        .map(|p| peer_json(&svc, p))
        .collect::<ServiceResult<Vec<_>>>()?;
    Ok(HttpResponse::Ok().json(peers))
}

pub async fn get(
    svc: Svc,
    _: Admin,
    req: HttpRequest,
    name: web::Path<String>,
) -> ServiceResult<HttpResponse> {
    let peer = svc.peer(&name)?;
    if let Some(r) = from_leader(&svc, &req).await {
        return Ok(r);
    }
    Ok(HttpResponse::Ok().json(peer_json(&svc, &peer)?))
}

pub async fn create(
    svc: Svc,
    _: Admin,
    req: HttpRequest,
    payload: web::Payload,
) -> ServiceResult<HttpResponse> {
    let p = params(&svc, &req, payload).await?;
    p.allow_only(&[
        "name",
        "url",
        "service_id",
        "entities",
        "active",
        "exclude_users",
    ])?;
    let peer = svc
        .add_peer(NewPeer {
            name: p.required_string("name")?,
            url: p.required_string("url")?,
            service_id: p.string("service_id")?,
            entities: optional_list(&p, "entities")?,
            active: p.boolean("active")?,
            exclude_users: optional_list(&p, "exclude_users")?,
        })
        .await?;
    Ok(HttpResponse::Created().json(peer_json(&svc, &peer)?))
}

pub async fn update(
    svc: Svc,
    _: Admin,
    req: HttpRequest,
    name: web::Path<String>,
    payload: web::Payload,
) -> ServiceResult<HttpResponse> {
    let p = params(&svc, &req, payload).await?;
    p.allow_only(&["url", "entities", "active", "exclude_users"])?;
    let peer = svc
        .update_peer(
            &name,
            PeerPatch {
                url: p.string("url")?,
                entities: optional_list(&p, "entities")?,
                active: p.boolean("active")?,
                exclude_users: optional_list(&p, "exclude_users")?,
            },
        )
        .await?;
    Ok(HttpResponse::Ok().json(peer_json(&svc, &peer)?))
}

pub async fn delete(svc: Svc, _: Admin, name: web::Path<String>) -> ServiceResult<HttpResponse> {
    svc.remove_peer(&name).await?;
    Ok(HttpResponse::NoContent().finish())
}

pub async fn full_broadcast(
    svc: Svc,
    _: Admin,
    name: web::Path<String>,
) -> ServiceResult<HttpResponse> {
    svc.full_broadcast(&name).await?;
    Ok(HttpResponse::Accepted().json(json!({ "name": name.as_str(), "full_sync": "scheduled" })))
}

pub async fn validate_server(
    svc: Svc,
    _: Admin,
    req: HttpRequest,
    payload: web::Payload,
) -> ServiceResult<HttpResponse> {
    let p = params(&svc, &req, payload).await?;
    p.allow_only(&["url"])?;
    Ok(HttpResponse::Ok().json(svc.validate_server(&p.required_string("url")?).await?))
}

pub async fn digest(svc: Svc, _: Admin) -> ServiceResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(svc.federation_digest()?))
}

/// 200 for an applied message; 409 (with the API's `errors` list) for one refused as a replay,
/// out of order or after a gap: the position says where to resume.
fn answered(a: Answer) -> HttpResponse {
    if a.status == "ok" {
        return HttpResponse::Ok().json(a);
    }
    let message = match a.status.as_str() {
        "gap" => "events of an origin are missing before this batch: send a full sync".to_string(),
        _ => format!("not the next batch: resume from position {}", a.position),
    };
    let mut body = serde_json::to_value(&a).unwrap_or_default();
    body["errors"] = json!([{ "code": "CONFLICT", "message": message }]);
    HttpResponse::Conflict().json(body)
}

pub async fn events(
    svc: Svc,
    req: HttpRequest,
    payload: web::Payload,
) -> ServiceResult<HttpResponse> {
    let body = site_body::read(&svc, &req, payload, Size::Large).await?;
    Ok(answered(svc.receive_events(site_body::text(&body)?).await?))
}

pub async fn sync(
    svc: Svc,
    req: HttpRequest,
    payload: web::Payload,
) -> ServiceResult<HttpResponse> {
    let body = site_body::read(&svc, &req, payload, Size::Large).await?;
    Ok(answered(svc.receive_sync(site_body::text(&body)?).await?))
}

pub async fn hello(
    svc: Svc,
    req: HttpRequest,
    payload: web::Payload,
) -> ServiceResult<HttpResponse> {
    let body = site_body::read(&svc, &req, payload, Size::Small).await?;
    Ok(answered(svc.hello(site_body::text(&body)?).await?))
}
