//! The admin web page, served by every node under `/ui/`: server-rendered HTML (maud, which
//! escapes by default), forms that post back and redirect, one stylesheet and one icon built
//! into the binary, no JavaScript. Handlers call the same services, with the same
//! authorization, as the JSON API. Every response carries a strict Content-Security-Policy.

mod cluster;
mod csrf;
mod error;
mod form;
mod keys;
mod layout;
mod login;
mod session;
mod token_form;
mod tokens;
mod users;

use actix_web::middleware::{from_fn, DefaultHeaders};
use actix_web::{web, HttpResponse};

use super::{method_not_allowed, resource};
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
    Err(ServiceError::NotFound("no such page".into()).into())
}

/// `/` and `/ui/...`, added to the node's route table by `http::configure`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(resource!("/", get => || async { layout::see_other("/ui/") }))
        .service(
            web::scope("/ui")
                .wrap(security_headers())
                .wrap(from_fn(super::cluster::require_ready))
                .service(resource!("", get => home))
                .service(resource!("/", get => home))
                .service(resource!("/static/style.css", get => || asset(STYLE, "text/css; charset=utf-8")))
                .service(resource!("/static/icon.svg", get => || asset(ICON, "image/svg+xml")))
                .service(resource!("/login", get => login::form, post => login::submit))
                .service(resource!("/logout", post => login::logout))
                .service(resource!("/tokens", get => tokens::list, post => tokens::create))
                .service(resource!("/tokens/revoke", post => tokens::revoke))
                .service(resource!("/tokens/revoke-user", post => tokens::revoke_user))
                .service(resource!("/users", get => users::users, post => users::create_user))
                .service(resource!("/users/delete", post => users::delete_user))
                .service(resource!("/groups", get => users::groups, post => users::create_group))
                .service(resource!("/groups/delete", post => users::delete_group))
                .service(resource!("/groups/members", post => users::members))
                .service(resource!("/keys", get => keys::page_keys))
                .service(resource!("/keys/trusted", post => keys::add_trusted))
                .service(resource!("/keys/trusted/remove", post => keys::remove_trusted))
                .service(resource!("/keys/reset", post => keys::reset))
                .service(resource!("/cluster", get => cluster::page_cluster))
                .default_service(web::to(not_found)),
        );
}
