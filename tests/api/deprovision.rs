use super::*;

fn patch_user(node: &TestNode, name: &str, body: Value) -> (u16, Value) {
    json_of(
        node.admin(client().patch(node.url(&format!("/access/api/v2/users/{name}"))))
            .json(&body)
            .send()
            .unwrap(),
    )
}

/// `status: disabled` deprovisions: every token of the user stops (refresh included), its
/// password logs in no more, no token is issued for it; `enabled` lets it in again, and its old
/// tokens stay dead.
#[test]
fn a_disabled_user_is_cut_off_and_an_enabled_one_starts_afresh() {
    let node = TestNode::start();
    let (status, body) = json_of(
        node.admin(node.post("/access/api/v2/users"))
            .json(&json!({"username": "bob", "password": "bob-secret-1"}))
            .send()
            .unwrap(),
    );
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["status"], "enabled");
    let own = token_of(
        &json_of(
            node.post("/access/api/v1/tokens")
                .basic_auth("bob", Some("bob-secret-1"))
                .form(&[("expires_in", "600")])
                .send()
                .unwrap(),
        )
        .1,
    );
    let refreshable = node.admin_token(&[("username", "bob"), ("refreshable", "true")]);
    assert_eq!(ping_v1(&node, &own), 200);
    assert_eq!(login_status(&node, "bob", "bob-secret-1"), 200);

    let (status, body) = patch_user(&node, "bob", json!({"status": "disabled"}));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "disabled");
    assert_eq!(ping_v1(&node, &own), 401);
    assert_eq!(ping_v1(&node, &token_of(&refreshable)), 401);
    let (status, _) = json_of(
        node.post("/access/api/v1/tokens")
            .form(&[
                ("grant_type", "refresh_token"),
                (
                    "refresh_token",
                    refreshable["refresh_token"].as_str().unwrap(),
                ),
                ("access_token", &token_of(&refreshable)),
            ])
            .send()
            .unwrap(),
    );
    assert_ne!(status, 200, "a disabled user's token refreshed");
    assert_eq!(login_status(&node, "bob", "bob-secret-1"), 401);
    let (status, body) = json_of(
        node.admin(node.post("/access/api/v1/tokens"))
            .form(&[("username", "bob")])
            .send()
            .unwrap(),
    );
    assert_eq!(status, 403, "{body}");
    assert!(body["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("disabled"));
    // The bootstrap admin is never disabled; a status is one of two words.
    assert_eq!(
        patch_user(&node, "admin", json!({"status": "disabled"})).0,
        409
    );
    assert_eq!(patch_user(&node, "bob", json!({"status": "gone"})).0, 400);

    let (status, body) = patch_user(&node, "bob", json!({"status": "enabled"}));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "enabled");
    assert_eq!(login_status(&node, "bob", "bob-secret-1"), 200);
    let fresh = token_of(&node.admin_token(&[("username", "bob")]));
    assert_eq!(ping_v1(&node, &fresh), 200);
    assert_eq!(ping_v1(&node, &own), 401, "an old token stays dead");
    // Audited, with the status it was given.
    let (_, events) = json_of(
        node.admin(node.get("/access/api/v1/audit/events?kind=user.updated&subject=bob"))
            .send()
            .unwrap(),
    );
    let text = events.to_string();
    assert!(
        text.contains("\"disabled\"") && text.contains("\"enabled\""),
        "{text}"
    );
}
