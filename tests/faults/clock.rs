//! Skewed clocks inside one cluster (libfaketime): revocations hold whatever the proposing
//! node's clock says, a node far off is seen (cluster status, /metrics, /healthz) and mints
//! nothing, and short tokens expire on every node within the skew.

use super::*;

use access_node_harness::clock::skew;
use serde_json::json;

/// A three-node cluster; node i (0-based) runs with its wall clock `offsets[i]` off.
fn skewed_cluster(offsets: [Option<&str>; 3]) -> TestCluster {
    TestCluster::start_placed(3, &[], |i, node| {
        if let Some(offset) = offsets[i] {
            skew(node, offset);
        }
    })
}

fn status_of(node: &TestNode) -> Value {
    let r = node
        .admin(node.get("/access/api/v1/cluster/status"))
        .send()
        .unwrap();
    r.json().unwrap()
}

/// Wait until `node` has read every other member's clock.
fn wait_clocks_read(node: &TestNode) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let s = status_of(node);
        let members = s["members"].as_array().cloned().unwrap_or_default();
        let read = members
            .iter()
            .filter(|m| m["id"] != s["node_id"])
            .all(|m| m["clock_offset_ms"].is_i64());
        if read && s["clock"]["offset_from_leader_ms"].is_i64() {
            return s;
        }
        assert!(Instant::now() < deadline, "clocks never read: {s}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn mint(node: &TestNode, form: &[(&str, &str)]) -> reqwest::blocking::Response {
    node.admin(node.post("/access/api/v1/tokens"))
        .form(form)
        .send()
        .unwrap()
}

fn token(node: &TestNode, user: &str, expires_in: &str) -> String {
    let r = mint(node, &[("username", user), ("expires_in", expires_in)]);
    assert_eq!(r.status(), 200);
    r.json::<Value>().unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_string()
}

fn everywhere(c: &TestCluster, token: &str) -> Vec<u16> {
    c.nodes.iter().map(|n| ping(n, token, false)).collect()
}

/// Wait until every node answers `status` for `token` (replication takes an instant).
fn wait_everywhere(c: &TestCluster, token: &str, status: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while everywhere(c, token).iter().any(|s| *s != status) {
        assert!(
            Instant::now() < deadline,
            "{what}: {:?}, wanted {status}",
            everywhere(c, token)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn revocations_hold_whatever_the_proposing_nodes_clock_says() {
    let _turn = turn(1);
    // Node 2 runs 2 s fast, node 3 2 s slow: tokens minted at node 2 just before a revoke
    // proposed at node 3 carry an iat past node 3's own clock.
    let c = skewed_cluster([None, Some("+2s"), Some("-2s")]);
    let (fast, slow) = (&c.nodes[1], &c.nodes[2]);
    let s = wait_clocks_read(slow);
    let off = s["clock"]["offset_from_leader_ms"].as_i64().unwrap();
    assert!((1_500..2_500).contains(&off.abs()), "node 3's offset: {s}");
    for round in 0..3 {
        let user = format!("u{round}");
        let create = json!({"username": user, "password": "user-pass-123"});
        let r = fast
            .admin(fast.post("/access/api/v2/users"))
            .json(&create)
            .send()
            .unwrap();
        assert_eq!(r.status(), 201);
        let short = token(fast, &user, "600");
        let stored = token(fast, &user, "0");
        wait_everywhere(&c, &stored, 200, "the stored token");
        // Revoke-all at the slow node, a moment after the mint.
        let r = slow
            .admin(slow.delete(&format!("/access/api/v1/tokens?username={user}")))
            .send()
            .unwrap();
        assert_eq!(r.status(), 200);
        for t in [&short, &stored] {
            wait_everywhere(
                &c,
                t,
                401,
                "a token minted at the fast node, revoked at the slow",
            );
        }
        // A token minted after the revoke is not caught (its mint waits past the cut-off).
        let after = token(fast, &user, "600");
        wait_everywhere(&c, &after, 200, "a token minted after the revoke");
        // Deleting the user at the slow node catches that one too.
        let r = slow
            .admin(slow.delete(&format!("/access/api/v2/users/{user}")))
            .send()
            .unwrap();
        assert_eq!(r.status(), 204);
        wait_everywhere(
            &c,
            &after,
            401,
            "a token of a user deleted at the slow node",
        );
    }
    // Short tokens expire everywhere within the skew, and a token whose iat is in a slower
    // node's future is accepted there.
    let t = token(fast, "short-lived", "8");
    assert_eq!(
        everywhere(&c, &t),
        vec![200, 200, 200],
        "iat in node 3's future"
    );
    let minted = Instant::now();
    // Node 2's exp is 8 s after its mint: 3 s before it, every node still takes it...
    std::thread::sleep(Duration::from_secs(5).saturating_sub(minted.elapsed()));
    assert_eq!(everywhere(&c, &t), vec![200, 200, 200], "3 s before exp");
    // ...and from 3 s after it, none does.
    std::thread::sleep(Duration::from_secs(11).saturating_sub(minted.elapsed()));
    assert_eq!(everywhere(&c, &t), vec![401, 401, 401], "3 s after exp");
}

#[test]
fn a_node_far_off_is_seen_and_mints_nothing_but_its_revocations_hold() {
    let _turn = turn(1);
    let c = skewed_cluster([None, None, Some("-30s")]);
    let (leader, far) = (&c.nodes[0], &c.nodes[2]);
    let s = wait_clocks_read(far);
    let off = s["clock"]["offset_from_leader_ms"].as_i64().unwrap();
    assert!(
        (29_000..31_000).contains(&off),
        "node 3 is 30 s behind: {s}"
    );
    assert_eq!(s["clock"]["degraded"], true, "{s}");
    // The other nodes see it too: cluster status and /metrics.
    let s = wait_clocks_read(leader);
    let m3 = s["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == 3)
        .unwrap()
        .clone();
    let m3_off = m3["clock_offset_ms"].as_i64().unwrap();
    assert!((-31_000..-29_000).contains(&m3_off), "{s}");
    let metrics = leader
        .admin(leader.get("/metrics"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    let line = metrics
        .lines()
        .find(|l| l.starts_with("access_clock_offset_seconds{peer=\"node-3\"}"))
        .unwrap_or_else(|| panic!("{metrics}"));
    let secs: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
    assert!((-31.0..-29.0).contains(&secs), "{line}");
    eprintln!("leader's view of node 3: cluster status {m3_off} ms, /metrics {line}");
    // /healthz says so, and node 3 mints nothing, naming the skew.
    let h = healthz(far).unwrap();
    assert_eq!(h["degraded"], true, "{h}");
    let r = mint(far, &[("username", "nobody"), ("expires_in", "600")]);
    assert_eq!(r.status(), 503);
    assert!(r.headers().contains_key("retry-after"));
    let body = r.text().unwrap();
    assert!(body.contains("clock") && body.contains("30."), "{body}");
    // Its revocations still hold for tokens the others minted before them.
    let t = token(leader, "victim", "0");
    let short = token(&c.nodes[1], "victim", "600");
    wait_everywhere(&c, &t, 200, "the token before the revoke");
    let r = far
        .admin(far.delete("/access/api/v1/tokens?username=victim"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    for t in [&t, &short] {
        wait_everywhere(&c, t, 401, "revoked at the node 30 s behind");
    }
}
