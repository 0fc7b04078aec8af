//! Body shapes of the users, groups, permissions, cluster, federation and registry endpoints
//! (see `schemas` for why these types exist).
// Never constructed: these types exist for their derived schemas.
#![allow(dead_code)]

use serde_json::Value;
use utoipa::openapi::schema::ComponentsBuilder;
use utoipa::ToSchema;

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
pub struct Group {
    name: String,
    description: Option<String>,
}

#[derive(ToSchema)]
pub struct GroupList {
    groups: Vec<Group>,
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
    /// Offline requests with a password: an identity token to keep instead of the password.
    refresh_token: Option<String>,
}

/// Adds these schemas to `b`.
pub fn components(b: ComponentsBuilder) -> ComponentsBuilder {
    b.schema_from::<User>()
        .schema_from::<UserList>()
        .schema_from::<Group>()
        .schema_from::<GroupList>()
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
}
