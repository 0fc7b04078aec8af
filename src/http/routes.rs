//! The route table. Every public resource is mounted through `resource!`, which also writes
//! it into a `RouteBook` (`route_book`): the OpenAPI document (`http::openapi`) is built from that book, so
//! it lists exactly the paths and methods served, under every prefix they are served at.

use actix_web::middleware::from_fn;
use actix_web::web;

use super::route_book::{method_not_allowed, not_found, resource, BookSource, Mount, RouteBook};
use super::{
    cluster, compat, federation, keys, oidc, openapi, peer_rpc, permissions, registry, scim,
    system, telemetry, tokens, ui, users,
};
use crate::service::ServiceError;

/// Routes under `/access` (also served under `/artifactory/access`, the prefix clients like
/// pyartifactory build from an Artifactory URL).
fn access_routes(cfg: &mut web::ServiceConfig, m: &mut Mount) {
    let (v1, mut m1) = m.scope("/api/v1");
    cfg.service(
        v1.service(resource!(m1, "/tokens", post => tokens::create, get => tokens::list, delete => tokens::revoke_user_tokens))
            .service(resource!(m1, "/tokens/me", get => tokens::me))
            .service(resource!(m1, "/tokens/identity", post => tokens::identity))
            .service(resource!(m1, "/tokens/pairing", post => tokens::create_pairing))
            .service(resource!(m1, "/tokens/pairing/exchange", post => tokens::exchange_pairing))
            .service(resource!(m1, "/tokens/introspect", post => tokens::introspect))
            .service(resource!(m1, "/tokens/revoke", delete => tokens::revoke_by_token, post => tokens::revoke_by_token))
            .service(resource!(m1, "/tokens/default_expiry", get => compat::default_expiry, put => compat::set_default_expiry))
            .service(resource!(m1, "/config/token/default_expiry", get => compat::default_expiry, put => compat::set_default_expiry))
            .service(resource!(m1, "/tokens/{id}", get => tokens::get, delete => tokens::revoke_by_id))
            .service(resource!(m1, "/permissions/check", get => tokens::check_permission))
            .service(resource!(m1, "/system/ping", get => system::ping))
            .service(resource!(m1, "/system/service_id", get => system::service_id))
            .service(resource!(m1, "/system/version", get => compat::version))
            .service(resource!(m1, "/system/backup", get => system::backup))
            .service(resource!(m1, "/audit/events", get => telemetry::audit_events))
            .service(resource!(m1, "/system/federation", get => federation::list, post => federation::create))
            .service(resource!(m1, "/system/federation/validate_server", post => federation::validate_server))
            .service(resource!(m1, "/system/federation/digest", get => federation::digest))
            .service(resource!(m1, "/system/federation/_events", post => federation::events))
            .service(resource!(m1, "/system/federation/_sync", post => federation::sync))
            .service(resource!(m1, "/system/federation/_hello", post => federation::hello))
            .service(resource!(m1, "/system/federation/{name}", get => federation::get, patch => federation::update, delete => federation::delete))
            .service(resource!(m1, "/system/federation/{name}/full_broadcast", put => federation::full_broadcast))
            .service(resource!(m1, "/system/restore", post => system::restore))
            .service(resource!(m1, "/cert/root", get => system::root_cert))
            .service(resource!(m1, "/cert/root/reset", post => keys::reset_root))
            .service(resource!(m1, "/cert/trusted", get => keys::list_trusted, post => keys::add_trusted))
            .service(resource!(m1, "/cert/trusted/{name}", delete => keys::remove_trusted))
            .service(resource!(m1, "/jwks", get => keys::jwks))
            .service(resource!(m1, "/openapi.json", get => openapi::serve))
            // `/oidc/token` before `/oidc/{name}`: no provider may be named `token`.
            .service(resource!(m1, "/oidc/token", post => oidc::exchange))
            .service(resource!(m1, "/oidc", get => oidc::list_providers, post => oidc::create_provider))
            .service(resource!(m1, "/oidc/{name}", get => oidc::get_provider, put => oidc::update_provider, delete => oidc::delete_provider))
            .service(resource!(m1, "/oidc/{provider}/identity_mappings", get => oidc::list_mappings, post => oidc::create_mapping))
            .service(resource!(m1, "/oidc/{provider}/identity_mappings/{name}", get => oidc::get_mapping, put => oidc::update_mapping, delete => oidc::delete_mapping))
            .service(resource!(m1, "/cluster/status", get => cluster::status))
            .service(resource!(m1, "/cluster/members/{id}", delete => cluster::remove_member))
            .service(scim_routes(&mut m1)),
    );
    let (v2, mut m2) = m.scope("/api/v2");
    cfg.service(
        v2.service(resource!(m2, "/users", post => users::create_user, get => users::list_users))
            .service(resource!(m2, "/users/{name}", get => users::get_user, delete => users::delete_user, patch => users::update_user))
            .service(resource!(m2, "/permissions", post => permissions::create, get => permissions::list))
            .service(resource!(m2, "/permissions/{name}", get => permissions::get, put => permissions::replace, delete => permissions::delete))
            .service(resource!(m2, "/groups", post => users::create_group, get => users::list_groups))
            .service(resource!(m2, "/groups/{name}", get => users::get_group, delete => users::delete_group))
            .service(resource!(m2, "/groups/{name}/members", patch => users::update_group_members)),
    );
}

/// SCIM 2.0 under `/api/v1/scim/v2` (JFrog's base path); anything else there is a SCIM 404.
fn scim_routes(m1: &mut Mount) -> actix_web::Scope {
    let (s, mut m) = m1.scope("/scim/v2");
    s.service(resource!(m, "/ServiceProviderConfig", get => scim::service_provider_config))
        .service(resource!(m, "/ResourceTypes", get => scim::resource_types))
        .service(resource!(m, "/ResourceTypes/{id}", get => scim::resource_type))
        .service(resource!(m, "/Schemas", get => scim::schemas))
        .service(resource!(m, "/Schemas/{id}", get => scim::schema))
        .service(resource!(m, "/.search", post => scim::search_all))
        .service(resource!(m, "/Users", get => scim::list_users, post => scim::create_user))
        // `/.search` before `/{id}`: no id starts with a dot.
        .service(resource!(m, "/Users/.search", post => scim::search_users))
        .service(resource!(m, "/Users/{id}", get => scim::get_user, put => scim::replace_user, patch => scim::modify_user, delete => scim::delete_user))
        .service(resource!(m, "/Groups", get => scim::list_groups, post => scim::create_group))
        .service(resource!(m, "/Groups/.search", post => scim::search_groups))
        .service(resource!(m, "/Groups/{id}", get => scim::get_group, put => scim::replace_group, patch => scim::modify_group, delete => scim::delete_group))
        .default_service(web::to(scim::not_found))
}

/// Artifactory's own paths (beside its `/artifactory/access` copy of the Access API).
fn artifactory_routes(cfg: &mut web::ServiceConfig, m: &mut Mount) {
    cfg.service(resource!(m, "/api/security/token", post => tokens::legacy_create, get => compat::legacy_list))
        .service(resource!(m, "/api/security/token/revoke", post => tokens::revoke_by_token))
        .service(resource!(m, "/api/security/users/authorization/changePassword", post => users::change_password))
        .service(resource!(m, "/api/v2/security/permissions", get => permissions::artifactory_list))
        .service(resource!(
            m,
            "/api/v2/security/permissions/{name}",
            get => permissions::artifactory_get,
            put => permissions::artifactory_put,
            delete => permissions::delete
        ))
        .service(resource!(m, "/api/system/version", get => compat::version))
        .service(resource!(m, "/api/system/service_id", get => system::service_id))
        .service(resource!(m, "/api/system/ping", get => system::ping))
        .service(resource!(
            m,
            "/api/docker/{repo}/v2/token",
            get => registry::get_in_repo,
            post => registry::post_in_repo
        ));
}

/// Every public route, as mounted.
pub fn route_book() -> RouteBook {
    let mut book = RouteBook::default();
    // Configuring an App mounts the routes (and records them) without serving anything.
    let _ = actix_web::App::new().configure(|cfg| mount(cfg, &mut book));
    book
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    mount(cfg, &mut RouteBook::default());
}

/// Mounts every route on `cfg`, writing the public ones into `book`.
pub fn mount(cfg: &mut web::ServiceConfig, book: &mut RouteBook) {
    let mut root = Mount::root(book);
    cfg.app_data(
        web::QueryConfig::default()
            .error_handler(|e, _| ServiceError::invalid(format!("bad query string: {e}")).into()),
    )
    .app_data(
        web::PathConfig::default()
            .error_handler(|e, _| ServiceError::invalid(format!("bad path: {e}")).into()),
    )
    .app_data(web::Data::new(BookSource(route_book)))
    // Node-to-node RPC: not part of the public API (and not in its document).
    .service(web::scope("/_cluster").configure(peer_rpc::routes))
    .service(resource!(root, "/healthz", get => system::health))
    .service(resource!(root, "/metrics", get => telemetry::metrics));
    let (scope, mut m) = root.scope("/.well-known");
    cfg.service(
        scope
            .wrap(from_fn(cluster::require_ready))
            .service(resource!(m, "/jwks.json", get => keys::jwks)),
    );
    let (scope, mut m) = root.scope("/access");
    cfg.service(
        scope
            .wrap(from_fn(cluster::require_ready))
            .configure(|cfg| access_routes(cfg, &mut m)),
    );
    let (scope, mut m) = root.scope("/artifactory");
    let (inner, mut mi) = m.scope("/access");
    let inner = inner.configure(|cfg| access_routes(cfg, &mut mi));
    cfg.service(
        scope
            .wrap(from_fn(cluster::require_ready))
            .service(inner)
            .configure(|cfg| artifactory_routes(cfg, &mut m)),
    );
    let (scope, mut m) = root.scope("/v2");
    cfg.service(
        scope
            .wrap(from_fn(cluster::require_ready))
            .service(resource!(m, "/token", get => registry::get, post => registry::post)),
    );
    let (scope, mut m) = root.scope("/api");
    cfg.service(
        scope
            .wrap(from_fn(cluster::require_ready))
            .service(resource!(m, "/system/ping", get => system::ping)),
    );
    cfg.service(resource!(root, "/openapi.json", get => openapi::serve));
    // The admin web page: HTML forms, not part of the API's document.
    ui::routes(cfg, &mut Mount::root(&mut RouteBook::default()));
    cfg.default_service(web::to(not_found));
}
