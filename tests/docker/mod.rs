//! The Docker Registry v2 token service against a real node: the token's shape, signature and
//! access claim for every kind of caller (`token`), and the real clients, Debian's
//! `docker-registry` (distribution 2.8) trusting our root.crt with `skopeo` pushing and pulling
//! through it (`clients`).

mod clients;
mod offline;
mod token;

use access_node_harness::*;

use serde_json::{json, Value};

/// The standalone realm.
const REALM: &str = "/v2/token";
/// The registry's service name in these tests.
const SERVICE: &str = "registry.test";
/// A user with read and write on `generic-local`, and nothing elsewhere.
const DEV: (&str, &str) = ("dev", "dev-secret-1");

/// A node with user `dev` holding READ and WRITE on every path of `generic-local`.
fn node_with_dev() -> TestNode {
    let node = TestNode::start();
    add_dev(&node);
    node
}

/// Creates user `dev` and its permission target through `node`.
fn add_dev(node: &TestNode) {
    let bearer = node.admin_bearer();
    let (status, body) = json_of(
        node.post("/access/api/v2/users")
            .bearer_auth(&bearer)
            .json(&json!({"username": DEV.0, "password": DEV.1, "email": "dev@example.com"}))
            .send()
            .unwrap(),
    );
    assert_eq!(status, 201, "create user: {body}");
    let (status, body) = json_of(
        node.post("/access/api/v2/permissions")
            .bearer_auth(&bearer)
            .json(&json!({
                "name": "dev-generic",
                "resources": {"artifact": {
                    "actions": {"users": {DEV.0: ["READ", "WRITE"]}},
                    "targets": {"generic-local": {"include_patterns": ["**"], "exclude_patterns": []}},
                }},
            }))
            .send()
            .unwrap(),
    );
    assert!(
        status == 200 || status == 201,
        "create permission: {status} {body}"
    );
}

/// A revocable token for `dev` (`applied-permissions/user`, never expires), minted by the
/// admin: a user's own tokens live at most an hour, too short to be revocable.
fn dev_token(node: &TestNode) -> String {
    node.admin_token(&[
        ("username", DEV.0),
        ("scope", "applied-permissions/user"),
        ("expires_in", "0"),
    ])["access_token"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The node's root.crt (PEM), as a registry's root bundle holds it.
fn root_crt(node: &TestNode) -> String {
    let r = node.get("/access/api/v1/cert/root").send().unwrap();
    assert_eq!(r.status(), 200);
    r.text().unwrap()
}
