use super::*;

#[test]
fn cluster_rpc_needs_the_join_key_and_survives_garbage() {
    let _turn = turn(1);
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
        "/_cluster/raft/pre_vote",
        "/_cluster/write",
        "/_cluster/join",
        "/_cluster/read_index",
        "/_cluster/federation_links",
        // A stranger must not make a follower campaign (hand-over) or read its format.
        "/_cluster/take_over",
        "/_cluster/time",
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
    // A pre-vote asked of a follower that hears its leader is refused, even for a candidate
    // whose log claims to be far ahead, and moves nothing.
    let pre = json!({"candidate": 7, "term": 999,
        "last_log": {"leader_id": {"term": 999, "node_id": 7}, "index": 1_000_000}});
    let (status, body) = rpc("/_cluster/raft/pre_vote", Some(JOIN_KEY), &pre.to_string());
    assert_eq!(status, 200);
    assert_eq!(body["granted"], false, "{body}");
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
    let _turn = turn(1);
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
    let _turn = turn(1);
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
