use super::*;

/// A provider and mapping created on one node work on every node; the exchanged token
/// validates on every node, and revoked on one it is refused on all.
#[test]
fn an_oidc_provider_created_on_one_node_works_on_every_node() {
    let _turn = turn(1);
    let issuer = TestIssuer::start();
    let cluster = TestCluster::start(3, &[]);
    let leader = cluster.leader();
    let follower = (leader + 1) % 3;
    let first = &cluster.nodes[follower];
    let provider = json!({"name": "github", "issuer_url": issuer.url, "provider_type": "GitHub",
                          "audience": "access-node"});
    let r = first
        .admin(first.post("/access/api/v1/oidc"))
        .json(&provider)
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
    let mapping = json!({"name": "octo", "claims": {"repository_owner": "octo-org"},
                         "token_spec": {"username": "octo-ci", "expires_in": 600}});
    let r = first
        .admin(first.post("/access/api/v1/oidc/github/identity_mappings"))
        .json(&mapping)
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
    cluster.wait_converged();
    let mut tokens = Vec::new();
    for node in &cluster.nodes {
        let (status, body) = json_of(
            node.post("/access/api/v1/oidc/token")
                .json(&json!({
                    "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
                    "subject_token_type": "urn:ietf:params:oauth:token-type:id_token",
                    "subject_token": issuer.mint(json!({})),
                    "provider_name": "github",
                }))
                .send()
                .unwrap(),
        );
        assert_eq!(status, 200, "{}: {body}", node.url(""));
        tokens.push(token_of(&body));
    }
    for token in &tokens {
        for node in &cluster.nodes {
            assert_eq!(ping_status(node, token, false), 200);
        }
    }
    // Revoked at one node, refused at every node.
    let (_, claims) = jwt_parts(&tokens[0]);
    let id = claims["jti"].as_str().unwrap();
    let other = &cluster.nodes[(follower + 1) % 3];
    let r = other
        .admin(other.delete(&format!("/access/api/v1/tokens/{id}")))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    for node in &cluster.nodes {
        assert_eq!(ping_status(node, &tokens[0], true), 401);
    }
}
