//! SCIM 2.0 (`/access/api/v1/scim/v2`): scim2-tester's conformance run and Okta's and Entra
//! ID's flows through scim2-client (tests/python/test_scim.py); SCIM's errors and statuses;
//! who may provision (and that a provisioning token never reaches an admin); deprovisioning,
//! group changes on the next request, the realm, the CLI, metrics and audit.

use super::*;

use reqwest::header::{HeaderMap, CONTENT_TYPE, ETAG};
use reqwest::Method;

const SCIM: &str = "/access/api/v1/scim/v2";
const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// One SCIM call with `bearer`: status, body, headers.
fn call(
    node: &TestNode,
    bearer: &str,
    method: Method,
    path: &str,
    body: Option<&Value>,
    if_match: Option<&str>,
) -> (u16, Value, HeaderMap) {
    let mut rb = client()
        .request(method, node.url(&format!("{SCIM}{path}")))
        .bearer_auth(bearer);
    if let Some(b) = body {
        rb = rb
            .header(CONTENT_TYPE, "application/scim+json")
            .body(b.to_string());
    }
    if let Some(m) = if_match {
        rb = rb.header("If-Match", m);
    }
    let r = rb.send().unwrap();
    let headers = r.headers().clone();
    let (status, body) = parse(r);
    (status, body, headers)
}

/// Status and body of a SCIM answer (its errors are SCIM's, not JFrog's `errors[]`).
fn parse(r: reqwest::blocking::Response) -> (u16, Value) {
    let status = r.status().as_u16();
    let text = r.text().unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn user(name: &str) -> Value {
    json!({"schemas": [USER], "userName": name, "password": "scim-pass-123", "active": true,
           "emails": [{"value": format!("{name}@example.com"), "primary": true}]})
}

fn patch(ops: Value) -> Value {
    json!({"schemas": [PATCH], "Operations": ops})
}

/// A SCIM error body: its status and scimType.
fn scim_error(body: &Value) -> (&str, &str) {
    assert_eq!(
        body["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error",
        "{body}"
    );
    (
        body["status"].as_str().unwrap_or_default(),
        body["scimType"].as_str().unwrap_or_default(),
    )
}

#[test]
fn scim_clients_we_do_not_write_conform_and_provision_like_okta_and_entra() {
    let node = TestNode::start();
    let out = pytest(
        &["tests/python/test_scim.py"],
        &[
            ("ACCESS_URL", node.url("")),
            ("ACCESS_ADMIN_PASSWORD", ADMIN_PASSWORD.into()),
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "SCIM client tests failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("3 passed"), "{stdout}");
}

#[test]
fn scim_errors_have_scims_shape_and_the_rfcs_statuses() {
    let node = TestNode::start();
    let admin = node.admin_bearer();
    let r = client()
        .get(node.url(&format!("{SCIM}/Users")))
        .send()
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()[CONTENT_TYPE], "application/scim+json");
    let (status, body) = parse(r);
    assert_eq!((status, scim_error(&body).0), (401, "401"));

    let get = |path: &str| call(&node, &admin, Method::GET, path, None, None);
    let (status, body, _) = get("/Users?filter=userName%20eq");
    assert_eq!((status, scim_error(&body)), (400, ("400", "invalidFilter")));
    let (status, body, _) = get("/Users/nobody");
    assert_eq!((status, scim_error(&body).0), (404, "404"));
    let (status, body, _) = get("/Users?count=many");
    assert_eq!((status, scim_error(&body).1), (400, "invalidValue"));

    let post = |path: &str, body: &Value| call(&node, &admin, Method::POST, path, Some(body), None);
    let (status, created, headers) = post("/Users", &user("alice"));
    assert_eq!(status, 201, "{created}");
    assert_eq!(
        headers["location"],
        created["meta"]["location"].as_str().unwrap()
    );
    assert!(created.get("password").is_none(), "password is write-only");
    let (status, body, _) = post("/Users", &user("ALICE"));
    assert_eq!(
        (status, scim_error(&body).1),
        (409, "uniqueness"),
        "userName is case-insensitive"
    );
    let (status, body, _) = post("/Users", &user("has space"));
    assert_eq!((status, scim_error(&body).1), (400, "invalidValue"));
    let (status, body, _) = post("/Users", &json!({"schemas": [USER]}));
    assert_eq!(
        (status, scim_error(&body).1),
        (400, "invalidValue"),
        "no userName"
    );
    let r = client()
        .post(node.url(&format!("{SCIM}/Users")))
        .bearer_auth(&admin)
        .header(CONTENT_TYPE, "application/scim+json")
        .body("{not json")
        .send()
        .unwrap();
    let (status, body) = parse(r);
    assert_eq!((status, scim_error(&body).1), (400, "invalidSyntax"));
    let r = client()
        .post(node.url(&format!("{SCIM}/Users")))
        .bearer_auth(&admin)
        .header(CONTENT_TYPE, "text/plain")
        .body(user("bob").to_string())
        .send()
        .unwrap();
    assert_eq!(r.status(), 415);

    // ETag and If-Match: a stale version is 412 and changes nothing.
    let (_, _, headers) = get("/Users/alice");
    let etag = headers[ETAG].to_str().unwrap().to_string();
    assert_eq!(etag, created["meta"]["version"].as_str().unwrap());
    let rename = patch(json!([{"op": "replace", "path": "displayName", "value": "Alice A."}]));
    let (status, changed, headers) = call(
        &node,
        &admin,
        Method::PATCH,
        "/Users/alice",
        Some(&rename),
        Some(&etag),
    );
    assert_eq!(status, 200, "{changed}");
    assert_ne!(
        headers[ETAG].to_str().unwrap(),
        etag,
        "a change is a new version"
    );
    let (status, body, _) = call(
        &node,
        &admin,
        Method::PATCH,
        "/Users/alice",
        Some(&rename),
        Some(&etag),
    );
    assert_eq!((status, scim_error(&body).0), (412, "412"));
    let (status, _, _) = call(
        &node,
        &admin,
        Method::DELETE,
        "/Users/alice",
        None,
        Some(&etag),
    );
    assert_eq!(status, 412);
    // userName is immutable; active cannot be removed; a bad path is invalidPath.
    for (ops, scim_type) in [
        (
            json!([{"op": "replace", "path": "userName", "value": "alicia"}]),
            "mutability",
        ),
        (json!([{"op": "remove", "path": "active"}]), "mutability"),
        (
            json!([{"op": "replace", "path": "emails[type eq", "value": "x"}]),
            "invalidSyntax",
        ),
    ] {
        let (status, body, _) = call(
            &node,
            &admin,
            Method::PATCH,
            "/Users/alice",
            Some(&patch(ops)),
            None,
        );
        assert_eq!((status, scim_error(&body).1), (400, scim_type), "{body}");
    }

    // Paging and projection.
    for name in ["u1", "u2", "u3"] {
        assert_eq!(post("/Users", &user(name)).0, 201);
    }
    let (status, page, _) = get("/Users?filter=userName%20sw%20%22u%22&startIndex=2&count=1");
    assert_eq!(status, 200, "{page}");
    assert_eq!(
        (page["totalResults"].as_u64(), page["itemsPerPage"].as_u64()),
        (Some(3), Some(1))
    );
    assert_eq!(page["Resources"][0]["userName"], "u2");
    let (_, page, _) = get("/Users?filter=userName%20eq%20%22u1%22&attributes=userName");
    let keys: Vec<&String> = page["Resources"][0].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["id", "schemas", "userName"], "{page}");

    // Groups: a display name that is no name here gets an id made from it; members exist.
    let (status, group, _) = post(
        "/Groups",
        &json!({"displayName": "Platform Team (EU)", "members": [{"value": "u1"}]}),
    );
    assert_eq!(status, 201, "{group}");
    assert_eq!(group["id"], "Platform-Team-EU");
    assert_eq!(group["members"][0]["value"], "u1");
    let (status, body, _) = post("/Groups", &json!({"displayName": "platform team (eu)"}));
    assert_eq!((status, scim_error(&body).1), (409, "uniqueness"));
    let (status, body, _) = post(
        "/Groups",
        &json!({"displayName": "x", "members": [{"value": "ghost"}]}),
    );
    assert_eq!((status, scim_error(&body).1), (400, "invalidValue"));
    let (status, body, _) = get("/Nope");
    assert_eq!((status, scim_error(&body).0), (404, "404"));
}

/// A token scoped `system:scim:rw` provisions users and groups, and nothing more: never an
/// admin's account, never a token. `system:scim:r` reads. Others are refused in SCIM's shape.
#[test]
fn a_provisioning_token_manages_users_but_never_reaches_an_admin() {
    let node = TestNode::start();
    let admin = node.admin_bearer();
    let scoped = |scope: &str| {
        token_of(&node.admin_token(&[
            ("username", "okta"),
            ("scope", scope),
            ("expires_in", "600"),
        ]))
    };
    let rw = scoped("system:scim:rw");
    let r = scoped("system:scim:r");
    let other = scoped("system:metrics:r");

    let (status, _, _) = call(
        &node,
        &rw,
        Method::POST,
        "/Users",
        Some(&user("carol")),
        None,
    );
    assert_eq!(status, 201);
    let (status, _, _) = call(&node, &r, Method::GET, "/Users/carol", None, None);
    assert_eq!(status, 200);
    let (status, body, _) = call(&node, &r, Method::POST, "/Users", Some(&user("dave")), None);
    assert_eq!((status, scim_error(&body).0), (403, "403"));
    let (status, _, _) = call(&node, &other, Method::GET, "/Users", None, None);
    assert_eq!(status, 403);
    // A user's own token, and a user's password, are no provisioning credentials.
    let carol = token_of(
        &json_of(
            node.post("/access/api/v1/tokens")
                .basic_auth("carol", Some("scim-pass-123"))
                .form(&[("expires_in", "600")])
                .send()
                .unwrap(),
        )
        .1,
    );
    assert_eq!(
        call(&node, &carol, Method::GET, "/Users", None, None).0,
        403
    );
    // A non-admin cannot mint a provisioning token for itself.
    let (status, _) = json_of(
        node.post("/access/api/v1/tokens")
            .bearer_auth(&carol)
            .form(&[("scope", "system:scim:rw")])
            .send()
            .unwrap(),
    );
    assert_eq!(status, 403);

    // Admins are out of a provisioning token's reach: no password, status or delete.
    let (status, _) = json_of(
        node.admin(node.post("/access/api/v2/users"))
            .json(&json!({"username": "root2", "password": "root2-pass-1", "admin": true}))
            .send()
            .unwrap(),
    );
    assert_eq!(status, 201);
    for target in ["admin", "root2"] {
        let path = format!("/Users/{target}");
        let takeover =
            patch(json!([{"op": "replace", "path": "password", "value": "taken-over-1"}]));
        let (status, body, _) = call(&node, &rw, Method::PATCH, &path, Some(&takeover), None);
        assert_eq!(status, 403, "{target}: {body}");
        let mut replace = user(target);
        replace["password"] = json!("taken-over-1");
        assert_eq!(
            call(&node, &rw, Method::PUT, &path, Some(&replace), None).0,
            403
        );
        assert_eq!(call(&node, &rw, Method::DELETE, &path, None, None).0, 403);
    }
    assert_eq!(login_status(&node, "root2", "root2-pass-1"), 200);
    assert_eq!(login_status(&node, "root2", "taken-over-1"), 401);
    // Even an admin cannot deactivate or delete the bootstrap admin through SCIM.
    let off = patch(json!([{"op": "replace", "path": "active", "value": false}]));
    let (status, body, _) = call(
        &node,
        &admin,
        Method::PATCH,
        "/Users/admin",
        Some(&off),
        None,
    );
    assert_eq!((status, scim_error(&body).1), (400, "mutability"));
    // A provisioned user is never an admin, whatever the body says.
    let mut sneaky = user("eve");
    sneaky["admin"] = json!(true);
    sneaky["roles"] = json!([{"value": "admin"}]);
    assert_eq!(
        call(&node, &rw, Method::POST, "/Users", Some(&sneaky), None).0,
        201
    );
    let (_, eve) = json_of(
        node.admin(node.get("/access/api/v2/users/eve"))
            .send()
            .unwrap(),
    );
    assert_eq!(
        (eve["admin"].as_bool(), eve["realm"].as_str()),
        (Some(false), Some("scim"))
    );
}

/// Deprovisioning bites: `active: false` stops the user's tokens and password, and is audited;
/// `true` lets it in afresh; DELETE ends it. Group membership written through SCIM changes
/// what the user's token may do on its next request. The CLI lists the SCIM realm; the
/// operations are counted.
#[test]
fn deprovisioning_bites_and_group_changes_apply_on_the_next_request() {
    let node = TestNode::start();
    let admin = node.admin_bearer();
    let scim =
        |method, path: &str, body: Option<&Value>| call(&node, &admin, method, path, body, None);
    assert_eq!(scim(Method::POST, "/Users", Some(&user("frank"))).0, 201);
    let (status, _, _) = scim(
        Method::POST,
        "/Groups",
        Some(&json!({"displayName": "readers"})),
    );
    assert_eq!(status, 201);
    let (status, body) = json_of(
        node.admin(node.post("/access/api/v2/permissions"))
            .json(&json!({"name": "read-docs", "resources": {"artifact": {
                "actions": {"groups": {"readers": ["READ"]}},
                "targets": {"docs-local": {"include_patterns": ["**"]}}}}}))
            .send()
            .unwrap(),
    );
    assert_eq!(status, 201, "{body}");
    let token = token_of(&node.admin_token(&[
        ("username", "frank"),
        ("scope", "applied-permissions/user"),
        ("expires_in", "0"),
    ]));
    let may_read = || {
        let (status, body) = json_of(
            node.get("/access/api/v1/permissions/check")
                .query(&[("path", "docs-local/a.txt"), ("action", "r")])
                .bearer_auth(&token)
                .send()
                .unwrap(),
        );
        assert_eq!(status, 200, "{body}");
        body["allowed"].as_bool().unwrap()
    };
    assert!(!may_read());
    let add = patch(json!([{"op": "add", "path": "members", "value": [{"value": "frank"}]}]));
    assert_eq!(scim(Method::PATCH, "/Groups/readers", Some(&add)).0, 200);
    assert!(may_read(), "added to the group: the next request may read");
    let remove = patch(json!([{"op": "remove", "path": "members[value eq \"frank\"]"}]));
    assert_eq!(scim(Method::PATCH, "/Groups/readers", Some(&remove)).0, 200);
    assert!(!may_read(), "removed: the next request may not");

    let off = patch(json!([{"op": "replace", "path": "active", "value": false}]));
    let (status, body, _) = scim(Method::PATCH, "/Users/frank", Some(&off));
    assert_eq!((status, body["active"].as_bool()), (200, Some(false)));
    assert_eq!(ping_v1(&node, &token), 401);
    assert_eq!(login_status(&node, "frank", "scim-pass-123"), 401);
    let (_, events) = json_of(
        node.admin(node.get("/access/api/v1/audit/events"))
            .query(&[("subject", "frank")])
            .send()
            .unwrap(),
    );
    let text = events.to_string();
    assert!(
        text.contains("user.updated") && text.contains("disabled"),
        "{events}"
    );
    let on = patch(json!([{"op": "replace", "path": "active", "value": true}]));
    assert_eq!(scim(Method::PATCH, "/Users/frank", Some(&on)).0, 200);
    assert_eq!(login_status(&node, "frank", "scim-pass-123"), 200);
    assert_eq!(ping_v1(&node, &token), 401, "an old token stays dead");
    let fresh = token_of(&node.admin_token(&[("username", "frank"), ("expires_in", "0")]));
    assert_eq!(scim(Method::DELETE, "/Users/frank", None).0, 204);
    assert_eq!(ping_v1(&node, &fresh), 401);
    assert_eq!(scim(Method::GET, "/Users/frank", None).0, 404);

    // The CLI lists the provisioned users apart.
    assert_eq!(scim(Method::POST, "/Users", Some(&user("gina"))).0, 201);
    let out = std::process::Command::new(binary())
        .args([
            "--url",
            &node.url(""),
            "--json",
            "user",
            "list",
            "--realm",
            "scim",
        ])
        .env("ACCESS_NODE_TOKEN", &admin)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(user_names(&listed), ["gina"], "{listed}");

    let metrics = node
        .admin(node.get("/metrics"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(
        metrics.contains(
            r#"access_scim_operations_total{resource="User",operation="modify",outcome="ok"} 2"#
        ),
        "{metrics}"
    );
}
