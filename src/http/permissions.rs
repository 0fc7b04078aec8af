//! Permission targets in JFrog Access v2 form (`/access/api/v2/permissions`) and Artifactory v2
//! form (`/artifactory/api/v2/security/permissions`): one target, two shapes.

use actix_web::{web, HttpResponse};
use serde_json::{json, Value};

use super::extract::{Admin, Svc};
use super::params::read_body;
use crate::domain::permission_forms::{from_access, from_artifactory, to_access, to_artifactory};
use crate::service::{ServiceError, ServiceResult};

async fn json_body(svc: &Svc, payload: web::Payload) -> ServiceResult<Value> {
    let body = read_body(payload, svc.config.server.max_body_bytes).await?;
    serde_json::from_slice(&body)
        .map_err(|e| ServiceError::BadRequest(format!("body is not valid JSON: {e}")))
}

const ACCESS_BASE: &str = "/access/api/v2/permissions";

pub async fn list(svc: Svc, _: Admin) -> ServiceResult<HttpResponse> {
    let items: Vec<Value> = svc
        .permissions()?
        .iter()
        .map(|t| json!({ "name": t.name, "uri": format!("{ACCESS_BASE}/{}", t.name) }))
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "permissions": items })))
}

pub async fn create(svc: Svc, _: Admin, payload: web::Payload) -> ServiceResult<HttpResponse> {
    let target = from_access(&json_body(&svc, payload).await?, None)?;
    svc.put_permission(target.clone(), true).await?;
    Ok(HttpResponse::Created().json(to_access(&target)))
}

pub async fn get(svc: Svc, _: Admin, name: web::Path<String>) -> ServiceResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(to_access(&svc.permission(&name)?)))
}

pub async fn replace(
    svc: Svc,
    _: Admin,
    name: web::Path<String>,
    payload: web::Payload,
) -> ServiceResult<HttpResponse> {
    let target = from_access(&json_body(&svc, payload).await?, Some(&name))?;
    svc.permission(&name)?;
    svc.put_permission(target.clone(), false).await?;
    Ok(HttpResponse::Ok().json(to_access(&target)))
}

pub async fn delete(svc: Svc, _: Admin, name: web::Path<String>) -> ServiceResult<HttpResponse> {
    svc.delete_permission(&name).await?;
    Ok(HttpResponse::NoContent().finish())
}

pub async fn artifactory_list(svc: Svc, _: Admin) -> ServiceResult<HttpResponse> {
    let items: Vec<Value> = svc
        .permissions()?
        .iter()
        .map(|t| json!({ "name": t.name, "uri": format!("/artifactory/api/v2/security/permissions/{}", t.name) }))
        .collect();
    Ok(HttpResponse::Ok().json(items))
}

pub async fn artifactory_get(
    svc: Svc,
    _: Admin,
    name: web::Path<String>,
) -> ServiceResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(to_artifactory(&svc.permission(&name)?)))
}

/// Create or replace (Artifactory's PUT does both): 201 or 200.
pub async fn artifactory_put(
    svc: Svc,
    _: Admin,
    name: web::Path<String>,
    payload: web::Payload,
) -> ServiceResult<HttpResponse> {
    let target = from_artifactory(&json_body(&svc, payload).await?, &name)?;
    let created = svc.put_permission(target.clone(), false).await?;
    let body = to_artifactory(&target);
    Ok(match created {
        true => HttpResponse::Created().json(body),
        false => HttpResponse::Ok().json(body),
    })
}
