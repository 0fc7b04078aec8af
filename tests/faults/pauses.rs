//! Paused processes (SIGSTOP / SIGCONT): a frozen leader holds writes at followers only until
//! a new leader is elected; a follower back from a pause does not depose a healthy leader; a
//! node that cannot confirm a token's state answers 503, never 401, for a valid token; a
//! follower whose log is behind never campaigns.

use super::*;

fn signal(node: &TestNode, sig: &str) {
    let pid = node.pid().expect("node is running").to_string();
    let status = std::process::Command::new("kill")
        .args([sig, &pid])
        .status()
        .unwrap();
    assert!(status.success(), "kill {sig} {pid}");
}

/// (state, leader, term) as `node` reports them.
fn raft_view(node: &TestNode) -> (String, Option<u64>, u64) {
    let h = healthz(node).expect("healthz answers");
    (
        h["state"].as_str().unwrap_or_default().to_string(),
        h["leader"].as_u64(),
        h["term"].as_u64().unwrap_or(0),
    )
}

fn create(node: &TestNode, bearer: &str, username: &str) -> (u16, Value) {
    json_of(
        node.post("/access/api/v1/tokens")
            .bearer_auth(bearer)
            .timeout(Duration::from_secs(30))
            .form(&[("username", username), ("expires_in", "0")])
            .send()
            .unwrap(),
    )
}

#[test]
fn a_frozen_leader_holds_follower_writes_only_until_a_new_leader_is_elected() {
    let _turn = turn(1);
    let cluster = TestCluster::start(3, &[]);
    let admin = cluster.nodes[0].admin_bearer();
    let old = cluster.leader();
    let followers: Vec<usize> = (0..3).filter(|i| *i != old).collect();
    signal(&cluster.nodes[old], "-STOP");
    // Writes sent to the followers right away, while the old leader stays frozen: each one
    // is first forwarded to the frozen leader, then to the new one once it is elected.
    let mut created = Vec::new();
    for (n, &f) in followers.iter().enumerate() {
        let (status, body) = create(&cluster.nodes[f], &admin, &format!("after-freeze-{n}"));
        assert_eq!(
            status,
            200,
            "write through node {} with the leader frozen: {body}",
            f + 1
        );
        created.push(body["access_token"].as_str().unwrap().to_string());
    }
    let (state, _, _) = raft_view(&cluster.nodes[followers[0]]);
    let (state2, _, _) = raft_view(&cluster.nodes[followers[1]]);
    assert!(
        state == "Leader" || state2 == "Leader",
        "no new leader among the followers"
    );
    signal(&cluster.nodes[old], "-CONT");
    cluster.wait_converged();
    // The old leader stepped down and holds what was written without it.
    let (state, leader, _) = raft_view(&cluster.nodes[old]);
    assert_eq!(state, "Follower");
    assert_ne!(leader, Some(old as u64 + 1));
    for token in &created {
        assert_eq!(ping(&cluster.nodes[old], token, false), 200);
    }
}

#[test]
fn a_follower_back_from_a_pause_does_not_depose_the_leader() {
    let _turn = turn(1);
    let cluster = TestCluster::start(3, &[]);
    let admin = cluster.nodes[0].admin_bearer();
    let leader = cluster.leader();
    let (_, _, term) = raft_view(&cluster.nodes[leader]);
    let paused = (leader + 1) % 3;
    for round in 0..3 {
        signal(&cluster.nodes[paused], "-STOP");
        // Longer than any election timeout: the paused node's timer runs out while frozen.
        std::thread::sleep(Duration::from_secs(3));
        let (status, body) = create(&cluster.nodes[leader], &admin, &format!("pause-{round}"));
        assert_eq!(status, 200, "{body}");
        signal(&cluster.nodes[paused], "-CONT");
        std::thread::sleep(Duration::from_secs(2));
        cluster.wait_converged();
        for (i, node) in cluster.nodes.iter().enumerate() {
            let (_, seen_leader, seen_term) = raft_view(node);
            assert_eq!(
                (seen_leader, seen_term),
                (Some(leader as u64 + 1), term),
                "round {round}: node {} sees another leader or term",
                i + 1
            );
        }
    }
}

#[test]
fn a_node_that_cannot_confirm_a_token_answers_503_not_401() {
    let _turn = turn(1);
    let cluster = TestCluster::start(3, &[]);
    let leader = cluster.leader();
    let lagging = (leader + 1) % 3;
    let other = (leader + 2) % 3;
    // The lagging node misses a token's issue, then is the only one running.
    signal(&cluster.nodes[lagging], "-STOP");
    let token = cluster.nodes[leader].admin_token(&[
        ("username", "ci"),
        ("expires_in", "0"),
        ("refreshable", "true"),
    ]);
    let access = token["access_token"].as_str().unwrap().to_string();
    let refresh = token["refresh_token"].as_str().unwrap().to_string();
    assert_eq!(ping(&cluster.nodes[leader], &access, false), 200);
    signal(&cluster.nodes[leader], "-STOP");
    signal(&cluster.nodes[other], "-STOP");
    signal(&cluster.nodes[lagging], "-CONT");

    let node = &cluster.nodes[lagging];
    let r = node
        .get("/api/system/ping")
        .bearer_auth(&access)
        .timeout(Duration::from_secs(30))
        .send()
        .unwrap();
    assert_eq!(r.status(), 503, "a valid token was judged without the log");
    assert!(r.headers().contains_key("retry-after"));
    let r = node
        .post("/access/api/v1/tokens")
        .timeout(Duration::from_secs(30))
        .form(&[
            ("grant_type", "refresh_token"),
            ("access_token", access.as_str()),
            ("refresh_token", refresh.as_str()),
        ])
        .send()
        .unwrap();
    assert_eq!(
        r.status(),
        503,
        "a valid refresh pair was judged without the log"
    );
    assert!(r.headers().contains_key("retry-after"));

    signal(&cluster.nodes[leader], "-CONT");
    signal(&cluster.nodes[other], "-CONT");
    cluster.wait_converged();
    assert_eq!(ping(node, &access, false), 200);
    let (status, body) = json_of(
        node.post("/access/api/v1/tokens")
            .form(&[
                ("grant_type", "refresh_token"),
                ("access_token", access.as_str()),
                ("refresh_token", refresh.as_str()),
            ])
            .send()
            .unwrap(),
    );
    assert_eq!(status, 200, "refresh once the node caught up: {body}");
}

#[test]
fn a_follower_whose_log_is_behind_cannot_win_an_election_or_raise_the_term() {
    let _turn = turn(1);
    let cluster = TestCluster::start(3, &[]);
    let admin = cluster.nodes[0].admin_bearer();
    let leader = cluster.leader();
    let (_, _, term) = raft_view(&cluster.nodes[leader]);
    let behind = (leader + 1) % 3;
    let ahead = (leader + 2) % 3;
    // `behind` misses some writes, then the leader freezes and `behind` comes back: the two
    // followers are left, one with a longer log.
    signal(&cluster.nodes[behind], "-STOP");
    for n in 0..20 {
        let (status, body) = create(&cluster.nodes[leader], &admin, &format!("ahead-{n}"));
        assert_eq!(status, 200, "{body}");
    }
    signal(&cluster.nodes[leader], "-STOP");
    signal(&cluster.nodes[behind], "-CONT");
    // A write through the lagging node: it waits for an election only the other can win.
    let (status, body) = create(&cluster.nodes[behind], &admin, "after-the-freeze");
    assert_eq!(status, 200, "{body}");
    let (state, _, new_term) = raft_view(&cluster.nodes[ahead]);
    assert_eq!(state, "Leader", "the follower with the longer log leads");
    // One election, won at once: the lagging node never campaigned.
    assert_eq!(
        new_term,
        term + 1,
        "the term rose by more than one election"
    );
    signal(&cluster.nodes[leader], "-CONT");
    cluster.wait_converged();
}
