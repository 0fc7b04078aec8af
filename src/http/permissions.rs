//! Permission targets in JFrog Access v2 form (`/access/api/v2/permissions`) and Artifactory v2
//! form (`/artifactory/api/v2/security/permissions`): one target, two shapes.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

use super::extract::{body_limit, Admin};
use super::params::read_body;
use crate::domain::permission_forms::{from_access, from_artifactory, to_access, to_artifactory};
use crate::service::permissions::Permissions;
use crate::service::{ServiceError, ServiceResult};

async fn json_body(req: &HttpRequest, payload: web::Payload) -> ServiceResult<Value> {
    let body = read_body(payload, body_limit(req)).await?;
    serde_json::from_slice(&body)
        .map_err(|e| ServiceError::BadRequest(format!("body is not valid JSON: {e}")))
}

const ACCESS_BASE: &str = "/access/api/v2/permissions";

pub async fn list(permissions: web::Data<Permissions>, _: Admin) -> ServiceResult<HttpResponse> {
    let items: Vec<Value> = permissions
        .permissions()?
        .iter()
        .map(|t| json!({ "name": t.name, "uri": format!("{ACCESS_BASE}/{}", t.name) }))
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "permissions": items })))
}

pub async fn create(
    permissions: web::Data<Permissions>,
    _: Admin,
    req: HttpRequest,
    payload: web::Payload,
) -> ServiceResult<HttpResponse> {
    let target = from_access(&json_body(&req, payload).await?, None)?;
    permissions.put_permission(target.clone(), true).await?;
    Ok(HttpResponse::Created().json(to_access(&target)))
}

pub async fn get(
    permissions: web::Data<Permissions>,
    _: Admin,
    name: web::Path<String>,
) -> ServiceResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(to_access(&permissions.permission(&name)?)))
}

pub async fn replace(
    permissions: web::Data<Permissions>,
    _: Admin,
    name: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> ServiceResult<HttpResponse> {
    let target = from_access(&json_body(&req, payload).await?, Some(&name))?;
    permissions.permission(&name)?;
    permissions.put_permission(target.clone(), false).await?;
    Ok(HttpResponse::Ok().json(to_access(&target)))
}

pub async fn delete(
    permissions: web::Data<Permissions>,
    _: Admin,
    name: web::Path<String>,
) -> ServiceResult<HttpResponse> {
    permissions.delete_permission(&name).await?;
    Ok(HttpResponse::NoContent().finish())
}

pub async fn artifactory_list(
    permissions: web::Data<Permissions>,
    _: Admin,
) -> ServiceResult<HttpResponse> {
    let items: Vec<Value> = permissions
        .permissions()?
        .iter()
        .map(|t| json!({ "name": t.name, "uri": format!("/artifactory/api/v2/security/permissions/{}", t.name) }))
        .collect();
    Ok(HttpResponse::Ok().json(items))
}

pub async fn artifactory_get(
    permissions: web::Data<Permissions>,
    _: Admin,
    name: web::Path<String>,
) -> ServiceResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(to_artifactory(&permissions.permission(&name)?)))
}

/// Create or replace (Artifactory's PUT does both): 201 or 200.
pub async fn artifactory_put(
    permissions: web::Data<Permissions>,
    _: Admin,
    name: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> ServiceResult<HttpResponse> {
    let target = from_artifactory(&json_body(&req, payload).await?, &name)?;
    let created = permissions.put_permission(target.clone(), false).await?;
    let body = to_artifactory(&target);
    Ok(match created {
        true => HttpResponse::Created().json(body),
        false => HttpResponse::Ok().json(body),
    })
}
