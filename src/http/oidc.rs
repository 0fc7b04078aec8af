//! OIDC identity providers and identity mappings (`/access/api/v1/oidc`, admin only), and the
//! token exchange a CI job calls with its ID token (`/access/api/v1/oidc/token`, no
//! credentials: the ID token is the credential).

use actix_web::{web, HttpRequest, HttpResponse};
use serde::de::DeserializeOwned;
use serde_json::{json, Map, Value};

use super::extract::{body_limit, Admin};
use super::params::{read_body, Params};
use crate::domain::oidc::{IdentityMapping, OidcProvider};
use crate::service::oidc::{ExchangeRequest, Oidc, ACCESS_TOKEN_TYPE};
use crate::service::{ServiceError, ServiceResult};

const PROVIDER_FIELDS: &[&str] = &[
    "name",
    "issuer_url",
    "provider_type",
    "audience",
    "description",
    "use_default_proxy",
];
const MAPPING_FIELDS: &[&str] = &[
    "name",
    "description",
    "provider_name",
    "priority",
    "claims",
    "token_spec",
];
const TOKEN_SPEC_FIELDS: &[&str] = &[
    "username",
    "username_pattern",
    "groups_pattern",
    "scope",
    "audience",
    "expires_in",
    "refreshable",
];
/// What CI clients say of the job (setup-jfrog-cli, `jf eot`): audited, never trusted.
const JOB_FIELDS: &[&str] = &[
    "job_id",
    "run_id",
    "repo",
    "revision",
    "branch",
    "gh_job_id",
    "gh_run_id",
    "gh_repo",
    "application_key",
];
const EXCHANGE_FIELDS: &[&str] = &[
    "grant_type",
    "subject_token_type",
    "subject_token",
    "provider_name",
    "identity_mapping_name",
    "audience",
    "project_key",
    "include_reference_token",
];

/// The JSON object of the body, with no field outside `allowed`.
async fn json_object(
    req: &HttpRequest,
    payload: web::Payload,
    allowed: &[&str],
) -> ServiceResult<Map<String, Value>> {
    let body = read_body(payload, body_limit(req)).await?;
    let object = match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Object(map)) => map,
        Ok(_) => return Err(ServiceError::invalid("JSON body must be an object")),
        Err(e) => return Err(ServiceError::invalid(format!("malformed JSON body: {e}"))),
    };
    only(&object, allowed, "")?;
    Ok(object)
}

fn only(object: &Map<String, Value>, allowed: &[&str], prefix: &str) -> ServiceResult<()> {
    match object.keys().find(|k| !allowed.contains(&k.as_str())) {
        None => Ok(()),
        Some(field) => Err(ServiceError::invalid_field(
            format!("{prefix}{field}"),
            format!(
                "unknown field '{prefix}{field}' (accepted: {})",
                allowed.join(", ")
            ),
        )),
    }
}

/// A record from its JSON, a wrong type named by its path (`token_spec.expires_in`).
fn record<T: DeserializeOwned>(object: Map<String, Value>) -> ServiceResult<T> {
    serde_path_to_error::deserialize(Value::Object(object)).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        match path.as_str() {
            "." => ServiceError::invalid(inner),
            _ => ServiceError::invalid_field(path.clone(), format!("{path}: {inner}")),
        }
    })
}

/// The body's name must be the path's (when it gives one).
fn same_name(object: &mut Map<String, Value>, key: &str, path_value: &str) -> ServiceResult<()> {
    match object.get(key) {
        None | Some(Value::Null) => {
            object.insert(key.into(), Value::String(path_value.into()));
            Ok(())
        }
        Some(Value::String(s)) if s == path_value => Ok(()),
        Some(_) => Err(ServiceError::invalid_field(
            key,
            format!("'{key}' differs from the name in the path ('{path_value}')"),
        )),
    }
}

pub async fn list_providers(oidc: web::Data<Oidc>, _: Admin) -> ServiceResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(oidc.providers()?))
}

pub async fn create_provider(
    oidc: web::Data<Oidc>,
    _: Admin,
    req: HttpRequest,
    payload: web::Payload,
) -> ServiceResult<HttpResponse> {
    let provider: OidcProvider = record(json_object(&req, payload, PROVIDER_FIELDS).await?)?;
    oidc.put_provider(provider.clone(), true).await?;
    Ok(HttpResponse::Created().json(provider))
}

pub async fn get_provider(
    oidc: web::Data<Oidc>,
    _: Admin,
    name: web::Path<String>,
) -> ServiceResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(oidc.provider(&name)?))
}

pub async fn update_provider(
    oidc: web::Data<Oidc>,
    _: Admin,
    name: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> ServiceResult<HttpResponse> {
    let mut object = json_object(&req, payload, PROVIDER_FIELDS).await?;
    oidc.provider(&name)?;
    same_name(&mut object, "name", &name)?;
    let provider: OidcProvider = record(object)?;
    oidc.put_provider(provider.clone(), false).await?;
    Ok(HttpResponse::Ok().json(provider))
}

pub async fn delete_provider(
    oidc: web::Data<Oidc>,
    _: Admin,
    name: web::Path<String>,
) -> ServiceResult<HttpResponse> {
    oidc.delete_provider(&name).await?;
    Ok(HttpResponse::NoContent().finish())
}

pub async fn list_mappings(
    oidc: web::Data<Oidc>,
    _: Admin,
    provider: web::Path<String>,
) -> ServiceResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(oidc.mappings(&provider)?))
}

/// A mapping's JSON, checked field by field (the token spec's fields too), for `provider`.
async fn mapping_body(
    req: &HttpRequest,
    payload: web::Payload,
    provider: &str,
    name: Option<&str>,
) -> ServiceResult<IdentityMapping> {
    let mut object = json_object(req, payload, MAPPING_FIELDS).await?;
    if let Some(Value::Object(spec)) = object.get("token_spec") {
        only(spec, TOKEN_SPEC_FIELDS, "token_spec.")?;
    }
    same_name(&mut object, "provider_name", provider)?;
    if let Some(name) = name {
        same_name(&mut object, "name", name)?;
    }
    record(object)
}

pub async fn create_mapping(
    oidc: web::Data<Oidc>,
    _: Admin,
    provider: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> ServiceResult<HttpResponse> {
    oidc.provider(&provider)?;
    let mapping = mapping_body(&req, payload, &provider, None).await?;
    oidc.put_mapping(mapping.clone(), true).await?;
    Ok(HttpResponse::Created().json(mapping))
}

pub async fn get_mapping(
    oidc: web::Data<Oidc>,
    _: Admin,
    path: web::Path<(String, String)>,
) -> ServiceResult<HttpResponse> {
    let (provider, name) = path.into_inner();
    Ok(HttpResponse::Ok().json(oidc.mapping(&provider, &name)?))
}

pub async fn update_mapping(
    oidc: web::Data<Oidc>,
    _: Admin,
    path: web::Path<(String, String)>,
    req: HttpRequest,
    payload: web::Payload,
) -> ServiceResult<HttpResponse> {
    let (provider, name) = path.into_inner();
    oidc.mapping(&provider, &name)?;
    let mapping = mapping_body(&req, payload, &provider, Some(&name)).await?;
    oidc.put_mapping(mapping.clone(), false).await?;
    Ok(HttpResponse::Ok().json(mapping))
}

pub async fn delete_mapping(
    oidc: web::Data<Oidc>,
    _: Admin,
    path: web::Path<(String, String)>,
) -> ServiceResult<HttpResponse> {
    let (provider, name) = path.into_inner();
    oidc.provider(&provider)?;
    oidc.delete_mapping(&provider, &name).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The exchange: an ID token for an access token of ours (RFC 8693's shape, JFrog's fields).
pub async fn exchange(
    oidc: web::Data<Oidc>,
    req: HttpRequest,
    payload: web::Payload,
) -> ServiceResult<HttpResponse> {
    let p = Params::from_request(&req, payload, body_limit(&req)).await?;
    let known: Vec<&str> = EXCHANGE_FIELDS.iter().chain(JOB_FIELDS).copied().collect();
    p.allow_only(&known)?;
    let mut job = Map::new();
    for field in JOB_FIELDS {
        if let Some(v) = p.string(field)? {
            // Audited as given, but never more than a line's worth.
            let v: String = v.chars().take(256).collect();
            job.insert((*field).to_string(), Value::String(v));
        }
    }
    let request = ExchangeRequest {
        grant_type: p.required_string("grant_type")?,
        subject_token_type: p.required_string("subject_token_type")?,
        subject_token: p.required_string("subject_token")?,
        provider_name: p.required_string("provider_name")?,
        identity_mapping_name: p.string("identity_mapping_name")?,
        audience: p.string("audience")?,
        project_key: p.string("project_key")?,
        include_reference_token: p.boolean("include_reference_token")?.unwrap_or(false),
        job,
    };
    let done = oidc.exchange(request).await?;
    let token = done.token;
    let mut answer = json!({
        "access_token": token.access_token,
        "token_type": "Bearer",
        "expires_in": token.expires_in,
        "scope": token.scope,
        "issued_token_type": ACCESS_TOKEN_TYPE,
        "username": done.username,
        "token_id": token.token_id,
    });
    if let Some(refresh) = token.refresh_token {
        answer["refresh_token"] = Value::String(refresh);
    }
    if let Some(reference) = token.reference_token {
        answer["reference_token"] = Value::String(reference);
    }
    Ok(HttpResponse::Ok()
        .insert_header(("cache-control", "no-store"))
        .json(answer))
}
