use super::*;

/// setup-jfrog-cli's exchange gives an ordinary token of ours: it carries the mapping's scope
/// and life, validates, is not refreshable, can be revoked, and the exchange is audited with
/// the claims that decided and the job, never a token.
#[test]
fn a_ci_job_exchanges_its_id_token_for_an_ordinary_revocable_token() {
    let issuer = TestIssuer::start();
    let node = node_with(&[]);
    // The provider as the admin wrote it has a trailing slash; the tokens' iss has none.
    add_provider(&node, "github", &format!("{}/", issuer.url));
    add_mapping(
        &node,
        "github",
        json!({"name": "octo", "claims": {"repository": "octo-org/*"},
               "token_spec": {"username": "octo-ci", "scope": "applied-permissions/groups:readers", "expires_in": 900}}),
    );
    let id_token = issuer.mint(json!({}));
    let (status, body) = exchange(&node, "github", &id_token);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(
        body["issued_token_type"],
        "urn:ietf:params:oauth:token-type:access_token"
    );
    assert_eq!(body["username"], "octo-ci");
    assert_eq!(body["scope"], "applied-permissions/groups:readers");
    assert_eq!(body["expires_in"], 900);
    assert!(body.get("refresh_token").is_none(), "{body}");
    assert!(body.get("reference_token").is_none(), "{body}");
    let token = token_of(&body);
    let (_, claims) = jwt_parts(&token);
    assert!(claims["sub"].as_str().unwrap().ends_with("/users/octo-ci"));
    assert_eq!(claims["scp"], "applied-permissions/groups:readers");
    assert_eq!(ping_v1(&node, &token), 200);
    // It follows the permission model: group readers may read libs-local, nothing more.
    let (status, body) = admin_json(
        &node,
        "POST",
        "/access/api/v2/groups",
        &json!({"name": "readers"}),
    );
    assert_eq!(status, 201, "{body}");
    let target = json!({"name": "readers-libs", "resources": {"artifact": {
        "actions": {"groups": {"readers": ["READ"]}},
        "targets": {"libs-local": {"include_patterns": ["**"]}},
    }}});
    let (status, body) = admin_json(&node, "POST", "/access/api/v2/permissions", &target);
    assert_eq!(status, 201, "{body}");
    for (path, action, allowed) in [
        ("libs-local/a/b.jar", "r", true),
        ("libs-local/a/b.jar", "w", false),
        ("other-local/a", "r", false),
    ] {
        let (status, body) = json_of(
            node.get(&format!(
                "/access/api/v1/permissions/check?path={path}&action={action}"
            ))
            .bearer_auth(&token)
            .send()
            .unwrap(),
        );
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["allowed"], allowed, "{path} {action}: {body}");
    }

    // The other way round: a provider without the slash, tokens whose iss has one.
    add_provider(&node, "github-b", &issuer.url);
    add_mapping(
        &node,
        "github-b",
        json!({"name": "octo", "claims": {"repository": "octo-org/*"},
               "token_spec": {"username": "octo-ci"}}),
    );
    let slashed = issuer.mint_with(json!({}), json!({"iss_slash": true}));
    let (status, body) = exchange(&node, "github-b", &slashed);
    assert_eq!(status, 200, "{body}");
    // A mapping that says nothing of the life gives an hour.
    assert_eq!(body["expires_in"], 3600);

    // Audited with provider, mapping, the deciding claims and the job; no token in the trail.
    let events = audit(&node, "oidc.exchanged");
    assert_eq!(events.len(), 2, "{events:?}");
    let text = serde_json::to_string(&events).unwrap();
    assert!(
        text.contains("octo-org/octo-repo") && text.contains("\"octo\""),
        "{text}"
    );
    assert!(text.contains("gh_run_id"), "{text}");
    for secret in [&id_token, &slashed, &token] {
        let signature = secret.rsplit('.').next().unwrap();
        assert!(!text.contains(signature), "a token in the audit trail");
        assert!(!node.log().contains(signature), "a token in the log");
    }

    // It can be revoked like any token, by id.
    let id = claims["jti"].as_str().unwrap();
    let r = node
        .admin(node.delete(&format!("/access/api/v1/tokens/{id}")))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(ping_v1(&node, &token), 401);
}

/// The lowest priority among matching mappings wins; patterns fill names from claims; the
/// token is refreshable only where the mapping says so; a mapping can be asked for by name.
#[test]
fn mappings_choose_by_priority_fill_patterns_and_decide_refreshability() {
    let issuer = TestIssuer::start();
    let node = node_with(&[]);
    add_provider(&node, "github", &issuer.url);
    add_mapping(
        &node,
        "github",
        json!({"name": "main-branch", "priority": 1,
               "claims": {"ref": "refs/heads/main", "repository": ["octo-org/octo-repo", "octo-org/other"]},
               "token_spec": {"username_pattern": "gh-{{actor}}", "scope": "applied-permissions/user",
                              "refreshable": true, "expires_in": 600}}),
    );
    add_mapping(
        &node,
        "github",
        json!({"name": "any-branch", "priority": 5,
               "claims": {"repository_owner": "octo-org"},
               "token_spec": {"groups_pattern": "{{repository_owner}}-ci"}}),
    );
    let (status, main) = exchange(&node, "github", &issuer.mint(json!({})));
    assert_eq!(status, 200, "{main}");
    assert_eq!(main["username"], "gh-octocat");
    assert_eq!(main["expires_in"], 600);
    let refresh = main["refresh_token"]
        .as_str()
        .expect("refreshable")
        .to_string();
    let (status, refreshed) = json_of(
        node.post("/access/api/v1/tokens")
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", &refresh),
                ("access_token", &token_of(&main)),
            ])
            .send()
            .unwrap(),
    );
    assert_eq!(status, 200, "{refreshed}");

    let dev = issuer.mint(json!({"ref": "refs/heads/dev"}));
    let (status, groups) = exchange(&node, "github", &dev);
    assert_eq!(status, 200, "{groups}");
    assert_eq!(groups["username"], "oidc-github");
    assert_eq!(groups["scope"], "applied-permissions/groups:octo-org-ci");
    assert!(groups.get("refresh_token").is_none(), "{groups}");

    // Asked for by name (the main-branch token also matches any-branch), with a reference.
    let mut body = json!({"grant_type": GRANT, "subject_token_type": ID_TOKEN,
        "subject_token": issuer.mint(json!({})), "provider_name": "github",
        "identity_mapping_name": "any-branch", "include_reference_token": true});
    let (status, named) = exchange_body(&node, body.clone());
    assert_eq!(status, 200, "{named}");
    assert_eq!(named["username"], "oidc-github");
    assert!(named["reference_token"].is_string(), "{named}");
    // A named mapping that does not match the claims is refused.
    body["subject_token"] = json!(issuer.mint(json!({"ref": "refs/heads/dev"})));
    body["identity_mapping_name"] = json!("main-branch");
    let (status, refused) = exchange_body(&node, body);
    assert_eq!(status, 401, "{refused}");
    assert_eq!(
        refused["errors"][0]["message"],
        "No identity mapping matched"
    );

    // Claims that would make a name reach elsewhere are refused, not passed through.
    for actor in ["evil,admin", "a b", "../x"] {
        let (status, body) = exchange(&node, "github", &issuer.mint(json!({"actor": actor})));
        assert_eq!(status, 401, "actor {actor:?}: {body}");
        let message = body["errors"][0]["message"].as_str().unwrap();
        assert!(message.starts_with("Identity mapping failed"), "{message}");
    }
}
