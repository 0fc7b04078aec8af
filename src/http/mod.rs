//! The thin HTTP layer: the route table, the caller resolved at the edge (`extract`), body
//! parsing, one file per resource, the node-to-node RPC, and the one mapping of service
//! errors to HTTP (`error`). Use cases live in `service`.

pub mod cluster;
pub mod compat;
pub mod error;
pub mod extract;
pub mod federation;
pub mod keys;
pub mod params;
pub mod peer_rpc;
pub mod permissions;
pub mod registry;
pub mod request_log;
pub mod system;
pub mod tokens;
pub mod ui;
pub mod users;

use actix_web::middleware::from_fn;
use actix_web::{web, HttpRequest, HttpResponse};

use crate::service::ServiceError;

/// One resource per path with the methods it serves; any other method answers 405 with an
/// `Allow` header naming them (one resource per path, so the route table says it once).
macro_rules! resource {
    ($path:expr, $($method:ident => $handler:expr),+ $(,)?) => {{
        let allow: &'static str = concat!($(stringify!($method), " "),+);
        web::resource($path)
            $(.route(web::$method().to($handler)))+
            .default_service(web::to(move || method_not_allowed(allow)))
    }};
}
pub(crate) use resource;

async fn method_not_allowed(allow: &'static str) -> Result<HttpResponse, ServiceError> {
    let allow: Vec<String> = allow
        .split_whitespace()
        .map(str::to_ascii_uppercase)
        .collect();
    Err(ServiceError::MethodNotAllowed {
        allow: allow.join(", "),
    })
}

/// Routes under `/access` (also served under `/artifactory/access`, the prefix clients like
/// pyartifactory build from an Artifactory URL).
fn access_routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/api/v1")
            .service(resource!("/tokens", post => tokens::create, get => tokens::list, delete => tokens::revoke_user_tokens))
            .service(resource!("/tokens/me", get => tokens::me))
            .service(resource!("/tokens/identity", post => tokens::identity))
            .service(resource!("/tokens/pairing", post => tokens::create_pairing))
            .service(resource!("/tokens/pairing/exchange", post => tokens::exchange_pairing))
            .service(resource!("/tokens/introspect", post => tokens::introspect))
            .service(resource!("/tokens/revoke", delete => tokens::revoke_by_token, post => tokens::revoke_by_token))
            .service(resource!("/tokens/default_expiry", get => compat::default_expiry, put => compat::set_default_expiry))
            .service(resource!("/config/token/default_expiry", get => compat::default_expiry, put => compat::set_default_expiry))
            .service(resource!("/tokens/{id}", get => tokens::get, delete => tokens::revoke_by_id))
            .service(resource!("/permissions/check", get => tokens::check_permission))
            .service(resource!("/system/ping", get => system::ping))
            .service(resource!("/system/service_id", get => system::service_id))
            .service(resource!("/system/version", get => compat::version))
            .service(resource!("/system/backup", get => system::backup))
            .service(resource!("/system/federation", get => federation::list, post => federation::create))
            .service(resource!("/system/federation/validate_server", post => federation::validate_server))
            .service(resource!("/system/federation/digest", get => federation::digest))
            .service(resource!("/system/federation/_events", post => federation::events))
            .service(resource!("/system/federation/_sync", post => federation::sync))
            .service(resource!("/system/federation/_hello", post => federation::hello))
            .service(resource!("/system/federation/{name}", get => federation::get, patch => federation::update, delete => federation::delete))
            .service(resource!("/system/federation/{name}/full_broadcast", put => federation::full_broadcast))
            .service(resource!("/system/restore", post => system::restore))
            .service(resource!("/cert/root", get => system::root_cert))
            .service(resource!("/cert/root/reset", post => keys::reset_root))
            .service(resource!("/cert/trusted", get => keys::list_trusted, post => keys::add_trusted))
            .service(resource!("/cert/trusted/{name}", delete => keys::remove_trusted))
            .service(resource!("/jwks", get => keys::jwks))
            .service(resource!("/cluster/status", get => cluster::status))
            .service(resource!("/cluster/members/{id}", delete => cluster::remove_member)),
    )
    .service(
        web::scope("/api/v2")
            .service(resource!("/users", post => users::create_user, get => users::list_users))
            .service(resource!("/users/{name}", get => users::get_user, delete => users::delete_user, patch => users::update_user))
            .service(resource!("/permissions", post => permissions::create, get => permissions::list))
            .service(resource!("/permissions/{name}", get => permissions::get, put => permissions::replace, delete => permissions::delete))
            .service(resource!("/groups", post => users::create_group, get => users::list_groups))
            .service(resource!("/groups/{name}", get => users::get_group, delete => users::delete_group))
            .service(resource!("/groups/{name}/members", patch => users::update_group_members)),
    );
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(
        web::QueryConfig::default().error_handler(|e, _| {
            ServiceError::BadRequest(format!("bad query string: {e}")).into()
        }),
    )
    .app_data(
        web::PathConfig::default()
            .error_handler(|e, _| ServiceError::BadRequest(format!("bad path: {e}")).into()),
    )
    .service(web::scope("/_cluster").configure(peer_rpc::routes))
    .route("/healthz", web::get().to(system::health))
    .service(
        web::scope("/.well-known")
            .wrap(from_fn(cluster::require_ready))
            .route("/jwks.json", web::get().to(keys::jwks)),
    )
    .service(
        web::scope("/access")
            .wrap(from_fn(cluster::require_ready))
            .configure(access_routes),
    )
    .service(
        web::scope("/artifactory")
            .wrap(from_fn(cluster::require_ready))
            .service(web::scope("/access").configure(access_routes))
            .service(resource!("/api/security/token", post => tokens::legacy_create, get => compat::legacy_list))
            .service(resource!("/api/security/token/revoke", post => tokens::revoke_by_token))
            .service(resource!(
                "/api/security/users/authorization/changePassword",
                post => users::change_password
            ))
            .service(resource!("/api/v2/security/permissions", get => permissions::artifactory_list))
            .service(resource!(
                "/api/v2/security/permissions/{name}",
                get => permissions::artifactory_get,
                put => permissions::artifactory_put,
                delete => permissions::delete
            ))
            .service(resource!("/api/system/version", get => compat::version))
            .service(resource!("/api/system/service_id", get => system::service_id))
            .service(resource!("/api/system/ping", get => system::ping))
            .service(resource!(
                "/api/docker/{repo}/v2/token",
                get => registry::get_in_repo,
                post => registry::post_in_repo
            )),
    )
    .service(
        web::scope("/v2")
            .wrap(from_fn(cluster::require_ready))
            .service(resource!("/token", get => registry::get, post => registry::post)),
    )
    .service(
        web::scope("/api")
            .wrap(from_fn(cluster::require_ready))
            .route("/system/ping", web::get().to(system::ping)),
    )
    .configure(ui::routes)
    .default_service(web::to(not_found));
}

async fn not_found(req: HttpRequest) -> Result<HttpResponse, ServiceError> {
    Err(ServiceError::NotFound(format!(
        "no such endpoint: {} {}",
        req.method(),
        req.path()
    )))
}
