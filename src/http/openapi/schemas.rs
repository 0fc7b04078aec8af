//! The shapes of request and response bodies, for the document only (handlers build their JSON
//! directly). The schema-driven test run checks every answer against these, so a handler that
//! drifts from its shape fails the suite.
// Never constructed: these types exist for their derived schemas.
#![allow(dead_code)]

use serde_json::Value;
use utoipa::openapi::schema::ComponentsBuilder;
use utoipa::ToSchema;

/// Every error: JFrog's `errors` array plus the OAuth-style fields token clients read.
#[derive(ToSchema)]
pub struct Error {
    errors: Vec<ErrorItem>,
    error: Option<String>,
    error_description: Option<String>,
}

#[derive(ToSchema)]
pub struct ErrorItem {
    code: String,
    message: String,
}

/// Create (`grant_type` absent or `client_credentials`) or refresh (`refresh_token` with the
/// pair). Form or JSON.
#[derive(ToSchema)]
pub struct TokenRequest {
    grant_type: Option<String>,
    username: Option<String>,
    scope: Option<String>,
    expires_in: Option<u64>,
    refreshable: Option<bool>,
    audience: Option<String>,
    description: Option<String>,
    include_reference_token: Option<bool>,
    refresh_token: Option<String>,
    access_token: Option<String>,
}

#[derive(ToSchema)]
pub struct IssuedToken {
    /// Absent from the legacy Artifactory endpoint's answer.
    token_id: Option<String>,
    access_token: String,
    refresh_token: Option<String>,
    reference_token: Option<String>,
    /// Absent for a token that never expires.
    expires_in: Option<u64>,
    scope: String,
    token_type: String,
}

#[derive(ToSchema)]
pub struct TokenRecord {
    token_id: String,
    subject: String,
    issuer: String,
    issued_at: u64,
    expiry: Option<u64>,
    refreshable: bool,
    revocable: bool,
    scope: String,
    audience: Option<String>,
    description: Option<String>,
}

#[derive(ToSchema)]
pub struct TokenList {
    tokens: Vec<TokenRecord>,
}

#[derive(ToSchema)]
pub struct LegacyToken {
    token_id: String,
    issuer: String,
    subject: String,
    expiry: Option<u64>,
    refreshable: bool,
    issued_at: u64,
}

#[derive(ToSchema)]
pub struct LegacyTokenList {
    tokens: Vec<LegacyToken>,
}

#[derive(ToSchema)]
pub struct UsernameRequest {
    username: Option<String>,
}

#[derive(ToSchema)]
pub struct UserTokensRevoked {
    username: String,
    revoked_before: u64,
}

/// The token itself, or its id.
#[derive(ToSchema)]
pub struct RevokeRequest {
    token: Option<String>,
    token_id: Option<String>,
}

#[derive(ToSchema)]
pub struct PermissionDecision {
    allowed: bool,
    path: String,
    action: String,
    subject: String,
    granted_by: Option<String>,
    reason: Option<String>,
}

#[derive(ToSchema)]
pub struct IdentityRequest {
    description: Option<String>,
}

#[derive(ToSchema)]
pub struct PairingRequest {
    purpose: Option<String>,
}

#[derive(ToSchema)]
pub struct Pairing {
    pairing_token: String,
    token_id: String,
    expires_in: u64,
    purpose: Option<String>,
}

#[derive(ToSchema)]
pub struct PairingExchange {
    pairing_token: String,
}

#[derive(ToSchema)]
pub struct IntrospectRequest {
    token: String,
    token_type_hint: Option<String>,
}

/// RFC 7662; only `active` for a token that does not validate.
#[derive(ToSchema)]
pub struct Introspection {
    active: bool,
    sub: Option<String>,
    username: Option<String>,
    scope: Option<String>,
    exp: Option<u64>,
    iat: Option<u64>,
    iss: Option<String>,
    jti: Option<String>,
    token_type: Option<String>,
}

#[derive(ToSchema)]
pub struct Version {
    version: String,
    revision: String,
    addons: Vec<String>,
    license: String,
    access_node_version: String,
}

#[derive(ToSchema)]
pub struct DefaultExpiry {
    default_expiry: u64,
}

#[derive(ToSchema)]
pub struct Health {
    status: String,
    node_id: u64,
    state: String,
    leader: Option<u64>,
    term: u64,
    last_applied: Option<u64>,
}

#[derive(ToSchema)]
pub struct Jwk {
    kty: String,
    #[schema(rename = "use")]
    use_: String,
    alg: String,
    kid: String,
    n: String,
    e: String,
}

#[derive(ToSchema)]
pub struct Jwks {
    keys: Vec<Jwk>,
}

#[derive(ToSchema)]
pub struct TrustedCert {
    name: String,
    kid: String,
    service_id: Option<String>,
    added_at: u64,
    certificate: String,
}

#[derive(ToSchema)]
pub struct TrustedCertList {
    certificates: Vec<TrustedCert>,
}

#[derive(ToSchema)]
pub struct TrustedCertRequest {
    name: String,
    certificate: String,
    service_id: Option<String>,
}

#[derive(ToSchema)]
pub struct RootResetRequest {
    keep_old: Option<bool>,
}

#[derive(ToSchema)]
pub struct RootReset {
    kid: String,
    keep_old: bool,
    certificate: String,
}

#[derive(ToSchema)]
pub struct User {
    username: String,
    email: Option<String>,
    admin: bool,
    groups: Vec<String>,
    realm: String,
    status: String,
}

#[derive(ToSchema)]
pub struct UserList {
    users: Vec<User>,
}

#[derive(ToSchema)]
pub struct NewUser {
    username: String,
    password: String,
    email: Option<String>,
    admin: Option<bool>,
    groups: Option<Vec<String>>,
}

#[derive(ToSchema)]
pub struct UserChange {
    password: Option<String>,
    email: Option<String>,
    admin: Option<bool>,
    groups: Option<Vec<String>>,
}

#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct PasswordChange {
    user_name: String,
    old_password: String,
    new_password1: String,
    new_password2: Option<String>,
}

#[derive(ToSchema)]
pub struct Group {
    name: String,
    description: Option<String>,
}

#[derive(ToSchema)]
pub struct GroupList {
    groups: Vec<Group>,
}

#[derive(ToSchema)]
pub struct GroupMembersChange {
    add: Option<Vec<String>>,
    remove: Option<Vec<String>>,
}

#[derive(ToSchema)]
pub struct GroupMembers {
    name: String,
    members: Vec<String>,
}

/// A permission target in either form (Access v2 `resources`, or Artifactory v2 `repo`);
/// see the README.
#[derive(ToSchema)]
pub struct PermissionTarget {
    name: String,
}

#[derive(ToSchema)]
pub struct PermissionRef {
    name: String,
    uri: String,
}

#[derive(ToSchema)]
pub struct PermissionList {
    permissions: Vec<PermissionRef>,
}

#[derive(ToSchema)]
pub struct MemberRemoved {
    removed: u64,
    voters: Vec<u64>,
}

#[derive(ToSchema)]
pub struct ClusterMember {
    id: u64,
    url: String,
    voter: bool,
    matched_index: Option<u64>,
    lag: Option<u64>,
    reachable: Option<bool>,
    last_contact_ms_ago: Option<u64>,
}

#[derive(ToSchema)]
pub struct Leader {
    id: Option<u64>,
    url: Option<String>,
}

#[derive(ToSchema)]
pub struct ClusterStatus {
    node_id: u64,
    cluster_name: String,
    service_id: Option<String>,
    state: String,
    ready: bool,
    leader: Leader,
    term: u64,
    members: Vec<ClusterMember>,
}

#[derive(ToSchema)]
pub struct FederationPeer {
    name: String,
    url: String,
    service_id: Option<String>,
    entities: Vec<String>,
    active: bool,
    /// The link's state, lag and counters (see the README).
    #[schema(value_type = Option<Object>)]
    status: Option<Value>,
}

#[derive(ToSchema)]
pub struct FederationPeerRequest {
    name: Option<String>,
    url: Option<String>,
    service_id: Option<String>,
    entities: Option<Vec<String>>,
    active: Option<bool>,
    exclude_users: Option<Vec<String>>,
}

#[derive(ToSchema)]
pub struct RegistryToken {
    token: String,
    access_token: String,
    expires_in: u64,
    issued_at: String,
}

/// `grant_type=password` (with `username`, `password`) or `refresh_token` (one of our tokens).
#[derive(ToSchema)]
pub struct RegistryTokenForm {
    grant_type: String,
    service: Option<String>,
    scope: Option<String>,
    client_id: Option<String>,
    username: Option<String>,
    password: Option<String>,
    refresh_token: Option<String>,
}

/// Any JSON object (answers whose shape is documented in the README).
#[derive(ToSchema)]
pub struct AnyObject {}

/// The schemas named by the operations.
pub fn components() -> ComponentsBuilder {
    ComponentsBuilder::new()
        .schema_from::<Error>()
        .schema_from::<ErrorItem>()
        .schema_from::<TokenRequest>()
        .schema_from::<IssuedToken>()
        .schema_from::<TokenRecord>()
        .schema_from::<TokenList>()
        .schema_from::<LegacyToken>()
        .schema_from::<LegacyTokenList>()
        .schema_from::<UsernameRequest>()
        .schema_from::<UserTokensRevoked>()
        .schema_from::<RevokeRequest>()
        .schema_from::<PermissionDecision>()
        .schema_from::<IdentityRequest>()
        .schema_from::<PairingRequest>()
        .schema_from::<Pairing>()
        .schema_from::<PairingExchange>()
        .schema_from::<IntrospectRequest>()
        .schema_from::<Introspection>()
        .schema_from::<Version>()
        .schema_from::<DefaultExpiry>()
        .schema_from::<Health>()
        .schema_from::<Jwk>()
        .schema_from::<Jwks>()
        .schema_from::<TrustedCert>()
        .schema_from::<TrustedCertList>()
        .schema_from::<TrustedCertRequest>()
        .schema_from::<RootResetRequest>()
        .schema_from::<RootReset>()
        .schema_from::<User>()
        .schema_from::<UserList>()
        .schema_from::<NewUser>()
        .schema_from::<UserChange>()
        .schema_from::<PasswordChange>()
        .schema_from::<Group>()
        .schema_from::<GroupList>()
        .schema_from::<GroupMembersChange>()
        .schema_from::<GroupMembers>()
        .schema_from::<PermissionTarget>()
        .schema_from::<PermissionRef>()
        .schema_from::<PermissionList>()
        .schema_from::<MemberRemoved>()
        .schema_from::<ClusterMember>()
        .schema_from::<Leader>()
        .schema_from::<ClusterStatus>()
        .schema_from::<FederationPeer>()
        .schema_from::<FederationPeerRequest>()
        .schema_from::<RegistryToken>()
        .schema_from::<RegistryTokenForm>()
        .schema_from::<AnyObject>()
}
