//! Access Federation (JFrog paths): peer sites, full_broadcast, validate_server, the digest;
//! and the site-to-site endpoints, which authenticate the signed message, not a caller (and,
//! for a large one, its upload header before reading it: `site_body`).

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use super::extract::{body_limit, Admin};
use super::params::Params;
use super::site_body::{self, Size};
use crate::federation::protocol::Answer;
use crate::service::federation::Federation;
use crate::service::federation::{NewPeer, PeerPatch};
use crate::service::federation_inbound::SiteInbox;
use crate::service::ServiceResult;

async fn params(req: &HttpRequest, payload: web::Payload) -> ServiceResult<Params> {
    Params::from_request(req, payload, body_limit(req)).await
}

fn optional_list(p: &Params, name: &str) -> ServiceResult<Option<Vec<String>>> {
    Ok(match p.present(name) {
        true => Some(p.string_list(name)?),
        false => None,
    })
}

/// The peer sites with their link status, as the leader (which runs the links) sees them.
pub async fn list(federation: web::Data<Federation>, _: Admin) -> ServiceResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(federation.links().await?))
}

pub async fn get(
    federation: web::Data<Federation>,
    _: Admin,
    name: web::Path<String>,
) -> ServiceResult<HttpResponse> {
    let peer = federation.peer(&name)?;
    let from_leader = federation
        .links()
        .await?
        .into_iter()
        .find(|l| l["name"] == peer.name.as_str());
    match from_leader {
        Some(link) => Ok(HttpResponse::Ok().json(link)),
        None => Ok(HttpResponse::Ok().json(federation.link_status(&peer)?)),
    }
}

pub async fn create(
    federation: web::Data<Federation>,
    _: Admin,
    req: HttpRequest,
    payload: web::Payload,
) -> ServiceResult<HttpResponse> {
    let p = params(&req, payload).await?;
    p.allow_only(&[
        "name",
        "url",
        "service_id",
        "entities",
        "active",
        "exclude_users",
    ])?;
    let peer = federation
        .add_peer(NewPeer {
            name: p.required_string("name")?,
            url: p.required_string("url")?,
            service_id: p.string("service_id")?,
            entities: optional_list(&p, "entities")?,
            active: p.boolean("active")?,
            exclude_users: optional_list(&p, "exclude_users")?,
        })
        .await?;
    Ok(HttpResponse::Created().json(federation.link_status(&peer)?))
}

pub async fn update(
    federation: web::Data<Federation>,
    _: Admin,
    req: HttpRequest,
    name: web::Path<String>,
    payload: web::Payload,
) -> ServiceResult<HttpResponse> {
    let p = params(&req, payload).await?;
    p.allow_only(&["url", "entities", "active", "exclude_users"])?;
    let peer = federation
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
    Ok(HttpResponse::Ok().json(federation.link_status(&peer)?))
}

pub async fn delete(
    federation: web::Data<Federation>,
    _: Admin,
    name: web::Path<String>,
) -> ServiceResult<HttpResponse> {
    federation.remove_peer(&name).await?;
    Ok(HttpResponse::NoContent().finish())
}

pub async fn full_broadcast(
    federation: web::Data<Federation>,
    _: Admin,
    name: web::Path<String>,
) -> ServiceResult<HttpResponse> {
    federation.full_broadcast(&name).await?;
    Ok(HttpResponse::Accepted().json(json!({ "name": name.as_str(), "full_sync": "scheduled" })))
}

pub async fn validate_server(
    federation: web::Data<Federation>,
    _: Admin,
    req: HttpRequest,
    payload: web::Payload,
) -> ServiceResult<HttpResponse> {
    let p = params(&req, payload).await?;
    p.allow_only(&["url"])?;
    Ok(HttpResponse::Ok().json(
        federation
            .validate_server(&p.required_string("url")?)
            .await?,
    ))
}

pub async fn digest(federation: web::Data<Federation>, _: Admin) -> ServiceResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(federation.federation_digest()?))
}

/// 200 for an applied message; 409 (with the API's `errors` list) for one refused as a replay,
/// out of order or after a gap: the position says where to resume.
fn answered(a: Answer) -> HttpResponse {
    if a.status == "ok" {
        return HttpResponse::Ok().json(a);
    }
    let message = match a.status.as_str() {
        "gap" => "events of an origin are missing before this batch: send a full sync".to_string(),
        "format" => format!(
            "this site is at format {} and cannot take these changes yet: hold them until it is upgraded",
            a.format
        ),
        _ => format!("not the next batch: resume from position {}", a.position),
    };
    let mut body = serde_json::to_value(&a).unwrap_or_default();
    body["errors"] = json!([{ "code": "CONFLICT", "message": message }]);
    HttpResponse::Conflict().json(body)
}

pub async fn events(
    inbox: web::Data<SiteInbox>,
    req: HttpRequest,
    payload: web::Payload,
) -> ServiceResult<HttpResponse> {
    let body = site_body::read(&inbox, &req, payload, Size::Large).await?;
    Ok(answered(
        inbox.receive_events(site_body::text(&body)?).await?,
    ))
}

pub async fn sync(
    inbox: web::Data<SiteInbox>,
    req: HttpRequest,
    payload: web::Payload,
) -> ServiceResult<HttpResponse> {
    let body = site_body::read(&inbox, &req, payload, Size::Large).await?;
    Ok(answered(inbox.receive_sync(site_body::text(&body)?).await?))
}

pub async fn hello(
    inbox: web::Data<SiteInbox>,
    req: HttpRequest,
    payload: web::Payload,
) -> ServiceResult<HttpResponse> {
    let body = site_body::read(&inbox, &req, payload, Size::Small).await?;
    Ok(answered(inbox.hello(site_body::text(&body)?).await?))
}
