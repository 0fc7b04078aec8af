use super::*;

#[test]
fn three_nodes_replicate_tokens_revocations_users_and_keys() {
    let _turn = turn(1);
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
    let _turn = turn(1);
    let cluster = TestCluster::start(3, &[]);
    for round in 0..5 {
        let t = cluster.nodes[0].admin_token(&[
            ("username", "racer"),
            ("refreshable", "true"),
            ("expires_in", "21600"),
        ]);
        let access = t["access_token"].as_str().unwrap().to_string();
        let refresh = t["refresh_token"].as_str().unwrap().to_string();
        let urls: Vec<String> = [1usize, 2]
            .iter()
            .map(|&i| cluster.nodes[i].url("/access/api/v1/tokens"))
            .collect();
        let statuses = concurrent_refreshes(&urls, &access, &refresh);
        assert_eq!(
            statuses.iter().filter(|s| **s == 200).count(),
            1,
            "round {round}: {statuses:?}"
        );
        assert!(statuses.contains(&401), "round {round}: {statuses:?}");
    }
}

#[test]
fn concurrent_writes_on_every_node_are_batched_and_all_hold() {
    let _turn = turn(1);
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
fn a_permission_made_on_one_node_is_served_by_every_node() {
    let _turn = turn(1);
    let cluster = TestCluster::start(3, &[]);
    let admin = cluster.nodes[0].admin_bearer();
    let send = |rb: reqwest::blocking::RequestBuilder| -> (u16, Value) {
        json_of(rb.bearer_auth(&admin).send().unwrap())
    };
    let [a, b, c] = [&cluster.nodes[0], &cluster.nodes[1], &cluster.nodes[2]];
    let (status, body) = send(b.post("/access/api/v2/groups").json(&json!({"name": "CI"})));
    assert_eq!(status, 201, "{body}");
    // Written on the third node (a follower forwards), read on each.
    let doc = json!({"name": "ci-perm", "resources": {"artifact": {
        "actions": {"groups": {"CI": ["READ", "WRITE"]}},
        "targets": {"generic-local": {"include_patterns": ["**"], "exclude_patterns": ["secret/**"]}},
    }}});
    let (status, created) = send(c.post("/access/api/v2/permissions").json(&doc));
    assert_eq!(status, 201, "{created}");
    cluster.wait_converged();
    let token = a.admin_token(&[("username", "jenkins"), ("scope", "member-of-groups:CI")]);
    let token = token["access_token"].as_str().unwrap();
    let check = |n: &TestNode, path: &str, action: &str| -> Value {
        let (status, body) = json_of(
            n.get("/access/api/v1/permissions/check")
                .query(&[("path", path), ("action", action)])
                .bearer_auth(token)
                .send()
                .unwrap(),
        );
        assert_eq!(status, 200, "{} check {path}: {body}", n.url(""));
        body
    };
    for n in &cluster.nodes {
        let (status, got) = send(n.get("/access/api/v2/permissions/ci-perm"));
        assert_eq!(status, 200, "{}: {got}", n.url(""));
        assert_eq!(got, created, "{}", n.url(""));
        let (status, art) = send(n.get("/artifactory/api/v2/security/permissions/ci-perm"));
        assert_eq!(status, 200, "{}: {art}", n.url(""));
        let body = check(n, "generic-local/a/b.jar", "w");
        assert_eq!(body["allowed"], true, "{}: {body}", n.url(""));
        assert_eq!(
            body["granted_by"], "permission 'ci-perm' via group 'CI'",
            "{body}"
        );
        assert_eq!(check(n, "generic-local/secret/x", "r")["allowed"], false);
    }
    // One name created at once on two nodes, with different documents: one 201, one 409.
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let handles: Vec<_> = [(0usize, "READ"), (2, "WRITE")]
            .into_iter()
            .map(|(i, action)| {
                let node = &cluster.nodes[i];
                let admin = &admin;
                s.spawn(move || {
                    let doc = json!({"name": "race", "resources": {"artifact": {
                        "actions": {"groups": {"CI": [action]}},
                        "targets": {"race-local": {}},
                    }}});
                    node.post("/access/api/v2/permissions")
                        .bearer_auth(admin)
                        .json(&doc)
                        .send()
                        .unwrap()
                        .status()
                        .as_u16()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut sorted = statuses.clone();
    sorted.sort();
    assert_eq!(sorted, [201, 409], "{statuses:?}");
    cluster.wait_converged();
    let race: Vec<Value> = cluster
        .nodes
        .iter()
        .map(|n| send(n.get("/access/api/v2/permissions/race")).1)
        .collect();
    assert!(race.iter().all(|r| r == &race[0]), "{race:?}");

    // Deleted on a follower: gone, and no longer granting, everywhere.
    let (status, body) = send(b.delete("/access/api/v2/permissions/ci-perm"));
    assert_eq!(status, 204, "{body}");
    cluster.wait_converged();
    for n in &cluster.nodes {
        let (status, body) = send(n.get("/access/api/v2/permissions/ci-perm"));
        assert_eq!(status, 404, "{}: {body}", n.url(""));
        assert_eq!(check(n, "generic-local/a/b.jar", "w")["allowed"], false);
    }
}
