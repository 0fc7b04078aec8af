//! Findings 7 and 8: users can be changed, and password guessing is throttled cluster-wide,
//! per client address even behind a load balancer (`server.trusted-proxies`), whose
//! forwarding headers nobody else can forge.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::{create_user, list_users_status, ping, token_of};
use access_node_harness::*;
use serde_json::{json, Value};

#[test]
fn finding_7_users_passwords_and_groups_can_be_changed() {
    let mut node = TestNode::start();
    for g in ["dev", "ops"] {
        let (status, _) = json_of(
            node.admin(node.post("/access/api/v2/groups"))
                .json(&json!({ "name": g }))
                .send()
                .unwrap(),
        );
        assert_eq!(status, 201);
    }
    create_user(
        &node,
        json!({"username": "carol", "password": "first-pass"}),
    );
    let (status, body) = json_of(
        node.admin(node.client.patch(node.url("/access/api/v2/users/carol")))
            .json(&json!({"password": "second-pass", "email": "c@example.com",
                          "admin": true, "groups": ["dev"]}))
            .send()
            .unwrap(),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["admin"], true);
    assert_eq!(body["groups"], json!(["dev"]));
    assert_eq!(body["email"], "c@example.com");
    assert_eq!(login_status(&node, "carol", "first-pass"), 401);
    assert_eq!(login_status(&node, "carol", "second-pass"), 200);
    // Unknown fields and unknown users are refused.
    let (status, _) = json_of(
        node.admin(node.client.patch(node.url("/access/api/v2/users/carol")))
            .json(&json!({"passwd": "x"}))
            .send()
            .unwrap(),
    );
    assert_eq!(status, 400);
    let (status, _) = json_of(
        node.admin(node.client.patch(node.url("/access/api/v2/users/nobody")))
            .json(&json!({"email": "x@y"}))
            .send()
            .unwrap(),
    );
    assert_eq!(status, 404);
    // The user changes its own password (Artifactory's call), proving the old one.
    let change = |old: &str, new: &str| {
        node.post("/artifactory/api/security/users/authorization/changePassword")
            .json(&json!({"userName": "carol", "oldPassword": old,
                          "newPassword1": new, "newPassword2": new}))
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(change("wrong-pass", "third-pass"), 401);
    assert_eq!(change("second-pass", "third-pass"), 200);
    assert_eq!(login_status(&node, "carol", "third-pass"), 200);
    // Group membership: add to ops, remove from dev.
    let (status, body) = json_of(
        node.admin(
            node.client
                .patch(node.url("/access/api/v2/groups/ops/members")),
        )
        .json(&json!({"add": ["carol"]}))
        .send()
        .unwrap(),
    );
    assert_eq!((status, body["members"].clone()), (200, json!(["carol"])));
    let (status, _) = json_of(
        node.admin(
            node.client
                .patch(node.url("/access/api/v2/groups/dev/members")),
        )
        .json(&json!({"remove": ["carol"]}))
        .send()
        .unwrap(),
    );
    assert_eq!(status, 200);
    let (_, user) = json_of(
        node.admin(node.get("/access/api/v2/users/carol"))
            .send()
            .unwrap(),
    );
    assert_eq!(user["groups"], json!(["ops"]));
    // Taking admin away kills the admin tokens carol minted while admin.
    let (status, body) = json_of(
        node.post("/access/api/v1/tokens")
            .basic_auth("carol", Some("third-pass"))
            .form(&[("scope", "applied-permissions/admin"), ("expires_in", "0")])
            .send()
            .unwrap(),
    );
    assert_eq!(status, 200, "{body}");
    let carol_admin = token_of(&body);
    assert_eq!(list_users_status(&node, &carol_admin), 200);
    let (status, _) = json_of(
        node.admin(node.client.patch(node.url("/access/api/v2/users/carol")))
            .json(&json!({"admin": false}))
            .send()
            .unwrap(),
    );
    assert_eq!(status, 200);
    assert_eq!(ping(&node, &carol_admin), 401);
    // The bootstrap admin changes its password; the env variable on restart is ignored, loudly.
    let (status, _) = json_of(
        node.admin(node.client.patch(node.url("/access/api/v2/users/admin")))
            .json(&json!({"password": "new-admin-pass"}))
            .send()
            .unwrap(),
    );
    assert_eq!(status, 200);
    node.restart();
    assert_eq!(login_status(&node, "admin", "new-admin-pass"), 200);
    assert_eq!(login_status(&node, "admin", ADMIN_PASSWORD), 401);
    assert!(
        node.log().contains("already initialised: it is ignored"),
        "no warning about the ignored bootstrap password"
    );
}

/// One guess per node, 300 ms apart (time for the count to reach every node).
fn guesses_round_robin(cluster: &TestCluster, user: &str, count: usize) -> Vec<u16> {
    (0..count)
        .map(|i| {
            let status = login_status(&cluster.nodes[i % 3], user, &format!("guess-{i}"));
            std::thread::sleep(Duration::from_millis(300));
            status
        })
        .collect()
}

#[test]
fn finding_8_password_guessing_is_throttled_across_the_cluster() {
    let cluster = TestCluster::start(3, &[("ACCESS_NODE_SECURITY_LOCK_AFTER_FAILED_LOGINS", "3")]);
    // Three wrong guesses, one on each node: the count is the cluster's, not each node's.
    assert_eq!(
        guesses_round_robin(&cluster, "admin", 3),
        vec![401, 401, 401]
    );
    // Now every node makes the name wait, even for the right password.
    for node in &cluster.nodes {
        let r = node
            .get("/api/system/ping")
            .basic_auth("admin", Some(ADMIN_PASSWORD))
            .send()
            .unwrap();
        assert_eq!(r.status(), 429);
        let retry: u64 = r.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=300).contains(&retry), "{retry}");
    }
    // Guessing on through all three nodes for 3.6 s: the backoff (1 s, 2 s, 4 s…) lets
    // through a few guesses, not the 12 that per-node counting would.
    let later = guesses_round_robin(&cluster, "admin", 12);
    let tried = later.iter().filter(|s| **s == 401).count();
    assert!(tried <= 3, "{later:?}");
    assert!(later.iter().all(|s| *s == 401 || *s == 429), "{later:?}");
    // Unknown user names are counted and throttled the same way.
    assert_eq!(
        guesses_round_robin(&cluster, "nobody-here", 4),
        vec![401, 401, 401, 429]
    );
}

#[test]
fn finding_8_unknown_users_cost_the_same_and_addresses_are_throttled() {
    let node = TestNode::start_with(&[
        (
            "ACCESS_NODE_SECURITY_BOOTSTRAP_ADMIN_PASSWORD",
            ADMIN_PASSWORD,
        ),
        ("ACCESS_NODE_SECURITY_LOCK_AFTER_FAILED_LOGINS", "0"),
        (
            "ACCESS_NODE_SECURITY_LOCK_AFTER_FAILED_LOGINS_PER_ADDRESS",
            "12",
        ),
    ]);
    let admin = node.admin_bearer();
    let median = |user: &str| {
        let mut times: Vec<Duration> = (0..5)
            .map(|_| {
                let started = Instant::now();
                assert_eq!(login_status(&node, user, "wrong-password"), 401);
                started.elapsed()
            })
            .collect();
        times.sort();
        times[2]
    };
    let known = median("admin");
    let unknown = median("no-such-user");
    // Before, an unknown name answered about 20x faster (no password hash to check).
    assert!(
        unknown * 3 >= known,
        "unknown user {unknown:?} vs known {known:?}: names leak by timing"
    );
    // Ten failures so far from 127.0.0.1; two more and the address waits, whatever the name.
    assert_eq!(login_status(&node, "user-a", "x-password"), 401);
    assert_eq!(login_status(&node, "user-b", "x-password"), 401);
    assert_eq!(login_status(&node, "user-c", "x-password"), 429);
    assert_eq!(ping(&node, &admin), 200, "tokens keep working");
}

#[test]
fn users_cannot_make_themselves_admin_or_reach_the_new_admin_calls() {
    let node = TestNode::start();
    create_user(
        &node,
        json!({"username": "dave", "password": "dave-password"}),
    );
    let patch = |path: &str, body: serde_json::Value| {
        node.client
            .patch(node.url(path))
            .basic_auth("dave", Some("dave-password"))
            .json(&body)
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(
        patch("/access/api/v2/users/dave", json!({"admin": true})),
        403
    );
    assert_eq!(
        patch(
            "/access/api/v2/groups/dev/members",
            json!({"add": ["dave"]})
        ),
        403
    );
    let (status, dave) = json_of(
        node.admin(node.get("/access/api/v2/users/dave"))
            .send()
            .unwrap(),
    );
    assert_eq!((status, dave["admin"].clone()), (200, json!(false)));
    // Backups hold the signing key and password hashes: admins only, never anonymous.
    for (user, expected) in [(Some("dave"), 403), (None, 401)] {
        let with = |rb: reqwest::blocking::RequestBuilder| match user {
            Some(u) => rb.basic_auth(u, Some("dave-password")),
            None => rb,
        };
        let backup = with(node.get("/access/api/v1/system/backup"))
            .send()
            .unwrap();
        assert_eq!(backup.status().as_u16(), expected);
        let restore = with(node.post("/access/api/v1/system/restore"))
            .body(vec![0u8; 64])
            .send()
            .unwrap();
        assert_eq!(restore.status().as_u16(), expected);
    }
}

/// A node remembers the caller behind a token it has seen; every change to what that caller
/// may do must reach the very next request, on every node.
#[test]
fn a_remembered_token_follows_its_users_rights_at_once() {
    let cluster = TestCluster::start(3, &[]);
    let first = &cluster.nodes[0];
    create_user(
        first,
        json!({"username": "erin", "password": "erin-password"}),
    );
    let issued = first.admin_token(&[
        ("username", "erin"),
        ("scope", "applied-permissions/user"),
        ("expires_in", "0"),
    ]);
    let token = token_of(&issued);
    let set_admin = |admin: bool| {
        let (status, body) = json_of(
            first
                .admin(first.client.patch(first.url("/access/api/v2/users/erin")))
                .json(&json!({ "admin": admin }))
                .send()
                .unwrap(),
        );
        assert_eq!(status, 200, "{body}");
    };
    let everywhere = |expected: u16| {
        for node in &cluster.nodes {
            // Twice: the second request is the one a remembered caller would answer.
            for _ in 0..2 {
                assert_eq!(
                    list_users_status(node, &token),
                    expected,
                    "{}",
                    node.url("")
                );
            }
        }
    };
    // The admin flag is read through the user, wherever the token is used: a promotion is
    // seen by the next request, and a demotion revokes every token the user had.
    cluster.wait_converged();
    everywhere(403);
    set_admin(true);
    cluster.wait_converged();
    everywhere(200);
    set_admin(false);
    cluster.wait_converged();
    everywhere(401);
    // A token of the user minted after the demotion is a user's token again, and revoking
    // it refuses it at once on every node.
    let issued = first.admin_token(&[
        ("username", "erin"),
        ("scope", "applied-permissions/user"),
        ("expires_in", "0"),
    ]);
    let token = token_of(&issued);
    cluster.wait_converged();
    for node in &cluster.nodes {
        for _ in 0..2 {
            assert_eq!(list_users_status(node, &token), 403);
            assert_eq!(ping(node, &token), 200);
        }
    }
    let id = issued["token_id"].as_str().unwrap();
    let revoke = first
        .admin(first.delete(&format!("/access/api/v1/tokens/{id}")))
        .send()
        .unwrap();
    assert_eq!(revoke.status().as_u16(), 200);
    cluster.wait_converged();
    for node in &cluster.nodes {
        assert_eq!(ping(node, &token), 401);
    }
}

/// A client connecting from its own loopback address (any 127.0.0.x reaches 127.0.0.1).
fn client_from(ip: &str) -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .no_proxy()
        .local_address(ip.parse::<IpAddr>().unwrap())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// The audit event of `kind` raised by request `id`, read through the admin API.
fn audit_event(node: &TestNode, kind: &str, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let path = format!("/access/api/v1/audit/events?kind={kind}&limit=1000");
        let (status, body) = json_of(node.admin(node.get(&path)).send().unwrap());
        assert_eq!(status, 200, "{body}");
        let events = body["events"].as_array().unwrap();
        if let Some(e) = events.iter().find(|e| e["request_id"] == id) {
            return e.clone();
        }
        assert!(Instant::now() < deadline, "no {kind} of request {id}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A node behind a load balancer at 127.0.0.1, throttling an address after 3 failures.
fn node_behind_a_proxy() -> TestNode {
    TestNode::start_with(&[
        (
            "ACCESS_NODE_SECURITY_BOOTSTRAP_ADMIN_PASSWORD",
            ADMIN_PASSWORD,
        ),
        ("ACCESS_NODE_SECURITY_LOCK_AFTER_FAILED_LOGINS", "0"),
        (
            "ACCESS_NODE_SECURITY_LOCK_AFTER_FAILED_LOGINS_PER_ADDRESS",
            "3",
        ),
        ("ACCESS_NODE_SERVER_TRUSTED_PROXIES", r#"["127.0.0.1"]"#),
    ])
}

/// A Basic login to `url` as admin; `headers` are sent too.
fn login_at(
    http: &reqwest::blocking::Client,
    url: &str,
    password: &str,
    id: &str,
    headers: &[(&str, &str)],
) -> u16 {
    let mut rb = http
        .get(url)
        .basic_auth("admin", Some(password))
        .header("x-request-id", id);
    for (name, value) in headers {
        rb = rb.header(*name, *value);
    }
    rb.send().unwrap().status().as_u16()
}

#[test]
fn behind_a_trusted_proxy_throttling_audit_and_logs_see_the_client() {
    let node = node_behind_a_proxy();
    let lb = Nginx::start(&[node.port]);
    let url = lb.url("/api/system/ping");
    let (mallory, alice) = (client_from("127.0.0.7"), client_from("127.0.0.8"));
    // Mallory guesses through nginx, claiming to be alice: nginx appends the address it saw.
    let forged = [("x-forwarded-for", "127.0.0.8")];
    for i in 0..3 {
        let id = format!("lb-bad-{i}");
        assert_eq!(login_at(&mallory, &url, "wrong", &id, &forged), 401);
    }
    assert_eq!(
        login_at(&mallory, &url, ADMIN_PASSWORD, "lb-wait", &[]),
        429
    );
    // Another client of the same load balancer is not throttled (every client used to be
    // nginx's 127.0.0.1), and neither is she for mallory's claim.
    assert_eq!(login_at(&alice, &url, ADMIN_PASSWORD, "lb-alice", &[]), 200);

    for i in 0..3 {
        let failed = audit_event(&node, "login.failed", &format!("lb-bad-{i}"));
        assert_eq!(failed["client_ip"], "127.0.0.7", "{failed}");
    }
    let throttled = audit_event(&node, "login.throttled", "lb-wait");
    assert_eq!(throttled["client_ip"], "127.0.0.7", "{throttled}");
    let alice_in = audit_event(&node, "login.succeeded", "lb-alice");
    assert_eq!(alice_in["client_ip"], "127.0.0.8", "{alice_in}");
    // The request log names the client, and the proxy it came through.
    let log = node.log();
    let line = log.lines().find(|l| l.contains("lb-alice")).unwrap();
    assert!(line.contains("peer=127.0.0.8"), "{line}");
    assert!(line.contains("via=127.0.0.1"), "{line}");
}

#[test]
fn forwarding_headers_from_an_untrusted_peer_are_ignored() {
    let node = node_behind_a_proxy();
    let url = node.url("/api/system/ping");
    let (mallory, other) = (client_from("127.0.0.9"), client_from("127.0.0.10"));
    // Straight to the node, each guess claiming another address: all count against 127.0.0.9.
    for i in 0..3 {
        let xff = format!("203.0.113.{i}");
        let fwd = format!("for=198.51.100.{i}");
        let forged = [
            ("x-forwarded-for", xff.as_str()),
            ("forwarded", fwd.as_str()),
        ];
        let id = format!("spoof-{i}");
        assert_eq!(login_at(&mallory, &url, "wrong", &id, &forged), 401);
    }
    let forged = [("x-forwarded-for", "127.0.0.10")];
    assert_eq!(
        login_at(&mallory, &url, ADMIN_PASSWORD, "spoof-wait", &forged),
        429
    );
    assert_eq!(login_at(&other, &url, ADMIN_PASSWORD, "other", &[]), 200);
    for i in 0..3 {
        let failed = audit_event(&node, "login.failed", &format!("spoof-{i}"));
        assert_eq!(failed["client_ip"], "127.0.0.9", "{failed}");
    }
    let throttled = audit_event(&node, "login.throttled", "spoof-wait");
    assert_eq!(throttled["client_ip"], "127.0.0.9", "{throttled}");
}
