//! Request schemas with the rules the handlers apply: name patterns (`domain::names`), the
//! scope grammar (`domain::scope`), `expires_in`'s bound (`domain::token::MAX_EXPIRES_IN`), the
//! audience and description limits (`service::minting`), password lengths (`service::accounts`)
//! and each handler's field list (`allow_only`: no other property). A schema-driven client that
//! follows them sends requests the handlers accept, so a fuzzer reaches past input checks.
//! Where a regular expression cannot say a rule exactly, it says less: every value it allows
//! is accepted (longer names or scopes than these patterns make are accepted too).

use serde_json::{json, Value};
use utoipa::openapi::schema::ComponentsBuilder;
use utoipa::openapi::{RefOr, Schema};

use crate::domain::token::MAX_EXPIRES_IN;

/// A user or group name (`valid_name`): letters, digits and `-_.@`, at most 64, at least one
/// letter or digit, not starting with a dot.
pub const NAME: &str = "^[-_@]*[A-Za-z0-9][A-Za-z0-9._@-]*$";
/// A certificate or federation name (`valid_cert_name`): letters, digits and `-_.`, at most
/// 128, not starting with a dot.
pub const CERT_NAME: &str = "^[A-Za-z0-9_-][A-Za-z0-9._-]*$";
/// An OIDC provider or identity mapping name (`valid_oidc_name`).
pub const OIDC_NAME: &str = "^[a-z][a-z0-9-]{1,63}$";
/// A token id: the UUID every token gets.
pub const TOKEN_ID: &str = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$";
/// A reference token (`looks_like_reference_token`): base64 of `reftkn:…`, under 256.
pub const REFERENCE_TOKEN: &str = "^cmVmdGtu[A-Za-z0-9+/]{0,200}$";
/// A repository path `<repo>/<path>`, as the permission check takes it.
pub const REPO_PATH: &str =
    "^[A-Za-z0-9][A-Za-z0-9._-]{0,30}(/[A-Za-z0-9_-][A-Za-z0-9._-]{0,15}){1,4}$";

/// One scope item of `domain::scope`'s grammar, with names and paths kept short.
fn scope_item() -> String {
    let name = "[A-Za-z0-9][A-Za-z0-9._@-]{0,20}";
    let groups = format!("(\\*|{name})(,(\\*|{name})){{0,3}}");
    let actions = "(\\*|[rwdamxs](,[rwdamxs]){0,6})";
    let segment = "[A-Za-z0-9_*-][A-Za-z0-9._*-]{0,15}";
    format!(
        "(applied-permissions/(user|admin|groups:{groups})|member-of-groups:{groups}|api:\\*\
         |system:{name}:{actions}|artifact:{name}(/{segment}){{0,4}}:{actions})"
    )
}

/// A scope: up to four items, space separated (the grammar allows more, within 500).
pub fn scope() -> Value {
    let item = scope_item();
    json!({"type": "string", "pattern": format!("^{item}( {item}){{0,3}}$"), "maxLength": 500})
}

fn name() -> Value {
    json!({"type": "string", "pattern": NAME, "maxLength": 64})
}

fn names() -> Value {
    json!({"type": "array", "items": name(), "maxItems": 5})
}

fn seconds(max: u64) -> Value {
    json!({"type": "integer", "minimum": 0, "maximum": max})
}

fn text(max: usize) -> Value {
    json!({"type": "string", "maxLength": max})
}

/// Service ids, space separated, each with an `@` (`jfrt@<id>`, `*@*`).
fn audience() -> Value {
    let id = "[A-Za-z0-9*._-]{0,20}@[A-Za-z0-9*._-]{0,30}";
    json!({"type": "string", "pattern": format!("^{id}( {id}){{0,3}}$"), "maxLength": 1024})
}

/// A password: 8 to 1024 bytes (`check_password`); 256 characters are at most 1024 bytes.
fn password() -> Value {
    json!({"type": "string", "minLength": 8, "maxLength": 256})
}

/// An e-mail address as `valid_email` takes it: `local@domain`, printable, no spaces.
fn email() -> Value {
    json!({"type": "string", "pattern": "^[!-?A-~]+@[!-?A-~]+$", "maxLength": 254})
}

/// An object with exactly these properties, the `required` ones present.
pub(super) fn object(properties: Value, required: &[&str]) -> Value {
    json!({
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": false,
    })
}

fn token_create() -> Value {
    object(
        json!({
            "grant_type": {"type": "string", "enum": ["client_credentials"]},
            "username": name(),
            "scope": scope(),
            "expires_in": seconds(MAX_EXPIRES_IN),
            "refreshable": {"type": "boolean"},
            "audience": audience(),
            "description": text(256),
            "include_reference_token": {"type": "boolean"},
            "force_revocable": {"type": "boolean", "description": "Store the token, so it can be revoked, whatever its life."},
        }),
        &[],
    )
}

fn token_refresh() -> Value {
    object(
        json!({
            "grant_type": {"type": "string", "enum": ["refresh_token"]},
            "refresh_token": {"type": "string", "minLength": 1},
            "access_token": {"type": "string", "minLength": 1},
            "username": name(),
            "scope": scope(),
            "expires_in": seconds(MAX_EXPIRES_IN),
            "audience": audience(),
        }),
        &["grant_type", "refresh_token", "access_token"],
    )
}

/// Access v2 holders: `{"users": {name: [actions]}, "groups": {…}}`.
fn holders() -> Value {
    let actions = json!({"type": "array", "maxItems": 4, "items": {"type": "string", "enum": crate::domain::permissions::ACTIONS}});
    object(
        json!({"users": existing(actions.clone()), "groups": existing(actions)}),
        &[],
    )
}

/// A map from existing users' (or groups') names to `value`: an unknown name is refused.
fn existing(value: Value) -> Value {
    json!({
        "description": "Names of existing users (groups); an unknown one is refused.",
        "type": "object", "propertyNames": name(), "additionalProperties": value, "maxProperties": 1,
    })
}

/// A repository key of a target (`check_repo_key`).
fn repo_key() -> Value {
    json!({"type": "string", "pattern": "^(ANY|ANY LOCAL|ANY REMOTE|[A-Za-z0-9._-]+)$", "maxLength": 128})
}

fn access_resources() -> Value {
    let patterns = json!({"type": "array", "maxItems": 3, "items": {"type": "string", "pattern": "^(\\*\\*|[A-Za-z0-9_-]{1,10}(/[A-Za-z0-9_-]{1,10}){0,3}(/\\*\\*)?)$"}});
    let target = object(
        json!({"include_patterns": patterns, "exclude_patterns": patterns}),
        &[],
    );
    let resource = object(
        json!({
            "actions": holders(),
            "targets": {"type": "object", "propertyNames": repo_key(), "additionalProperties": target, "maxProperties": 3},
        }),
        &[],
    );
    let kinds: serde_json::Map<String, Value> = crate::domain::permissions::RESOURCE_TYPES
        .iter()
        .map(|k| (k.to_string(), resource.clone()))
        .collect();
    json!({"type": "object", "properties": kinds, "additionalProperties": false, "minProperties": 1})
}

/// Artifactory v2: `{"repo": {"repositories", "include-patterns", "exclude-patterns", "actions"}}`.
fn artifactory_permission() -> Value {
    let actions = json!({"type": "array", "maxItems": 4, "items": {"type": "string", "enum": ["read", "write", "annotate", "delete", "manage"]}});
    let patterns = json!({"type": "array", "maxItems": 3, "items": {"type": "string", "pattern": "^(\\*\\*|[A-Za-z0-9_-]{1,10}(/\\*\\*)?)$"}});
    let repo = object(
        json!({
            "repositories": {"type": "array", "items": repo_key(), "maxItems": 3},
            "include-patterns": patterns,
            "exclude-patterns": patterns,
            "actions": object(json!({"users": existing(actions.clone()), "groups": existing(actions)}), &[]),
        }),
        &[],
    );
    object(json!({"repo": repo}), &["repo"])
}

/// Every request schema, by the name the operations use.
fn all() -> Vec<(&'static str, Value)> {
    vec![
        (
            "TokenRequest",
            json!({
                "description": "Create (`grant_type` absent or `client_credentials`) or refresh (`refresh_token` with the pair). Form or JSON.",
                "oneOf": [token_create(), token_refresh()],
            }),
        ),
        ("UsernameRequest", object(json!({"username": name()}), &[])),
        ("RevokeRequest", {
            let props = json!({
                "token": {"type": "string", "pattern": REFERENCE_TOKEN},
                "token_id": {"type": "string", "pattern": TOKEN_ID},
                "token_type_hint": {"type": "string", "enum": ["access_token", "refresh_token"]},
            });
            json!({
                "description": "The token itself (an access token, or its reference token), or its id. RFC 7009's `token_type_hint` is accepted and not needed.",
                "anyOf": [object(props.clone(), &["token"]), object(props, &["token_id"])],
            })
        }),
        (
            "IdentityRequest",
            object(json!({"description": text(256)}), &[]),
        ),
        ("PairingRequest", object(json!({"purpose": text(256)}), &[])),
        (
            "PairingExchange",
            object(
                json!({"pairing_token": {"type": "string", "minLength": 1}}),
                &["pairing_token"],
            ),
        ),
        (
            "IntrospectRequest",
            object(
                json!({
                    "token": {"type": "string", "minLength": 1},
                    "token_type_hint": {"type": "string", "enum": ["access_token", "refresh_token"]},
                }),
                &["token"],
            ),
        ),
        (
            "DefaultExpiryRequest",
            object(
                json!({"default_expiry": seconds(MAX_EXPIRES_IN)}),
                &["default_expiry"],
            ),
        ),
        (
            "NewUser",
            object(
                json!({
                    "username": name(), "password": password(), "email": email(),
                    "admin": {"type": "boolean"},
                    "groups": {"description": "Existing groups; an unknown one is refused.", "type": "array", "items": name(), "maxItems": 1},
                }),
                &["username", "password"],
            ),
        ),
        (
            "UserChange",
            object(
                json!({
                    "password": password(),
                    "email": {"description": "null clears it.", "type": ["string", "null"], "pattern": "^[!-?A-~]+@[!-?A-~]+$", "maxLength": 254},
                    "admin": {"type": "boolean"},
                    "groups": {"description": "Existing groups; replaces the list.", "type": "array", "items": name(), "maxItems": 1},
                    "status": {"description": "`disabled` cuts every token of the user off and refuses its logins; `enabled` lets it in again.", "type": "string", "enum": ["enabled", "disabled"]},
                }),
                &[],
            ),
        ),
        (
            "PasswordChange",
            json!({
                "description": "`newPassword2`, when sent, must equal `newPassword1`.",
                "type": "object",
                "properties": {"userName": name(), "oldPassword": {"type": "string", "minLength": 1}, "newPassword1": password()},
                "required": ["userName", "oldPassword", "newPassword1"],
                "additionalProperties": false,
            }),
        ),
        (
            "NewGroup",
            object(json!({"name": name(), "description": text(256)}), &["name"]),
        ),
        (
            "GroupMembersChange",
            object(json!({"add": names(), "remove": names()}), &[]),
        ),
        (
            "NewPermissionTarget",
            object(
                json!({"name": name(), "resources": access_resources()}),
                &["name", "resources"],
            ),
        ),
        (
            "PermissionTargetChange",
            json!({
                "description": "The target of the path; `name`, when sent, must be the path's.",
                "type": "object", "properties": {"resources": access_resources()},
                "required": ["resources"], "additionalProperties": false,
            }),
        ),
        ("ArtifactoryPermissionTarget", artifactory_permission()),
        (
            "RegistryTokenForm",
            json!({
                "description": "`grant_type=password` (with `username`, `password`) or `refresh_token` (one of our tokens).",
                "oneOf": [
                    object(json!({
                        "grant_type": {"type": "string", "enum": ["password"]},
                        "username": name(), "password": {"type": "string", "minLength": 1},
                        "service": {"type": "string"}, "scope": {"type": "string"},
                        "client_id": {"type": "string"}, "access_type": {"type": "string"},
                    }), &["grant_type", "username", "password"]),
                    object(json!({
                        "grant_type": {"type": "string", "enum": ["refresh_token"]},
                        "refresh_token": {"type": "string", "minLength": 1},
                        "service": {"type": "string"}, "scope": {"type": "string"},
                        "client_id": {"type": "string"}, "access_type": {"type": "string"},
                    }), &["grant_type", "refresh_token"]),
                ],
            }),
        ),
    ]
}

/// Adds `schemas` (these request schemas, or another file's) to `b`.
pub fn components(
    mut b: ComponentsBuilder,
    schemas: Vec<(&'static str, Value)>,
) -> ComponentsBuilder {
    for (name, schema) in schemas {
        b = b.schema(name, parse(schema));
    }
    b
}

/// These request schemas.
pub fn schemas() -> Vec<(&'static str, Value)> {
    all()
}

/// Whether the body of schema `name` among `schemas` must be sent: it has fields the handler
/// requires.
pub fn body_required(schemas: &[(&'static str, Value)], name: &str) -> bool {
    schemas.iter().any(|(n, schema)| {
        *n == name
            && (schema["required"].as_array().is_some_and(|r| !r.is_empty())
                || schema["anyOf"].is_array())
    })
}

/// A JSON schema as utoipa's type (the same JSON when the document is written).
pub fn parse(schema: Value) -> RefOr<Schema> {
    serde_json::from_value(schema).unwrap_or_else(|e| panic!("a request schema: {e}"))
}

/// The schema of a query parameter, and whether the handler needs it.
pub fn query(handler: &str, name: &str) -> (Value, bool) {
    let string = json!({"type": "string"});
    match (handler, name) {
        ("tokens::revoke_user_tokens", "username") => (self::name(), true),
        (_, "token") => (json!({"type": "string", "pattern": REFERENCE_TOKEN}), false),
        (_, "token_id") => (json!({"type": "string", "pattern": TOKEN_ID}), false),
        (_, "path") => (json!({"type": "string", "pattern": REPO_PATH}), true),
        (_, "action") => (
            json!({"type": "string", "enum": ["r", "w", "d", "a", "m", "x", "s", "read", "write", "deploy", "delete", "annotate", "manage", "execute", "synchronize"]}),
            false,
        ),
        (_, "consistency") => (json!({"type": "string", "enum": ["strict"]}), false),
        (_, "since" | "until") => (
            json!({"description": "Unix seconds or RFC 3339.", "type": "string", "pattern": "^[0-9]{1,10}$"}),
            false,
        ),
        (_, "limit") => (
            json!({"type": "integer", "minimum": 1, "maximum": 1000}),
            false,
        ),
        (_, "subject") => (self::name(), false),
        (_, "keep_old" | "force") => (json!({"type": "boolean"}), false),
        (_, "name") => (
            json!({"type": "string", "pattern": CERT_NAME, "maxLength": 128}),
            false,
        ),
        _ => (string, false),
    }
}

/// The schema of a path parameter of `path`.
pub fn path_param(path: &str, name: &str) -> Value {
    match name {
        "name" | "provider" if path.contains("/oidc/") => {
            json!({"type": "string", "pattern": OIDC_NAME})
        }
        "id" if path.contains("/tokens/") => json!({"type": "string", "pattern": TOKEN_ID}),
        "id" if path.contains("/scim/v2/Schemas/") => {
            json!({"type": "string", "enum": [crate::domain::scim::resource::USER_SCHEMA, crate::domain::scim::resource::GROUP_SCHEMA]})
        }
        "id" if path.contains("/scim/v2/ResourceTypes/") => {
            json!({"type": "string", "enum": ["User", "Group"]})
        }
        "id" if path.contains("/scim/v2/") => self::name(),
        "name" if path.contains("/cert/trusted/") || path.contains("/federation/") => {
            json!({"type": "string", "pattern": CERT_NAME, "maxLength": 128})
        }
        "name" | "repo" => self::name(),
        _ => json!({"type": "string"}),
    }
}
