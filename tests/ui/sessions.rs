use std::time::{Duration, Instant};

use super::*;

/// Wait until `node` no longer accepts `session` (it learns the revocation from the log).
fn wait_signed_out(page: &Page, session: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let r = page.get("/ui/tokens", Some(session));
        if r.status() == 303 {
            assert_eq!(r.headers()["location"], "/ui/login");
            return;
        }
        assert_eq!(r.status(), 200);
        assert!(Instant::now() < deadline, "the session still works");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_session_works_on_every_node_and_signing_out_ends_it_everywhere() {
    let cluster = TestCluster::start(2, &[]);
    let (one, two) = (Page::new(&cluster.nodes[0]), Page::new(&cluster.nodes[1]));
    let session = one.sign_in("admin", ADMIN_PASSWORD);
    // The other node knows the session (a stored record), and shows both members.
    let r = two.get("/ui/cluster", Some(&session));
    assert_eq!(r.status(), 200);
    let html = r.text().unwrap();
    assert_eq!(html.matches("data-member=").count(), 2, "{html}");
    assert_eq!(
        html.matches(r#"<span class="badge">leader</span>"#).count(),
        1
    );
    // Signing out through the other node ends it on the first as well.
    let r = two.post("/ui/logout", &session, &[("csrf", &two.csrf(&session))]);
    assert_eq!(r.status(), 303);
    assert!(set_cookie(&r, "access_session")
        .unwrap()
        .contains("Max-Age=0"));
    wait_signed_out(&two, &session);
    wait_signed_out(&one, &session);
}

#[test]
fn the_session_cookie_is_no_api_credential() {
    let node = TestNode::start();
    let page = Page::new(&node);
    let session = page.sign_in("admin", ADMIN_PASSWORD);
    let bearer = node
        .get("/access/api/v1/tokens")
        .bearer_auth(&session)
        .send()
        .unwrap();
    assert_eq!(bearer.status(), 401);
    let basic = node
        .get("/access/api/v1/tokens")
        .basic_auth("admin", Some(&session))
        .send()
        .unwrap();
    assert_eq!(basic.status(), 401);
    // The API lists the session (kind "web session" on the page) and may revoke it.
    let (status, body) = json_of(
        node.admin(node.get("/access/api/v1/tokens"))
            .send()
            .unwrap(),
    );
    assert_eq!(status, 200);
    let sessions: Vec<&serde_json::Value> = body["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["description"] == "web session")
        .collect();
    assert_eq!(sessions.len(), 1, "{body}");
    let id = sessions[0]["token_id"].as_str().unwrap();
    let r = node
        .admin(node.delete(&format!("/access/api/v1/tokens/{id}")))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    wait_signed_out(&page, &session);
}

#[test]
fn revoking_every_token_of_a_user_ends_their_sessions() {
    let node = TestNode::start();
    let r = node
        .admin(node.post("/access/api/v2/users"))
        .json(&serde_json::json!({"username": "bob", "password": "bob-password"}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
    let page = Page::new(&node);
    let admin = page.sign_in("admin", ADMIN_PASSWORD);
    let bob = page.sign_in("bob", "bob-password");
    assert_eq!(page.get("/ui/tokens", Some(&bob)).status(), 200);
    let r = page.post(
        "/ui/tokens/revoke-user",
        &admin,
        &[("csrf", &page.csrf(&admin)), ("username", "bob")],
    );
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/ui/tokens?done=revoked_all");
    wait_signed_out(&page, &bob);
    assert_eq!(page.get("/ui/tokens", Some(&admin)).status(), 200);
    // Bob may sign in again: only what existed was revoked.
    let again = page.sign_in("bob", "bob-password");
    assert_eq!(page.get("/ui/tokens", Some(&again)).status(), 200);
}

#[test]
fn disabling_a_user_ends_their_sessions_and_their_sign_ins() {
    let node = TestNode::start();
    let r = node
        .admin(node.post("/access/api/v2/users"))
        .json(&serde_json::json!({"username": "eve", "password": "eve-password"}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
    let page = Page::new(&node);
    let eve = page.sign_in("eve", "eve-password");
    assert_eq!(page.get("/ui/tokens", Some(&eve)).status(), 200);
    let r = node
        .admin(client().patch(node.url("/access/api/v2/users/eve")))
        .json(&serde_json::json!({"status": "disabled"}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    wait_signed_out(&page, &eve);
    assert_ne!(page.try_sign_in("eve", "eve-password").status(), 303);
}

#[test]
fn failed_sign_ins_are_throttled_with_the_api() {
    let node = TestNode::start_with(&[
        (
            "ACCESS_NODE_SECURITY_BOOTSTRAP_ADMIN_PASSWORD",
            ADMIN_PASSWORD,
        ),
        ("ACCESS_NODE_SECURITY_LOCK_AFTER_FAILED_LOGINS", "2"),
        ("ACCESS_NODE_SECURITY_LOGIN_BACKOFF_MAX_SECS", "300"),
    ]);
    let page = Page::new(&node);
    for _ in 0..2 {
        let r = page.try_sign_in("admin", "wrong-password");
        assert_eq!(r.status(), 401);
        assert!(r.text().unwrap().contains("Wrong user name or password"));
    }
    // Now even the right password waits, on the page and in the API alike.
    let r = page.try_sign_in("admin", ADMIN_PASSWORD);
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
    assert!(set_cookie(&r, "access_session").is_none());
    assert!(r.text().unwrap().contains("too many failed logins"));
    let api = node
        .admin(node.get("/access/api/v1/tokens"))
        .send()
        .unwrap();
    assert_eq!(api.status(), 429);
}

#[test]
fn sessions_need_no_sticky_load_balancer() {
    let cluster = TestCluster::start(2, &[]);
    let ports: Vec<u16> = cluster.nodes.iter().map(|n| n.port).collect();
    let lb = Nginx::start(&ports);
    // nginx passes `Host: 127.0.0.1` (no port) and takes turns between the nodes.
    let page = Page::at(lb.url(""));
    let session = page.sign_in("admin", ADMIN_PASSWORD);
    for _ in 0..4 {
        assert_eq!(page.get("/ui/tokens", Some(&session)).status(), 200);
    }
    let csrf = page.csrf(&session);
    for name in ["lb-a", "lb-b"] {
        let r = page.post("/ui/groups", &session, &[("csrf", &csrf), ("name", name)]);
        assert_eq!(r.status(), 303, "{:?}", r.text());
    }
    let r = page.post("/ui/logout", &session, &[("csrf", &csrf)]);
    assert_eq!(r.status(), 303);
    for node in &cluster.nodes {
        wait_signed_out(&Page::new(node), &session);
    }
}
