use super::*;

#[test]
fn revocable_tokens_revoke_and_non_revocable_ones_cannot() {
    let node = TestNode::start();
    let body = node.admin_token(&[
        ("username", "ci"),
        ("expires_in", "0"),
        ("description", "forever"),
    ]);
    assert!(
        body.get("expires_in").is_none(),
        "non-expiring token has no expires_in: {body}"
    );
    let token = body["access_token"].as_str().unwrap().to_string();
    let id = body["token_id"].as_str().unwrap().to_string();
    let (_, claims) = jwt_parts(&token);
    assert!(claims.get("exp").is_none(), "exp absent for expires_in=0");
    assert_eq!(ping(&node, &token), 200);

    // Listed and readable by id.
    let (status, one) = json_of(
        node.admin(node.get(&format!("/access/api/v1/tokens/{id}")))
            .send()
            .unwrap(),
    );
    assert_eq!(status, 200);
    assert_eq!(one["description"], "forever");
    assert_eq!(one["expiry"], Value::Null);
    let (_, me) = json_of(
        node.get("/access/api/v1/tokens/me")
            .bearer_auth(&token)
            .send()
            .unwrap(),
    );
    assert_eq!(me["token_id"], id.as_str());

    // Revoke with the token itself (pyartifactory's call).
    let r = node
        .admin(node.delete("/access/api/v1/tokens/revoke"))
        .form(&[("token", token.as_str())])
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let (status, body) = json_of(
        node.get("/api/system/ping")
            .bearer_auth(&token)
            .send()
            .unwrap(),
    );
    assert_eq!(status, 401, "{body}");
    // Revoking twice is fine; an unknown id is 404.
    assert_eq!(
        node.admin(node.delete(&format!("/access/api/v1/tokens/{id}")))
            .send()
            .unwrap()
            .status(),
        200
    );
    let (status, body) = json_of(
        node.admin(node.delete("/access/api/v1/tokens/no-such-id"))
            .send()
            .unwrap(),
    );
    assert_eq!((status, error_code(&body)), (404, "NOT_FOUND"));

    // Threshold: 6 h is revocable (legacy revoke by token_id), 1 h is not.
    let long = node.admin_token(&[("username", "ci"), ("expires_in", "21600")]);
    let r = node
        .admin(node.post("/artifactory/api/security/token/revoke"))
        .form(&[("token_id", long["token_id"].as_str().unwrap())])
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        node.get("/api/system/ping")
            .bearer_auth(long["access_token"].as_str().unwrap())
            .send()
            .unwrap()
            .status(),
        401
    );
    let short = node.admin_token(&[("username", "ci"), ("expires_in", "3600")]);
    let (status, body) = json_of(
        node.admin(node.post("/access/api/v1/tokens/revoke"))
            .form(&[("token", short["access_token"].as_str().unwrap())])
            .send()
            .unwrap(),
    );
    assert_eq!(
        (status, error_code(&body)),
        (400, "TOKEN_NOT_REVOCABLE"),
        "{body}"
    );
    let (status, _) = json_of(
        node.admin(node.delete(&format!(
            "/access/api/v1/tokens/{}",
            short["token_id"].as_str().unwrap()
        )))
        .send()
        .unwrap(),
    );
    assert_eq!(status, 404, "non-revocable tokens are not stored");

    // JFrog's force_revocable stores a short-lived token anyway, so it can be revoked.
    let forced = node.admin_token(&[
        ("username", "ci"),
        ("expires_in", "3600"),
        ("force_revocable", "true"),
    ]);
    let r = node
        .admin(node.post("/access/api/v1/tokens/revoke"))
        .form(&[("token", forced["access_token"].as_str().unwrap())])
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        node.get("/api/system/ping")
            .bearer_auth(forced["access_token"].as_str().unwrap())
            .send()
            .unwrap()
            .status(),
        401
    );
    // Projects do not exist here: a project_key is refused as such, not as an unknown field.
    let (status, body) = json_of(
        node.admin(node.post("/access/api/v1/tokens"))
            .form(&[("username", "ci"), ("project_key", "proj1")])
            .send()
            .unwrap(),
    );
    assert_eq!(status, 400, "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("projects are not supported"),
        "{body}"
    );
}

#[test]
fn refresh_swaps_the_pair_once() {
    let node = TestNode::start();
    let body = node.admin_token(&[
        ("username", "builder"),
        ("refreshable", "TRUE"),
        ("expires_in", "21600"),
        ("scope", "member-of-groups:ci"),
    ]);
    let access = body["access_token"].as_str().unwrap().to_string();
    let refresh = body["refresh_token"].as_str().unwrap().to_string();
    let refresh_form = |a: &str, r: &str| {
        node.post("/access/api/v1/tokens")
            .form(&[
                ("grant_type", "refresh_token"),
                ("access_token", a),
                ("refresh_token", r),
            ])
            .send()
            .unwrap()
    };
    let (status, new) = json_of(refresh_form(&access, &refresh));
    assert_eq!(status, 200, "{new}");
    assert_eq!(new["scope"], "member-of-groups:ci");
    assert_eq!(new["expires_in"], 21600);
    let new_access = new["access_token"].as_str().unwrap();
    let new_refresh = new["refresh_token"].as_str().unwrap();
    assert_ne!(new_refresh, refresh);
    let (_, old_claims) = jwt_parts(&access);
    let (_, new_claims) = jwt_parts(new_access);
    assert_eq!(old_claims["sub"], new_claims["sub"]);
    assert_eq!(old_claims["aud"], new_claims["aud"]);
    assert_ne!(old_claims["jti"], new_claims["jti"]);
    // The old token is revoked, the new one works.
    assert_eq!(ping(&node, &access), 401);
    assert_eq!(ping(&node, new_access), 200);
    // Each refresh token works once.
    let (status, _) = json_of(refresh_form(&access, &refresh));
    assert_eq!(status, 401);
    // A wrong refresh token for the new access token is refused; the right one works.
    let (status, _) = json_of(refresh_form(new_access, "not-the-refresh-token"));
    assert_eq!(status, 401);
    let (status, _) = json_of(refresh_form(new_access, new_refresh));
    assert_eq!(status, 200);
    // Extra parameters need an admin.
    let (status, _) = json_of(
        node.post("/access/api/v1/tokens")
            .form(&[
                ("grant_type", "refresh_token"),
                ("access_token", new_access),
                ("refresh_token", new_refresh),
                ("expires_in", "60"),
            ])
            .send()
            .unwrap(),
    );
    assert_eq!(status, 401);
    // Missing fields are 400; a non-refreshable token cannot be refreshed.
    let (status, _) = json_of(
        node.post("/access/api/v1/tokens")
            .form(&[("grant_type", "refresh_token")])
            .send()
            .unwrap(),
    );
    assert_eq!(status, 400);
}

#[test]
fn concurrent_refresh_of_one_token_succeeds_once() {
    let node = TestNode::start();
    let body = node.admin_token(&[("username", "racer"), ("refreshable", "true")]);
    let access = body["access_token"].as_str().unwrap().to_string();
    let refresh = body["refresh_token"].as_str().unwrap().to_string();
    let urls = vec![node.url("/access/api/v1/tokens"); 8];
    let statuses = concurrent_refreshes(&urls, &access, &refresh);
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 401),
        "{statuses:?}"
    );
}

#[test]
fn refresh_works_within_the_grace_period_and_can_be_disabled() {
    let node = TestNode::start_with(&[
        (
            "ACCESS_NODE_SECURITY_BOOTSTRAP_ADMIN_PASSWORD",
            ADMIN_PASSWORD,
        ),
        ("ACCESS_NODE_TOKEN_REFRESH_GRACE_PERIOD", "3"),
    ]);
    let refresh = |t: &Value| {
        json_of(
            node.post("/access/api/v1/tokens")
                .form(&[
                    ("grant_type", "refresh_token"),
                    ("access_token", t["access_token"].as_str().unwrap()),
                    ("refresh_token", t["refresh_token"].as_str().unwrap()),
                ])
                .send()
                .unwrap(),
        )
    };
    // Expired one second ago: inside the 3 s grace period.
    let a = node.admin_token(&[
        ("username", "g"),
        ("expires_in", "1"),
        ("refreshable", "true"),
    ]);
    let b = node.admin_token(&[
        ("username", "g"),
        ("expires_in", "1"),
        ("refreshable", "true"),
    ]);
    std::thread::sleep(std::time::Duration::from_millis(2100));
    assert_eq!(
        node.get("/api/system/ping")
            .bearer_auth(a["access_token"].as_str().unwrap())
            .send()
            .unwrap()
            .status(),
        401
    );
    let (status, body) = refresh(&a);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["expires_in"], 1);
    // Past expiry + grace: refused.
    std::thread::sleep(std::time::Duration::from_millis(3000));
    let (status, body) = refresh(&b);
    assert_eq!(status, 401, "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("grace"),
        "{body}"
    );

    // token.allow-refreshable=false: no refreshable tokens at all.
    let off = TestNode::start_with(&[
        (
            "ACCESS_NODE_SECURITY_BOOTSTRAP_ADMIN_PASSWORD",
            ADMIN_PASSWORD,
        ),
        ("ACCESS_NODE_TOKEN_ALLOW_REFRESHABLE", "false"),
    ]);
    let (status, body) = json_of(
        off.admin(off.post("/access/api/v1/tokens"))
            .form(&[("refreshable", "true")])
            .send()
            .unwrap(),
    );
    assert_eq!((status, error_code(&body)), (403, "FORBIDDEN"), "{body}");
}
