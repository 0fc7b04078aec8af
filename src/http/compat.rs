//! JFrog endpoints clients call before or beside the token API: versions, the legacy token
//! list, the default token lifetime; and `compact`, which leaves absent fields out of an
//! answer as JFrog does instead of sending `null`.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

use super::extract::{body_limit, Admin, Caller, MaybeCaller};
use super::params::Params;
use crate::config::Config;
use crate::service::tokens::Tokens;
use crate::service::ServiceResult;

/// Drop `null` members of objects, recursively: JFrog leaves such fields out (clients such as
/// jfrog-client crash on `"expiry": null`).
pub fn compact(v: Value) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, compact(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(compact).collect()),
        other => other,
    }
}

/// `GET /artifactory/api/system/version` and `/access/api/v1/system/version`: the configured
/// Artifactory-compatible version (version-gated clients read it), and ours. Anonymous
/// callers may ask; bad credentials are a 401, as for ping.
pub async fn version(config: web::Data<Config>, _: MaybeCaller) -> HttpResponse {
    let ours = env!("CARGO_PKG_VERSION");
    HttpResponse::Ok().json(json!({
        "version": config.server.compat_version,
        "revision": config.server.compat_version.replace('.', ""),
        "addons": [],
        "license": "access-node",
        "access_node_version": ours,
    }))
}

/// `GET /artifactory/api/security/token` (legacy list): the caller's tokens, all for an admin.
pub async fn legacy_list(
    tokens: web::Data<Tokens>,
    Caller(who): Caller,
) -> ServiceResult<HttpResponse> {
    let tokens: Vec<Value> = tokens
        .list_tokens(&who)?
        .iter()
        .map(|r| {
            compact(json!({
                "token_id": r.token_id,
                "issuer": r.issuer,
                "subject": r.subject,
                "expiry": r.expiry,
                "refreshable": r.refreshable,
                "issued_at": r.issued_at,
            }))
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "tokens": tokens })))
}

/// `GET /access/api/v1/tokens/default_expiry` (also under `/config/token/`).
pub async fn default_expiry(tokens: web::Data<Tokens>, _: Admin) -> HttpResponse {
    HttpResponse::Ok().json(json!({ "default_expiry": tokens.default_expiry() }))
}

/// `PUT` of the same: `{"default_expiry": N}` (JSON or form), for the whole cluster.
pub async fn set_default_expiry(
    tokens: web::Data<Tokens>,
    _: Admin,
    req: HttpRequest,
    payload: web::Payload,
) -> ServiceResult<HttpResponse> {
    let p = Params::from_request(&req, payload, body_limit(&req)).await?;
    p.allow_only(&["default_expiry"])?;
    let secs = p.seconds("default_expiry")?.ok_or_else(|| {
        crate::service::ServiceError::BadRequest("'default_expiry' (seconds) is required".into())
    })?;
    let secs = tokens.set_default_expiry(secs).await?;
    Ok(HttpResponse::Ok().json(json!({ "default_expiry": secs })))
}
