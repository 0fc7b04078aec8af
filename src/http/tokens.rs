//! Token endpoints: create/refresh, list, get, revoke (Access API and legacy Artifactory),
//! and the permission check for resource servers.

use std::collections::HashMap;

use actix_web::http::header::{CACHE_CONTROL, PRAGMA};
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Map, Value};

use super::auth;
use super::params::{valid_name, Params};
use super::NodeData;
use crate::domain::policy::{
    authorize_mint, authorize_own_token, is_local_user, Credential, MintLimits, MintRequest,
    Principal,
};
use crate::domain::scope::{Action, Scope};
use crate::domain::token::{TokenKind, TokenRecord, MAX_EXPIRES_IN};
use crate::error::{ApiError, ApiResult};
use crate::node::{now_secs, IssueSpec, IssuedToken, RefreshOverrides};

const DEFAULT_SCOPE: &str = "applied-permissions/user";

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
    json!({
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
    })
}

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

/// `expires_in`, bounded (0 = never expires).
fn expires_in(p: &Params) -> ApiResult<Option<u64>> {
    match p.seconds("expires_in")? {
        Some(secs) if secs > MAX_EXPIRES_IN => Err(ApiError::BadRequest(format!(
            "'expires_in' must be at most {MAX_EXPIRES_IN} seconds (0 = never expires)"
        ))),
        other => Ok(other),
    }
}

/// Parse, authorise and mint from request parameters; `legacy` adds `api:*` as Artifactory did.
async fn mint(
    node: &NodeData,
    req: &HttpRequest,
    p: &Params,
    legacy: bool,
) -> ApiResult<IssuedToken> {
    let who = auth::required(node, req).await?;
    p.allow_only(CREATE_FIELDS)?;
    let cfg = &node.config.token;
    let now = now_secs();
    let username = p
        .string("username")?
        .unwrap_or_else(|| who.username.clone());
    if !valid_name(&username) {
        return Err(ApiError::BadRequest(format!(
            "invalid username '{username}'"
        )));
    }
    // A scoped token asking for "a token" gets its own scope, not its user's full rights.
    let (default_scope, default_expiry) = match &who.credential {
        Credential::LocalToken { scope, expiry } if !who.admin => (
            scope.to_string(),
            expiry.map_or(cfg.default_expiry, |e| {
                cfg.default_expiry.min(e.saturating_sub(now).max(1))
            }),
        ),
        _ => (DEFAULT_SCOPE.to_string(), cfg.default_expiry),
    };
    let mut scope = Scope::parse(&p.string("scope")?.unwrap_or(default_scope))?;
    if legacy {
        scope = scope.with_api();
    }
    let expires_in = expires_in(p)?.unwrap_or(default_expiry);
    let refreshable = p.boolean("refreshable")?.unwrap_or(false);
    let audience = p
        .string("audience")?
        .unwrap_or_else(|| cfg.default_audience.clone());
    if audience.len() > 1024 || audience.split_whitespace().any(|a| !a.contains('@')) {
        return Err(ApiError::BadRequest(
            "audience must be space separated service ids like jfrt@<id> or *@*".into(),
        ));
    }
    let description = p.string("description")?;
    let reference = p.boolean("include_reference_token")?.unwrap_or(false);
    if description.as_ref().is_some_and(|d| d.len() > 1024) {
        return Err(ApiError::BadRequest(
            "description is longer than 1024 characters".into(),
        ));
    }
    authorize_mint(
        &who,
        &MintRequest {
            username: &username,
            scope: &scope,
            expires_in,
            refreshable,
        },
        MintLimits {
            non_admin_max_expiry: cfg.non_admin_max_expiry,
            allow_refreshable: cfg.allow_refreshable,
            now,
        },
    )?;
    let issued = node
        .issue(IssueSpec {
            username: username.clone(),
            scope,
            expires_in,
            refreshable,
            audience,
            description,
            kind: TokenKind::Access,
            reference,
        })
        .await?;
    tracing::info!(token_id = %issued.token_id, subject = %username, by = %who.username, "token created");
    Ok(issued)
}

/// Refresh: the access/refresh pair authenticates alone; any other parameter needs an admin.
async fn refresh(node: &NodeData, req: &HttpRequest, p: &Params) -> ApiResult<IssuedToken> {
    p.allow_only(REFRESH_FIELDS)?;
    let refresh_token = p.string("refresh_token")?.ok_or_else(|| {
        ApiError::BadRequest("'refresh_token' is required with grant_type=refresh_token".into())
    })?;
    let access_token = p.string("access_token")?.ok_or_else(|| {
        ApiError::BadRequest("'access_token' is required with grant_type=refresh_token".into())
    })?;
    let mut overrides = RefreshOverrides::default();
    let extra = ["username", "scope", "expires_in", "audience"]
        .iter()
        .any(|f| p.has(f));
    if extra {
        let who = auth::required(node, req).await?;
        if !who.admin {
            return Err(ApiError::Forbidden(
                crate::domain::policy::PolicyError::AdminOnly,
            ));
        }
        let username = p.string("username")?;
        if username.as_deref().is_some_and(|u| !valid_name(u)) {
            return Err(ApiError::BadRequest("invalid username".into()));
        }
        overrides.username = username;
        overrides.scope = p.string("scope")?.map(|s| Scope::parse(&s)).transpose()?;
        overrides.expires_in = expires_in(p)?;
        overrides.audience = p.string("audience")?;
    }
    let issued = node
        .refresh(&access_token, &refresh_token, overrides)
        .await?;
    tracing::info!(token_id = %issued.token_id, "token refreshed");
    Ok(issued)
}

/// Create or refresh, by `grant_type`; `legacy` is the Artifactory endpoint's flavour.
async fn create_or_refresh(
    node: &NodeData,
    req: &HttpRequest,
    payload: web::Payload,
    legacy: bool,
) -> ApiResult<IssuedToken> {
    let p = Params::from_request(req, payload, node.config.server.max_body_bytes).await?;
    match p.string("grant_type")?.as_deref() {
        Some("refresh_token") => refresh(node, req, &p).await,
        None | Some("client_credentials") => mint(node, req, &p, legacy).await,
        Some(other) => Err(ApiError::BadRequest(format!(
            "unsupported grant_type '{other}'"
        ))),
    }
}

pub async fn create(
    node: NodeData,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let issued = create_or_refresh(&node, &req, payload, false).await?;
    Ok(secret_response(issued_json(&issued)))
}

/// `POST /artifactory/api/security/token` (seed 002).
pub async fn legacy_create(
    node: NodeData,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let issued = create_or_refresh(&node, &req, payload, true).await?;
    let mut body = issued_json(&issued);
    if let Some(map) = body.as_object_mut() {
        map.remove("token_id");
    }
    Ok(secret_response(body))
}

fn visible_to(who: &Principal, r: &TokenRecord) -> bool {
    who.admin || is_local_user(who, &r.username)
}

/// A response carrying a secret (token, refresh or pairing token): never cached.
fn secret_response(body: Value) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((CACHE_CONTROL, "no-store"))
        .insert_header((PRAGMA, "no-cache"))
        .json(body)
}

/// `DELETE /access/api/v1/tokens?username=X` (or `username` in the body): every token of
/// user X, revocable or not, stops validating on every node. Admins, or the user itself.
pub async fn revoke_user_tokens(
    node: NodeData,
    req: HttpRequest,
    query: web::Query<HashMap<String, String>>,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let who = auth::required(&node, &req).await?;
    let p = Params::from_request(&req, payload, node.config.server.max_body_bytes).await?;
    p.allow_only(&["username"])?;
    let username = match (p.string("username")?, query.get("username")) {
        (Some(u), _) => u,
        (None, Some(u)) if !u.is_empty() => u.clone(),
        _ => {
            return Err(ApiError::BadRequest(
                "give the user whose tokens to revoke as 'username'".into(),
            ))
        }
    };
    if !who.admin && !is_local_user(&who, &username) {
        return Err(ApiError::Forbidden(
            crate::domain::policy::PolicyError::AdminOnly,
        ));
    }
    let revoked_at = node.revoke_user_tokens(&username).await?;
    Ok(HttpResponse::Ok().json(json!({ "username": username, "revoked_before": revoked_at })))
}

pub async fn list(node: NodeData, req: HttpRequest) -> ApiResult<HttpResponse> {
    let who = auth::required(&node, &req).await?;
    let tokens: Vec<Value> = node
        .state
        .tokens()?
        .iter()
        .filter(|r| visible_to(&who, r))
        .map(record_json)
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "tokens": tokens })))
}

pub async fn me(node: NodeData, req: HttpRequest) -> ApiResult<HttpResponse> {
    let who = auth::required(&node, &req).await?;
    if let Credential::ForeignToken { issuer } = &who.credential {
        return Err(ApiError::NotFound(format!(
            "the token used belongs to a trusted cluster ({issuer}); only its own cluster stores it"
        )));
    }
    let id = who.token_id.ok_or_else(|| {
        ApiError::BadRequest("this request is not authenticated with a token".into())
    })?;
    match node.state.token(&id)? {
        Some(r) => Ok(HttpResponse::Ok().json(record_json(&r))),
        None => Err(ApiError::NotFound(
            "the token used is not stored (non-revocable tokens are not)".into(),
        )),
    }
}

pub async fn get(
    node: NodeData,
    req: HttpRequest,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let who = auth::required(&node, &req).await?;
    match node.find_token(&id).await? {
        Some(r) if visible_to(&who, &r) => Ok(HttpResponse::Ok().json(record_json(&r))),
        _ => Err(ApiError::NotFound(format!("token '{id}' not found"))),
    }
}

fn revoked_response() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain")
        .body("Token revoked")
}

pub async fn revoke_by_id(
    node: NodeData,
    req: HttpRequest,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let who = auth::required(&node, &req).await?;
    node.revoke(&who, &id).await?;
    Ok(revoked_response())
}

/// Revoke by the token itself (`token=`) or by id (`token_id=`): form, JSON or query.
async fn revoke_from_params(
    node: &NodeData,
    req: &HttpRequest,
    p: &Params,
) -> ApiResult<HttpResponse> {
    let who = auth::required(node, req).await?;
    let query = web::Query::<HashMap<String, String>>::from_query(req.query_string())
        .map(|q| q.into_inner())
        .unwrap_or_default();
    let token = p.string("token")?.or_else(|| query.get("token").cloned());
    let token_id = p
        .string("token_id")?
        .or_else(|| query.get("token_id").cloned());
    let id = match (token, token_id) {
        (Some(token), _) => {
            let keys = node.keyset()?;
            let verified = keys
                .verify(&token, now_secs(), true)
                .map_err(|e| ApiError::BadRequest(format!("cannot revoke: {e}")))?;
            if !verified.local {
                return Err(ApiError::BadRequest(
                    "cannot revoke: the token belongs to a trusted cluster, not this one".into(),
                ));
            }
            let claims = verified.claims;
            if !claims.revocable(node.config.token.revocable_expiry_threshold) {
                return Err(ApiError::NotRevocable(
                    node.config.token.revocable_expiry_threshold,
                ));
            }
            claims.jti
        }
        (None, Some(id)) => id,
        (None, None) => {
            return Err(ApiError::BadRequest(
                "give the token to revoke as 'token' or 'token_id'".into(),
            ))
        }
    };
    node.revoke(&who, &id).await?;
    Ok(revoked_response())
}

/// Also `POST /artifactory/api/security/token/revoke` (legacy).
pub async fn revoke_by_token(
    node: NodeData,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let p = Params::from_request(&req, payload, node.config.server.max_body_bytes).await?;
    p.allow_only(&["token", "token_id"])?;
    revoke_from_params(&node, &req, &p).await
}

/// `GET /access/api/v1/permissions/check?path=<repo>/<path>&action=r` with the token to check
/// as the request's credentials: `{"allowed": bool}`.
pub async fn check_permission(
    node: NodeData,
    req: HttpRequest,
    q: web::Query<HashMap<String, String>>,
) -> ApiResult<HttpResponse> {
    let path = q
        .get("path")
        .filter(|p| !p.is_empty())
        .ok_or_else(|| ApiError::BadRequest("'path' (<repo>/<path>) is required".into()))?;
    let action_name = q.get("action").map(String::as_str).unwrap_or("r");
    let action = Action::parse(action_name).ok_or_else(|| {
        ApiError::BadRequest(format!(
            "unknown action '{action_name}' (use r,w,d,a,m,x,s)"
        ))
    })?;
    let who = auth::required(&node, &req).await?;
    let allowed = match &who.scope {
        Some(scope) => Scope::parse(scope)
            .map(|s| s.allows(path, action))
            .unwrap_or(false),
        // Password logins act as the user: only admins are known to be allowed.
        None => who.admin,
    };
    Ok(HttpResponse::Ok().json(json!({
        "allowed": allowed,
        "path": path,
        "action": action.letter().to_string(),
        "subject": who.username,
    })))
}

/// `POST /access/api/v1/tokens/identity`: any user mints an identity token for itself
/// (`applied-permissions/user`, revocable, with a reference token). A token caller must carry
/// `applied-permissions/user` and outlive it, unless admin; a trusted cluster's token cannot.
pub async fn identity(
    node: NodeData,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let p = Params::from_request(&req, payload, node.config.server.max_body_bytes).await?;
    p.allow_only(&["description"])?;
    let who = auth::required(&node, &req).await?;
    let scope = Scope::parse(DEFAULT_SCOPE)?;
    let expires_in = node.config.token.identity_token_expiry;
    authorize_own_token(&who, &scope, expires_in, now_secs())?;
    let issued = node
        .issue(IssueSpec {
            username: who.username.clone(),
            scope,
            expires_in,
            refreshable: false,
            audience: node.config.token.default_audience.clone(),
            description: p.string("description")?,
            kind: TokenKind::Identity,
            reference: true,
        })
        .await?;
    tracing::info!(token_id = %issued.token_id, subject = %who.username, "identity token created");
    Ok(secret_response(issued_json(&issued)))
}

/// `POST /access/api/v1/tokens/pairing`: a one-time pairing token for the caller, exchanged
/// later for an `applied-permissions/user` token: the same rule as identity tokens.
pub async fn create_pairing(
    node: NodeData,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let p = Params::from_request(&req, payload, node.config.server.max_body_bytes).await?;
    p.allow_only(&["purpose"])?;
    let who = auth::required(&node, &req).await?;
    let cfg = &node.config.token;
    authorize_own_token(
        &who,
        &Scope::parse(DEFAULT_SCOPE)?,
        cfg.pairing_token_expiry.saturating_add(cfg.default_expiry),
        now_secs(),
    )?;
    let purpose = p.string("purpose")?;
    if purpose.as_ref().is_some_and(|s| s.len() > 256) {
        return Err(ApiError::BadRequest(
            "purpose is longer than 256 characters".into(),
        ));
    }
    let (secret, record) = node.issue_pairing(&who.username, purpose).await?;
    Ok(secret_response(json!({
        "pairing_token": secret,
        "token_id": record.token_id,
        "expires_in": record.expiry - record.issued_at,
        "purpose": record.purpose,
    })))
}

/// `POST /access/api/v1/tokens/pairing/exchange` (form `pairing_token`): the pairing token
/// itself is the credential; it works once.
pub async fn exchange_pairing(
    node: NodeData,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let p = Params::from_request(&req, payload, node.config.server.max_body_bytes).await?;
    p.allow_only(&["pairing_token"])?;
    let secret = p.required_string("pairing_token")?;
    let (_, issued) = node.consume_pairing(&secret).await?;
    Ok(secret_response(issued_json(&issued)))
}

/// `POST /access/api/v1/tokens/introspect` (RFC 7662, form `token`): for resource servers,
/// which authenticate themselves. Any token problem is `{"active": false}`.
pub async fn introspect(
    node: NodeData,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let p = Params::from_request(&req, payload, node.config.server.max_body_bytes).await?;
    p.allow_only(&["token", "token_type_hint"])?;
    auth::required(&node, &req).await?;
    let token = p.required_string("token")?;
    let claims = match auth::validate_any(&node, &req, &token).await {
        Ok(v) => v.claims,
        Err(ApiError::Unavailable(m)) => return Err(ApiError::Unavailable(m)),
        Err(_) => return Ok(HttpResponse::Ok().json(json!({ "active": false }))),
    };
    Ok(HttpResponse::Ok().json(json!({
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
    })))
}
