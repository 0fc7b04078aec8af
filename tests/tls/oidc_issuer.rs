use super::*;
use serde_json::json;

/// An https OIDC issuer with a private CA: trusted through `oidc.ca-file`, unreachable (503,
/// the node healthy) without it.
#[test]
fn a_private_https_issuer_is_trusted_through_the_oidc_ca_file() {
    let pki = Pki::new("issuer-ca");
    let (cert, key) = pki.node_files("issuer");
    let issuer = TestIssuer::start_tls(&cert, &key, &pki.ca_pem);
    let ca_file = pki.ca_file().display().to_string();
    let with_ca = TestNode::start_with(&[
        (
            "ACCESS_NODE_SECURITY_BOOTSTRAP_ADMIN_PASSWORD",
            ADMIN_PASSWORD,
        ),
        ("ACCESS_NODE_OIDC_CA_FILE", &ca_file),
    ]);
    let without = TestNode::start();
    let provider = json!({"name": "private", "issuer_url": issuer.url, "provider_type": "Generic OpenID Connect",
                          "audience": "access-node"});
    let mapping = json!({"name": "all", "claims": {"repository_owner": "octo-org"},
                         "token_spec": {"username": "ci"}});
    let id_token = issuer.mint(json!({}));
    let mut answers = Vec::new();
    for node in [&with_ca, &without] {
        for (path, body) in [
            ("/access/api/v1/oidc", &provider),
            ("/access/api/v1/oidc/private/identity_mappings", &mapping),
        ] {
            let r = node.admin(node.post(path)).json(body).send().unwrap();
            assert_eq!(r.status(), 201);
        }
        answers.push(json_of(
            node.post("/access/api/v1/oidc/token")
                .json(&json!({
                    "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
                    "subject_token_type": "urn:ietf:params:oauth:token-type:id_token",
                    "subject_token": id_token,
                    "provider_name": "private",
                }))
                .send()
                .unwrap(),
        ));
    }
    assert_eq!(answers[0].0, 200, "{}", answers[0].1);
    assert_eq!(answers[0].1["username"], "ci");
    assert_eq!(answers[1].0, 503, "{}", answers[1].1);
    let message = answers[1].1["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("cannot be reached"), "{message}");
    assert_eq!(
        client()
            .get(without.url("/healthz"))
            .send()
            .unwrap()
            .status(),
        200
    );
}
