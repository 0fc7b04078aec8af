//! The Docker Registry v2 token endpoint: `GET`/`POST /v2/token` (a standalone registry's
//! realm) and `/artifactory/api/docker/{repo}/v2/token` (Artifactory's). GET takes Basic
//! credentials (a password, or one of our tokens as the password) or none; POST is the OAuth2
//! form containers/image sends (`grant_type=password` or `grant_type=refresh_token` with one of
//! our tokens as the refresh token).

use actix_web::http::header::{CACHE_CONTROL, PRAGMA};
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use serde_json::json;

use super::error::registry_error;
use super::extract::{body_limit, client_ip, credentials, strict};
use super::params::read_body;
use super::request_log::Subject;
use crate::service::auth::Credentials;
use crate::service::registry::Registry;
use crate::service::registry::{RegistryToken, RegistryTokenRequest};
use crate::service::{ServiceError, ServiceResult};

/// `service` and every `scope` among form or query pairs.
fn request_of(pairs: &[(String, String)], repository: Option<String>) -> RegistryTokenRequest {
    let said = |name: &str, value: &str| pairs.iter().any(|(k, v)| k == name && v == value);
    RegistryTokenRequest {
        offline: said("offline_token", "true") || said("access_type", "offline"),
        service: pairs
            .iter()
            .find(|(k, v)| k == "service" && !v.is_empty())
            .map(|(_, v)| v.clone()),
        scopes: pairs
            .iter()
            .filter(|(k, _)| k == "scope")
            .map(|(_, v)| v.clone())
            .collect(),
        repository,
    }
}

fn pairs_of(text: &[u8]) -> ServiceResult<Vec<(String, String)>> {
    serde_urlencoded::from_bytes(text)
        .map_err(|e| ServiceError::invalid(format!("malformed parameters: {e}")))
}

fn render(req: &HttpRequest, t: RegistryToken) -> HttpResponse {
    if let Some(subject) = t.subject {
        req.extensions_mut().insert(Subject(subject));
    }
    let mut body = json!({
        "token": t.token,
        "access_token": t.token,
        "expires_in": t.expires_in,
        "issued_at": crate::domain::registry::rfc3339(t.issued_at),
    });
    if let Some(refresh) = t.refresh_token {
        body["refresh_token"] = json!(refresh);
    }
    HttpResponse::Ok()
        .insert_header((CACHE_CONTROL, "no-store"))
        .insert_header((PRAGMA, "no-cache"))
        .json(body)
}

async fn get_token(
    registry: &Registry,
    req: &HttpRequest,
    repo: Option<String>,
) -> ServiceResult<RegistryToken> {
    let pairs = pairs_of(req.query_string().as_bytes())?;
    let creds = credentials(req)?;
    let client = client_ip(req);
    registry
        .registry_token_for(creds, strict(req), client, request_of(&pairs, repo))
        .await
}

async fn post_token(
    registry: &Registry,
    req: &HttpRequest,
    payload: web::Payload,
    repo: Option<String>,
) -> ServiceResult<RegistryToken> {
    let body = read_body(payload, body_limit(req)).await?;
    let pairs = pairs_of(&body)?;
    let field = |name: &str| {
        pairs
            .iter()
            .find(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.clone())
    };
    let required = |name: &str| {
        field(name).ok_or_else(|| ServiceError::invalid(format!("'{name}' is required")))
    };
    let creds = match field("grant_type").as_deref() {
        Some("password") => Credentials::Basic {
            user: required("username")?,
            secret: required("password")?,
        },
        Some("refresh_token") => Credentials::Bearer(required("refresh_token")?.into()),
        Some(other) => {
            return Err(ServiceError::invalid(format!(
                "unsupported grant_type '{other}' (password or refresh_token)"
            )))
        }
        None => return Err(ServiceError::invalid("'grant_type' is required")),
    };
    let client = client_ip(req);
    registry
        .registry_token_for(Some(creds), strict(req), client, request_of(&pairs, repo))
        .await
}

/// `GET /v2/token`
pub async fn get(registry: web::Data<Registry>, req: HttpRequest) -> HttpResponse {
    match get_token(&registry, &req, None).await {
        Ok(t) => render(&req, t),
        Err(e) => registry_error(&e),
    }
}

/// `POST /v2/token`
pub async fn post(
    registry: web::Data<Registry>,
    req: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    match post_token(&registry, &req, payload, None).await {
        Ok(t) => render(&req, t),
        Err(e) => registry_error(&e),
    }
}

/// `GET /artifactory/api/docker/{repo}/v2/token`
pub async fn get_in_repo(
    registry: web::Data<Registry>,
    req: HttpRequest,
    repo: web::Path<String>,
) -> HttpResponse {
    match get_token(&registry, &req, Some(repo.into_inner())).await {
        Ok(t) => render(&req, t),
        Err(e) => registry_error(&e),
    }
}

/// `POST /artifactory/api/docker/{repo}/v2/token`
pub async fn post_in_repo(
    registry: web::Data<Registry>,
    req: HttpRequest,
    payload: web::Payload,
    repo: web::Path<String>,
) -> HttpResponse {
    match post_token(&registry, &req, payload, Some(repo.into_inner())).await {
        Ok(t) => render(&req, t),
        Err(e) => registry_error(&e),
    }
}
