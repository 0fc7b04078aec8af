use super::*;
use crate::http::routes::route_book;

#[test]
fn every_mounted_handler_is_described() {
    let book = route_book();
    let missing: Vec<&str> = book
        .routes
        .iter()
        .filter(|r| ops::describe(&r.handler).is_none())
        .map(|r| r.handler.as_str())
        .collect();
    assert!(
        missing.is_empty(),
        "handlers without a description: {missing:?}"
    );
    // Both copies of the Access API, Artifactory's paths and the registry realm are there.
    let has = |m: &str, p: &str| book.routes.iter().any(|r| r.method == m && r.path == p);
    assert!(has("post", "/access/api/v1/tokens"));
    assert!(has("post", "/artifactory/access/api/v1/tokens"));
    assert!(has("get", "/artifactory/api/system/version"));
    assert!(has("get", "/v2/token"));
    assert!(has("get", "/healthz"));
    assert!(!book.routes.iter().any(|r| r.path.starts_with("/_cluster")));
}

#[test]
fn the_document_names_only_defined_schemas_and_has_unique_operation_ids() {
    let doc = serde_json::to_value(document(&route_book())).expect("serializes");
    let text = doc.to_string();
    let schemas = doc["components"]["schemas"].as_object().expect("schemas");
    for (i, _) in text.match_indices("#/components/schemas/") {
        let name: String = text[i + 21..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        assert!(schemas.contains_key(&name), "undefined schema {name}");
    }
    let mut ids = Vec::new();
    for item in doc["paths"].as_object().expect("paths").values() {
        for op in item.as_object().expect("item").values() {
            ids.push(op["operationId"].as_str().expect("id").to_string());
        }
    }
    let count = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), count, "operation ids repeat");
    assert_eq!(
        doc["paths"]["/access/api/v1/tokens/{id}"]["get"]["parameters"][0]["in"],
        "path"
    );
}

#[test]
fn request_schemas_keep_every_rule_and_creates_link_to_reads() {
    let doc = json_document(&route_book());
    let schemas = &doc["components"]["schemas"];
    // Each keyword survives utoipa's types (an unknown one would be dropped silently).
    assert_eq!(
        schemas["NewUser"]["properties"]["username"]["pattern"],
        requests::NAME
    );
    assert_eq!(schemas["NewUser"]["additionalProperties"], false);
    assert!(schemas["RevokeRequest"]["anyOf"].is_array());
    assert!(schemas["TokenRequest"]["oneOf"][0]["properties"]["scope"]["pattern"].is_string());
    let create = &schemas["TokenRequest"]["oneOf"][0]["properties"];
    assert_eq!(
        create["expires_in"]["maximum"],
        crate::domain::token::MAX_EXPIRES_IN
    );
    let holders = &schemas["NewPermissionTarget"]["properties"]["resources"]["properties"]
        ["artifact"]["properties"]["actions"]["properties"]["users"];
    assert_eq!(holders["propertyNames"]["pattern"], requests::NAME);
    let post = &doc["paths"]["/access/api/v2/users"]["post"];
    assert_eq!(post["requestBody"]["required"], true);
    let links = &post["responses"]["201"]["links"];
    let get = &links["get_access_api_v2_users__name_"];
    assert_eq!(get["operationId"], "get_access_api_v2_users__name_");
    assert_eq!(get["parameters"]["name"], "$response.body#/username");
    let check = &doc["paths"]["/access/api/v1/permissions/check"]["get"]["parameters"];
    assert_eq!(check[0]["required"], true);
}
