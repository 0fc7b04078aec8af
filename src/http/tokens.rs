//! Token endpoints: create/refresh, list, get, revoke (Access API and legacy Artifactory),
//! identity and pairing tokens, introspection and the permission check. Each parses, calls
//! one service function and renders.

use std::collections::HashMap;

use actix_web::http::header::{CACHE_CONTROL, PRAGMA};
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Map, Value};

use super::compat::compact;
use super::extract::{body_limit, resolve_caller_as, validate_any, Caller};
use super::params::Params;
use crate::domain::scope::Action;
use crate::domain::token::TokenRecord;
use crate::service::accounts::Accounts;
use crate::service::auth::Auth;
use crate::service::login_audit::LoginKind;
use crate::service::minting::{CreateToken, RefreshToken};
use crate::service::permissions::Permissions;
use crate::service::tokens::IssuedToken;
use crate::service::tokens::Tokens;
use crate::service::{ServiceError, ServiceResult};

/// Fields of a create request (JFrog's names).
const CREATE_FIELDS: &[&str] = &[
    "grant_type",
    "username",
    "scope",
    "expires_in",
    "refreshable",
    "audience",
    "description",
    "include_reference_token",
    "force_revocable",
];
/// Fields of a refresh request: the pair, and what an admin may override.
const REFRESH_FIELDS: &[&str] = &[
    "grant_type",
    "refresh_token",
    "access_token",
    "username",
    "scope",
    "expires_in",
    "audience",
];

fn issued_json(t: &IssuedToken) -> Value {
    let mut body = Map::new();
    body.insert("token_id".into(), json!(t.token_id));
    body.insert("access_token".into(), json!(t.access_token));
    if let Some(r) = &t.refresh_token {
        body.insert("refresh_token".into(), json!(r));
    }
    if let Some(r) = &t.reference_token {
        body.insert("reference_token".into(), json!(r));
    }
    // JFrog leaves expires_in out for tokens that never expire.
    if t.expires_in > 0 {
        body.insert("expires_in".into(), json!(t.expires_in));
    }
    body.insert("scope".into(), json!(t.scope));
    body.insert("token_type".into(), json!("Bearer"));
    Value::Object(body)
}

fn record_json(r: &TokenRecord) -> Value {
    compact(json!({
        "token_id": r.token_id,
        "subject": r.subject,
        "issuer": r.issuer,
        "issued_at": r.issued_at,
        "expiry": r.expiry,
        "refreshable": r.refreshable,
        "revocable": r.revocable,
        "scope": r.scope,
        "audience": r.audience,
        "description": r.description,
    }))
}

/// A response carrying a secret (token, refresh or pairing token): never cached.
fn secret_response(body: Value) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((CACHE_CONTROL, "no-store"))
        .insert_header((PRAGMA, "no-cache"))
        .json(body)
}

fn revoked_response() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain")
        .body("Token revoked")
}

/// Create or refresh, by `grant_type`; `legacy` is the Artifactory endpoint's flavour. The
/// caller is resolved only when needed: a refresh by the pair alone needs no credentials. A
/// password here is someone creating a token: an interactive login, always audited.
async fn create_or_refresh(
    tokens: &Tokens,
    req: &HttpRequest,
    payload: web::Payload,
    legacy: bool,
) -> ServiceResult<IssuedToken> {
    let p = Params::from_request(req, payload, body_limit(req)).await?;
    match p.string("grant_type")?.as_deref() {
        Some("refresh_token") => {
            p.allow_only(REFRESH_FIELDS)?;
            let refresh = RefreshToken {
                access_token: p.required_string("access_token")?,
                refresh_token: p.required_string("refresh_token")?,
                username: p.string("username")?,
                scope: p.string("scope")?,
                expires_in: p.seconds("expires_in")?,
                audience: p.string("audience")?,
            };
            let who = match refresh.has_overrides() {
                true => resolve_caller_as(req, LoginKind::Interactive).await?,
                false => None,
            };
            tokens.refresh_token(refresh, who).await
        }
        None | Some("client_credentials") => {
            let who = resolve_caller_as(req, LoginKind::Interactive)
                .await?
                .ok_or_else(|| ServiceError::Unauthenticated("authentication required".into()))?;
            if p.present("project_key") {
                return Err(ServiceError::invalid_field(
                    "project_key",
                    "projects are not supported: leave out 'project_key'",
                ));
            }
            p.allow_only(CREATE_FIELDS)?;
            let create = CreateToken {
                username: p.string("username")?,
                scope: p.string("scope")?,
                expires_in: p.seconds("expires_in")?,
                refreshable: p.boolean("refreshable")?,
                audience: p.string("audience")?,
                description: p.string("description")?,
                include_reference_token: p.boolean("include_reference_token")?.unwrap_or(false),
                force_revocable: p.boolean("force_revocable")?.unwrap_or(false),
                legacy,
            };
            tokens.create_token(&who, create).await
        }
        Some(other) => Err(ServiceError::invalid(format!(
            "unsupported grant_type '{other}'"
        ))),
    }
}

pub async fn create(
    tokens: web::Data<Tokens>,
    req: HttpRequest,
    payload: web::Payload,
) -> ServiceResult<HttpResponse> {
    let issued = create_or_refresh(&tokens, &req, payload, false).await?;
    Ok(secret_response(issued_json(&issued)))
}

/// `POST /artifactory/api/security/token` (seed 002).
pub async fn legacy_create(
    tokens: web::Data<Tokens>,
    req: HttpRequest,
    payload: web::Payload,
) -> ServiceResult<HttpResponse> {
    let issued = create_or_refresh(&tokens, &req, payload, true).await?;
    let mut body = issued_json(&issued);
    if let Some(map) = body.as_object_mut() {
        map.remove("token_id");
    }
    Ok(secret_response(body))
}

/// `DELETE /access/api/v1/tokens?username=X` (or `username` in the body): every token of
/// user X, revocable or not, stops validating on every node. Admins, or the user itself.
pub async fn revoke_user_tokens(
    accounts: web::Data<Accounts>,
    Caller(who): Caller,
    req: HttpRequest,
    query: web::Query<HashMap<String, String>>,
    payload: web::Payload,
) -> ServiceResult<HttpResponse> {
    let p = Params::from_request(&req, payload, body_limit(&req)).await?;
    p.allow_only(&["username"])?;
    let username = match (p.string("username")?, query.get("username")) {
        (Some(u), _) => u,
        (None, Some(u)) if !u.is_empty() => u.clone(),
        _ => {
            return Err(ServiceError::invalid(
                "give the user whose tokens to revoke as 'username'",
            ))
        }
    };
    let revoked_at = accounts.revoke_tokens_of(&who, &username).await?;
    Ok(HttpResponse::Ok().json(json!({ "username": username, "revoked_before": revoked_at })))
}

pub async fn list(tokens: web::Data<Tokens>, Caller(who): Caller) -> ServiceResult<HttpResponse> {
    let list: Vec<Value> = tokens.list_tokens(&who)?.iter().map(record_json).collect();
    Ok(HttpResponse::Ok().json(json!({ "tokens": list })))
}

pub async fn me(tokens: web::Data<Tokens>, Caller(who): Caller) -> ServiceResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(record_json(&tokens.own_token(&who)?)))
}

pub async fn get(
    tokens: web::Data<Tokens>,
    Caller(who): Caller,
    id: web::Path<String>,
) -> ServiceResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(record_json(&tokens.token_for(&who, &id).await?)))
}

pub async fn revoke_by_id(
    tokens: web::Data<Tokens>,
    Caller(who): Caller,
    id: web::Path<String>,
) -> ServiceResult<HttpResponse> {
    tokens.revoke(&who, &id).await?;
    Ok(revoked_response())
}

/// Revoke by the token itself (`token=`) or by id (`token_id=`): form, JSON or query. Also
/// `POST /artifactory/api/security/token/revoke` (legacy).
pub async fn revoke_by_token(
    tokens: web::Data<Tokens>,
    Caller(who): Caller,
    req: HttpRequest,
    query: web::Query<HashMap<String, String>>,
    payload: web::Payload,
) -> ServiceResult<HttpResponse> {
    let p = Params::from_request(&req, payload, body_limit(&req)).await?;
    // RFC 7009's optional hint is accepted and ignored: the token says what it is.
    p.allow_only(&["token", "token_id", "token_type_hint"])?;
    let token = p.string("token")?.or_else(|| query.get("token").cloned());
    let token_id = p
        .string("token_id")?
        .or_else(|| query.get("token_id").cloned());
    tokens.revoke_given(&who, token, token_id).await?;
    Ok(revoked_response())
}

/// `GET /access/api/v1/permissions/check?path=<repo>/<path>&action=r` with the token to check
/// as the request's credentials: `{"allowed": bool}`.
pub async fn check_permission(
    permissions: web::Data<Permissions>,
    q: web::Query<HashMap<String, String>>,
    Caller(who): Caller,
) -> ServiceResult<HttpResponse> {
    let path = q
        .get("path")
        .filter(|p| !p.is_empty())
        .ok_or_else(|| ServiceError::invalid("'path' (<repo>/<path>) is required"))?;
    let action_name = q.get("action").map(String::as_str).unwrap_or("r");
    let action = Action::parse(action_name).ok_or_else(|| {
        ServiceError::invalid(format!(
            "unknown action '{action_name}' (use r,w,d,a,m,x,s or read, write, delete, annotate, manage)"
        ))
    })?;
    let decision = permissions.check_permission(&who, path, action)?;
    Ok(HttpResponse::Ok().json(json!({
        "allowed": decision.allowed,
        "path": path,
        "action": action.letter().to_string(),
        "subject": who.username,
        "granted_by": decision.granted_by,
        "reason": decision.reason,
    })))
}

/// `POST /access/api/v1/tokens/identity`.
pub async fn identity(
    tokens: web::Data<Tokens>,
    Caller(who): Caller,
    req: HttpRequest,
    payload: web::Payload,
) -> ServiceResult<HttpResponse> {
    let p = Params::from_request(&req, payload, body_limit(&req)).await?;
    p.allow_only(&["description"])?;
    let issued = tokens
        .create_identity(&who, p.string("description")?)
        .await?;
    Ok(secret_response(issued_json(&issued)))
}

/// `POST /access/api/v1/tokens/pairing`: a one-time pairing token for the caller.
pub async fn create_pairing(
    tokens: web::Data<Tokens>,
    Caller(who): Caller,
    req: HttpRequest,
    payload: web::Payload,
) -> ServiceResult<HttpResponse> {
    let p = Params::from_request(&req, payload, body_limit(&req)).await?;
    p.allow_only(&["purpose"])?;
    let (secret, record) = tokens.create_pairing(&who, p.string("purpose")?).await?;
    Ok(secret_response(json!({
        "pairing_token": secret,
        "token_id": record.token_id,
        "expires_in": record.expiry.saturating_sub(record.issued_at),
        "purpose": record.purpose,
    })))
}

/// `POST /access/api/v1/tokens/pairing/exchange` (form `pairing_token`): the pairing token
/// itself is the credential; it works once.
pub async fn exchange_pairing(
    tokens: web::Data<Tokens>,
    req: HttpRequest,
    payload: web::Payload,
) -> ServiceResult<HttpResponse> {
    let p = Params::from_request(&req, payload, body_limit(&req)).await?;
    p.allow_only(&["pairing_token"])?;
    let (_, issued) = tokens
        .consume_pairing(&p.required_string("pairing_token")?)
        .await?;
    Ok(secret_response(issued_json(&issued)))
}

/// `POST /access/api/v1/tokens/introspect` (RFC 7662, form `token`): for resource servers,
/// which authenticate themselves. Any token problem is `{"active": false}`.
pub async fn introspect(
    auth: web::Data<Auth>,
    Caller(_): Caller,
    req: HttpRequest,
    payload: web::Payload,
) -> ServiceResult<HttpResponse> {
    let p = Params::from_request(&req, payload, body_limit(&req)).await?;
    p.allow_only(&["token", "token_type_hint"])?;
    let token = p.required_string("token")?;
    let claims = match validate_any(&auth, &req, &token).await {
        Ok(v) => v.claims,
        Err(e @ ServiceError::Unavailable { .. }) => return Err(e),
        Err(_) => return Ok(HttpResponse::Ok().json(json!({ "active": false }))),
    };
    Ok(HttpResponse::Ok().json(compact(json!({
        "active": true,
        "sub": claims.sub,
        "username": claims.username(),
        "scope": claims.scp,
        "exp": claims.exp,
        "iat": claims.iat,
        "iss": claims.iss,
        "aud": claims.aud,
        "jti": claims.jti,
        "token_type": "Bearer",
    }))))
}
