//! What each handler takes and answers, keyed by the handler's name in the route table. The
//! paths and methods come from the table itself; a handler mounted without a description here
//! fails the unit test in `openapi`.

/// Who may call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// No credentials read.
    Anonymous,
    /// Anonymous, or credentials that must then be valid.
    Optional,
    /// A user's password or token.
    User,
    /// An admin's password or token.
    Admin,
    /// A federated site: the body is a message signed by a trusted certificate.
    Site,
}

/// The request body.
#[derive(Debug, Clone, Copy)]
pub enum Body {
    None,
    /// JSON, or the same fields as a form (JFrog clients send either).
    Params(&'static str),
    /// JSON only.
    Json(&'static str),
    /// A form only.
    Form(&'static str),
    /// A PEM certificate, or the JSON form.
    PemOrJson(&'static str),
    /// Raw bytes (a backup file).
    Binary,
    /// A signed site message (compact JWS).
    Jws,
    /// SCIM JSON (`application/scim+json`, or `application/json`).
    Scim(&'static str),
}

/// The successful answer.
#[derive(Debug, Clone, Copy)]
pub enum Answer {
    /// Status and schema name.
    Json(u16, &'static str),
    /// An array of the schema.
    JsonArray(u16, &'static str),
    /// Status and media type of a text body.
    Text(u16, &'static str),
    NoContent,
    Binary,
    /// 201 when it creates, 200 when it replaces: the same schema.
    Upsert(&'static str),
    /// Status and schema name, as `application/scim+json`.
    Scim(u16, &'static str),
}

#[derive(Debug, Clone, Copy)]
pub struct Op {
    pub summary: &'static str,
    pub tag: &'static str,
    pub auth: Auth,
    /// Query parameters (all optional; the handler says which it needs).
    pub query: &'static [&'static str],
    pub body: Body,
    pub answer: Answer,
}

const fn op(
    tag: &'static str,
    summary: &'static str,
    auth: Auth,
    body: Body,
    answer: Answer,
) -> Op {
    Op {
        summary,
        tag,
        auth,
        query: &[],
        body,
        answer,
    }
}

impl Op {
    const fn query(mut self, names: &'static [&'static str]) -> Op {
        self.query = names;
        self
    }
}

use Answer::{Json, JsonArray, NoContent, Text};
use Auth::{Admin, Anonymous, Optional, Site, User};
use Body::{Params, PemOrJson};

/// The description of `handler` (`module::function`), if it has one.
#[rustfmt::skip] // a table: one handler per line
pub fn describe(handler: &str) -> Option<Op> {
    let t = "tokens";
    let s = "system";
    let u = "users and groups";
    let k = "keys and trust";
    let p = "permissions";
    let f = "federation";
    let d = "docker registry";
    let o = "oidc";
    let sc = "scim";
    let scim_user = Body::Scim("ScimUserRequest");
    let scim_group = Body::Scim("ScimGroupRequest");
    let resource = |status| Answer::Scim(status, "ScimResource");
    let listing = Answer::Scim(200, "ScimListResponse");
    const LIST: &[&str] = &["filter", "startIndex", "count", "attributes", "excludedAttributes"];
    const PROJECT: &[&str] = &["attributes", "excludedAttributes"];
    Some(match handler {
        "scim::service_provider_config" => op(sc, "SCIM: what this service provider supports", Admin, Body::None, resource(200)),
        "scim::resource_types" => op(sc, "SCIM: the resource types (User, Group)", Admin, Body::None, listing),
        "scim::resource_type" => op(sc, "SCIM: one resource type", Admin, Body::None, resource(200)),
        "scim::schemas" => op(sc, "SCIM: the schemas of the attributes served", Admin, Body::None, listing),
        "scim::schema" => op(sc, "SCIM: one schema", Admin, Body::None, resource(200)),
        "scim::search_all" => op(sc, "SCIM: search users and groups", Admin, Body::Scim("ScimSearchRequest"), listing),
        "scim::list_users" => op(sc, "SCIM: list and filter users", Admin, Body::None, listing).query(LIST),
        "scim::search_users" => op(sc, "SCIM: search users", Admin, Body::Scim("ScimSearchRequest"), listing),
        "scim::create_user" => op(sc, "SCIM: provision a user", Admin, scim_user, resource(201)).query(PROJECT),
        "scim::get_user" => op(sc, "SCIM: one user", Admin, Body::None, resource(200)).query(PROJECT),
        "scim::replace_user" => op(sc, "SCIM: replace a user (If-Match honoured)", Admin, scim_user, resource(200)).query(PROJECT),
        "scim::modify_user" => op(sc, "SCIM: modify a user; active=false deprovisions", Admin, Body::Scim("ScimUserPatch"), resource(200)).query(PROJECT),
        "scim::delete_user" => op(sc, "SCIM: delete a user; its tokens stop everywhere", Admin, Body::None, NoContent),
        "scim::list_groups" => op(sc, "SCIM: list and filter groups", Admin, Body::None, listing).query(LIST),
        "scim::search_groups" => op(sc, "SCIM: search groups", Admin, Body::Scim("ScimSearchRequest"), listing),
        "scim::create_group" => op(sc, "SCIM: provision a group", Admin, scim_group, resource(201)).query(PROJECT),
        "scim::get_group" => op(sc, "SCIM: one group", Admin, Body::None, resource(200)).query(PROJECT),
        "scim::replace_group" => op(sc, "SCIM: replace a group and its members", Admin, scim_group, resource(200)).query(PROJECT),
        "scim::modify_group" => op(sc, "SCIM: modify a group (members add/remove)", Admin, Body::Scim("ScimGroupPatch"), resource(200)).query(PROJECT),
        "scim::delete_group" => op(sc, "SCIM: delete a group", Admin, Body::None, NoContent),
        "tokens::create" => op(t, "Create a token, or refresh one (grant_type=refresh_token)", Optional, Params("TokenRequest"), Json(200, "IssuedToken")),
        "tokens::legacy_create" => op(t, "Create or refresh a token (Artifactory's legacy endpoint)", Optional, Params("TokenRequest"), Json(200, "IssuedToken")),
        "tokens::list" => op(t, "The caller's tokens (every token for an admin)", User, Body::None, Json(200, "TokenList")),
        "compat::legacy_list" => op(t, "The caller's tokens, legacy shape", User, Body::None, Json(200, "LegacyTokenList")),
        "tokens::revoke_user_tokens" => op(t, "Revoke every token of a user", User, Params("UsernameRequest"), Json(200, "UserTokensRevoked")).query(&["username"]),
        "tokens::me" => op(t, "The token used for this call", User, Body::None, Json(200, "TokenRecord")),
        "tokens::get" => op(t, "One token's record", User, Body::None, Json(200, "TokenRecord")),
        "tokens::revoke_by_id" => op(t, "Revoke a token by id", User, Body::None, Text(200, "text/plain")),
        "tokens::revoke_by_token" => op(t, "Revoke a token given as itself, its reference token, or its id", User, Params("RevokeRequest"), Text(200, "text/plain")).query(&["token", "token_id"]),
        "tokens::identity" => op(t, "Create an identity token for the caller", User, Params("IdentityRequest"), Json(200, "IssuedToken")),
        "tokens::create_pairing" => op(t, "Create a one-time pairing token", User, Params("PairingRequest"), Json(200, "Pairing")),
        "tokens::exchange_pairing" => op(t, "Exchange a pairing token for an access token", Anonymous, Params("PairingExchange"), Json(200, "IssuedToken")),
        "tokens::introspect" => op(t, "RFC 7662 token introspection", User, Params("IntrospectRequest"), Json(200, "Introspection")),
        "tokens::check_permission" => op(p, "Whether the caller's token may act on a repository path", User, Body::None, Json(200, "PermissionDecision")).query(&["path", "action", "consistency"]),
        "compat::default_expiry" => op(t, "The default token lifetime (seconds)", Admin, Body::None, Json(200, "DefaultExpiry")),
        "compat::set_default_expiry" => op(t, "Set the default token lifetime, cluster-wide", Admin, Params("DefaultExpiryRequest"), Json(200, "DefaultExpiry")),
        "system::ping" => op(s, "Liveness; 401 for bad credentials", Optional, Body::None, Text(200, "text/plain")),
        "system::service_id" => op(s, "This cluster's service id", Anonymous, Body::None, Text(200, "text/plain")),
        "compat::version" => op(s, "Artifactory-compatible version, and ours", Optional, Body::None, Json(200, "Version")),
        "system::health" => op(s, "Node health and Raft position", Anonymous, Body::None, Json(200, "Health")),
        "system::backup" => op(s, "A consistent backup of the replicated state", Admin, Body::None, Answer::Binary),
        "system::restore" => op(s, "Restore a backup into the whole cluster", Admin, Body::Binary, Json(200, "AnyObject")).query(&["force"]),
        "system::root_cert" => op(k, "The active root certificate (PEM)", Anonymous, Body::None, Text(200, "application/x-pem-file")),
        "keys::reset_root" => op(k, "Replace the signing key and root certificate", Admin, Params("RootResetRequest"), Json(200, "RootReset")).query(&["keep_old"]),
        "keys::list_trusted" => op(k, "Trusted certificates", Admin, Body::None, Json(200, "TrustedCertList")),
        "keys::add_trusted" => op(k, "Trust another cluster's root certificate", Admin, PemOrJson("TrustedCertRequest"), Json(201, "TrustedCert")).query(&["name", "service_id"]),
        "keys::remove_trusted" => op(k, "Stop trusting a certificate", Admin, Body::None, NoContent),
        "keys::jwks" => op(k, "JSON Web Key Set: active, retired and trusted keys", Anonymous, Body::None, Json(200, "Jwks")),
        "telemetry::metrics" => op(s, "Prometheus metrics (admin, system:metrics:r, or metrics.anonymous-from)", Optional, Body::None, Text(200, "text/plain")),
        "telemetry::audit_events" => op(s, "Recent audit events, newest first", Admin, Body::None, Json(200, "AuditEvents")).query(&["since", "until", "subject", "kind", "limit"]),
        "openapi::serve" => op(s, "This document", Anonymous, Body::None, Json(200, "AnyObject")),
        "cluster::status" => op(s, "Cluster members, leader, lag and reachability", Admin, Body::None, Json(200, "ClusterStatus")),
        "cluster::remove_member" => op(s, "Remove a node from the cluster", Admin, Body::None, Json(200, "MemberRemoved")),
        "users::create_user" => op(u, "Create a user", Admin, Params("NewUser"), Json(201, "User")),
        "users::list_users" => op(u, "Users", Admin, Body::None, Json(200, "UserList")),
        "users::get_user" => op(u, "One user", Admin, Body::None, Json(200, "User")),
        "users::update_user" => op(u, "Change a user", Admin, Params("UserChange"), Json(200, "User")),
        "users::delete_user" => op(u, "Delete a user and revoke their tokens", Admin, Body::None, NoContent),
        "users::change_password" => op(u, "Change one's own password (the old one is the credential)", Anonymous, Body::Json("PasswordChange"), Text(200, "text/plain")),
        "users::create_group" => op(u, "Create a group", Admin, Params("NewGroup"), Json(201, "Group")),
        "users::list_groups" => op(u, "Groups", Admin, Body::None, Json(200, "GroupList")),
        "users::get_group" => op(u, "One group", Admin, Body::None, Json(200, "Group")),
        "users::delete_group" => op(u, "Delete a group", Admin, Body::None, NoContent),
        "users::update_group_members" => op(u, "Add and remove group members", Admin, Params("GroupMembersChange"), Json(200, "GroupMembers")),
        "permissions::create" => op(p, "Create a permission target (Access v2 form)", Admin, Body::Json("NewPermissionTarget"), Json(201, "PermissionTarget")),
        "permissions::list" => op(p, "Permission targets", Admin, Body::None, Json(200, "PermissionList")),
        "permissions::get" => op(p, "One permission target (Access v2 form)", Admin, Body::None, Json(200, "PermissionTarget")),
        "permissions::replace" => op(p, "Replace a permission target (Access v2 form)", Admin, Body::Json("PermissionTargetChange"), Json(200, "PermissionTarget")),
        "permissions::delete" => op(p, "Delete a permission target", Admin, Body::None, NoContent),
        "permissions::artifactory_list" => op(p, "Permission targets (Artifactory v2)", Admin, Body::None, JsonArray(200, "PermissionRef")),
        "permissions::artifactory_get" => op(p, "One permission target (Artifactory v2 form)", Admin, Body::None, Json(200, "PermissionTarget")),
        "permissions::artifactory_put" => op(p, "Create or replace a permission target (Artifactory v2 form)", Admin, Body::Json("ArtifactoryPermissionTarget"), Answer::Upsert("PermissionTarget")),
        "federation::list" => op(f, "Federated sites and their link status", Admin, Body::None, JsonArray(200, "FederationPeer")),
        "federation::create" => op(f, "Federate with a site", Admin, Params("FederationPeerRequest"), Json(201, "FederationPeer")),
        "federation::get" => op(f, "One federated site", Admin, Body::None, Json(200, "FederationPeer")),
        "federation::update" => op(f, "Change a federated site", Admin, Params("FederationPeerRequest"), Json(200, "FederationPeer")),
        "federation::delete" => op(f, "Stop federating with a site", Admin, Body::None, NoContent),
        "federation::full_broadcast" => op(f, "Send a site the whole federated state", Admin, Body::None, Json(202, "AnyObject")),
        "federation::validate_server" => op(f, "Check that a site can federate with this one", Admin, Params("FederationPeerRequest"), Json(200, "AnyObject")),
        "federation::digest" => op(f, "Digest of the federated state (equal on sites in sync)", Admin, Body::None, Json(200, "AnyObject")),
        "federation::events" => op(f, "Site to site: a batch of events", Site, Body::Jws, Json(200, "AnyObject")),
        "federation::sync" => op(f, "Site to site: a chunk of a full sync", Site, Body::Jws, Json(200, "AnyObject")),
        "federation::hello" => op(f, "Site to site: introduce a site", Site, Body::Jws, Json(200, "AnyObject")),
        "oidc::exchange" => op(o, "Exchange a CI job's OIDC ID token for an access token", Anonymous, Params("OidcExchange"), Json(200, "OidcExchanged")),
        "oidc::list_providers" => op(o, "OIDC identity providers", Admin, Body::None, JsonArray(200, "OidcProvider")),
        "oidc::create_provider" => op(o, "Trust an OIDC issuer", Admin, Body::Json("NewOidcProvider"), Json(201, "OidcProvider")),
        "oidc::get_provider" => op(o, "One OIDC identity provider", Admin, Body::None, Json(200, "OidcProvider")),
        "oidc::update_provider" => op(o, "Change an OIDC identity provider", Admin, Body::Json("OidcProviderChange"), Json(200, "OidcProvider")),
        "oidc::delete_provider" => op(o, "Delete an OIDC identity provider and its identity mappings", Admin, Body::None, NoContent),
        "oidc::list_mappings" => op(o, "A provider's identity mappings", Admin, Body::None, JsonArray(200, "IdentityMapping")),
        "oidc::create_mapping" => op(o, "Map ID tokens with these claims to a token", Admin, Body::Json("NewIdentityMapping"), Json(201, "IdentityMapping")),
        "oidc::get_mapping" => op(o, "One identity mapping", Admin, Body::None, Json(200, "IdentityMapping")),
        "oidc::update_mapping" => op(o, "Change an identity mapping", Admin, Body::Json("IdentityMappingChange"), Json(200, "IdentityMapping")),
        "oidc::delete_mapping" => op(o, "Delete an identity mapping", Admin, Body::None, NoContent),
        "registry::get" | "registry::get_in_repo" => op(d, "Docker registry token (Basic: password or token)", Optional, Body::None, Json(200, "RegistryToken")).query(&["service", "scope", "account", "client_id", "offline_token"]),
        "registry::post" | "registry::post_in_repo" => op(d, "Docker registry token, OAuth2 form", Anonymous, Body::Form("RegistryTokenForm"), Json(200, "RegistryToken")),
        _ => return None,
    })
}
