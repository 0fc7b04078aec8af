//! The shapes of request and response bodies, for the document only (handlers build their JSON
//! directly). The schema-driven test run checks every answer against these, so a handler that
//! drifts from its shape fails the suite.
// Never constructed: these types exist for their derived schemas.
#![allow(dead_code)]

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
pub struct UserTokensRevoked {
    username: String,
    revoked_before: u64,
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
pub struct Pairing {
    pairing_token: String,
    token_id: String,
    expires_in: u64,
    purpose: Option<String>,
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

/// One security event (see the README's audit event reference for kind-specific fields).
#[derive(ToSchema)]
pub struct AuditEvent {
    time: String,
    kind: String,
    node_id: u64,
    origin: Option<String>,
    request_id: Option<String>,
    actor: Option<String>,
    client_ip: Option<String>,
    subject: Option<String>,
}

#[derive(ToSchema)]
pub struct AuditEvents {
    events: Vec<AuditEvent>,
}

/// Any JSON object (answers whose shape is documented in the README).
#[derive(ToSchema)]
pub struct AnyObject {}

/// The schemas named by the operations.
pub fn components() -> ComponentsBuilder {
    super::admin_schemas::components(ComponentsBuilder::new())
        .schema_from::<Error>()
        .schema_from::<ErrorItem>()
        .schema_from::<IssuedToken>()
        .schema_from::<TokenRecord>()
        .schema_from::<TokenList>()
        .schema_from::<LegacyToken>()
        .schema_from::<LegacyTokenList>()
        .schema_from::<UserTokensRevoked>()
        .schema_from::<PermissionDecision>()
        .schema_from::<Pairing>()
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
        .schema_from::<AuditEvent>()
        .schema_from::<AuditEvents>()
        .schema_from::<AnyObject>()
}
