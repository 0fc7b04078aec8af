use super::*;

#[test]
fn a_new_node_catches_up_through_a_snapshot() {
    let _turn = turn(1);
    let snapshot_env = [("ACCESS_NODE_RAFT_SNAPSHOT_AFTER_ENTRIES", "20")];
    let mut cluster = TestCluster::start(1, &snapshot_env);
    let first = &cluster.nodes[0];
    let mut tokens = Vec::new();
    for i in 0..70 {
        tokens.push(first.admin_token(&[("username", &format!("u{i}")), ("expires_in", "0")]));
    }
    let revoked = tokens[5]["token_id"].as_str().unwrap().to_string();
    assert_eq!(
        first
            .admin(first.delete(&format!("/access/api/v1/tokens/{revoked}")))
            .send()
            .unwrap()
            .status(),
        200
    );
    // The log was compacted: its start is behind a snapshot.
    let deadline = Instant::now() + Duration::from_secs(20);
    while first.status()["purged_index"].as_u64().unwrap_or(0) == 0 {
        assert!(
            Instant::now() < deadline,
            "log never compacted: {}",
            first.status()
        );
        first.admin_token(&[("expires_in", "0")]);
    }

    let mut joiner = TestNode::prepare(&[
        (
            "ACCESS_NODE_SECURITY_BOOTSTRAP_ADMIN_PASSWORD",
            ADMIN_PASSWORD,
        ),
        ("ACCESS_NODE_SECURITY_JOIN_KEY", JOIN_KEY),
        ("ACCESS_NODE_SERVER_NODE_ID", "2"),
        ("ACCESS_NODE_RAFT_SNAPSHOT_AFTER_ENTRIES", "20"),
    ]);
    joiner.set_env("ACCESS_NODE_RAFT_SEEDS", &first.url(""));
    joiner.spawn();
    joiner.wait_ready();
    cluster.nodes.push(joiner);
    cluster.wait_converged();
    let joiner = &cluster.nodes[1];
    assert!(
        joiner.log().contains("snapshot installed"),
        "joiner did not install a snapshot"
    );
    // Snapshots are files beside the database, private, and only the current one is kept.
    for node in [&cluster.nodes[0], joiner] {
        let snaps: Vec<_> = std::fs::read_dir(node.home.join("db/snapshots"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "snap"))
            .collect();
        assert_eq!(snaps.len(), 1, "{snaps:?}");
        assert_eq!(mode_of(&snaps[0]), 0o600);
    }
    assert_eq!(key_files(joiner), key_files(&cluster.nodes[0]));
    assert_eq!(
        joiner
            .get("/access/api/v1/system/service_id")
            .send()
            .unwrap()
            .text()
            .unwrap(),
        cluster.nodes[0]
            .get("/access/api/v1/system/service_id")
            .send()
            .unwrap()
            .text()
            .unwrap()
    );
    for (i, t) in tokens.iter().enumerate() {
        let want = if i == 5 { 401 } else { 200 };
        assert_eq!(
            ping_status(joiner, t["access_token"].as_str().unwrap(), false),
            want,
            "token {i}"
        );
    }
    let status = joiner.status();
    assert_eq!(status["members"].as_array().unwrap().len(), 2, "{status}");
    assert!(
        status["members"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["voter"] == true),
        "{status}"
    );

    // kill -9 of the joiner: it comes back from its installed snapshot plus its log, with
    // a stray half-received snapshot file cleaned away.
    let snapshot_index = cluster.nodes[1].status()["snapshot_index"].as_u64();
    assert!(snapshot_index.is_some());
    let stray = cluster.nodes[1].home.join("db/snapshots/incoming-1.snap");
    cluster.nodes[1].kill9();
    std::fs::write(&stray, b"half a snapshot").unwrap();
    cluster.nodes[1].restart();
    let joiner = &cluster.nodes[1];
    assert!(!stray.exists());
    assert!(joiner.status()["snapshot_index"].as_u64() >= snapshot_index);
    for (i, t) in tokens.iter().enumerate() {
        let want = if i == 5 { 401 } else { 200 };
        assert_eq!(
            ping_status(joiner, t["access_token"].as_str().unwrap(), false),
            want,
            "token {i} after restart"
        );
    }
}

#[test]
fn snapshots_built_under_write_traffic_hold_exactly_the_applied_state() {
    let _turn = turn(1);
    let snapshot_env = [("ACCESS_NODE_RAFT_SNAPSHOT_AFTER_ENTRIES", "20")];
    let mut cluster = TestCluster::start(1, &snapshot_env);
    let first = &cluster.nodes[0];
    let admin = first.admin_bearer();
    let stop = std::sync::atomic::AtomicBool::new(false);
    // 4 writers issue revocable tokens and revoke every third one while snapshots are built
    // (every 20 entries) and a second node joins through one of them.
    let (issued, joiner) = std::thread::scope(|s| {
        let writers: Vec<_> = (0..4)
            .map(|w| {
                let (node, admin, stop) = (&cluster.nodes[0], &admin, &stop);
                s.spawn(move || {
                    let mut mine = Vec::new();
                    let mut i = 0;
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) && i < 400 {
                        let body = node.create_revocable(admin, &format!("w{w}-{i}"));
                        let id = body["token_id"].as_str().unwrap().to_string();
                        let revoke = i % 3 == 0;
                        if revoke {
                            let status = node
                                .delete(&format!("/access/api/v1/tokens/{id}"))
                                .bearer_auth(admin)
                                .send()
                                .unwrap()
                                .status();
                            assert_eq!(status, 200);
                        }
                        mine.push((body["access_token"].as_str().unwrap().to_string(), revoke));
                        i += 1;
                    }
                    mine
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(1500));
        let mut joiner = TestNode::prepare(&[
            (
                "ACCESS_NODE_SECURITY_BOOTSTRAP_ADMIN_PASSWORD",
                ADMIN_PASSWORD,
            ),
            ("ACCESS_NODE_SECURITY_JOIN_KEY", JOIN_KEY),
            ("ACCESS_NODE_SERVER_NODE_ID", "2"),
            ("ACCESS_NODE_RAFT_SNAPSHOT_AFTER_ENTRIES", "20"),
        ]);
        joiner.set_env("ACCESS_NODE_RAFT_SEEDS", &cluster.nodes[0].url(""));
        joiner.spawn();
        joiner.wait_ready();
        std::thread::sleep(Duration::from_millis(1000));
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let issued: Vec<(String, bool)> = writers
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect();
        (issued, joiner)
    });
    cluster.nodes.push(joiner);
    cluster.wait_converged();
    let built = cluster.nodes[0].log();
    assert!(
        built
            .lines()
            .any(|l| l.contains("snapshot built") && !l.trim_end().ends_with("overrides=0")),
        "no snapshot was built while writes were applied: {}",
        built
            .lines()
            .filter(|l| l.contains("snapshot"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(
        cluster.nodes[1].log().contains("snapshot installed"),
        "the joiner did not catch up through a snapshot"
    );
    assert!(issued.len() > 100, "only {} tokens issued", issued.len());
    for node in &cluster.nodes {
        for (token, revoked) in &issued {
            let want = if *revoked { 401 } else { 200 };
            assert_eq!(ping_status(node, token, false), want, "on {}", node.url(""));
        }
    }
    // Both nodes hold the same state: restart the joiner from its own snapshot and log.
    cluster.nodes[1].restart();
    for (token, revoked) in &issued {
        let want = if *revoked { 401 } else { 200 };
        assert_eq!(ping_status(&cluster.nodes[1], token, false), want);
    }
}

/// A node that joins through a snapshot holds the permission targets, and the index of who
/// they name: a group deleted afterwards leaves the target on the joiner as on the others.
#[test]
fn permission_targets_cross_a_snapshot_with_their_holders() {
    let _turn = turn(1);
    let snapshot_env = [("ACCESS_NODE_RAFT_SNAPSHOT_AFTER_ENTRIES", "20")];
    let mut cluster = TestCluster::start(1, &snapshot_env);
    let first = &cluster.nodes[0];
    let admin = first.admin_bearer();
    let send = |rb: reqwest::blocking::RequestBuilder| -> (u16, Value) {
        json_of(rb.bearer_auth(&admin).send().unwrap())
    };
    for g in ["CI", "ops"] {
        let (status, body) = send(
            first
                .post("/access/api/v2/groups")
                .json(&json!({ "name": g })),
        );
        assert_eq!(status, 201, "{body}");
    }
    let doc = json!({"name": "ci-perm", "resources": {"artifact": {
        "actions": {"groups": {"CI": ["READ"], "ops": ["READ", "WRITE"]}},
        "targets": {"generic-local": {"include_patterns": ["**"], "exclude_patterns": []}},
    }}});
    let (status, created) = send(first.post("/access/api/v2/permissions").json(&doc));
    assert_eq!(status, 201, "{created}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while first.status()["purged_index"].as_u64().unwrap_or(0) == 0 {
        assert!(Instant::now() < deadline, "log never compacted");
        first.admin_token(&[("expires_in", "0")]);
    }

    let mut joiner = TestNode::prepare(&[
        (
            "ACCESS_NODE_SECURITY_BOOTSTRAP_ADMIN_PASSWORD",
            ADMIN_PASSWORD,
        ),
        ("ACCESS_NODE_SECURITY_JOIN_KEY", JOIN_KEY),
        ("ACCESS_NODE_SERVER_NODE_ID", "2"),
        ("ACCESS_NODE_RAFT_SNAPSHOT_AFTER_ENTRIES", "20"),
    ]);
    joiner.set_env("ACCESS_NODE_RAFT_SEEDS", &cluster.nodes[0].url(""));
    joiner.spawn();
    joiner.wait_ready();
    cluster.nodes.push(joiner);
    cluster.wait_converged();
    let joiner = &cluster.nodes[1];
    assert!(
        joiner.log().contains("snapshot installed"),
        "joiner did not install a snapshot"
    );
    let path = "/access/api/v2/permissions/ci-perm";
    let (status, got) = send(joiner.get(path));
    assert_eq!(status, 200, "{got}");
    assert_eq!(got, created);

    // Delete a group through the joiner: both nodes drop it from the target.
    let (status, body) = send(joiner.delete("/access/api/v2/groups/CI"));
    assert_eq!(status, 204, "{body}");
    cluster.wait_converged();
    for n in &cluster.nodes {
        let (status, got) = send(n.get(path));
        assert_eq!(status, 200, "{got}");
        let groups = &got["resources"]["artifact"]["actions"]["groups"];
        assert!(groups.get("CI").is_none(), "{}: {got}", n.url(""));
        assert_eq!(
            groups["ops"],
            json!(["READ", "WRITE"]),
            "{}: {got}",
            n.url("")
        );
    }
}
