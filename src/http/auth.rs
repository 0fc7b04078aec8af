//! Request authentication: `Bearer <token>`, Basic `user:password`, Basic `user:<token>`
//! (the user name must match the token's subject).

use std::sync::Arc;

use actix_web::http::header::AUTHORIZATION;
use actix_web::HttpRequest;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use crate::crypto::Verified;
use crate::domain::policy::{Credential, Principal};
use crate::domain::scope::Scope;
use crate::error::{ApiError, ApiResult};
use crate::node::{looks_like_reference_token, Node};

enum Credentials {
    Bearer(String),
    Basic { user: String, secret: String },
}

fn credentials(req: &HttpRequest) -> ApiResult<Option<Credentials>> {
    let Some(header) = req.headers().get(AUTHORIZATION) else {
        return Ok(None);
    };
    let header = header
        .to_str()
        .map_err(|_| ApiError::Unauthorized("malformed Authorization header".into()))?;
    let (scheme, value) = header
        .split_once(' ')
        .ok_or_else(|| ApiError::Unauthorized("malformed Authorization header".into()))?;
    let value = value.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        return Ok(Some(Credentials::Bearer(value.to_string())));
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = STANDARD
            .decode(value)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| ApiError::Unauthorized("malformed Basic credentials".into()))?;
        let (user, secret) = decoded
            .split_once(':')
            .ok_or_else(|| ApiError::Unauthorized("malformed Basic credentials".into()))?;
        return Ok(Some(Credentials::Basic {
            user: user.to_string(),
            secret: secret.to_string(),
        }));
    }
    Err(ApiError::Unauthorized(format!(
        "unsupported authorization scheme '{scheme}'"
    )))
}

/// Header or query parameter asking for a linearizable revocation check.
pub const CONSISTENCY_HEADER: &str = "x-access-consistency";

fn strict(req: &HttpRequest) -> bool {
    let header = req
        .headers()
        .get(CONSISTENCY_HEADER)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("strict"));
    header
        || req
            .query_string()
            .split('&')
            .any(|kv| kv == "consistency=strict")
}

fn looks_like_jwt(s: &str) -> bool {
    s.starts_with("eyJ") && s.matches('.').count() == 2
}

/// Validate a JWT or a reference token (honouring the request's strict flag).
pub async fn validate_any(node: &Node, req: &HttpRequest, token: &str) -> ApiResult<Verified> {
    if looks_like_reference_token(token) {
        node.validate_reference(token, strict(req)).await
    } else {
        node.validate(token, strict(req)).await
    }
}

/// What a verified token lets its holder act as. Only our own tokens act with a local user's
/// rights or as admin; a trusted cluster's token carries its scope and nothing else.
pub fn principal_from_token(node: &Node, verified: &Verified) -> ApiResult<Principal> {
    let claims = &verified.claims;
    let username = claims
        .username()
        .ok_or_else(|| ApiError::Unauthorized("token subject is not a user".into()))?;
    let scope = Scope::parse(&claims.scp).ok();
    let credential = match (&scope, verified.local) {
        (Some(scope), true) => Credential::LocalToken {
            scope: scope.clone(),
            expiry: claims.exp,
        },
        (None, true) => return Err(ApiError::Unauthorized("token scope cannot be read".into())),
        (_, false) => Credential::ForeignToken {
            issuer: claims.iss.clone(),
        },
    };
    let applies_user = verified.local && scope.as_ref().is_some_and(Scope::applies_user);
    let user = if applies_user {
        node.state.user(username)?
    } else {
        None
    };
    let mut groups: Vec<String> = scope
        .as_ref()
        .map(|s| s.groups().into_iter().map(String::from).collect())
        .unwrap_or_default();
    if let Some(u) = &user {
        groups.extend(u.groups.iter().cloned());
    }
    let admin = verified.local
        && (scope.as_ref().is_some_and(Scope::is_admin) || user.as_ref().is_some_and(|u| u.admin));
    Ok(Principal {
        username: username.to_string(),
        admin,
        groups,
        token_id: Some(claims.jti.clone()),
        scope: Some(claims.scp.clone()),
        credential,
    })
}

/// The caller, or None when the request carries no credentials. Bad credentials are 401;
/// too many failed password logins are 429.
pub async fn optional(node: &Arc<Node>, req: &HttpRequest) -> ApiResult<Option<Principal>> {
    let Some(creds) = credentials(req)? else {
        return Ok(None);
    };
    match creds {
        Credentials::Bearer(token) => {
            let verified = validate_any(node, req, &token).await?;
            principal_from_token(node, &verified).map(Some)
        }
        Credentials::Basic { user, secret }
            if looks_like_jwt(&secret) || looks_like_reference_token(&secret) =>
        {
            let verified = validate_any(node, req, &secret).await?;
            if verified.claims.username() != Some(user.as_str()) {
                return Err(ApiError::Unauthorized(
                    "user name does not match the token's subject".into(),
                ));
            }
            principal_from_token(node, &verified).map(Some)
        }
        Credentials::Basic { user, secret } => {
            let client = req.peer_addr().map(|a| a.ip());
            node.password_login(&user, &secret, client).await.map(Some)
        }
    }
}

/// The caller; 401 when the request is anonymous.
pub async fn required(node: &Arc<Node>, req: &HttpRequest) -> ApiResult<Principal> {
    optional(node, req)
        .await?
        .ok_or_else(|| ApiError::Unauthorized("authentication required".into()))
}

/// The caller, who must be an admin: 401 when anonymous, 403 otherwise.
pub async fn required_admin(node: &Arc<Node>, req: &HttpRequest) -> ApiResult<Principal> {
    let who = required(node, req).await?;
    crate::domain::policy::require_admin(&who)?;
    Ok(who)
}
