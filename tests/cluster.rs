//! Multi-node clusters of real processes: replication, forwarding, joins, membership and the
//! authenticated cluster RPC.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};

fn ping_status(node: &TestNode, token: &str, strict: bool) -> u16 {
    let mut rb = node.get("/api/system/ping").bearer_auth(token);
    if strict {
        rb = rb.header("X-Access-Consistency", "strict");
    }
    rb.send().unwrap().status().as_u16()
}

fn key_files(node: &TestNode) -> (Vec<u8>, Vec<u8>) {
    (
        std::fs::read(node.home.join("etc/keys/private.key")).unwrap(),
        std::fs::read(node.home.join("etc/keys/root.crt")).unwrap(),
    )
}

#[test]
fn three_nodes_replicate_tokens_revocations_users_and_keys() {
    let cluster = TestCluster::start(3, &[]);
    let [a, b, c] = [&cluster.nodes[0], &cluster.nodes[1], &cluster.nodes[2]];

    // One identity and one keypair, written on every node from the log.
    let ids: Vec<String> = cluster
        .nodes
        .iter()
        .map(|n| {
            n.get("/access/api/v1/system/service_id")
                .send()
                .unwrap()
                .text()
                .unwrap()
        })
        .collect();
    assert!(
        ids.iter()
            .all(|id| id == &ids[0] && id.starts_with("jfac@")),
        "{ids:?}"
    );
    let files = key_files(a);
    for n in [b, c] {
        assert_eq!(key_files(n), files, "key files differ on {}", n.url(""));
        assert_eq!(mode_of(&n.home.join("etc/keys/private.key")), 0o600);
    }

    // Status: three voters, one leader everyone agrees on.
    let status = b.status();
    let members = status["members"].as_array().unwrap();
    assert_eq!(members.len(), 3, "{status}");
    assert!(members.iter().all(|m| m["voter"] == true));
    let leader = status["leader"]["id"].as_u64().unwrap();
    for n in [a, c] {
        assert_eq!(n.status()["leader"]["id"].as_u64(), Some(leader));
    }
    assert!(status["applied_index"].as_u64().unwrap() > 0);
    assert!(status["term"].as_u64().unwrap() >= 1);

    // Writes on any node (followers forward to the leader); reads everywhere.
    let mut tokens = Vec::new();
    for (i, n) in cluster.nodes.iter().enumerate() {
        let t = n.admin_token(&[("username", &format!("ci{i}")), ("expires_in", "0")]);
        tokens.push(t);
    }
    for t in &tokens {
        let token = t["access_token"].as_str().unwrap();
        for n in &cluster.nodes {
            // A freshly issued token validates on every node at once (catch-up on miss).
            assert_eq!(ping_status(n, token, false), 200);
        }
    }

    // A revocation on one node holds on all of them: strictly at once, and locally once applied.
    let victim = tokens[0]["access_token"].as_str().unwrap();
    let r = c
        .admin(c.delete("/access/api/v1/tokens/revoke"))
        .form(&[("token", victim)])
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    for n in &cluster.nodes {
        assert_eq!(
            ping_status(n, victim, true),
            401,
            "strict check on {}",
            n.url("")
        );
    }
    cluster.wait_converged();
    for n in &cluster.nodes {
        assert_eq!(ping_status(n, victim, false), 401);
        assert_eq!(
            ping_status(n, tokens[1]["access_token"].as_str().unwrap(), false),
            200
        );
    }

    // Users created on one node log in on the others.
    let (status, _) = json_of(
        b.admin(b.post("/access/api/v2/users"))
            .json(&json!({"username": "dana", "password": "dana-pass-1"}))
            .send()
            .unwrap(),
    );
    assert_eq!(status, 201);
    cluster.wait_converged();
    for n in &cluster.nodes {
        let r = n
            .get("/api/system/ping")
            .basic_auth("dana", Some("dana-pass-1"))
            .send()
            .unwrap();
        assert_eq!(r.status(), 200);
    }
}

#[test]
fn the_same_refresh_token_on_two_nodes_succeeds_once() {
    let cluster = TestCluster::start(3, &[]);
    for round in 0..5 {
        let t = cluster.nodes[0].admin_token(&[
            ("username", "racer"),
            ("refreshable", "true"),
            ("expires_in", "21600"),
        ]);
        let access = t["access_token"].as_str().unwrap().to_string();
        let refresh = t["refresh_token"].as_str().unwrap().to_string();
        let handles: Vec<_> = [1usize, 2]
            .iter()
            .map(|&i| {
                let url = cluster.nodes[i].url("/access/api/v1/tokens");
                let (a, r) = (access.clone(), refresh.clone());
                std::thread::spawn(move || {
                    client()
                        .post(url)
                        .form(&[
                            ("grant_type", "refresh_token"),
                            ("access_token", a.as_str()),
                            ("refresh_token", r.as_str()),
                        ])
                        .send()
                        .unwrap()
                        .status()
                        .as_u16()
                })
            })
            .collect();
        let statuses: Vec<u16> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        assert_eq!(
            statuses.iter().filter(|s| **s == 200).count(),
            1,
            "round {round}: {statuses:?}"
        );
        assert!(statuses.contains(&401), "round {round}: {statuses:?}");
    }
}

#[test]
fn a_new_node_catches_up_through_a_snapshot() {
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
fn cluster_rpc_needs_the_join_key_and_survives_garbage() {
    let cluster = TestCluster::start(2, &[]);
    let node = &cluster.nodes[1];
    let term_before = node.status()["term"].as_u64().unwrap();
    let rpc = |path: &str, key: Option<&str>, body: &str| {
        let mut rb = node
            .post(path)
            .header("content-type", "application/json")
            .body(body.to_string());
        if let Some(k) = key {
            rb = rb.header("x-access-join-key", k);
        }
        json_of(rb.send().unwrap())
    };
    let vote = json!({"vote": {"leader_id": {"term": 999, "node_id": 7}, "committed": false}, "last_log_id": null});
    for path in [
        "/_cluster/raft/vote",
        "/_cluster/raft/append",
        "/_cluster/write",
        "/_cluster/join",
        "/_cluster/read_index",
    ] {
        let (status, body) = rpc(path, None, &vote.to_string());
        assert_eq!(
            (status, error_code(&body)),
            (401, "UNAUTHORIZED"),
            "{path} without key"
        );
        let (status, _) = rpc(path, Some("wrong-key"), &vote.to_string());
        assert_eq!(status, 401, "{path} with a wrong key");
        let (status, body) = rpc(path, Some(JOIN_KEY), "{not json");
        assert_eq!(
            (status, error_code(&body)),
            (400, "BAD_REQUEST"),
            "{path} with garbage"
        );
    }
    // Nothing was applied and no election was forced by the unauthenticated vote.
    assert_eq!(node.status()["term"].as_u64().unwrap(), term_before);
    // A stale-term vote with the right key is refused cleanly.
    let stale = json!({"vote": {"leader_id": {"term": 0, "node_id": 7}, "committed": false}, "last_log_id": null});
    let (status, body) = rpc("/_cluster/raft/vote", Some(JOIN_KEY), &stale.to_string());
    assert_eq!(status, 200);
    assert_eq!(body["Ok"]["vote_granted"], false, "{body}");
    // A bad join request is a clean 400.
    let (status, _) = rpc(
        "/_cluster/join",
        Some(JOIN_KEY),
        r#"{"node_id":0,"url":"nope"}"#,
    );
    assert_eq!(status, 400);
    assert_eq!(node.status()["term"].as_u64().unwrap(), term_before);
    assert_eq!(node.get("/healthz").send().unwrap().status(), 200);
}

#[test]
fn members_can_be_removed_and_status_needs_an_admin() {
    let cluster = TestCluster::start(3, &[]);
    let a = &cluster.nodes[0];
    let (status, _) = json_of(a.get("/access/api/v1/cluster/status").send().unwrap());
    assert_eq!(status, 401);
    let (status, _) = json_of(
        a.admin(a.delete("/access/api/v1/cluster/members/abc"))
            .send()
            .unwrap(),
    );
    assert_eq!(status, 400);
    let (status, _) = json_of(
        a.admin(a.delete("/access/api/v1/cluster/members/42"))
            .send()
            .unwrap(),
    );
    assert_eq!(status, 404);
    // Remove node 3 through node 2 (forwarded to the leader when node 2 is not it).
    let b = &cluster.nodes[1];
    let (status, body) = json_of(
        b.admin(b.delete("/access/api/v1/cluster/members/3"))
            .send()
            .unwrap(),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["voters"], json!([1, 2]));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let members: Vec<u64> = a.status()["members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_u64().unwrap())
            .collect();
        if members == vec![1, 2] {
            break;
        }
        assert!(Instant::now() < deadline, "{members:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
    // The two remaining nodes still take writes.
    let t: Value = a.admin_token(&[("expires_in", "0")]);
    assert_eq!(
        ping_status(b, t["access_token"].as_str().unwrap(), true),
        200
    );
}

#[test]
fn cluster_join_cli_adds_a_node_and_it_survives_restart() {
    let cluster = TestCluster::start(1, &[]);
    let first = &cluster.nodes[0];
    let before = first.admin_token(&[("username", "early"), ("expires_in", "0")]);
    let mut joiner = TestNode::prepare(&[
        ("ACCESS_NODE_SECURITY_JOIN_KEY", JOIN_KEY),
        ("ACCESS_NODE_SERVER_NODE_ID", "7"),
    ]);
    // access-node cluster join <url>
    joiner.command = vec!["cluster".into(), "join".into(), first.url("")];
    joiner.spawn();
    joiner.wait_ready();
    assert_eq!(
        ping_status(&joiner, before["access_token"].as_str().unwrap(), false),
        200
    );
    assert_eq!(key_files(&joiner), key_files(first));
    let ids: Vec<u64> = first.status()["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, vec![1, 7]);
    // A restart of a member does not join again; it recovers and serves writes.
    joiner.restart();
    let t = joiner.admin_token(&[("username", "late"), ("expires_in", "0")]);
    assert_eq!(
        ping_status(first, t["access_token"].as_str().unwrap(), false),
        200
    );
    let ids_after: Vec<u64> = joiner.status()["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids_after, vec![1, 7]);
    // A joiner with the wrong join key is refused and never becomes ready.
    let mut intruder = TestNode::prepare(&[
        ("ACCESS_NODE_SECURITY_JOIN_KEY", "not-the-key"),
        ("ACCESS_NODE_SERVER_NODE_ID", "9"),
    ]);
    intruder.command = vec!["cluster".into(), "join".into(), first.url("")];
    intruder.spawn();
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(intruder.get("/healthz").send().unwrap().status(), 503);
    assert_eq!(first.status()["members"].as_array().unwrap().len(), 2);
}

#[test]
fn concurrent_writes_on_every_node_are_batched_and_all_hold() {
    const THREADS_PER_NODE: usize = 4;
    const TOKENS_PER_THREAD: usize = 25;
    let cluster = TestCluster::start(3, &[]);
    let admin = cluster.nodes[0].admin_bearer();
    let log_before = cluster.nodes[0].status()["last_log_index"]
        .as_u64()
        .unwrap();

    // 12 clients, 4 on each node, each creating 25 revocable tokens as fast as it can.
    let issued: Vec<(String, String)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..3 * THREADS_PER_NODE)
            .map(|i| {
                let node = &cluster.nodes[i % 3];
                let admin = &admin;
                s.spawn(move || {
                    (0..TOKENS_PER_THREAD)
                        .map(|j| {
                            let body = node.create_revocable(admin, &format!("c{i}-{j}"));
                            (
                                body["token_id"].as_str().unwrap().to_string(),
                                body["access_token"].as_str().unwrap().to_string(),
                            )
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    let total = 3 * THREADS_PER_NODE * TOKENS_PER_THREAD;
    let mut ids: Vec<&String> = issued.iter().map(|(id, _)| id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), total);
    let entries = cluster.nodes[0].status()["last_log_index"]
        .as_u64()
        .unwrap()
        - log_before;
    assert!(
        entries < total as u64,
        "{total} concurrent issues took {entries} log entries: nothing was batched"
    );

    // Revoke every other token, concurrently, each through a different node than made it.
    std::thread::scope(|s| {
        for (t, chunk) in issued.chunks(TOKENS_PER_THREAD).enumerate() {
            let node = &cluster.nodes[(t + 1) % 3];
            let admin = &admin;
            s.spawn(move || {
                for (id, _) in chunk.iter().step_by(2) {
                    let status = node
                        .delete(&format!("/access/api/v1/tokens/{id}"))
                        .bearer_auth(admin)
                        .send()
                        .unwrap()
                        .status();
                    assert_eq!(status, 200, "revoking {id}");
                }
            });
        }
    });
    cluster.wait_converged();
    for node in &cluster.nodes {
        for (k, (id, token)) in issued.iter().enumerate() {
            let want = if (k % TOKENS_PER_THREAD).is_multiple_of(2) {
                401
            } else {
                200
            };
            assert_eq!(
                ping_status(node, token, false),
                want,
                "token {id} on {}",
                node.url("")
            );
        }
    }
}

#[test]
fn snapshots_built_under_write_traffic_hold_exactly_the_applied_state() {
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
