//! OIDC token exchange against a real node, with an OIDC issuer the suite runs itself
//! (`tests/python/oidc_issuer.py`: discovery and JWKS on loopback, GitHub-shaped ID tokens,
//! keys it rotates): the admin API, the exchange as setup-jfrog-cli sends it, every refusal,
//! and the issuer's keys (rotation, unknown key ids, an issuer that is down).

mod admin;
mod exchange;
mod keys;
mod refusals;

use access_node_harness::*;
use serde_json::{json, Value};

/// The `aud` the test provider expects (the issuer's default claims carry it).
pub const AUDIENCE: &str = "access-node";
pub const GRANT: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
pub const ID_TOKEN: &str = "urn:ietf:params:oauth:token-type:id_token";

/// A node with the suite's admin password and `env` on top.
pub fn node_with(env: &[(&str, &str)]) -> TestNode {
    let mut all = vec![(
        "ACCESS_NODE_SECURITY_BOOTSTRAP_ADMIN_PASSWORD",
        ADMIN_PASSWORD,
    )];
    all.extend_from_slice(env);
    TestNode::start_with(&all)
}

/// An admin call with a JSON body.
pub fn admin_json(node: &TestNode, method: &str, path: &str, body: &Value) -> (u16, Value) {
    let rb = match method {
        "POST" => node.post(path),
        "PUT" => client().put(node.url(path)),
        _ => panic!("{method}"),
    };
    json_of(node.admin(rb).json(body).send().unwrap())
}

/// Create provider `name` for `issuer_url` (audience [`AUDIENCE`]); panics unless 201.
pub fn add_provider(node: &TestNode, name: &str, issuer_url: &str) {
    let body = json!({"name": name, "issuer_url": issuer_url, "provider_type": "GitHub",
                      "audience": AUDIENCE, "description": "test issuer"});
    let (status, reply) = admin_json(node, "POST", "/access/api/v1/oidc", &body);
    assert_eq!(status, 201, "{reply}");
}

/// Create an identity mapping of `provider`; panics unless 201.
pub fn add_mapping(node: &TestNode, provider: &str, mapping: Value) {
    let path = format!("/access/api/v1/oidc/{provider}/identity_mappings");
    let (status, reply) = admin_json(node, "POST", &path, &mapping);
    assert_eq!(status, 201, "{reply}");
}

/// The exchange exactly as setup-jfrog-cli sends it (JSON, its job fields, an empty project).
pub fn exchange(node: &TestNode, provider: &str, id_token: &str) -> (u16, Value) {
    exchange_body(
        node,
        json!({
            "grant_type": GRANT,
            "subject_token_type": ID_TOKEN,
            "subject_token": id_token,
            "provider_name": provider,
            "project_key": "",
            "gh_job_id": "ci",
            "gh_run_id": "42",
            "gh_repo": "octo-org/octo-repo",
            "application_key": "",
        }),
    )
}

pub fn exchange_body(node: &TestNode, body: Value) -> (u16, Value) {
    json_of(
        node.post("/access/api/v1/oidc/token")
            .json(&body)
            .send()
            .unwrap(),
    )
}

/// The admin's view of the audit trail for events of `kind` (a prefix).
pub fn audit(node: &TestNode, kind: &str) -> Vec<Value> {
    let path = format!("/access/api/v1/audit/events?kind={kind}&limit=1000");
    let (status, body) = json_of(node.admin(node.get(&path)).send().unwrap());
    assert_eq!(status, 200, "{body}");
    body["events"].as_array().unwrap().clone()
}

/// How many tokens the node holds (every stored token, as the admin lists them).
pub fn stored_tokens(node: &TestNode) -> usize {
    let (status, body) = json_of(
        node.admin(node.get("/access/api/v1/tokens"))
            .send()
            .unwrap(),
    );
    assert_eq!(status, 200, "{body}");
    body["tokens"].as_array().unwrap().len()
}

/// A provider `github` for `issuer` with one mapping: any token of octo-org's repositories
/// acts as user `octo-ci` with group `readers`' rights, for 900 s.
pub fn github_setup(node: &TestNode, issuer: &TestIssuer) {
    add_provider(node, "github", &issuer.url);
    add_mapping(
        node,
        "github",
        json!({"name": "octo", "priority": 10,
               "claims": {"repository": "octo-org/*"},
               "token_spec": {"username": "octo-ci", "scope": "applied-permissions/groups:readers", "expires_in": 900}}),
    );
}
