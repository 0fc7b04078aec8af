use super::*;

#[test]
fn users_groups_and_non_admin_policy() {
    let node = TestNode::start();
    let (status, _) = json_of(
        node.admin(node.post("/access/api/v2/groups"))
            .json(&json!({"name": "dev", "description": "developers"}))
            .send()
            .unwrap(),
    );
    assert_eq!(status, 201);
    let (status, _) = json_of(
        node.admin(node.post("/access/api/v2/groups"))
            .json(&json!({"name": "dev"}))
            .send()
            .unwrap(),
    );
    assert_eq!(status, 409);
    let (status, body) = json_of(
        node.admin(node.post("/access/api/v2/users"))
            .json(&json!({"username": "bob", "password": "bob-secret-1", "groups": ["dev"], "admin": false}))
            .send()
            .unwrap(),
    );
    assert_eq!(status, 201, "{body}");
    assert!(body.get("password").is_none() && body.get("password_hash").is_none());
    let (status, _) = json_of(
        node.admin(node.post("/access/api/v2/users"))
            .json(&json!({"username": "eve", "password": "eve-secret-1", "groups": ["nope"]}))
            .send()
            .unwrap(),
    );
    assert_eq!(status, 400, "unknown group");
    let (_, users) = json_of(node.admin(node.get("/access/api/v2/users")).send().unwrap());
    let names = user_names(&users);
    assert!(
        names.contains(&"admin") && names.contains(&"bob"),
        "{names:?}"
    );

    let bob = |form: &[(&str, &str)]| {
        json_of(
            node.post("/access/api/v1/tokens")
                .basic_auth("bob", Some("bob-secret-1"))
                .form(form)
                .send()
                .unwrap(),
        )
    };
    let (status, body) = bob(&[
        ("scope", "applied-permissions/groups:dev"),
        ("expires_in", "600"),
    ]);
    assert_eq!(status, 200, "{body}");
    let (_, claims) = jwt_parts(body["access_token"].as_str().unwrap());
    assert!(claims["sub"].as_str().unwrap().ends_with("/users/bob"));
    for (form, why) in [
        (vec![("username", "alice")], "another subject"),
        (vec![("scope", "applied-permissions/admin")], "admin scope"),
        (vec![("scope", "member-of-groups:ops")], "foreign group"),
        (vec![("expires_in", "7200")], "beyond the non-admin maximum"),
        (vec![("expires_in", "0")], "never-expiring"),
        (vec![("scope", "artifact:r/**:r")], "resource scope"),
    ] {
        let (status, body) = bob(&form);
        assert_eq!(
            (status, error_code(&body)),
            (403, "FORBIDDEN"),
            "{why}: {body}"
        );
    }
    // Non-admins cannot manage users.
    let (status, _) = json_of(
        node.get("/access/api/v2/users")
            .basic_auth("bob", Some("bob-secret-1"))
            .send()
            .unwrap(),
    );
    assert_eq!(status, 403);
    let (status, _) = json_of(
        node.get("/access/api/v2/users")
            .basic_auth("bob", Some("wrong"))
            .send()
            .unwrap(),
    );
    assert_eq!(status, 401);
    // Users can be deleted; their password stops working.
    assert_eq!(
        node.admin(node.delete("/access/api/v2/users/bob"))
            .send()
            .unwrap()
            .status(),
        204
    );
    let (status, _) = bob(&[]);
    assert_eq!(status, 401);
    let (status, _) = json_of(
        node.admin(node.delete("/access/api/v2/users/bob"))
            .send()
            .unwrap(),
    );
    assert_eq!(status, 404);
    // An admin user's own token (applied-permissions/user) acts as admin.
    let admin_user_token = node.admin_token(&[]);
    let (status, _) = json_of(
        node.get("/access/api/v2/users")
            .bearer_auth(admin_user_token["access_token"].as_str().unwrap())
            .send()
            .unwrap(),
    );
    assert_eq!(status, 200);
}

/// A user's admin flag is read through caches (per token, and per user for tokens not seen
/// before): promoting or demoting the user reaches both kinds at once.
#[test]
fn user_rights_changes_reach_seen_and_unseen_tokens() {
    let node = TestNode::start();
    let (status, body) = json_of(
        node.admin(node.post("/access/api/v2/users"))
            .json(&json!({"username": "carol", "password": "carol-secret-1", "admin": false}))
            .send()
            .unwrap(),
    );
    assert_eq!(status, 201, "{body}");
    let mint = || {
        node.admin_token(&[("username", "carol"), ("expires_in", "600")])["access_token"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let list_users = |token: &str| {
        node.get("/access/api/v2/users")
            .bearer_auth(token)
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    let set_admin = |admin: bool| {
        let (status, body) = json_of(
            node.admin(node.client.patch(node.url("/access/api/v2/users/carol")))
                .json(&json!({ "admin": admin }))
                .send()
                .unwrap(),
        );
        assert_eq!(status, 200, "{body}");
    };
    let seen = mint();
    assert_eq!(list_users(&seen), 403);
    // A second unseen token of the same user: served from the user cache, still no admin.
    assert_eq!(list_users(&mint()), 403);
    set_admin(true);
    assert_eq!(list_users(&seen), 200, "a token seen before the promotion");
    assert_eq!(list_users(&mint()), 200, "a token never seen before");
    set_admin(false);
    // Taking admin away also revokes the tokens issued until then (a cut-off in seconds).
    assert_eq!(list_users(&seen), 401, "a token issued before the demotion");
    std::thread::sleep(std::time::Duration::from_millis(1100));
    assert_eq!(
        list_users(&mint()),
        403,
        "a token issued after the demotion"
    );
}
