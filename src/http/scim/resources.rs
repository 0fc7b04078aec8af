//! `/Users` and `/Groups`: create, list (and `/.search`), get, replace, modify, delete.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use super::{
    base, body, if_match, list, listing_from_query, listing_from_search, patch_operations, run,
    Answer,
};
use crate::service::scim::Scim;

pub async fn list_users(scim: web::Data<Scim>, req: HttpRequest) -> HttpResponse {
    let base = base(&req);
    run(&req, &scim, ("User", "list"), false, |_| async {
        list(&scim, "User", listing_from_query(&req)?, &base).await
    })
    .await
}

pub async fn search_users(
    scim: web::Data<Scim>,
    req: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    let base = base(&req);
    run(&req, &scim, ("User", "list"), false, |_| async {
        let listing = listing_from_search(&body(&req, payload).await?)?;
        list(&scim, "User", listing, &base).await
    })
    .await
}

pub async fn create_user(
    scim: web::Data<Scim>,
    req: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    let base = base(&req);
    run(&req, &scim, ("User", "create"), true, |_| async {
        let created = scim.create_user(&body(&req, payload).await?, &base).await?;
        Ok(Answer::Resource(StatusCode::CREATED, created))
    })
    .await
}

pub async fn get_user(
    scim: web::Data<Scim>,
    req: HttpRequest,
    id: web::Path<String>,
) -> HttpResponse {
    let base = base(&req);
    run(&req, &scim, ("User", "get"), false, |_| async {
        Ok(Answer::Resource(
            StatusCode::OK,
            scim.get_user(&id, &base).await?,
        ))
    })
    .await
}

pub async fn replace_user(
    scim: web::Data<Scim>,
    req: HttpRequest,
    id: web::Path<String>,
    payload: web::Payload,
) -> HttpResponse {
    let base = base(&req);
    let (r, s, b) = (&req, scim.get_ref(), base.as_str());
    run(&req, &scim, ("User", "replace"), true, |who| async move {
        let body = body(r, payload).await?;
        let m = if_match(r);
        let user = s.replace_user(&who, &id, &body, m.as_deref(), b).await?;
        Ok(Answer::Resource(StatusCode::OK, user))
    })
    .await
}

pub async fn modify_user(
    scim: web::Data<Scim>,
    req: HttpRequest,
    id: web::Path<String>,
    payload: web::Payload,
) -> HttpResponse {
    let base = base(&req);
    let (r, s, b) = (&req, scim.get_ref(), base.as_str());
    run(&req, &scim, ("User", "modify"), true, |who| async move {
        let ops = patch_operations(body(r, payload).await?)?;
        let m = if_match(r);
        let user = s
            .modify_user(&who, &id, &ops.operations, m.as_deref(), b)
            .await?;
        Ok(Answer::Resource(StatusCode::OK, user))
    })
    .await
}

pub async fn delete_user(
    scim: web::Data<Scim>,
    req: HttpRequest,
    id: web::Path<String>,
) -> HttpResponse {
    let base = base(&req);
    let (r, s, b) = (&req, scim.get_ref(), base.as_str());
    run(&req, &scim, ("User", "delete"), true, |who| async move {
        let m = if_match(r);
        s.delete_user(&who, &id, m.as_deref(), b).await?;
        Ok(Answer::NoContent)
    })
    .await
}

pub async fn list_groups(scim: web::Data<Scim>, req: HttpRequest) -> HttpResponse {
    let base = base(&req);
    run(&req, &scim, ("Group", "list"), false, |_| async {
        list(&scim, "Group", listing_from_query(&req)?, &base).await
    })
    .await
}

pub async fn search_groups(
    scim: web::Data<Scim>,
    req: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    let base = base(&req);
    run(&req, &scim, ("Group", "list"), false, |_| async {
        let listing = listing_from_search(&body(&req, payload).await?)?;
        list(&scim, "Group", listing, &base).await
    })
    .await
}

pub async fn create_group(
    scim: web::Data<Scim>,
    req: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    let base = base(&req);
    run(&req, &scim, ("Group", "create"), true, |_| async {
        let created = scim
            .create_group(&body(&req, payload).await?, &base)
            .await?;
        Ok(Answer::Resource(StatusCode::CREATED, created))
    })
    .await
}

pub async fn get_group(
    scim: web::Data<Scim>,
    req: HttpRequest,
    id: web::Path<String>,
) -> HttpResponse {
    let base = base(&req);
    run(&req, &scim, ("Group", "get"), false, |_| async {
        Ok(Answer::Resource(
            StatusCode::OK,
            scim.get_group(&id, &base).await?,
        ))
    })
    .await
}

pub async fn replace_group(
    scim: web::Data<Scim>,
    req: HttpRequest,
    id: web::Path<String>,
    payload: web::Payload,
) -> HttpResponse {
    let base = base(&req);
    let (r, s, b) = (&req, scim.get_ref(), base.as_str());
    run(&req, &scim, ("Group", "replace"), true, |_| async move {
        let body = body(r, payload).await?;
        let m = if_match(r);
        let group = s.replace_group(&id, &body, m.as_deref(), b).await?;
        Ok(Answer::Resource(StatusCode::OK, group))
    })
    .await
}

pub async fn modify_group(
    scim: web::Data<Scim>,
    req: HttpRequest,
    id: web::Path<String>,
    payload: web::Payload,
) -> HttpResponse {
    let base = base(&req);
    let (r, s, b) = (&req, scim.get_ref(), base.as_str());
    run(&req, &scim, ("Group", "modify"), true, |_| async move {
        let ops = patch_operations(body(r, payload).await?)?;
        let m = if_match(r);
        let group = s
            .modify_group(&id, &ops.operations, m.as_deref(), b)
            .await?;
        Ok(Answer::Resource(StatusCode::OK, group))
    })
    .await
}

pub async fn delete_group(
    scim: web::Data<Scim>,
    req: HttpRequest,
    id: web::Path<String>,
) -> HttpResponse {
    let base = base(&req);
    let (r, s, b) = (&req, scim.get_ref(), base.as_str());
    run(&req, &scim, ("Group", "delete"), true, |_| async move {
        let m = if_match(r);
        s.delete_group(&id, m.as_deref(), b).await?;
        Ok(Answer::NoContent)
    })
    .await
}

/// `POST /.search` at the root: users and groups alike.
pub async fn search_all(
    scim: web::Data<Scim>,
    req: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    let base = base(&req);
    run(&req, &scim, ("All", "list"), false, |_| async {
        let listing = listing_from_search(&body(&req, payload).await?)?;
        list(&scim, "All", listing, &base).await
    })
    .await
}
