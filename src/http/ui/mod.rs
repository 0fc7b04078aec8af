//! The admin web page, served by every node under `/ui/`: server-rendered HTML (maud, which
//! escapes by default), forms that post back and redirect, one stylesheet and one icon built
//! into the binary, no JavaScript. Handlers call the same services, with the same
//! authorization, as the JSON API. Every response carries a strict Content-Security-Policy.

mod audit;
mod cluster;
mod csrf;
mod error;
mod form;
mod keys;
mod layout;
mod login;
mod oidc;
mod session;
mod token_form;
mod tokens;
mod users;

use actix_web::middleware::{from_fn, DefaultHeaders};
use actix_web::{web, HttpResponse};

use super::route_book::{method_not_allowed, resource, Mount};
use crate::service::ServiceError;
use error::UiError;

/// No script, no inline style, nothing from elsewhere, no framing, forms only to us.
pub const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const STYLE: &str = include_str!("style.css");
const ICON: &str = include_str!("icon.svg");

fn security_headers() -> DefaultHeaders {
    DefaultHeaders::new()
        .add(("content-security-policy", CSP))
        .add(("x-frame-options", "DENY"))
        .add(("x-content-type-options", "nosniff"))
        .add(("referrer-policy", "same-origin"))
        .add(("cross-origin-opener-policy", "same-origin"))
        // Pages show tokens once and per-user data: never cached (assets say otherwise).
        .add(("cache-control", "no-store"))
}

async fn asset(body: &'static str, content_type: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header(("cache-control", "public, max-age=3600"))
        .body(body)
}

async fn home() -> HttpResponse {
    layout::see_other("/ui/tokens")
}

async fn not_found() -> Result<HttpResponse, UiError> {
    Err(ServiceError::Absent("no such page".into()).into())
}

/// `/` and `/ui/...`, added to the node's route table by `routes::mount`.
pub fn routes(cfg: &mut web::ServiceConfig, m: &mut Mount) {
    cfg.service(resource!(m, "/", get => || async { layout::see_other("/ui/") }))
        .service(
            web::scope("/ui")
                .wrap(security_headers())
                .wrap(from_fn(super::cluster::require_ready))
                .service(resource!(m, "", get => home))
                .service(resource!(m, "/", get => home))
                .service(resource!(m, "/static/style.css", get => || asset(STYLE, "text/css; charset=utf-8")))
                .service(resource!(m, "/static/icon.svg", get => || asset(ICON, "image/svg+xml")))
                .service(resource!(m, "/login", get => login::form, post => login::submit))
                .service(resource!(m, "/logout", post => login::logout))
                .service(resource!(m, "/tokens", get => tokens::list, post => tokens::create))
                .service(resource!(m, "/tokens/revoke", post => tokens::revoke))
                .service(resource!(m, "/tokens/revoke-user", post => tokens::revoke_user))
                .service(resource!(m, "/users", get => users::users, post => users::create_user))
                .service(resource!(m, "/users/delete", post => users::delete_user))
                .service(resource!(m, "/groups", get => users::groups, post => users::create_group))
                .service(resource!(m, "/groups/delete", post => users::delete_group))
                .service(resource!(m, "/groups/members", post => users::members))
                .service(resource!(m, "/keys", get => keys::page_keys))
                .service(resource!(m, "/keys/trusted", post => keys::add_trusted))
                .service(resource!(m, "/keys/trusted/remove", post => keys::remove_trusted))
                .service(resource!(m, "/keys/reset", post => keys::reset))
                .service(resource!(m, "/oidc", get => oidc::page_oidc))
                .service(resource!(m, "/oidc/providers", post => oidc::add_provider))
                .service(resource!(m, "/oidc/providers/remove", post => oidc::remove_provider))
                .service(resource!(m, "/oidc/mappings", post => oidc::add_mapping))
                .service(resource!(m, "/oidc/mappings/remove", post => oidc::remove_mapping))
                .service(resource!(m, "/cluster", get => cluster::page_cluster))
                .service(resource!(m, "/audit", get => audit::page_audit))
                .default_service(web::to(not_found)),
        );
}
