//! What the service provider says of itself (RFC 7644 §4, RFC 7643 §5–7): its configuration,
//! its resource types and the schemas of the attributes it keeps. Clients (and conformance
//! tools) build their models from these, so they list exactly what `resource` reads and
//! writes: `userName` and a group's members' `value` are immutable, `groups` read-only.

use serde_json::{json, Value};

use super::list::{ListPage, MAX_RESULTS};
use super::resource::{GROUP_SCHEMA, USER_SCHEMA};

const SPC_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
const RESOURCE_TYPE_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
const SCHEMA_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";

/// `GET /ServiceProviderConfig`.
pub fn service_provider_config(base: &str) -> Value {
    json!({
        "schemas": [SPC_SCHEMA],
        "documentationUri": "https://github.com/access-node/access-node/blob/main/docs/scim.md",
        "patch": {"supported": true},
        "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": true, "maxResults": MAX_RESULTS},
        "changePassword": {"supported": true},
        "sort": {"supported": false},
        "etag": {"supported": true},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "Bearer token",
            "description": "An admin token, or a token whose scope holds system:scim:rw (system:scim:r to read)",
            "primary": true,
        }],
        "meta": {"resourceType": "ServiceProviderConfig", "location": format!("{base}/ServiceProviderConfig")},
    })
}

fn resource_type(base: &str, id: &str, endpoint: &str, schema: &str) -> Value {
    json!({
        "schemas": [RESOURCE_TYPE_SCHEMA],
        "id": id,
        "name": id,
        "endpoint": endpoint,
        "description": format!("{id} accounts of this access service"),
        "schema": schema,
        "schemaExtensions": [],
        "meta": {"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/{id}")},
    })
}

/// Every resource type, by id (`User`, `Group`).
pub fn resource_types(base: &str) -> Vec<Value> {
    vec![
        resource_type(base, "User", "/Users", USER_SCHEMA),
        resource_type(base, "Group", "/Groups", GROUP_SCHEMA),
    ]
}

/// An attribute definition (RFC 7643 §7) with the defaults, then `extra` over them.
fn attr(name: &str, kind: &str, extra: Value) -> Value {
    let mut a = json!({
        "name": name,
        "type": kind,
        "multiValued": false,
        "description": name,
        "required": false,
        "caseExact": false,
        "mutability": "readWrite",
        "returned": "default",
        "uniqueness": "none",
    });
    if let (Some(a), Value::Object(extra)) = (a.as_object_mut(), extra) {
        a.extend(extra);
    }
    a
}

fn schema(base: &str, id: &str, name: &str, attributes: Vec<Value>) -> Value {
    json!({
        "schemas": [SCHEMA_SCHEMA],
        "id": id,
        "name": name,
        "description": format!("{name} accounts"),
        "attributes": attributes,
        "meta": {"resourceType": "Schema", "location": format!("{base}/Schemas/{id}")},
    })
}

fn user_schema(base: &str) -> Value {
    let text = |n: &str| attr(n, "string", json!({}));
    schema(
        base,
        USER_SCHEMA,
        "User",
        vec![
            attr(
                "userName",
                "string",
                json!({
                    "required": true, "mutability": "immutable", "uniqueness": "server",
                    "description": "The user's name here: letters, digits and -_.@, at most 64. It cannot change.",
                }),
            ),
            attr(
                "name",
                "complex",
                json!({"subAttributes": [
                    text("formatted"), text("familyName"), text("givenName"),
                ]}),
            ),
            text("displayName"),
            attr(
                "active",
                "boolean",
                json!({
                    "required": true,
                    "description": "false deprovisions the user: every token of it stops on every node of every site. Always set (true when a new user does not say); it cannot be removed",
                }),
            ),
            attr(
                "password",
                "string",
                json!({"mutability": "writeOnly", "returned": "never"}),
            ),
            attr(
                "emails",
                "complex",
                json!({"multiValued": true, "subAttributes": [
                    attr("value", "string", json!({})),
                    attr("type", "string", json!({"canonicalValues": ["work", "home", "other"]})),
                    attr("primary", "boolean", json!({})),
                ]}),
            ),
            attr(
                "groups",
                "complex",
                json!({"multiValued": true, "mutability": "readOnly", "subAttributes": [
                    attr("value", "string", json!({"mutability": "readOnly"})),
                    attr("$ref", "reference", json!({"mutability": "readOnly", "referenceTypes": ["Group"]})),
                    attr("display", "string", json!({"mutability": "readOnly"})),
                    attr("type", "string", json!({"mutability": "readOnly", "canonicalValues": ["direct"]})),
                ]}),
            ),
        ],
    )
}

fn group_schema(base: &str) -> Value {
    schema(
        base,
        GROUP_SCHEMA,
        "Group",
        vec![
            attr(
                "displayName",
                "string",
                json!({"required": true, "uniqueness": "server"}),
            ),
            attr(
                "members",
                "complex",
                json!({"multiValued": true, "subAttributes": [
                    attr("value", "string", json!({"mutability": "immutable", "caseExact": true})),
                    attr("$ref", "reference", json!({"mutability": "immutable", "referenceTypes": ["User"]})),
                    attr("type", "string", json!({"mutability": "immutable", "canonicalValues": ["User"]})),
                ]}),
            ),
        ],
    )
}

/// Every schema we serve.
pub fn schemas(base: &str) -> Vec<Value> {
    vec![user_schema(base), group_schema(base)]
}

/// A discovery listing (RFC 7644 §4: a ListResponse).
pub fn listing(items: Vec<Value>) -> Value {
    ListPage {
        total: items.len(),
        start_index: 1,
        items,
    }
    .into_json()
}
