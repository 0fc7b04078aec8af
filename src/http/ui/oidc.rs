//! OIDC (admins only): identity providers and their identity mappings, listed, created and
//! deleted, through the same `Oidc` use case as the JSON API.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use maud::html;
use serde_json::{Map, Value};

use super::error::{back_to, UiError};
use super::layout::{action_button, csrf_field, page, respond, see_other};
use super::session::{service, AdminPost, AdminSigned};
use crate::domain::oidc::{
    IdentityMapping, OidcProvider, ProviderType, TokenSpec, DEFAULT_EXCHANGE_EXPIRY_SECS,
    DEFAULT_EXCHANGE_SCOPE,
};
use crate::service::oidc::Oidc;
use crate::service::ServiceError;

const BACK: &str = "/ui/oidc";

fn type_name(t: ProviderType) -> &'static str {
    match t {
        ProviderType::GitHub => "GitHub",
        ProviderType::Azure => "Azure",
        ProviderType::Generic => "Generic OpenID Connect",
    }
}

/// What a mapping grants, in a few words.
fn grants(spec: &TokenSpec) -> String {
    match (&spec.username, &spec.username_pattern, &spec.groups_pattern) {
        (Some(u), _, _) => format!("user {u}"),
        (None, Some(p), _) => format!("user {p}"),
        (None, None, Some(g)) => format!("groups {g}"),
        _ => String::new(),
    }
}

/// `GET /ui/oidc`.
pub async fn page_oidc(
    req: HttpRequest,
    AdminSigned(s): AdminSigned,
) -> Result<HttpResponse, UiError> {
    let oidc = service::<Oidc>(&req)?;
    let providers = oidc.providers()?;
    let mut mappings = Vec::new();
    for p in &providers {
        mappings.extend(oidc.mappings(&p.name)?);
    }
    let content = html! {
        h2 { "Identity providers" }
        table #providers {
            thead { tr { th { "Name" } th { "Type" } th { "Issuer" } th { "Audience" } th {} } }
            tbody {
                @for p in &providers {
                    tr data-provider=(p.name) {
                        td { (p.name) } td { (type_name(p.provider_type)) } td.id { (p.issuer_url) } td { (p.audience) }
                        td { (action_button(&s, "/ui/oidc/providers/remove", &[("name", &p.name)], "Delete")) }
                    }
                }
            }
        }
        @if providers.is_empty() { p.empty { "No identity providers." } }
        form.card #add-provider method="post" action="/ui/oidc/providers" {
            (csrf_field(&s))
            label for="provider-name" { "Name (lower-case letters, digits and -)" }
            input #provider-name name="name" type="text" required pattern="[a-z][a-z0-9-]+";
            label for="provider-issuer" { "Issuer URL" }
            input #provider-issuer name="issuer_url" type="url" required placeholder="https://token.actions.githubusercontent.com";
            label for="provider-type" { "Type" }
            select #provider-type name="provider_type" {
                option value="GitHub" { "GitHub" }
                option value="Azure" { "Azure" }
                option value="Generic OpenID Connect" { "Generic OpenID Connect" }
            }
            label for="provider-audience" { "Audience (the aud of accepted ID tokens)" }
            input #provider-audience name="audience" type="text" required;
            label for="provider-description" { "Description" }
            input #provider-description name="description" type="text";
            button.primary type="submit" { "Add provider" }
        }
        h2 { "Identity mappings" }
        table #mappings {
            thead { tr { th { "Provider" } th { "Name" } th { "Priority" } th { "Claims" } th { "Grants" } th { "Scope" } th { "Life (s)" } th {} } }
            tbody {
                @for m in &mappings {
                    tr data-mapping=(m.name) {
                        td { (m.provider_name) } td { (m.name) } td { (m.priority) }
                        td.id { (Value::Object(m.claims.clone()).to_string()) }
                        td { (grants(&m.token_spec)) } td { (m.token_spec.scope) } td { (m.token_spec.expires_in) }
                        td { (action_button(&s, "/ui/oidc/mappings/remove", &[("provider", &m.provider_name), ("name", &m.name)], "Delete")) }
                    }
                }
            }
        }
        @if mappings.is_empty() { p.empty { "No identity mappings." } }
        @if !providers.is_empty() {
            form.card #add-mapping method="post" action="/ui/oidc/mappings" {
                (csrf_field(&s))
                label for="mapping-provider" { "Provider" }
                select #mapping-provider name="provider" {
                    @for p in &providers { option value=(p.name) { (p.name) } }
                }
                label for="mapping-name" { "Name" }
                input #mapping-name name="name" type="text" required pattern="[a-z][a-z0-9-]+";
                label for="mapping-priority" { "Priority (lowest wins)" }
                input #mapping-priority name="priority" type="number" min="0" value="0";
                label for="mapping-claims" { "Claims (JSON object)" }
                textarea #mapping-claims name="claims" rows="3" required placeholder="{\"repository\": \"my-org/*\"}" {}
                label for="mapping-user" { "User name, or a pattern such as gh-{{actor}}" }
                input #mapping-user name="username" type="text";
                label for="mapping-groups" { "Or groups pattern (comma separated)" }
                input #mapping-groups name="groups_pattern" type="text";
                label for="mapping-scope" { "Scope" }
                input #mapping-scope name="scope" type="text" value=(DEFAULT_EXCHANGE_SCOPE);
                label for="mapping-expiry" { "Token life (seconds)" }
                input #mapping-expiry name="expires_in" type="number" min="1" value=(DEFAULT_EXCHANGE_EXPIRY_SECS);
                label.choice { input type="checkbox" name="refreshable" value="1"; " refreshable" }
                button.primary type="submit" { "Add mapping" }
            }
        }
    };
    Ok(respond(
        StatusCode::OK,
        page("OIDC", Some(&s), BACK, content),
    ))
}

/// `POST /ui/oidc/providers`.
pub async fn add_provider(req: HttpRequest, post: AdminPost) -> Result<HttpResponse, UiError> {
    let oidc = service::<Oidc>(&req)?;
    let back = back_to(BACK);
    let f = &post.form;
    let provider_type = match f.get("provider_type").unwrap_or("") {
        "GitHub" => ProviderType::GitHub,
        "Azure" => ProviderType::Azure,
        _ => ProviderType::Generic,
    };
    let provider = OidcProvider {
        name: f.required("name", "The name").map_err(&back)?.to_string(),
        issuer_url: f
            .required("issuer_url", "The issuer URL")
            .map_err(&back)?
            .to_string(),
        provider_type,
        audience: f
            .required("audience", "The audience")
            .map_err(&back)?
            .to_string(),
        description: f.get("description").unwrap_or("").to_string(),
        use_default_proxy: false,
    };
    oidc.put_provider(provider, true).await.map_err(back)?;
    Ok(see_other(BACK))
}

/// `POST /ui/oidc/providers/remove`.
pub async fn remove_provider(req: HttpRequest, post: AdminPost) -> Result<HttpResponse, UiError> {
    let oidc = service::<Oidc>(&req)?;
    let back = back_to(BACK);
    let name = post.form.required("name", "The name").map_err(&back)?;
    oidc.delete_provider(name).await.map_err(back)?;
    Ok(see_other(BACK))
}

/// `POST /ui/oidc/mappings`: a user field with `{{` is a pattern.
pub async fn add_mapping(req: HttpRequest, post: AdminPost) -> Result<HttpResponse, UiError> {
    let oidc = service::<Oidc>(&req)?;
    let back = back_to(BACK);
    let f = &post.form;
    let claims: Map<String, Value> =
        serde_json::from_str(f.required("claims", "The claims").map_err(&back)?).map_err(|e| {
            back(ServiceError::invalid_field(
                "claims",
                format!("claims must be a JSON object: {e}"),
            ))
        })?;
    let number = |name: &str, default: u64| -> Result<u64, ServiceError> {
        match f.get(name) {
            None => Ok(default),
            Some(v) => v.trim().parse().map_err(|_| {
                ServiceError::invalid_field(name, format!("{name} must be a whole number"))
            }),
        }
    };
    let user = f.get("username").map(String::from);
    let is_pattern = user.as_deref().is_some_and(|u| u.contains("{{"));
    let mapping = IdentityMapping {
        name: f.required("name", "The name").map_err(&back)?.to_string(),
        description: String::new(),
        provider_name: f
            .required("provider", "The provider")
            .map_err(&back)?
            .to_string(),
        priority: u32::try_from(number("priority", 0).map_err(&back)?).map_err(|_| {
            back(ServiceError::invalid_field(
                "priority",
                "priority is too large",
            ))
        })?,
        claims,
        token_spec: TokenSpec {
            username: user.clone().filter(|_| !is_pattern),
            username_pattern: user.filter(|_| is_pattern),
            groups_pattern: f.get("groups_pattern").map(String::from),
            scope: f.get("scope").unwrap_or(DEFAULT_EXCHANGE_SCOPE).to_string(),
            audience: None,
            expires_in: number("expires_in", DEFAULT_EXCHANGE_EXPIRY_SECS).map_err(&back)?,
            refreshable: f.checked("refreshable"),
        },
    };
    oidc.put_mapping(mapping, true).await.map_err(back)?;
    Ok(see_other(BACK))
}

/// `POST /ui/oidc/mappings/remove`.
pub async fn remove_mapping(req: HttpRequest, post: AdminPost) -> Result<HttpResponse, UiError> {
    let oidc = service::<Oidc>(&req)?;
    let back = back_to(BACK);
    let provider = post
        .form
        .required("provider", "The provider")
        .map_err(&back)?;
    let name = post.form.required("name", "The name").map_err(&back)?;
    oidc.delete_mapping(provider, name).await.map_err(back)?;
    Ok(see_other(BACK))
}
