//! `/Users` and `/Groups`: create, list (and `/.search`), get, replace, modify, delete. One
//! handler per operation for both kinds; the route table mounts a named one per kind.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use super::{
    base, body, if_match, list, listing_from_query, listing_from_search, patch_operations, run,
    Answer,
};
use crate::service::scim::{Change, Kind, Scim};

async fn list_of(scim: web::Data<Scim>, req: HttpRequest, kind: Kind) -> HttpResponse {
    let base = base(&req);
    run(&req, &scim, (kind.name(), "list"), false, |_| async {
        list(&scim, Some(kind), listing_from_query(&req)?, &base).await
    })
    .await
}

async fn search_of(
    scim: web::Data<Scim>,
    req: HttpRequest,
    payload: web::Payload,
    kind: Option<Kind>,
) -> HttpResponse {
    let base = base(&req);
    let name = kind.map_or("All", Kind::name);
    run(&req, &scim, (name, "list"), false, |_| async {
        let listing = listing_from_search(&body(&req, payload).await?)?;
        list(&scim, kind, listing, &base).await
    })
    .await
}

async fn create(
    scim: web::Data<Scim>,
    req: HttpRequest,
    payload: web::Payload,
    kind: Kind,
) -> HttpResponse {
    let base = base(&req);
    run(&req, &scim, (kind.name(), "create"), true, |_| async {
        let created = scim
            .create(kind, &body(&req, payload).await?, &base)
            .await?;
        Ok(Answer::Resource(StatusCode::CREATED, created))
    })
    .await
}

async fn get(
    scim: web::Data<Scim>,
    req: HttpRequest,
    id: web::Path<String>,
    kind: Kind,
) -> HttpResponse {
    let base = base(&req);
    run(&req, &scim, (kind.name(), "get"), false, |_| async {
        Ok(Answer::Resource(
            StatusCode::OK,
            scim.get(kind, &id, &base).await?,
        ))
    })
    .await
}

/// PUT (`modify` false) or PATCH of one resource.
async fn change(
    scim: web::Data<Scim>,
    req: HttpRequest,
    id: web::Path<String>,
    payload: web::Payload,
    (kind, modify): (Kind, bool),
) -> HttpResponse {
    let base = base(&req);
    let (r, s, b) = (&req, scim.get_ref(), base.as_str());
    let operation = if modify { "modify" } else { "replace" };
    run(
        &req,
        &scim,
        (kind.name(), operation),
        true,
        |who| async move {
            let body = body(r, payload).await?;
            let m = if_match(r);
            let changed = if modify {
                let ops = patch_operations(body)?;
                let change = Change::Modify(&ops.operations);
                s.change(kind, &who, &id, change, m.as_deref(), b).await?
            } else {
                s.change(kind, &who, &id, Change::Replace(&body), m.as_deref(), b)
                    .await?
            };
            Ok(Answer::Resource(StatusCode::OK, changed))
        },
    )
    .await
}

async fn delete(
    scim: web::Data<Scim>,
    req: HttpRequest,
    id: web::Path<String>,
    kind: Kind,
) -> HttpResponse {
    let base = base(&req);
    let (r, s, b) = (&req, scim.get_ref(), base.as_str());
    run(
        &req,
        &scim,
        (kind.name(), "delete"),
        true,
        |who| async move {
            s.delete(kind, &who, &id, if_match(r).as_deref(), b).await?;
            Ok(Answer::NoContent)
        },
    )
    .await
}

type ScimData = web::Data<Scim>;
type Id = web::Path<String>;
type Payload = web::Payload;

pub async fn list_users(s: ScimData, r: HttpRequest) -> HttpResponse {
    list_of(s, r, Kind::User).await
}
pub async fn list_groups(s: ScimData, r: HttpRequest) -> HttpResponse {
    list_of(s, r, Kind::Group).await
}
pub async fn search_users(s: ScimData, r: HttpRequest, p: Payload) -> HttpResponse {
    search_of(s, r, p, Some(Kind::User)).await
}
pub async fn search_groups(s: ScimData, r: HttpRequest, p: Payload) -> HttpResponse {
    search_of(s, r, p, Some(Kind::Group)).await
}
/// `POST /.search` at the root: users and groups alike.
pub async fn search_all(s: ScimData, r: HttpRequest, p: Payload) -> HttpResponse {
    search_of(s, r, p, None).await
}
pub async fn create_user(s: ScimData, r: HttpRequest, p: Payload) -> HttpResponse {
    create(s, r, p, Kind::User).await
}
pub async fn create_group(s: ScimData, r: HttpRequest, p: Payload) -> HttpResponse {
    create(s, r, p, Kind::Group).await
}
pub async fn get_user(s: ScimData, r: HttpRequest, id: Id) -> HttpResponse {
    get(s, r, id, Kind::User).await
}
pub async fn get_group(s: ScimData, r: HttpRequest, id: Id) -> HttpResponse {
    get(s, r, id, Kind::Group).await
}
pub async fn replace_user(s: ScimData, r: HttpRequest, id: Id, p: Payload) -> HttpResponse {
    change(s, r, id, p, (Kind::User, false)).await
}
pub async fn replace_group(s: ScimData, r: HttpRequest, id: Id, p: Payload) -> HttpResponse {
    change(s, r, id, p, (Kind::Group, false)).await
}
pub async fn modify_user(s: ScimData, r: HttpRequest, id: Id, p: Payload) -> HttpResponse {
    change(s, r, id, p, (Kind::User, true)).await
}
pub async fn modify_group(s: ScimData, r: HttpRequest, id: Id, p: Payload) -> HttpResponse {
    change(s, r, id, p, (Kind::Group, true)).await
}
pub async fn delete_user(s: ScimData, r: HttpRequest, id: Id) -> HttpResponse {
    delete(s, r, id, Kind::User).await
}
pub async fn delete_group(s: ScimData, r: HttpRequest, id: Id) -> HttpResponse {
    delete(s, r, id, Kind::Group).await
}
