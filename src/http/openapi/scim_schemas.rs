//! Schemas of the SCIM endpoints (`/scim/v2`): the bodies identity providers send, and the
//! resources, listings, discovery documents and errors they get back (`application/scim+json`).
//! Requests name what `domain::scim::resource` reads; answers may carry more.

use serde_json::{json, Value};

use super::requests::NAME;

/// Text without control characters, as the resource rules take it.
fn text() -> Value {
    json!({"type": "string", "pattern": "^[A-Za-z0-9 ._@-]{0,40}$", "maxLength": 256})
}

fn email() -> Value {
    json!({"type": "object", "properties": {
        "value": {"type": "string", "pattern": "^[a-z0-9._-]{1,20}@[a-z0-9-]{1,20}\\.[a-z]{2,6}$"},
        "type": {"type": "string", "enum": ["work", "home", "other"]},
        "primary": {"type": "boolean"},
    }, "required": ["value"], "additionalProperties": false})
}

fn user_request() -> Value {
    json!({
        "description": "A User (RFC 7643 §4.1). `userName` is the user's name here and cannot change; `active: false` deprovisions (every token of the user stops); `password` is write-only; attributes not listed are ignored.",
        "type": "object",
        "properties": {
            "schemas": {"type": "array", "items": {"type": "string", "enum": ["urn:ietf:params:scim:schemas:core:2.0:User"]}},
            "userName": {"type": "string", "pattern": NAME, "maxLength": 64},
            "externalId": text(),
            "displayName": text(),
            "name": {"type": "object", "properties": {"formatted": text(), "familyName": text(), "givenName": text()}, "additionalProperties": false},
            "active": {"type": "boolean"},
            "password": {"type": "string", "minLength": 8, "maxLength": 64},
            "emails": {"type": "array", "items": email(), "maxItems": 1},
        },
        "required": ["userName"],
        "additionalProperties": false,
    })
}

fn group_request() -> Value {
    json!({
        "description": "A Group (RFC 7643 §4.2). `members` ([{\"value\": user id}]) name existing users.",
        "type": "object",
        "properties": {
            "schemas": {"type": "array", "items": {"type": "string", "enum": ["urn:ietf:params:scim:schemas:core:2.0:Group"]}},
            "displayName": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9 ._-]{0,39}$"},
            "externalId": text(),
        },
        "required": ["displayName"],
        "additionalProperties": false,
    })
}

/// A PatchOp; the schema lists simple attribute paths, the service takes RFC 7644's whole
/// grammar (value filters, paths in the value map, capitalised op names).
fn patch_op(paths: &[&str]) -> Value {
    json!({
        "description": "A PatchOp (RFC 7644 §3.5.2): `add`, `replace`, `remove`, with paths such as `members[value eq \"bob\"]` or `emails[type eq \"work\"].value`, or without a path (a map of attributes).",
        "type": "object",
        "properties": {
            "schemas": {"type": "array", "items": {"type": "string", "enum": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"]}},
            "Operations": {"type": "array", "minItems": 1, "maxItems": 3, "items": {
                "type": "object",
                "properties": {
                    "op": {"type": "string", "enum": ["add", "replace"]},
                    "path": {"type": "string", "enum": paths},
                    "value": text(),
                },
                "required": ["op", "path", "value"],
                "additionalProperties": false,
            }},
        },
        "required": ["schemas", "Operations"],
        "additionalProperties": false,
    })
}

fn search_request() -> Value {
    json!({
        "type": "object",
        "properties": {
            "schemas": {"type": "array", "items": {"type": "string", "enum": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"]}},
            "filter": {"type": "string", "enum": ["userName pr", "displayName pr", "active eq true", "externalId pr"]},
            "startIndex": {"type": "integer", "minimum": 1, "maximum": 1000},
            "count": {"type": "integer", "minimum": 0, "maximum": 200},
            "attributes": {"type": "array", "items": {"type": "string", "enum": ["userName", "displayName", "members", "emails"]}},
            "excludedAttributes": {"type": "array", "items": {"type": "string", "enum": ["members", "groups", "emails"]}},
        },
        "additionalProperties": false,
    })
}

/// A resource as answered: `schemas` and `id` always, `meta` with its version.
fn resource() -> Value {
    json!({
        "type": "object",
        "properties": {
            "schemas": {"type": "array", "items": {"type": "string"}},
            "id": {"type": "string"},
            "meta": {"type": "object", "properties": {
                "resourceType": {"type": "string"},
                "location": {"type": "string"},
                "version": {"type": "string"},
                "created": {"type": "string"},
                "lastModified": {"type": "string"},
            }},
        },
        "required": ["schemas"],
    })
}

fn listing() -> Value {
    json!({
        "type": "object",
        "properties": {
            "schemas": {"type": "array", "items": {"type": "string"}},
            "totalResults": {"type": "integer", "minimum": 0},
            "startIndex": {"type": "integer", "minimum": 1},
            "itemsPerPage": {"type": "integer", "minimum": 0},
            "Resources": {"type": "array", "items": {"$ref": "#/components/schemas/ScimResource"}},
        },
        "required": ["schemas", "totalResults", "Resources"],
    })
}

/// The schema of a listing's query parameter.
pub fn query(name: &str) -> Value {
    match name {
        "filter" => json!({
            "description": "A SCIM filter (RFC 7644 §3.4.2.2): eq, ne, co, sw, ew, gt, lt, ge, le, pr, and, or, not, value paths.",
            "type": "string",
            "enum": ["userName pr", "displayName pr", "externalId pr", "active eq true", "userName sw \"a\" or displayName co \"a\""],
        }),
        "startIndex" => json!({"type": "integer", "minimum": 1, "maximum": 100000}),
        "count" => json!({"type": "integer", "minimum": 0, "maximum": 200}),
        _ => json!({
            "description": "Comma-separated attribute names.",
            "type": "string",
            "enum": ["userName", "displayName", "members", "emails", "groups", "name,active"],
        }),
    }
}

/// Every SCIM schema, by name.
pub fn all() -> Vec<(&'static str, Value)> {
    vec![
        ("ScimUserRequest", user_request()),
        ("ScimGroupRequest", group_request()),
        (
            "ScimUserPatch",
            patch_op(&[
                "displayName",
                "externalId",
                "name.givenName",
                "name.familyName",
                "name.formatted",
            ]),
        ),
        ("ScimGroupPatch", patch_op(&["externalId"])),
        ("ScimSearchRequest", search_request()),
        ("ScimResource", resource()),
        ("ScimListResponse", listing()),
        (
            "ScimError",
            json!({
                "type": "object",
                "properties": {
                    "schemas": {"type": "array", "items": {"type": "string", "enum": ["urn:ietf:params:scim:api:messages:2.0:Error"]}},
                    "status": {"type": "string"},
                    "scimType": {"type": "string"},
                    "detail": {"type": "string"},
                },
                "required": ["schemas", "status"],
            }),
        ),
    ]
}
