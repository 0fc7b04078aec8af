//! The thin HTTP layer: the route table, the caller resolved at the edge (`extract`), body
//! parsing, one file per resource, the node-to-node RPC, and the one mapping of service
//! errors to HTTP (`error`). Use cases live in `service`.

pub mod cluster;
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
pub mod users;

use actix_web::middleware::from_fn;
use actix_web::{web, HttpRequest, HttpResponse};

use crate::service::ServiceError;

/// Routes under `/access` (also served under `/artifactory/access`, the prefix clients like
/// pyartifactory build from an Artifactory URL).
fn access_routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/api/v1")
            .route("/tokens", web::post().to(tokens::create))
            .route("/tokens", web::get().to(tokens::list))
            .route("/tokens", web::delete().to(tokens::revoke_user_tokens))
            .route("/tokens/me", web::get().to(tokens::me))
            .route("/tokens/identity", web::post().to(tokens::identity))
            .route("/tokens/pairing", web::post().to(tokens::create_pairing))
            .route(
                "/tokens/pairing/exchange",
                web::post().to(tokens::exchange_pairing),
            )
            .route("/tokens/introspect", web::post().to(tokens::introspect))
            .route("/tokens/revoke", web::delete().to(tokens::revoke_by_token))
            .route("/tokens/revoke", web::post().to(tokens::revoke_by_token))
            .route("/tokens/{id}", web::get().to(tokens::get))
            .route("/tokens/{id}", web::delete().to(tokens::revoke_by_id))
            .route(
                "/permissions/check",
                web::get().to(tokens::check_permission),
            )
            .route("/system/ping", web::get().to(system::ping))
            .route("/system/service_id", web::get().to(system::service_id))
            .route("/system/backup", web::get().to(system::backup))
            .route("/system/federation", web::get().to(federation::list))
            .route("/system/federation", web::post().to(federation::create))
            .route(
                "/system/federation/validate_server",
                web::post().to(federation::validate_server),
            )
            .route(
                "/system/federation/digest",
                web::get().to(federation::digest),
            )
            .route(
                "/system/federation/_events",
                web::post().to(federation::events),
            )
            .route("/system/federation/_sync", web::post().to(federation::sync))
            .route(
                "/system/federation/_hello",
                web::post().to(federation::hello),
            )
            .route("/system/federation/{name}", web::get().to(federation::get))
            .route(
                "/system/federation/{name}",
                web::patch().to(federation::update),
            )
            .route(
                "/system/federation/{name}",
                web::delete().to(federation::delete),
            )
            .route(
                "/system/federation/{name}/full_broadcast",
                web::put().to(federation::full_broadcast),
            )
            .route("/system/restore", web::post().to(system::restore))
            .route("/cert/root", web::get().to(system::root_cert))
            .route("/cert/root/reset", web::post().to(keys::reset_root))
            .route("/cert/trusted", web::get().to(keys::list_trusted))
            .route("/cert/trusted", web::post().to(keys::add_trusted))
            .route(
                "/cert/trusted/{name}",
                web::delete().to(keys::remove_trusted),
            )
            .route("/jwks", web::get().to(keys::jwks))
            .route("/cluster/status", web::get().to(cluster::status))
            .route(
                "/cluster/members/{id}",
                web::delete().to(cluster::remove_member),
            ),
    )
    .service(
        web::scope("/api/v2")
            .route("/users", web::post().to(users::create_user))
            .route("/users", web::get().to(users::list_users))
            .route("/users/{name}", web::get().to(users::get_user))
            .route("/users/{name}", web::delete().to(users::delete_user))
            .route("/users/{name}", web::patch().to(users::update_user))
            .route("/permissions", web::post().to(permissions::create))
            .route("/permissions", web::get().to(permissions::list))
            .route("/permissions/{name}", web::get().to(permissions::get))
            .route("/permissions/{name}", web::put().to(permissions::replace))
            .route("/permissions/{name}", web::delete().to(permissions::delete))
            .route("/groups", web::post().to(users::create_group))
            .route("/groups", web::get().to(users::list_groups))
            .route("/groups/{name}", web::get().to(users::get_group))
            .route("/groups/{name}", web::delete().to(users::delete_group))
            .route(
                "/groups/{name}/members",
                web::patch().to(users::update_group_members),
            ),
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
            .route("/api/security/token", web::post().to(tokens::legacy_create))
            .route(
                "/api/security/token/revoke",
                web::post().to(tokens::revoke_by_token),
            )
            .route(
                "/api/security/users/authorization/changePassword",
                web::post().to(users::change_password),
            )
            .route(
                "/api/v2/security/permissions",
                web::get().to(permissions::artifactory_list),
            )
            .route(
                "/api/v2/security/permissions/{name}",
                web::get().to(permissions::artifactory_get),
            )
            .route(
                "/api/v2/security/permissions/{name}",
                web::put().to(permissions::artifactory_put),
            )
            .route(
                "/api/v2/security/permissions/{name}",
                web::delete().to(permissions::delete),
            )
            .route("/api/system/ping", web::get().to(system::ping))
            .route(
                "/api/docker/{repo}/v2/token",
                web::get().to(registry::get_in_repo),
            )
            .route(
                "/api/docker/{repo}/v2/token",
                web::post().to(registry::post_in_repo),
            ),
    )
    .service(
        web::scope("/v2")
            .wrap(from_fn(cluster::require_ready))
            .route("/token", web::get().to(registry::get))
            .route("/token", web::post().to(registry::post)),
    )
    .service(
        web::scope("/api")
            .wrap(from_fn(cluster::require_ready))
            .route("/system/ping", web::get().to(system::ping)),
    )
    .default_service(web::to(not_found));
}

async fn not_found(req: HttpRequest) -> Result<HttpResponse, ServiceError> {
    Err(ServiceError::NotFound(format!(
        "no such endpoint: {} {}",
        req.method(),
        req.path()
    )))
}
