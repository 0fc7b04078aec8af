//! Finding 4: deleting a user, or revoking every token of a user, kills its tokens on every
//! node, revocable or not, whichever node issued them.

use super::{create_user, list_users_status, mint_with, ping, token_of};
use access_node_harness::*;
use serde_json::json;

/// A write that returned on one node is applied on the others a moment later (their applied
/// index can also be reported a moment late): wait until every node answers `status`.
fn wait_all(cluster: &TestCluster, token: &str, status: u16) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while cluster.nodes.iter().any(|n| ping(n, token) != status) {
        assert!(
            std::time::Instant::now() < deadline,
            "not every node answers {status}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

fn password_token(node: &TestNode, user: &str, password: &str) -> String {
    let (status, body) = json_of(
        node.post("/access/api/v1/tokens")
            .basic_auth(user, Some(password))
            .form(&[("expires_in", "3600")])
            .send()
            .unwrap(),
    );
    assert_eq!(status, 200, "{body}");
    token_of(&body)
}

#[test]
fn finding_4_deleted_users_and_revoked_subjects_lose_every_token_everywhere() {
    let cluster = TestCluster::start(2, &[]);
    let (n0, n1) = (&cluster.nodes[0], &cluster.nodes[1]);
    create_user(
        n0,
        json!({"username": "ops", "password": "ops-password", "admin": true}),
    );
    create_user(n0, json!({"username": "bob", "password": "bob-password"}));
    cluster.wait_converged();
    // ops: an admin-scoped token (non-revocable) minted by itself; issued on node 0.
    let (status, body) = json_of(
        n0.post("/access/api/v1/tokens")
            .basic_auth("ops", Some("ops-password"))
            .form(&[
                ("scope", "applied-permissions/admin"),
                ("expires_in", "3600"),
            ])
            .send()
            .unwrap(),
    );
    assert_eq!(status, 200, "{body}");
    let ops_admin = token_of(&body);
    // bob: a revocable token from the admin (node 1) and its own short one (node 0).
    let bob_revocable = token_of(&n1.admin_token(&[("username", "bob"), ("expires_in", "0")]));
    let bob_short = password_token(n0, "bob", "bob-password");
    cluster.wait_converged();
    for n in &cluster.nodes {
        assert_eq!(list_users_status(n, &ops_admin), 200);
        assert_eq!(ping(n, &bob_revocable), 200);
        assert_eq!(ping(n, &bob_short), 200);
    }
    // Delete both, through different nodes.
    for (node, user) in [(n1, "ops"), (n0, "bob")] {
        let status = node
            .admin(node.delete(&format!("/access/api/v2/users/{user}")))
            .send()
            .unwrap()
            .status();
        assert_eq!(status, 204);
    }
    cluster.wait_converged();
    for token in [&ops_admin, &bob_revocable, &bob_short] {
        wait_all(&cluster, token, 401);
    }
    for n in &cluster.nodes {
        assert_eq!(ping(n, &ops_admin), 401, "{}", n.url(""));
        assert_eq!(list_users_status(n, &ops_admin), 401);
        assert_eq!(ping(n, &bob_revocable), 401, "{}", n.url(""));
        assert_eq!(ping(n, &bob_short), 401, "{}", n.url(""));
        let (status, _) = mint_with(n, &bob_short, &[]);
        assert_eq!(status, 401, "a deleted user's token cannot mint");
        let (status, _) = mint_with(n, &ops_admin, &[("username", "x")]);
        assert_eq!(status, 401);
    }
    // Re-created, bob starts afresh: new tokens work, old ones stay dead.
    create_user(n0, json!({"username": "bob", "password": "bob-password"}));
    let bob_new = password_token(n0, "bob", "bob-password");
    cluster.wait_converged();
    wait_all(&cluster, &bob_new, 200);
    assert_eq!(ping(n1, &bob_new), 200);
    assert_eq!(ping(n1, &bob_short), 401);

    // A transient user's tokens, revoked with one admin call on the other node.
    let jenkins = token_of(&n0.admin_token(&[("username", "jenkins"), ("expires_in", "3600")]));
    let jenkins_long = token_of(&n0.admin_token(&[("username", "jenkins"), ("expires_in", "0")]));
    let (status, body) = json_of(
        n1.admin(n1.delete("/access/api/v1/tokens?username=jenkins"))
            .send()
            .unwrap(),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["username"], "jenkins");
    cluster.wait_converged();
    wait_all(&cluster, &jenkins, 401);
    for n in &cluster.nodes {
        assert_eq!(ping(n, &jenkins), 401);
        assert_eq!(ping(n, &jenkins_long), 401);
    }
    // Minted right after (same second even): valid.
    let after = token_of(&n0.admin_token(&[("username", "jenkins"), ("expires_in", "3600")]));
    assert_eq!(ping(n0, &after), 200);
    // A user may revoke all of its own tokens; not someone else's.
    let status = n0
        .delete("/access/api/v1/tokens?username=admin")
        .basic_auth("bob", Some("bob-password"))
        .send()
        .unwrap()
        .status();
    assert_eq!(status, 403);
    let status = n0
        .delete("/access/api/v1/tokens")
        .basic_auth("bob", Some("bob-password"))
        .form(&[("username", "bob")])
        .send()
        .unwrap()
        .status();
    assert_eq!(status, 200);
    assert_eq!(ping(n0, &bob_new), 401);
}
