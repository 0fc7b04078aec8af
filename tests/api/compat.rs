//! The JFrog endpoints clients call beside the token API: versions, service id under
//! /artifactory, the legacy token list, default expiry (through the log), revoke by a
//! reference token, 405 with `Allow`, and no `null` where JFrog leaves a field out.

use super::*;

fn get_json(node: &TestNode, path: &str) -> (u16, Value) {
    json_of(node.admin(node.get(path)).send().unwrap())
}

/// Every `null` anywhere in a JSON answer, by path.
fn nulls(v: &Value, at: &str, out: &mut Vec<String>) {
    match v {
        Value::Null => out.push(at.to_string()),
        Value::Object(m) => m
            .iter()
            .for_each(|(k, v)| nulls(v, &format!("{at}.{k}"), out)),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .for_each(|(i, v)| nulls(v, &format!("{at}[{i}]"), out)),
        _ => {}
    }
}

#[test]
fn versions_service_id_and_the_legacy_token_list() {
    let node = TestNode::start();
    for path in [
        "/artifactory/api/system/version",
        "/access/api/v1/system/version",
    ] {
        let (status, v) = get_json(&node, path);
        assert_eq!(status, 200, "{path}");
        assert_eq!(v["version"], "7.77.5", "{v}");
        assert!(v["access_node_version"].is_string(), "{v}");
    }
    let id = node
        .get("/artifactory/api/system/service_id")
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(id.starts_with("jfac@"), "{id}");

    let forever = node.admin_token(&[("username", "ci"), ("expires_in", "0")]);
    let (status, listed) = get_json(&node, "/artifactory/api/security/token");
    assert_eq!(status, 200);
    let entry = listed["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["token_id"] == forever["token_id"])
        .unwrap_or_else(|| panic!("{listed}"))
        .clone();
    assert!(
        entry.get("expiry").is_none(),
        "never expires: no expiry field: {entry}"
    );
    for path in ["/artifactory/api/security/token", "/access/api/v1/tokens"] {
        let (_, v) = get_json(&node, path);
        let mut found = Vec::new();
        nulls(&v, path, &mut found);
        assert!(found.is_empty(), "nulls in {path}: {found:?}");
    }
    // Introspection and a user without email carry no null either.
    let r = node
        .admin(node.post("/access/api/v1/tokens/introspect"))
        .form(&[("token", forever["access_token"].as_str().unwrap())])
        .send()
        .unwrap();
    let (_, v) = json_of(r);
    assert_eq!(v["active"], true);
    assert!(v.get("exp").is_none(), "{v}");
    let (_, admin) = get_json(&node, "/access/api/v2/users/admin");
    let mut found = Vec::new();
    nulls(&admin, "user", &mut found);
    assert!(found.is_empty(), "{found:?}");
}

#[test]
fn default_expiry_is_a_cluster_setting_and_reference_tokens_revoke() {
    let node = TestNode::start();
    for path in [
        "/access/api/v1/tokens/default_expiry",
        "/access/api/v1/config/token/default_expiry",
    ] {
        assert_eq!(get_json(&node, path).1["default_expiry"], 3600);
    }
    let r = node
        .admin(
            node.client
                .put(node.url("/access/api/v1/tokens/default_expiry")),
        )
        .json(&json!({"default_expiry": 7200}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        get_json(&node, "/access/api/v1/config/token/default_expiry").1["default_expiry"],
        7200
    );
    let t = node.admin_token(&[("username", "ci")]);
    assert_eq!(t["expires_in"], 7200, "{t}");
    let bad = node
        .admin(
            node.client
                .put(node.url("/access/api/v1/tokens/default_expiry")),
        )
        .json(&json!({"default_expiry": "soon"}))
        .send()
        .unwrap();
    assert_eq!(bad.status(), 400);
    // Not for non-admins.
    let user = node.admin_token(&[("username", "bob"), ("scope", "applied-permissions/user")]);
    let r = node
        .get("/access/api/v1/tokens/default_expiry")
        .bearer_auth(user["access_token"].as_str().unwrap())
        .send()
        .unwrap();
    assert_eq!(r.status(), 403);
    // The setting survives a restart (it is in the log, not in this node's config).
    let mut node = node;
    node.restart();
    assert_eq!(
        get_json(&node, "/access/api/v1/tokens/default_expiry").1["default_expiry"],
        7200
    );

    // Revoke by the reference token's value.
    let t = node.admin_token(&[
        ("username", "ci"),
        ("expires_in", "0"),
        ("include_reference_token", "true"),
    ]);
    let reference = t["reference_token"].as_str().unwrap();
    let ping = |token: &str| ping_v1(&node, token);
    assert_eq!(ping(reference), 200);
    let r = node
        .admin(node.post("/access/api/v1/tokens/revoke"))
        .form(&[("token", reference)])
        .send()
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().unwrap_or_default());
    assert_eq!(ping(reference), 401);
    assert_eq!(ping(t["access_token"].as_str().unwrap()), 401);
}

#[test]
fn a_known_path_with_the_wrong_method_is_405_with_allow() {
    let node = TestNode::start();
    for (method, path, allow) in [
        ("PUT", "/access/api/v1/tokens", "POST, GET, DELETE"),
        ("DELETE", "/access/api/v1/system/ping", "GET"),
        ("POST", "/artifactory/api/system/version", "GET"),
        ("GET", "/artifactory/api/security/token/revoke", "POST"),
        ("POST", "/access/api/v2/users/bob", "GET, DELETE, PATCH"),
    ] {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let r = node
            .admin(node.client.request(m, node.url(path)))
            .send()
            .unwrap();
        assert_eq!(r.status(), 405, "{method} {path}");
        assert_eq!(r.headers()["allow"], allow, "{method} {path}");
        let (_, body) = json_of(r);
        assert_eq!(error_code(&body), "METHOD_NOT_ALLOWED");
    }
    let r = node
        .admin(node.get("/access/api/v1/no/such/thing"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 404);
}
