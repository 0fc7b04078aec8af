//! OpenAPI links from the operations that create something to those that read, change and
//! delete it, under the same prefix: a stateful client (schemathesis's stateful phase) follows
//! them with the names and ids the API answered, instead of guessing ones that do not exist.

use utoipa::openapi::link::LinkBuilder;
use utoipa::openapi::path::Operation;
use utoipa::openapi::RefOr;

use super::operation_id;
use crate::http::route_book::{Route, RouteBook};

/// What a creating handler links to: (method, path after the created resource's collection,
/// path parameter, where the answer carries its value).
fn targets(handler: &str) -> &'static [(&'static str, &'static str, &'static str, &'static str)] {
    const TOKEN: &str = "$response.body#/token_id";
    const USER: &str = "$response.body#/username";
    const NAME: &str = "$response.body#/name";
    const SCIM_ID: &str = "$response.body#/id";
    match handler {
        "tokens::create" => &[
            ("get", "/{id}", "id", TOKEN),
            ("delete", "/{id}", "id", TOKEN),
        ],
        "users::create_user" => &[
            ("get", "/{name}", "name", USER),
            ("patch", "/{name}", "name", USER),
            ("delete", "/{name}", "name", USER),
        ],
        "users::create_group" => &[
            ("get", "/{name}", "name", NAME),
            ("patch", "/{name}/members", "name", NAME),
            ("delete", "/{name}", "name", NAME),
        ],
        "scim::create_user" | "scim::create_group" => &[
            ("get", "/{id}", "id", SCIM_ID),
            ("put", "/{id}", "id", SCIM_ID),
            ("patch", "/{id}", "id", SCIM_ID),
            ("delete", "/{id}", "id", SCIM_ID),
        ],
        "permissions::create" => &[
            ("get", "/{name}", "name", NAME),
            ("put", "/{name}", "name", NAME),
            ("delete", "/{name}", "name", NAME),
        ],
        "oidc::create_provider" => &[
            ("get", "/{name}", "name", NAME),
            ("put", "/{name}", "name", NAME),
            ("delete", "/{name}", "name", NAME),
            ("get", "/{provider}/identity_mappings", "provider", NAME),
            ("post", "/{provider}/identity_mappings", "provider", NAME),
        ],
        _ => &[],
    }
}

/// Adds `route`'s links, to operations `book` serves, to its success answer.
pub fn add(operation: &mut Operation, route: &Route, book: &RouteBook) {
    let Some(RefOr::T(success)) = operation
        .responses
        .responses
        .iter_mut()
        .find(|(status, _)| status.starts_with('2'))
        .map(|(_, r)| r)
    else {
        return;
    };
    for (method, tail, parameter, value) in targets(&route.handler) {
        let path = format!("{}{tail}", route.path);
        if !book
            .routes
            .iter()
            .any(|r| r.method == *method && r.path == path)
        {
            continue;
        }
        let id = operation_id(method, &path);
        let link = LinkBuilder::new()
            .operation_id(id.clone())
            .parameter(*parameter, *value)
            .build();
        success.links.insert(id, RefOr::T(link));
    }
}

/// utoipa 5 writes a link's `operationId` as `operation_id`: renames it in the written document.
pub fn fix_field_names(doc: &mut serde_json::Value) {
    let Some(paths) = doc["paths"].as_object_mut() else {
        return;
    };
    let operations = paths.values_mut().filter_map(|item| item.as_object_mut());
    for operation in operations.flat_map(|item| item.values_mut()) {
        let Some(responses) = operation["responses"].as_object_mut() else {
            continue;
        };
        for response in responses.values_mut() {
            let Some(links) = response.get_mut("links").and_then(|l| l.as_object_mut()) else {
                continue;
            };
            for link in links.values_mut().filter_map(|l| l.as_object_mut()) {
                if let Some(id) = link.remove("operation_id") {
                    link.insert("operationId".into(), id);
                }
            }
        }
    }
}
