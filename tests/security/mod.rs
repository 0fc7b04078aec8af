//! Authorization holds: regression tests for every finding of the attacker's review, on real
//! node processes (two clusters where trust is involved); and no logged value forges a node
//! log line.

mod accounts;
mod foreign;
mod logs;
mod minting;
mod subjects;

use access_node_harness::*;
use serde_json::Value;

/// POST /access/api/v1/tokens with a bearer token and form fields.
pub fn mint_with(node: &TestNode, bearer: &str, form: &[(&str, &str)]) -> (u16, Value) {
    json_of(
        node.post("/access/api/v1/tokens")
            .bearer_auth(bearer)
            .form(form)
            .send()
            .unwrap(),
    )
}

/// Status of listing users (an admin-only call) with a bearer token.
pub fn list_users_status(node: &TestNode, bearer: &str) -> u16 {
    node.get("/access/api/v2/users")
        .bearer_auth(bearer)
        .send()
        .unwrap()
        .status()
        .as_u16()
}

/// POST a user as admin; panics unless 201.
pub fn create_user(node: &TestNode, body: Value) {
    let (status, reply) = json_of(
        node.admin(node.post("/access/api/v2/users"))
            .json(&body)
            .send()
            .unwrap(),
    );
    assert_eq!(status, 201, "{reply}");
}
