use super::*;

fn status_of(rb: reqwest::blocking::RequestBuilder) -> u16 {
    rb.send().unwrap().status().as_u16()
}

/// Providers and mappings: admin only, created, listed, read, changed and deleted; every bad
/// field a 400 that names it.
#[test]
fn providers_and_mappings_are_admin_records_with_checked_fields() {
    let node = node_with(&[]);
    let base = "/access/api/v1/oidc";
    let provider = json!({"name": "github", "issuer_url": "https://token.actions.githubusercontent.com/",
        "provider_type": "GitHub", "audience": "jfrog-github", "use_default_proxy": false});
    let (status, body) = admin_json(&node, "POST", base, &provider);
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        body["issuer_url"],
        "https://token.actions.githubusercontent.com/"
    );
    let (status, _) = admin_json(&node, "POST", base, &provider);
    assert_eq!(status, 409);
    for (change, field) in [
        (json!({"name": "Bad_Name"}), "name"),
        (json!({"name": "token"}), "name"),
        (
            json!({"name": "ok-name", "issuer_url": "http://issuer.example.com"}),
            "issuer_url",
        ),
        (
            json!({"name": "ok-name", "issuer_url": "ftp://x"}),
            "issuer_url",
        ),
        (
            json!({"name": "ok-name", "issuer_url": "https://u:p@x.example"}),
            "issuer_url",
        ),
        (
            json!({"name": "ok-name", "provider_type": "Gitlab"}),
            "provider_type",
        ),
        (json!({"name": "ok-name", "audience": ""}), "audience"),
        (
            json!({"name": "ok-name", "organization": "x"}),
            "organization",
        ),
    ] {
        let mut body = provider.clone();
        for (k, v) in change.as_object().unwrap() {
            body[k] = v.clone();
        }
        let (status, reply) = admin_json(&node, "POST", base, &body);
        assert_eq!(status, 400, "{change}: {reply}");
        let message = reply["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains(field), "{change}: {message}");
    }
    let (status, list) = json_of(node.admin(node.get(base)).send().unwrap());
    assert_eq!(status, 200);
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    // Plain http beyond loopback only where the node's settings allow it.
    let lenient = node_with(&[("ACCESS_NODE_OIDC_ALLOW_HTTP_ISSUERS", "true")]);
    let mut plain = provider.clone();
    plain["issuer_url"] = json!("http://issuer.example.com");
    let (status, body) = admin_json(&lenient, "POST", base, &plain);
    assert_eq!(status, 201, "{body}");
    let mut changed = provider.clone();
    changed["audience"] = json!("other-audience");
    let (status, body) = admin_json(&node, "PUT", &format!("{base}/github"), &changed);
    assert_eq!(status, 200, "{body}");
    let (_, read) = json_of(
        node.admin(node.get(&format!("{base}/github")))
            .send()
            .unwrap(),
    );
    assert_eq!(read["audience"], "other-audience");
    let (status, _) = admin_json(&node, "PUT", &format!("{base}/nobody"), &changed);
    assert_eq!(status, 404);
    // The exchange path is not a provider's.
    assert_eq!(
        status_of(node.admin(node.get(&format!("{base}/token")))),
        405
    );

    // Mappings belong to a provider.
    let mappings = format!("{base}/github/identity_mappings");
    let mapping = json!({"name": "main", "priority": 1, "claims": {"sub": "repo:octo-org/*"},
        "token_spec": {"username": "ci", "scope": "applied-permissions/user", "expires_in": 600}});
    let (status, body) = admin_json(&node, "POST", &mappings, &mapping);
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["provider_name"], "github");
    let (status, _) = admin_json(&node, "POST", &mappings, &mapping);
    assert_eq!(status, 409);
    for (change, field) in [
        (json!({"claims": {}}), "claims"),
        (
            json!({"token_spec": {"username": "a", "username_pattern": "{{sub}}"}}),
            "token_spec",
        ),
        (
            json!({"token_spec": {"scope": "applied-permissions/user"}}),
            "token_spec",
        ),
        (
            json!({"token_spec": {"username": "a", "expires_in": 999999}}),
            "token_spec.expires_in",
        ),
        (
            json!({"token_spec": {"username": "a", "scope": "nonsense"}}),
            "scope",
        ),
        (
            json!({"token_spec": {"username_pattern": "{{sub"}}),
            "token_spec.username_pattern",
        ),
        (
            json!({"token_spec": {"username": "a", "color": "red"}}),
            "token_spec.color",
        ),
        (json!({"priority": -1}), "priority"),
        (json!({"provider_name": "someone-else"}), "provider_name"),
    ] {
        let mut body = mapping.clone();
        body["name"] = json!("other");
        for (k, v) in change.as_object().unwrap() {
            body[k] = v.clone();
        }
        let (status, reply) = admin_json(&node, "POST", &mappings, &body);
        assert_eq!(status, 400, "{change}: {reply}");
        let message = reply["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains(field), "{change}: {message}");
    }
    let (status, _) = admin_json(
        &node,
        "POST",
        &format!("{base}/nobody/identity_mappings"),
        &mapping,
    );
    assert_eq!(status, 404);
    let mut changed = mapping.clone();
    changed["priority"] = json!(7);
    let one = format!("{mappings}/main");
    let (status, body) = admin_json(&node, "PUT", &one, &changed);
    assert_eq!(status, 200, "{body}");
    let (_, read) = json_of(node.admin(node.get(&one)).send().unwrap());
    assert_eq!(read["priority"], 7);
    let (_, list) = json_of(node.admin(node.get(&mappings)).send().unwrap());
    assert_eq!(list.as_array().unwrap().len(), 1);

    // Admin only: a user's token is 403, no credentials 401.
    let user_token = token_of(&node.admin_token(&[("username", "someone")]));
    for path in [base.to_string(), mappings.clone(), one.clone()] {
        assert_eq!(status_of(node.get(&path)), 401, "{path}");
        assert_eq!(
            status_of(node.get(&path).bearer_auth(&user_token)),
            403,
            "{path}"
        );
    }
    assert_eq!(
        status_of(node.post(base).bearer_auth(&user_token).json(&provider)),
        403
    );

    // Deleting the mapping, then the provider (which takes its mappings along).
    assert_eq!(status_of(node.admin(node.delete(&one))), 204);
    assert_eq!(status_of(node.admin(node.get(&one))), 404);
    assert_eq!(status_of(node.admin(node.delete(&one))), 404);
    let (status, _) = admin_json(&node, "POST", &mappings, &mapping);
    assert_eq!(status, 201);
    assert_eq!(
        status_of(node.admin(node.delete(&format!("{base}/github")))),
        204
    );
    assert_eq!(status_of(node.admin(node.get(&mappings))), 404);
    let (status, _) = admin_json(&node, "POST", base, &provider);
    assert_eq!(status, 201);
    let (_, list) = json_of(node.admin(node.get(&mappings)).send().unwrap());
    assert_eq!(
        list,
        json!([]),
        "a new provider of the same name starts empty"
    );
    // Changes are audited on every node that applies them.
    let kinds: Vec<String> = audit(&node, "oidc")
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_string())
        .collect();
    for kind in [
        "oidc.provider_created",
        "oidc.provider_updated",
        "oidc.provider_deleted",
        "oidc.mapping_created",
        "oidc.mapping_updated",
        "oidc.mapping_deleted",
    ] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} in {kinds:?}");
    }
}
