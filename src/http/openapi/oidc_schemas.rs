//! Schemas of the OIDC endpoints: providers, identity mappings and the exchange, with the
//! rules `domain::oidc` applies (names, URL form, pattern syntax, `expires_in`'s bound).

use serde_json::{json, Value};

use super::requests::{object, OIDC_NAME};
use crate::domain::oidc::MAX_EXCHANGE_EXPIRY_SECS;

fn oidc_name() -> Value {
    json!({"type": "string", "pattern": OIDC_NAME})
}

fn provider_properties() -> Value {
    json!({
        "name": oidc_name(),
        "issuer_url": {
            "description": "The issuer (`iss` of its ID tokens), with or without a trailing slash. https; plain http only on loopback or with `oidc.allow-http-issuers`.",
            "type": "string", "pattern": "^https://[a-z][a-z0-9.-]{0,30}(:[0-9]{2,5})?(/[A-Za-z0-9._-]{1,20}){0,3}/?$", "maxLength": 2048,
        },
        "provider_type": {"type": "string", "enum": ["GitHub", "Azure", "Generic OpenID Connect"]},
        "audience": {"description": "The `aud` every accepted ID token carries.", "type": "string", "minLength": 1, "maxLength": 1024},
        "description": {"type": "string", "maxLength": 1024},
        "use_default_proxy": {"type": "boolean"},
    })
}

/// `{{claim}}` placeholders in text of name characters.
fn pattern() -> Value {
    json!({
        "description": "Text with `{{claim}}` placeholders, each replaced by that claim's value (letters, digits and -_.@ only).",
        "type": "string", "pattern": "^[a-z0-9-]{0,10}(\\{\\{[a-z_]{1,12}\\}\\}[a-z0-9-]{0,10}){1,2}$", "maxLength": 256,
    })
}

fn token_spec() -> Value {
    let spec = |who: Value, required: &str| {
        let mut properties = json!({
            "scope": super::requests::scope(),
            "audience": {"type": "string", "pattern": "^[A-Za-z0-9*._-]{0,20}@[A-Za-z0-9*._-]{0,30}$"},
            "expires_in": {"type": "integer", "minimum": 1, "maximum": MAX_EXCHANGE_EXPIRY_SECS},
            "refreshable": {"type": "boolean", "description": "Exchanged tokens are not refreshable unless this says so."},
        });
        properties[required] = who;
        object(properties, &[required])
    };
    json!({
        "description": "A fixed `username`, a `username_pattern`, or only a `groups_pattern` (then the token acts for the groups, as `oidc-<provider>`).",
        "oneOf": [
            spec(json!({"type": "string", "pattern": super::requests::NAME, "maxLength": 64}), "username"),
            spec(pattern(), "username_pattern"),
            spec(pattern(), "groups_pattern"),
        ],
    })
}

fn mapping_properties() -> Value {
    json!({
        "name": oidc_name(),
        "description": {"type": "string", "maxLength": 1024},
        "provider_name": {"description": "The provider of the path, when sent.", "type": "string", "pattern": OIDC_NAME},
        "priority": {"description": "The lowest number among the matching mappings wins.", "type": "integer", "minimum": 0, "maximum": 4294967295u64},
        "claims": {
            "description": "Claim name to its expected value: a string (`*` matches any run of characters), a number, a boolean, a list (any of), or an object (its claims, recursively).",
            "type": "object", "minProperties": 1, "maxProperties": 5,
            "additionalProperties": {"type": ["string", "integer", "boolean", "array"], "maxLength": 64, "maxItems": 4, "items": {"type": "string", "maxLength": 64}},
        },
        "token_spec": token_spec(),
    })
}

/// Request and answer schemas, by name.
pub fn all() -> Vec<(&'static str, Value)> {
    let without = |props: Value, drop: &str| {
        let mut props = props;
        props.as_object_mut().map(|p| p.remove(drop));
        props
    };
    vec![
        (
            "NewOidcProvider",
            object(
                provider_properties(),
                &["name", "issuer_url", "provider_type", "audience"],
            ),
        ),
        (
            "OidcProviderChange",
            json!({
                "description": "The whole provider; `name`, when sent, must be the path's.",
                "type": "object", "properties": without(provider_properties(), "name"),
                "required": ["issuer_url", "provider_type", "audience"], "additionalProperties": false,
            }),
        ),
        (
            "OidcProvider",
            json!({
                "type": "object",
                "properties": {
                    "name": {"type": "string"}, "issuer_url": {"type": "string"},
                    "provider_type": {"type": "string"}, "audience": {"type": "string"},
                    "description": {"type": "string"}, "use_default_proxy": {"type": "boolean"},
                },
                "required": ["name", "issuer_url", "provider_type", "audience"],
            }),
        ),
        (
            "NewIdentityMapping",
            object(mapping_properties(), &["name", "claims", "token_spec"]),
        ),
        (
            "IdentityMappingChange",
            json!({
                "description": "The whole mapping; `name`, when sent, must be the path's.",
                "type": "object", "properties": without(mapping_properties(), "name"),
                "required": ["claims", "token_spec"], "additionalProperties": false,
            }),
        ),
        (
            "IdentityMapping",
            json!({
                "type": "object",
                "properties": {
                    "name": {"type": "string"}, "description": {"type": "string"},
                    "provider_name": {"type": "string"}, "priority": {"type": "integer"},
                    "claims": {"type": "object"}, "token_spec": {"type": "object"},
                },
                "required": ["name", "provider_name", "priority", "claims", "token_spec"],
            }),
        ),
        (
            "OidcExchange",
            object(
                json!({
                    "grant_type": {"type": "string", "enum": [crate::service::oidc::GRANT_TYPE]},
                    "subject_token_type": {"type": "string", "enum": [crate::service::oidc::ID_TOKEN_TYPE]},
                    "subject_token": {"description": "The CI job's ID token.", "type": "string", "minLength": 1},
                    "provider_name": {"type": "string", "pattern": OIDC_NAME},
                    "identity_mapping_name": {"type": "string", "pattern": OIDC_NAME},
                    "audience": {"type": "string"},
                    "project_key": {"description": "Accepted empty; projects are not supported.", "type": "string", "maxLength": 0},
                    "include_reference_token": {"type": "boolean"},
                    "job_id": {"type": "string"}, "run_id": {"type": "string"}, "repo": {"type": "string"},
                    "revision": {"type": "string"}, "branch": {"type": "string"},
                    "gh_job_id": {"type": "string"}, "gh_run_id": {"type": "string"}, "gh_repo": {"type": "string"},
                    "application_key": {"type": "string"},
                }),
                &[
                    "grant_type",
                    "subject_token_type",
                    "subject_token",
                    "provider_name",
                ],
            ),
        ),
        (
            "OidcExchanged",
            json!({
                "type": "object",
                "properties": {
                    "access_token": {"type": "string"}, "token_type": {"type": "string"},
                    "expires_in": {"type": "integer"}, "scope": {"type": "string"},
                    "issued_token_type": {"type": "string"}, "username": {"type": "string"},
                    "token_id": {"type": "string"}, "refresh_token": {"type": "string"},
                    "reference_token": {"type": "string"},
                },
                "required": ["access_token", "token_type", "expires_in", "scope", "issued_token_type", "username"],
            }),
        ),
    ]
}
