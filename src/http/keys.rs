//! Key endpoints: trusted certificates (circle of trust), certificate reset, JWKS.

use std::collections::HashMap;

use actix_web::{web, HttpRequest, HttpResponse};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};

use super::extract::{body_limit, Admin};
use super::params::{media_type, read_body, Params};
use crate::domain::trust::TrustedCert;
use crate::service::keys::Keys;
use crate::service::{ServiceError, ServiceResult};

fn cert_json(c: &TrustedCert) -> Value {
    json!({
        "name": c.name,
        "kid": c.kid,
        "service_id": c.service_id,
        "added_at": c.added_at,
        "federated": c.federated,
        "withdrawn": c.withdrawn,
        "certificate": c.certificate_pem,
    })
}

/// `GET /access/api/v1/cert/trusted` (admin).
pub async fn list_trusted(keys: web::Data<Keys>, _: Admin) -> ServiceResult<HttpResponse> {
    let certs: Vec<Value> = keys.trusted_certs()?.iter().map(cert_json).collect();
    Ok(HttpResponse::Ok().json(json!({ "certificates": certs })))
}

/// `POST /access/api/v1/cert/trusted` (admin): JSON `{"name","certificate","service_id"?}`, or
/// a PEM body (`application/x-pem-file` / `text/plain`) with `?name=` (and `&service_id=`).
/// Without a service id, the certificate's common name must be one.
pub async fn add_trusted(
    keys: web::Data<Keys>,
    _: Admin,
    req: HttpRequest,
    query: web::Query<HashMap<String, String>>,
    payload: web::Payload,
) -> ServiceResult<HttpResponse> {
    let content_type = media_type(&req);
    let limit = body_limit(&req);
    let (name, pem, service_id) = if content_type == "application/x-pem-file"
        || content_type == "text/plain"
    {
        let body = read_body(payload, limit).await?;
        let pem = String::from_utf8(body.to_vec())
            .map_err(|_| ServiceError::BadRequest("certificate is not UTF-8 PEM".into()))?;
        let name = query.get("name").cloned().ok_or_else(|| {
            ServiceError::BadRequest("'name' query parameter is required with a PEM body".into())
        })?;
        (name, pem, query.get("service_id").cloned())
    } else {
        let p = Params::from_request(&req, payload, limit).await?;
        p.allow_only(&["name", "certificate", "service_id"])?;
        let name = p.required_string("name")?;
        let pem = p
            .string("certificate")?
            .ok_or_else(|| ServiceError::BadRequest("'certificate' (PEM) is required".into()))?;
        (name, pem, p.string("service_id")?)
    };
    let cert = keys.add_trusted(&name, &pem, service_id).await?;
    Ok(HttpResponse::Created().json(cert_json(&cert)))
}

/// `DELETE /access/api/v1/cert/trusted/{name}` (admin).
pub async fn remove_trusted(
    keys: web::Data<Keys>,
    _: Admin,
    name: web::Path<String>,
) -> ServiceResult<HttpResponse> {
    keys.remove_trusted(&name).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /access/api/v1/cert/root/reset` (admin): `keep_old=true` keeps the old root.crt
/// trusted so existing tokens stay valid; otherwise they stop validating.
pub async fn reset_root(
    keys: web::Data<Keys>,
    _: Admin,
    req: HttpRequest,
    query: web::Query<HashMap<String, String>>,
    payload: web::Payload,
) -> ServiceResult<HttpResponse> {
    let p = Params::from_request(&req, payload, body_limit(&req)).await?;
    p.allow_only(&["keep_old"])?;
    let keep_old = match (p.boolean("keep_old")?, query.get("keep_old")) {
        (Some(b), _) => b,
        (None, Some(q)) if q.eq_ignore_ascii_case("true") => true,
        (None, Some(q)) if q.eq_ignore_ascii_case("false") => false,
        (None, Some(_)) => {
            return Err(ServiceError::BadRequest(
                "'keep_old' must be true or false".into(),
            ))
        }
        (None, None) => false,
    };
    let key = keys.reset_certificate(keep_old).await?;
    Ok(HttpResponse::Ok()
        .json(json!({ "kid": key.kid, "keep_old": keep_old, "certificate": key.certificate_pem })))
}

/// `GET /.well-known/jwks.json` and `/access/api/v1/jwks`: active, retired and trusted keys.
pub async fn jwks(keys: web::Data<Keys>) -> ServiceResult<HttpResponse> {
    let keys = keys.keyset()?;
    let list: Vec<Value> = keys
        .public_keys
        .iter()
        .map(|k| {
            json!({
                "kty": "RSA",
                "use": "sig",
                "alg": "RS256",
                "kid": k.kid,
                "n": URL_SAFE_NO_PAD.encode(&k.n),
                "e": URL_SAFE_NO_PAD.encode(&k.e),
                "x-origin": k.origin,
                "x-service-id": k.service_id,
            })
        })
        .collect();
    Ok(HttpResponse::Ok()
        .insert_header(("cache-control", "max-age=60"))
        .json(json!({ "keys": list })))
}
