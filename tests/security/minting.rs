//! Findings 3, 5, 6, 9 and 10: what a token may mint, strict input, bounded expiry,
//! reserved names, and refresh killing the old access token.

use super::{list_users_status, mint_with, ping, token_of};
use access_node_harness::*;
use serde_json::json;

#[test]
fn finding_3_a_scoped_token_mints_nothing_beyond_itself() {
    let node = TestNode::start();
    // The bootstrap admin's own token, but scoped to a group.
    let scoped = token_of(&node.admin_token(&[
        ("username", "admin"),
        ("scope", "member-of-groups:dev"),
        ("expires_in", "3600"),
    ]));
    assert_eq!(list_users_status(&node, &scoped), 403);
    // No fields: a token with the caller's own scope and no longer life, not admin.
    let (status, derived) = mint_with(&node, &scoped, &[]);
    assert_eq!(status, 200, "{derived}");
    assert_eq!(derived["scope"], "member-of-groups:dev");
    assert!(derived["expires_in"].as_u64().unwrap() <= 3600);
    assert_eq!(list_users_status(&node, &token_of(&derived)), 403);
    for form in [
        vec![("scope", "applied-permissions/user")],
        vec![("scope", "applied-permissions/admin")],
        vec![("scope", "member-of-groups:dev,ops")],
        vec![("scope", "artifact:repo/**:r")],
        vec![("expires_in", "0")],
        vec![("expires_in", "86400")],
        vec![("refreshable", "true")],
        vec![("username", "someone-else")],
    ] {
        let (status, body) = mint_with(&node, &scoped, &form);
        assert_eq!(status, 403, "{form:?}: {body}");
    }
    for path in [
        "/access/api/v1/tokens/identity",
        "/access/api/v1/tokens/pairing",
    ] {
        let status = node
            .post(path)
            .bearer_auth(&scoped)
            .send()
            .unwrap()
            .status();
        assert_eq!(status, 403, "{path}");
    }
    // A path-scoped token may hand out a narrower path, never a wider one.
    let ci = token_of(&node.admin_token(&[
        ("username", "ci"),
        ("scope", "artifact:repo/**:r,w"),
        ("expires_in", "3600"),
    ]));
    let (status, narrower) = mint_with(
        &node,
        &ci,
        &[("scope", "artifact:repo/sub/**:r"), ("expires_in", "600")],
    );
    assert_eq!(status, 200, "{narrower}");
    let (status, _) = mint_with(&node, &ci, &[("scope", "artifact:other/**:r")]);
    assert_eq!(status, 403);
    let (status, _) = mint_with(&node, &ci, &[("scope", "artifact:repo/**:d")]);
    assert_eq!(status, 403);
    // Admin stays admin: an admin-scoped token mints anything.
    let admin = node.admin_bearer();
    let (status, body) = mint_with(
        &node,
        &admin,
        &[("scope", "applied-permissions/admin"), ("expires_in", "0")],
    );
    assert_eq!(status, 200, "{body}");
}

#[test]
fn finding_5_json_bodies_and_unknown_fields() {
    let node = TestNode::start();
    // curl -d '{...}' sends JSON with the form content type: read as JSON, not dropped.
    let r = node
        .admin(node.post("/access/api/v1/tokens"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(r#"{"username":"jenkins","scope":"member-of-groups:CI"}"#)
        .send()
        .unwrap();
    assert_eq!(
        r.headers()
            .get("cache-control")
            .map(|v| v.to_str().unwrap()),
        Some("no-store")
    );
    let (status, body) = json_of(r);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["scope"], "member-of-groups:CI");
    let (_, claims) = jwt_parts(body["access_token"].as_str().unwrap());
    assert!(
        claims["sub"].as_str().unwrap().ends_with("/users/jenkins"),
        "{claims}"
    );
    // Unknown fields are named, in forms and JSON, on create, refresh and the legacy call.
    for (path, rb) in [
        (
            "/access/api/v1/tokens",
            node.post("/access/api/v1/tokens").form(&[("foo", "bar")]),
        ),
        (
            "/access/api/v1/tokens",
            node.post("/access/api/v1/tokens")
                .json(&json!({"username": "x", "expires": 60})),
        ),
        (
            "/access/api/v1/tokens",
            node.post("/access/api/v1/tokens").form(&[
                ("grant_type", "refresh_token"),
                ("access_token", "a"),
                ("refresh_token", "r"),
                ("refreshable", "true"),
            ]),
        ),
        (
            "/artifactory/api/security/token",
            node.post("/artifactory/api/security/token")
                .form(&[("username", "x"), ("scopes", "api:*")]),
        ),
    ] {
        let (status, body) = json_of(node.admin(rb).send().unwrap());
        assert_eq!((status, error_code(&body)), (400, "BAD_REQUEST"), "{path}");
        let message = body["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains("unknown field"), "{message}");
    }
}

#[test]
fn finding_6_expires_in_is_bounded_and_checked() {
    let node = TestNode::start();
    const MAX: u64 = 100 * 365 * 86_400;
    for huge in [
        "18446744073709551615".to_string(),
        "9223372036854775808".to_string(),
        (MAX + 1).to_string(),
    ] {
        let (status, body) = json_of(
            node.admin(node.post("/access/api/v1/tokens"))
                .form(&[("expires_in", huge.as_str())])
                .send()
                .unwrap(),
        );
        assert_eq!((status, error_code(&body)), (400, "BAD_REQUEST"), "{huge}");
    }
    let body = node.admin_token(&[
        ("username", "longlived"),
        ("expires_in", &MAX.to_string()),
        ("refreshable", "true"),
    ]);
    let (_, claims) = jwt_parts(body["access_token"].as_str().unwrap());
    let (iat, exp) = (
        claims["iat"].as_u64().unwrap(),
        claims["exp"].as_u64().unwrap(),
    );
    assert_eq!(exp - iat, MAX);
    assert!(exp < i64::MAX as u64);
    // Its refresh keeps an expiry.
    let (status, refreshed) = json_of(
        node.post("/access/api/v1/tokens")
            .form(&[
                ("grant_type", "refresh_token"),
                ("access_token", body["access_token"].as_str().unwrap()),
                ("refresh_token", body["refresh_token"].as_str().unwrap()),
            ])
            .send()
            .unwrap(),
    );
    assert_eq!(status, 200, "{refreshed}");
    let (_, claims) = jwt_parts(refreshed["access_token"].as_str().unwrap());
    assert!(claims["exp"].as_u64().unwrap() > claims["iat"].as_u64().unwrap());
}

#[test]
fn finding_9_reserved_names_are_refused() {
    let node = TestNode::start();
    for name in [".", "..", "...", ".hidden", "a/b", "a\\b"] {
        let (status, body) = json_of(
            node.admin(node.post("/access/api/v2/users"))
                .json(&json!({"username": name, "password": "password-1"}))
                .send()
                .unwrap(),
        );
        assert_eq!(status, 400, "user {name}: {body}");
        let (status, _) = json_of(
            node.admin(node.post("/access/api/v2/groups"))
                .json(&json!({ "name": name }))
                .send()
                .unwrap(),
        );
        assert_eq!(status, 400, "group {name}");
        let (status, _) = json_of(
            node.admin(node.post("/access/api/v1/tokens"))
                .form(&[("username", name)])
                .send()
                .unwrap(),
        );
        assert_eq!(status, 400, "subject {name}");
    }
    let (status, body) = json_of(
        node.admin(node.post("/access/api/v1/tokens"))
            .form(&[("scope", "member-of-groups:..")])
            .send()
            .unwrap(),
    );
    assert_eq!((status, error_code(&body)), (400, "INVALID_SCOPE"));
}

#[test]
fn finding_10_refresh_kills_the_old_access_token_revocable_or_not() {
    let node = TestNode::start();
    // Short-lived (below the revocable threshold) and refreshable.
    let first = node.admin_token(&[
        ("username", "builder"),
        ("expires_in", "600"),
        ("refreshable", "true"),
    ]);
    let old = token_of(&first);
    assert_eq!(ping(&node, &old), 200);
    let r = node
        .post("/access/api/v1/tokens")
        .form(&[
            ("grant_type", "refresh_token"),
            ("access_token", old.as_str()),
            ("refresh_token", first["refresh_token"].as_str().unwrap()),
        ])
        .send()
        .unwrap();
    assert_eq!(
        r.headers()
            .get("cache-control")
            .map(|v| v.to_str().unwrap()),
        Some("no-store")
    );
    let (status, second) = json_of(r);
    assert_eq!(status, 200, "{second}");
    assert_eq!(ping(&node, &old), 401, "the old access token is dead");
    assert_eq!(ping(&node, &token_of(&second)), 200);
}
