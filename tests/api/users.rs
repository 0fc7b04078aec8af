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
    let names: Vec<&str> = users["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
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
