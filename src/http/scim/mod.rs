//! SCIM 2.0 (`/access/api/v1/scim/v2`, JFrog's base path): discovery, Users and Groups.
//! Answers and errors are `application/scim+json`; every error, the caller's included, has
//! SCIM's shape (`http::error::scim_error`). Bearer tokens: an admin's, or one scoped
//! `system:scim:rw` (`system:scim:r` reads).

use std::collections::HashMap;
use std::future::Future;

use actix_web::http::header::{ETAG, IF_MATCH, LOCATION};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use scim_v2::models::others::PatchOp;
use serde_json::Value;

use crate::domain::policy::Principal;
use crate::domain::scim::discovery;
use crate::domain::scim::list::Page;
use crate::domain::scim::resource::{project, version};
use crate::domain::scim::ScimError;
use crate::http::error::{scim_error, status_of, SCIM_CONTENT_TYPE};
use crate::http::extract::{body_limit, resolve_caller};
use crate::http::params::{media_type, read_body};
use crate::service::scim::{Kind, ListRequest, Scim};
use crate::service::{ServiceError, ServiceResult};
use crate::telemetry::metrics;

/// What a SCIM call answers with.
enum Answer {
    /// A resource (with its ETag and, when created, its Location).
    Resource(StatusCode, Value),
    /// A listing or a discovery document.
    Document(Value),
    NoContent,
}

/// The SCIM root this request came in under (`<scheme>://<host>…/scim/v2`): resources are
/// located under it.
fn base(req: &HttpRequest) -> String {
    let path = req.path();
    let root = path
        .find("/scim/v2")
        .map_or(path, |i| &path[..i + "/scim/v2".len()]);
    let info = req.connection_info();
    format!("{}://{}{root}", info.scheme(), info.host())
}

fn query(req: &HttpRequest) -> ServiceResult<HashMap<String, String>> {
    web::Query::<HashMap<String, String>>::from_query(req.query_string())
        .map(web::Query::into_inner)
        .map_err(|e| ScimError::new("invalidSyntax", format!("bad query string: {e}")).into())
}

/// A comma-separated attribute list (`attributes`, `excludedAttributes`).
fn attribute_list(value: Option<&str>) -> Vec<String> {
    value
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(str::to_string)
        .collect()
}

fn integer(q: &HashMap<String, String>, name: &str) -> ServiceResult<Option<i64>> {
    q.get(name)
        .map(|v| {
            v.trim().parse::<i64>().map_err(|_| {
                ScimError::new("invalidValue", format!("'{name}' must be an integer")).into()
            })
        })
        .transpose()
}

/// The request's JSON body (`application/scim+json` or `application/json`).
async fn body(req: &HttpRequest, payload: web::Payload) -> ServiceResult<Value> {
    let media = media_type(req);
    if !matches!(
        media.as_str(),
        "" | "application/scim+json" | "application/json"
    ) {
        return Err(ServiceError::UnsupportedFormat(format!(
            "send application/scim+json, not {media}"
        )));
    }
    let bytes = read_body(payload, body_limit(req)).await?;
    serde_json::from_slice(&bytes)
        .map_err(|e| ScimError::new("invalidSyntax", format!("the body is not JSON: {e}")).into())
}

fn if_match(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get(IF_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

fn outcome_label(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "400",
        401 => "401",
        403 => "403",
        404 => "404",
        409 => "409",
        412 => "412",
        413 => "413",
        415 => "415",
        503 => "503",
        _ => "other",
    }
}

/// Authenticate, authorize, run `op`, count it and answer in SCIM's shape.
async fn run<F, Fut>(
    req: &HttpRequest,
    scim: &Scim,
    (resource, operation): (&'static str, &'static str),
    write: bool,
    op: F,
) -> HttpResponse
where
    F: FnOnce(Principal) -> Fut,
    Fut: Future<Output = ServiceResult<Answer>>,
{
    let result = async {
        let who = resolve_caller(req)
            .await?
            .ok_or_else(|| ServiceError::Unauthenticated("authentication required".into()))?;
        scim.authorize(&who, write)?;
        op(who).await
    }
    .await;
    let outcome = match &result {
        Ok(_) => "ok",
        Err(e) => outcome_label(status_of(e)),
    };
    if !resource.is_empty() {
        metrics::scim_operation(resource, operation, outcome);
    }
    match result {
        Ok(Answer::Resource(status, value)) => {
            let mut response = HttpResponse::build(status);
            response.content_type(SCIM_CONTENT_TYPE);
            if let Some(v) = version(&value) {
                response.insert_header((ETAG, v.to_string()));
            }
            if status == StatusCode::CREATED {
                if let Some(at) = value.pointer("/meta/location").and_then(Value::as_str) {
                    response.insert_header((LOCATION, at.to_string()));
                }
            }
            let q = query(req).unwrap_or_default();
            let value = project(
                value,
                &attribute_list(q.get("attributes").map(String::as_str)),
                &attribute_list(q.get("excludedAttributes").map(String::as_str)),
            );
            response.body(value.to_string())
        }
        Ok(Answer::Document(value)) => HttpResponse::Ok()
            .content_type(SCIM_CONTENT_TYPE)
            .body(value.to_string()),
        Ok(Answer::NoContent) => HttpResponse::NoContent().finish(),
        Err(e) => scim_error(&e),
    }
}

/// Which listing a request asks for: from the query string, or a `/.search` body.
struct Listing {
    filter: Option<String>,
    page: Page,
    attributes: Vec<String>,
    excluded: Vec<String>,
}

fn listing_from_query(req: &HttpRequest) -> ServiceResult<Listing> {
    let q = query(req)?;
    Ok(Listing {
        filter: q.get("filter").cloned(),
        page: Page::new(integer(&q, "startIndex")?, integer(&q, "count")?),
        attributes: attribute_list(q.get("attributes").map(String::as_str)),
        excluded: attribute_list(q.get("excludedAttributes").map(String::as_str)),
    })
}

fn listing_from_search(body: &Value) -> ServiceResult<Listing> {
    let strings = |name: &str| -> Vec<String> {
        match body.get(name) {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect(),
            Some(Value::String(s)) => attribute_list(Some(s)),
            _ => Vec::new(),
        }
    };
    let int = |name: &str| -> ServiceResult<Option<i64>> {
        match body.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v.as_i64().map(Some).ok_or_else(|| {
                ScimError::new("invalidValue", format!("'{name}' must be an integer")).into()
            }),
        }
    };
    Ok(Listing {
        filter: body
            .get("filter")
            .and_then(Value::as_str)
            .map(str::to_string),
        page: Page::new(int("startIndex")?, int("count")?),
        attributes: strings("attributes"),
        excluded: strings("excludedAttributes"),
    })
}

/// One page of users or groups (None: both), each projected as the listing asks.
async fn list(
    scim: &Scim,
    kind: Option<Kind>,
    listing: Listing,
    base: &str,
) -> ServiceResult<Answer> {
    let req = ListRequest {
        filter: listing.filter.as_deref(),
        page: listing.page,
        base,
    };
    let mut page = scim.list(kind, &req).await?;
    page.items = page
        .items
        .into_iter()
        .map(|r| project(r, &listing.attributes, &listing.excluded))
        .collect();
    Ok(Answer::Document(page.into_json()))
}

fn patch_operations(body: Value) -> ServiceResult<PatchOp> {
    serde_json::from_value::<PatchOp>(body)
        .map_err(|e| ScimError::new("invalidSyntax", format!("not a PatchOp request: {e}")).into())
}

/// A discovery document (no counter: not a resource operation).
async fn document(
    scim: web::Data<Scim>,
    req: HttpRequest,
    make: impl FnOnce(&str) -> ServiceResult<Answer>,
) -> HttpResponse {
    let base = base(&req);
    run(&req, &scim, ("", ""), false, |_| async move { make(&base) }).await
}

pub async fn service_provider_config(scim: web::Data<Scim>, req: HttpRequest) -> HttpResponse {
    document(scim, req, |base| {
        Ok(Answer::Document(discovery::service_provider_config(base)))
    })
    .await
}

pub async fn resource_types(scim: web::Data<Scim>, req: HttpRequest) -> HttpResponse {
    document(scim, req, |base| {
        Ok(Answer::Document(discovery::listing(
            discovery::resource_types(base),
        )))
    })
    .await
}

pub async fn schemas(scim: web::Data<Scim>, req: HttpRequest) -> HttpResponse {
    document(scim, req, |base| {
        Ok(Answer::Document(discovery::listing(discovery::schemas(
            base,
        ))))
    })
    .await
}

/// One of the documents, by id.
fn by_id(items: Vec<Value>, what: &'static str, id: &str) -> ServiceResult<Answer> {
    items
        .into_iter()
        .find(|d| d.get("id").and_then(Value::as_str) == Some(id))
        .map(Answer::Document)
        .ok_or_else(|| ServiceError::not_found(what, id))
}

pub async fn resource_type(
    scim: web::Data<Scim>,
    req: HttpRequest,
    id: web::Path<String>,
) -> HttpResponse {
    document(scim, req, |base| {
        by_id(discovery::resource_types(base), "ResourceType", &id)
    })
    .await
}

pub async fn schema(
    scim: web::Data<Scim>,
    req: HttpRequest,
    id: web::Path<String>,
) -> HttpResponse {
    document(scim, req, |base| {
        by_id(discovery::schemas(base), "Schema", &id)
    })
    .await
}

/// Anything else under the SCIM root: a SCIM 404.
pub async fn not_found(req: HttpRequest) -> HttpResponse {
    scim_error(&ServiceError::Absent(format!(
        "no SCIM endpoint {} {}",
        req.method(),
        req.path()
    )))
}

mod resources;

pub use resources::*;
