use super::*;

const FORMAT_ENV: &str = "ACCESS_TEST_FORMAT_VERSION";

/// Every file under `dir` with its contents' hash, for "changed nothing" checks.
fn files_of(dir: &std::path::Path) -> Vec<(std::path::PathBuf, u64)> {
    use std::hash::{Hash, Hasher};
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let path = e.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let mut h = std::collections::hash_map::DefaultHasher::new();
                std::fs::read(&path).unwrap_or_default().hash(&mut h);
                out.push((path, h.finish()));
            }
        }
    }
    out.sort();
    out
}

fn health(node: &TestNode) -> Value {
    node.get("/healthz").send().unwrap().json().unwrap()
}

/// Status of a SCIM user create (a command of format 2) with `bearer` at `node`, and its body.
fn scim_create(node: &TestNode, bearer: &str, name: &str) -> (u16, String) {
    let r = node
        .post("/access/api/v1/scim/v2/Users")
        .bearer_auth(bearer)
        .header("content-type", "application/scim+json")
        .body(json!({"userName": name}).to_string())
        .send()
        .unwrap();
    (r.status().as_u16(), r.text().unwrap())
}

/// A cluster of nodes that read only format 1 (the tests play older binaries with
/// `ACCESS_TEST_FORMAT_VERSION`) stays at format 1, and refuses, with 503 naming both
/// formats, what format 1 cannot carry, while older commands work. Upgraded one node at a time,
/// it moves to format 2 only once every voter reads it, and the new commands work. A node of
/// format 1 then neither starts on its own (upgraded) data directory nor joins: each refusal
/// names both formats.
#[test]
fn a_cluster_moves_to_a_new_format_only_once_every_voter_reads_it() {
    let _turn = turn(1);
    let mut c = TestCluster::start(3, &[(FORMAT_ENV, "1")]);
    for node in &c.nodes {
        let h = health(node);
        assert_eq!(
            (
                h["format"]["node"].as_u64(),
                h["format"]["cluster"].as_u64()
            ),
            (Some(1), Some(1)),
            "{h}"
        );
    }
    let bearer = c.nodes[0].admin_bearer();
    let (status, body) = scim_create(&c.nodes[1], &bearer, "early");
    assert_eq!(status, 503, "{body}");
    assert!(
        body.contains("being upgraded") && body.contains("format 2") && body.contains("format 1"),
        "{body}"
    );
    // What the older format carries still works: users through JFrog's API.
    let (status, body) = json_of(
        c.nodes[2]
            .admin(c.nodes[2].post("/access/api/v2/users"))
            .json(&json!({"username": "carried", "password": "carried-pass-1"}))
            .send()
            .unwrap(),
    );
    assert_eq!(status, 201, "{body}");

    // Followers first, then the leader.
    let leader = c.leader();
    let mut order: Vec<usize> = (0..3).filter(|i| *i != leader).collect();
    order.push(leader);
    for (step, i) in order.iter().enumerate() {
        let node = &mut c.nodes[*i];
        node.stop();
        node.set_env(FORMAT_ENV, "2");
        node.spawn();
        node.wait_ready();
        if step < 2 {
            std::thread::sleep(Duration::from_millis(500));
            let at = c
                .nodes
                .iter()
                .map(|n| health(n)["format"]["cluster"].as_u64())
                .collect::<Vec<_>>();
            assert!(
                at.iter().all(|f| *f == Some(1)),
                "raised before every voter reads it: {at:?}"
            );
        }
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while !c.nodes.iter().all(|n| health(n)["format"]["cluster"] == 2) {
        assert!(
            Instant::now() < deadline,
            "the cluster did not move to format 2"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let (status, body) = scim_create(&c.nodes[1], &c.nodes[1].admin_bearer(), "late");
    assert_eq!(status, 201, "{body}");
    let status: Value = c.nodes[0]
        .admin(c.nodes[0].get("/access/api/v1/cluster/status"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(status["format"]["cluster"], 2, "{status}");
    let metrics = c.nodes[0]
        .admin(c.nodes[0].get("/metrics"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(
        metrics.contains("access_cluster_format_version 2"),
        "{metrics}"
    );

    // No way back: a format-1 binary refuses the upgraded data directory, and cannot join.
    let node = &mut c.nodes[2];
    node.stop();
    let before = files_of(&node.home);
    node.set_env(FORMAT_ENV, "1");
    node.spawn();
    let deadline = Instant::now() + Duration::from_secs(20);
    while node.is_running() {
        assert!(
            Instant::now() < deadline,
            "a format-1 node started on a format-2 directory"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let log = node.log();
    assert!(
        log.contains("reads format 1") && log.contains("at format 2"),
        "{log}"
    );
    let after = files_of(&node.home);
    let changed: Vec<_> = after.iter().filter(|f| !before.contains(f)).collect();
    assert!(
        changed.is_empty() && before.len() == after.len(),
        "the refused start changed the data directory: {changed:?}"
    );
    let mut joiner = TestNode::prepare(&[
        ("ACCESS_NODE_SECURITY_JOIN_KEY", JOIN_KEY),
        ("ACCESS_NODE_SERVER_NODE_ID", "4"),
        (FORMAT_ENV, "1"),
    ]);
    joiner.set_env("ACCESS_NODE_RAFT_SEEDS", &c.nodes[0].url(""));
    joiner.spawn();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !joiner.log().contains("join refused") {
        assert!(Instant::now() < deadline, "no refusal:\n{}", joiner.log());
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(joiner.log().contains("reads format 1"), "{}", joiner.log());
    joiner.stop();
}

/// A backup says its format: one of a newer format than the cluster's waits (503 naming both)
/// until every voter reads it, and restoring never moves the cluster's own format.
#[test]
fn a_backup_of_a_newer_format_waits_for_the_cluster() {
    let source = TestNode::start();
    let backup = source
        .admin(source.get("/access/api/v1/system/backup"))
        .send()
        .unwrap()
        .bytes()
        .unwrap();
    let older = TestNode::start_with(&[
        (
            "ACCESS_NODE_SECURITY_BOOTSTRAP_ADMIN_PASSWORD",
            ADMIN_PASSWORD,
        ),
        (FORMAT_ENV, "1"),
    ]);
    let (status, body) = json_of(
        older
            .admin(older.post("/access/api/v1/system/restore"))
            .body(backup.to_vec())
            .send()
            .unwrap(),
    );
    assert_eq!(status, 503, "{body}");
    let why = body["error_description"].as_str().unwrap();
    assert!(
        why.contains("backup is of format 2") && why.contains("at format 1"),
        "{why}"
    );
    assert_eq!(health(&older)["format"]["cluster"], 1);
    // Into a cluster of its format it goes, and the cluster's format stays its own.
    let target = TestNode::start();
    let (status, body) = json_of(
        target
            .admin(target.post("/access/api/v1/system/restore"))
            .body(backup.to_vec())
            .send()
            .unwrap(),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(health(&target)["format"]["cluster"], 2);
}
