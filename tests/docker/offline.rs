//! `docker login`'s offline flow (a refresh token to keep instead of the password), and the
//! token service on every node of a cluster.

use super::*;

fn post(node: &TestNode, form: &[(&str, &str)]) -> (u16, Value) {
    json_of(node.post(REALM).form(form).send().unwrap())
}

#[test]
fn an_offline_password_login_gets_a_revocable_refresh_token_and_a_token_login_does_not() {
    let node = node_with_dev();
    let (status, body) = post(
        &node,
        &[
            ("grant_type", "password"),
            ("username", DEV.0),
            ("password", DEV.1),
            ("service", SERVICE),
            ("client_id", "docker"),
            ("access_type", "offline"),
            ("scope", "repository:generic-local/app:pull"),
        ],
    );
    assert_eq!(status, 200, "{body}");
    let refresh = body["refresh_token"]
        .as_str()
        .expect("refresh_token")
        .to_string();
    assert_ne!(refresh, body["token"].as_str().unwrap());
    // It is one of our tokens, for dev, with no more than dev's own rights.
    let (_, claims) = jwt_parts(&refresh);
    assert!(
        claims["sub"].as_str().unwrap().ends_with("/users/dev"),
        "{claims}"
    );
    assert_eq!(claims["scp"], "applied-permissions/user");
    // The client sends it back as the refresh token (POST) or the password (GET).
    let (status, body) = post(
        &node,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh),
            ("service", SERVICE),
            ("scope", "repository:generic-local/app:pull,push"),
        ],
    );
    assert_eq!(status, 200, "{body}");
    assert!(
        body.get("refresh_token").is_none(),
        "a token login got a new refresh token"
    );
    let (status, body) = json_of(
        node.get(REALM)
            .basic_auth(DEV.0, Some(&refresh))
            .query(&[("service", SERVICE), ("offline_token", "true")])
            .send()
            .unwrap(),
    );
    assert_eq!(status, 200, "{body}");
    assert!(
        body.get("refresh_token").is_none(),
        "a token login got a new refresh token"
    );
    // GET with the password and offline_token=true (the Docker CLI's form) gets one too.
    let (status, body) = json_of(
        node.get(REALM)
            .basic_auth(DEV.0, Some(DEV.1))
            .query(&[("service", SERVICE), ("offline_token", "true")])
            .send()
            .unwrap(),
    );
    assert_eq!(status, 200, "{body}");
    assert!(body["refresh_token"].is_string(), "{body}");
    // Without offline access, none.
    let (status, body) = post(
        &node,
        &[
            ("grant_type", "password"),
            ("username", DEV.0),
            ("password", DEV.1),
        ],
    );
    assert_eq!(status, 200, "{body}");
    assert!(body.get("refresh_token").is_none(), "{body}");

    // dev sees it among its tokens, and revoking it ends the login.
    let (status, list) = json_of(
        node.get("/access/api/v1/tokens")
            .basic_auth(DEV.0, Some(DEV.1))
            .send()
            .unwrap(),
    );
    assert_eq!(status, 200);
    let id = claims["jti"].as_str().unwrap();
    let listed = list["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["token_id"] == id)
        .unwrap_or_else(|| panic!("{id} not in {list}"));
    assert_eq!(listed["description"], "docker login");
    let r = node
        .delete(&format!("/access/api/v1/tokens/{id}"))
        .basic_auth(DEV.0, Some(DEV.1))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let (status, body) = post(
        &node,
        &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
    );
    assert_eq!(status, 401, "revoked refresh token accepted: {body}");
}

#[test]
fn every_node_of_a_cluster_issues_registry_tokens_that_root_crt_verifies() {
    let cluster = TestCluster::start(3, &[]);
    add_dev(&cluster.nodes[0]);
    cluster.wait_converged();
    let root = root_crt(&cluster.nodes[0]);
    let token = dev_token(&cluster.nodes[0]);
    cluster.wait_converged();
    for node in &cluster.nodes {
        assert_eq!(root_crt(node), root, "root.crt differs between nodes");
        let (status, body) = json_of(
            node.get(REALM)
                .basic_auth(DEV.0, Some(&token))
                .query(&[
                    ("service", SERVICE),
                    ("scope", "repository:generic-local/app:pull,push"),
                    ("scope", "repository:other-local/app:pull"),
                ])
                .send()
                .unwrap(),
        );
        assert_eq!(status, 200, "{body}");
        let (header, claims) = jwt_parts(body["token"].as_str().unwrap());
        let x5c = header["x5c"][0].as_str().unwrap();
        assert!(root.contains(&x5c[..64]), "x5c is not root.crt");
        assert_eq!(
            claims["access"],
            json!([{"type": "repository", "name": "generic-local/app", "actions": ["pull", "push"]}])
        );
    }
    // Revoked through node 1: refused by every node once the revocation is applied there.
    let r = cluster.nodes[0]
        .admin(cluster.nodes[0].post("/access/api/v1/tokens/revoke"))
        .form(&[("token", token.as_str())])
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    cluster.wait_converged();
    for node in &cluster.nodes {
        let r = node
            .get(REALM)
            .basic_auth(DEV.0, Some(&token))
            .query(&[("service", SERVICE)])
            .send()
            .unwrap();
        assert_eq!(
            r.status(),
            401,
            "a revoked token still gets registry tokens"
        );
    }
}
