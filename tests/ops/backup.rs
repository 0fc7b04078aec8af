//! Backup → restore: a source node with users, a group, a trusted certificate, many revocable
//! tokens and revocations is backed up with the CLI and restored into a fresh 2-node cluster;
//! every sampled token validates (or stays revoked) on every node exactly as on the source.

use std::os::unix::fs::PermissionsExt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;

use super::*;

/// Tokens to fill the source with (`OPS_TOKENS` overrides), within [`FILL_BUDGET`].
const TOKENS: usize = 100_000;
const FILL_BUDGET: Duration = Duration::from_secs(60);
const FILL_THREADS: usize = 16;
const SAMPLE: usize = 1_000;

/// Bearer-ping status of each token on `node`.
fn statuses(node: &TestNode, tokens: &[String]) -> Vec<u16> {
    let chunks: Vec<Vec<String>> = tokens.chunks(100).map(|c| c.to_vec()).collect();
    let url = node.url("/api/system/ping");
    let results: Vec<Vec<u16>> = std::thread::scope(|s| {
        let handles: Vec<_> = chunks
            .chunks(chunks.len().div_ceil(8).max(1))
            .map(|group| {
                let url = url.clone();
                s.spawn(move || {
                    let http = client();
                    group
                        .iter()
                        .map(|chunk| {
                            chunk
                                .iter()
                                .map(|t| {
                                    http.get(&url)
                                        .bearer_auth(t)
                                        .send()
                                        .unwrap()
                                        .status()
                                        .as_u16()
                                })
                                .collect::<Vec<u16>>()
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
    results.into_iter().flatten().collect()
}

/// Fill `node` with revocable tokens for ci-0..ci-9 from many threads; returns the tokens
/// (id, access token) and the rate.
fn fill(node: &TestNode, bearer: &str, wanted: usize) -> (Vec<(String, String)>, f64) {
    let made = Arc::new(Mutex::new(Vec::with_capacity(wanted)));
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..FILL_THREADS {
            let made = Arc::clone(&made);
            let next = Arc::clone(&next);
            let url = node.url("/access/api/v1/tokens");
            let log_path = node.log_path();
            s.spawn(move || {
                let http = client();
                let mut mine = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= wanted || started.elapsed() > FILL_BUDGET {
                        break;
                    }
                    let user = format!("ci-{}", i % 10);
                    let form = [("username", user.as_str()), ("expires_in", "0")];
                    let send = || http.post(&url).bearer_auth(bearer).form(&form).send();
                    // A pooled keep-alive connection the server has just closed fails the
                    // request that reuses it; a node that died fails the retry too.
                    let answer = send().or_else(|first| {
                        eprintln!("ops: fill request failed ({first}); retrying once");
                        send()
                    });
                    let answer = answer.unwrap_or_else(|e| {
                        let log = std::fs::read(&log_path).unwrap_or_default();
                        let tail = String::from_utf8_lossy(&log[log.len().saturating_sub(4000)..]);
                        panic!("fill request failed twice: {e}; node log tail:\n{tail}")
                    });
                    let (status, body) = json_of(answer);
                    assert_eq!(status, 200, "{body}");
                    mine.push((
                        body["token_id"].as_str().unwrap().to_string(),
                        body["access_token"].as_str().unwrap().to_string(),
                    ));
                }
                made.lock().unwrap().extend(mine);
            });
        }
    });
    let made = std::mem::take(&mut *made.lock().unwrap());
    let rate = made.len() as f64 / started.elapsed().as_secs_f64();
    (made, rate)
}

#[test]
fn backup_then_restore_into_a_new_cluster() {
    let _turn = turn(TURNS);
    let wanted: usize = std::env::var("OPS_TOKENS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(TOKENS);
    let source = TestNode::start();
    let other = TestNode::start();
    let bearer = source.admin_bearer();

    // Users, a group, a trusted certificate.
    let admin_json = |path: &str, body: serde_json::Value| {
        let (status, b) = json_of(source.admin(source.post(path)).json(&body).send().unwrap());
        assert!(status == 201 || status == 200, "{path}: {status} {b}");
    };
    admin_json("/access/api/v2/groups", json!({"name": "dev"}));
    admin_json(
        "/access/api/v2/users",
        json!({"username": "alice", "password": "alice-secret-1", "groups": ["dev"]}),
    );
    admin_json(
        "/access/api/v2/users",
        json!({"username": "carol", "password": "carol-secret-1", "admin": true}),
    );
    let other_crt = std::fs::read_to_string(other.root_crt_path()).unwrap();
    admin_json(
        "/access/api/v1/cert/trusted",
        json!({"name": "other", "certificate": other_crt}),
    );

    // Many revocable tokens, then revocations: 500 by id, and every token of ci-9.
    let (tokens, rate) = fill(&source, &bearer, wanted);
    eprintln!(
        "ops: filled {} revocable tokens at {rate:.0}/s (wanted {wanted}, budget {}s)",
        tokens.len(),
        FILL_BUDGET.as_secs()
    );
    assert!(tokens.len() >= 1_000, "only {} tokens", tokens.len());
    let mut revoked: Vec<String> = Vec::new();
    for (id, access) in tokens.iter().step_by(tokens.len() / 500).take(500) {
        let r = source
            .delete(&format!("/access/api/v1/tokens/{id}"))
            .bearer_auth(&bearer)
            .send()
            .unwrap();
        assert_eq!(r.status(), 200);
        revoked.push(access.clone());
    }
    let r = source
        .admin(source.delete("/access/api/v1/tokens?username=ci-9"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let mut sample: Vec<String> = tokens
        .iter()
        .step_by((tokens.len() / SAMPLE).max(1))
        .map(|(_, t)| t.clone())
        .collect();
    sample.extend(revoked.iter().cloned());
    // A token that was never revocable-stored elsewhere: the other cluster's, trusted.
    let foreign = other.admin_token(&[("username", "visitor"), ("expires_in", "600")]);
    sample.push(foreign["access_token"].as_str().unwrap().to_string());
    let expected = statuses(&source, &sample);
    assert!(expected.contains(&200) && expected.contains(&401));
    assert!(statuses(&source, &revoked).iter().all(|s| *s == 401));

    // Back up with the CLI.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("state.backup");
    let started = Instant::now();
    let out = json_out(&cli(
        &source,
        &["--json", "backup", "--out", path_str(&file)],
    ));
    let backup_secs = started.elapsed().as_secs_f64();
    assert_eq!(mode_of(&file) & 0o777, 0o600);
    let size = std::fs::metadata(&file).unwrap().len();
    eprintln!(
        "ops: backup of {} records, {size} bytes in {backup_secs:.2}s",
        out["records"]
    );

    // A damaged copy is refused, by the CLI and by the node itself; nothing is restored.
    let target = TestCluster::start(2, &[]);
    let mut damaged = std::fs::read(&file).unwrap();
    let middle = damaged.len() / 2;
    damaged[middle] ^= 0x55;
    let bad = dir.path().join("damaged.backup");
    std::fs::write(&bad, &damaged).unwrap();
    std::fs::set_permissions(&bad, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = cli(&target.nodes[0], &["restore", "--file", path_str(&bad)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("checksum"), "{}", stderr(&out));
    let n0 = &target.nodes[0];
    let (status, body) = json_of(
        n0.admin(n0.post("/access/api/v1/system/restore"))
            .body(damaged)
            .send()
            .unwrap(),
    );
    assert_eq!(status, 400, "{body}");
    assert!(body["error_description"]
        .as_str()
        .unwrap()
        .contains("checksum"));

    // A cluster that is not fresh is refused without --force.
    let out = cli(&source, &["restore", "--file", path_str(&file)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("HTTP 409"), "{}", stderr(&out));

    // Restore through the follower (forwarded to the leader), then compare every node.
    let follower = &target.nodes[1 - target.leader()];
    let started = Instant::now();
    let restored = json_out(&cli(
        follower,
        &["--json", "restore", "--file", path_str(&file)],
    ));
    eprintln!(
        "ops: restore of {} records in {} chunks took {:.2}s",
        restored["records"],
        restored["chunks"],
        started.elapsed().as_secs_f64()
    );
    target.wait_converged();
    let source_id = service_id(&source);
    assert_eq!(restored["service_id"], source_id.as_str());
    let source_crt = std::fs::read(source.root_crt_path()).unwrap();
    for node in &target.nodes {
        let id = service_id(node);
        assert_eq!(id, source_id);
        // The key files follow the restored key on every node.
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::fs::read(node.root_crt_path()).unwrap() != source_crt {
            assert!(Instant::now() < deadline, "root.crt not rewritten");
            std::thread::sleep(Duration::from_millis(100));
        }
        assert_eq!(statuses(node, &sample), expected);
        assert_eq!(
            node.get("/access/api/v1/system/ping")
                .basic_auth("alice", Some("alice-secret-1"))
                .send()
                .unwrap()
                .status(),
            200
        );
        let (_, groups) = json_of(
            node.admin(node.get("/access/api/v2/groups"))
                .send()
                .unwrap(),
        );
        assert_eq!(groups["groups"][0]["name"], "dev");
        let (_, trusted) = json_of(
            node.admin(node.get("/access/api/v1/cert/trusted"))
                .send()
                .unwrap(),
        );
        assert_eq!(trusted["certificates"][0]["name"], "other");
    }
    // The restored cluster keeps working: a new token, revoked, on every node.
    let fresh = target.nodes[0].admin_token(&[("username", "after"), ("expires_in", "0")]);
    let access = fresh["access_token"].as_str().unwrap().to_string();
    assert_eq!(
        statuses(&target.nodes[1], std::slice::from_ref(&access)),
        [200]
    );
}

#[test]
fn force_replaces_the_state_of_a_used_cluster() {
    let _turn = turn(1);
    let source = TestNode::start();
    let (status, _) = json_of(
        source
            .admin(source.post("/access/api/v2/users"))
            .json(&json!({"username": "alice", "password": "alice-secret-1"}))
            .send()
            .unwrap(),
    );
    assert_eq!(status, 201);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("small.backup");
    json_out(&cli(
        &source,
        &["--json", "backup", "--out", path_str(&file)],
    ));

    // The target has been used: a user and a token of its own.
    let target = TestNode::start();
    let (status, _) = json_of(
        target
            .admin(target.post("/access/api/v2/users"))
            .json(&json!({"username": "zed", "password": "zed-secret-1"}))
            .send()
            .unwrap(),
    );
    assert_eq!(status, 201);
    let own = target.admin_token(&[("username", "ci"), ("expires_in", "0")]);
    let own = own["access_token"].as_str().unwrap().to_string();
    let out = cli(&target, &["restore", "--file", path_str(&file)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("HTTP 409"), "{}", stderr(&out));
    assert_eq!(statuses(&target, std::slice::from_ref(&own)), [200]);

    json_out(&cli(
        &target,
        &["--json", "restore", "--force", "--file", path_str(&file)],
    ));
    let (_, users) = json_of(
        target
            .admin(target.get("/access/api/v2/users"))
            .send()
            .unwrap(),
    );
    let names = user_names(&users);
    assert!(
        names.contains(&"alice") && !names.contains(&"zed"),
        "{names:?}"
    );
    // Its own token is gone with its key and its record.
    assert_eq!(statuses(&target, std::slice::from_ref(&own)), [401]);
}
