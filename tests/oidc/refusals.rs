use super::*;

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Every refusal is a JFrog-shaped 4xx naming its reason, is audited, and issues nothing.
#[test]
fn every_bad_id_token_or_request_is_refused_with_its_reason_and_issues_nothing() {
    let issuer = TestIssuer::start();
    let node = node_with(&[]);
    github_setup(&node, &issuer);
    // A mapping that names the user after a claim: it may never land on an admin.
    add_mapping(
        &node,
        "github",
        json!({"name": "by-actor", "priority": 1, "claims": {"workflow": "by-actor"},
               "token_spec": {"username_pattern": "{{actor}}"}}),
    );
    // A good token works (and fetches the keys), so what follows is refused for its own fault.
    let (status, body) = exchange(&node, "github", &issuer.mint(json!({})));
    assert_eq!(status, 200, "{body}");
    let tokens_before = stored_tokens(&node);
    let t = now();
    let token_cases: Vec<(Value, Value, &str)> = vec![
        (
            json!({"aud": "someone-else"}),
            json!({}),
            "Invalid audience",
        ),
        (json!({"aud": ["a", "b"]}), json!({}), "Invalid audience"),
        (json!({"aud": null}), json!({}), "Invalid audience"),
        (
            json!({"iss": "https://token.actions.githubusercontent.com"}),
            json!({}),
            "Invalid issuer",
        ),
        (
            json!({"exp": t - 600, "iat": t - 900, "nbf": t - 900}),
            json!({}),
            "Token expired",
        ),
        (
            json!({"exp": null}),
            json!({}),
            "Malformed token: no exp claim",
        ),
        (
            json!({"nbf": t + 900, "exp": t + 1200}),
            json!({}),
            "Token not yet valid",
        ),
        (
            json!({"iat": t + 900}),
            json!({}),
            "Token issued in the future",
        ),
        // Forged: another key signs under the issuer's key id.
        (
            json!({}),
            json!({"key": "stranger", "kid": "ignored"}),
            "Failed to get public key",
        ),
        (
            json!({}),
            json!({"header_alg": "none"}),
            "Unsupported token algorithm",
        ),
        (
            json!({}),
            json!({"header_alg": "HS256"}),
            "Unsupported token algorithm",
        ),
        (
            json!({"repository": "other-org/x", "repository_owner": "other-org"}),
            json!({}),
            "No identity mapping matched",
        ),
        (
            json!({"workflow": "by-actor", "actor": "admin"}),
            json!({}),
            "Identity mapping failed",
        ),
    ];
    for (claims, options, reason) in &token_cases {
        let id_token = issuer.mint_with(claims.clone(), options.clone());
        let (status, body) = exchange(&node, "github", &id_token);
        assert_eq!(status, 401, "{claims} {options}: {body}");
        let message = body["errors"][0]["message"].as_str().unwrap();
        assert!(message.starts_with(reason), "{claims} {options}: {message}");
    }
    // A forged token under the issuer's real key id fails the signature.
    let kid = {
        let good = issuer.mint(json!({}));
        let (header, _) = jwt_parts(&good);
        header["kid"].as_str().unwrap().to_string()
    };
    let forged = issuer.mint_with(json!({}), json!({"key": "stranger", "kid": kid}));
    let (status, body) = exchange(&node, "github", &forged);
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["errors"][0]["message"], "Invalid signature");
    // An ES256 token verifies too.
    let (status, body) = exchange(
        &node,
        "github",
        &issuer.mint_with(json!({}), json!({"alg": "ES256"})),
    );
    assert_eq!(status, 200, "{body}");
    let tokens_before = tokens_before + 1;

    let good = issuer.mint(json!({}));
    let request_cases: Vec<(Value, u16, &str)> = vec![
        (json!({"grant_type": "password"}), 400, "grant_type"),
        (
            json!({"subject_token_type": "urn:ietf:params:oauth:token-type:saml2"}),
            400,
            "subject_token_type",
        ),
        (json!({"subject_token": null}), 400, "subject_token"),
        (
            json!({"subject_token": "not-a-jwt"}),
            401,
            "Malformed token",
        ),
        (
            json!({"provider_name": "nobody"}),
            404,
            "OIDC provider 'nobody' not found",
        ),
        (json!({"provider_name": null}), 400, "provider_name"),
        (json!({"project_key": "proj"}), 400, "project"),
        (json!({"surprise": 1}), 400, "unknown field 'surprise'"),
        (json!({"audience": "no-at-sign"}), 400, "audience"),
    ];
    for (change, want, says) in &request_cases {
        let mut body = json!({"grant_type": GRANT, "subject_token_type": ID_TOKEN,
                              "subject_token": good, "provider_name": "github"});
        for (k, v) in change.as_object().unwrap() {
            match v {
                Value::Null => body.as_object_mut().unwrap().remove(k),
                v => body.as_object_mut().unwrap().insert(k.clone(), v.clone()),
            };
        }
        let (status, reply) = exchange_body(&node, body);
        assert_eq!(status, *want, "{change}: {reply}");
        let message = reply["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains(says), "{change}: {message}");
    }
    // Not JSON, and not an object.
    let r = node
        .post("/access/api/v1/oidc/token")
        .header("content-type", "application/json")
        .body("{nope")
        .send()
        .unwrap();
    assert_eq!(r.status(), 400);

    // Nothing was issued by any refusal, and each was audited with its reason.
    assert_eq!(stored_tokens(&node), tokens_before);
    let refused = audit(&node, "oidc.refused");
    assert!(refused.len() > token_cases.len(), "{}", refused.len());
    let text = serde_json::to_string(&refused).unwrap();
    assert!(
        text.contains("Invalid audience") && text.contains("Token expired"),
        "{text}"
    );
    assert!(
        !text.contains(forged.rsplit('.').next().unwrap()),
        "a token in the audit trail"
    );
    // Metrics count them by provider and outcome; an unknown provider's name is not a label.
    let metrics = node
        .admin(node.get("/metrics"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(
        metrics.contains("access_oidc_exchanges_total{provider=\"github\",outcome=\"refused\"}"),
        "{metrics}"
    );
    assert!(metrics.contains("outcome=\"granted\""), "{metrics}");
    assert!(!metrics.contains("provider=\"nobody\""), "{metrics}");
    assert!(
        metrics.contains("access_oidc_jwks_fetches_total"),
        "{metrics}"
    );
    assert_eq!(
        client().get(node.url("/healthz")).send().unwrap().status(),
        200
    );
}
