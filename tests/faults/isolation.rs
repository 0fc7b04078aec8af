//! A node cut off from both peers (network namespaces + iptables DROP): revocable creates
//! sent to it are refused with 503 + Retry-After within 3 s, never held; an old leader stops
//! claiming to lead within a few election timeouts; it answers 503, not 401, for a token it
//! has not seen; the majority elects a leader and takes writes; after healing every node
//! converges and nothing the cut-off node refused exists. First the leader, then a follower.

use super::*;

/// Revocable creates sent to the cut-off node, by this many clients at once.
const ATTEMPTS: usize = 10;
const CLIENTS: usize = 2;
/// The bound: under the client timeouts load balancers use.
const REFUSAL_BOUND: Duration = Duration::from_secs(3);
/// A few election timeouts (600 ms at most each, by default).
const STEP_DOWN_BOUND: Duration = Duration::from_secs(3);

/// (state, leader, term) from `/healthz`.
fn view(node: &TestNode) -> (String, Option<u64>, u64) {
    let h = healthz(node).expect("healthz answers");
    (
        h["state"].as_str().unwrap_or_default().to_string(),
        h["leader"].as_u64(),
        h["term"].as_u64().unwrap_or(0),
    )
}

/// Polls `url` (a `/healthz`) until its state is not `Leader`: how long that took.
fn watch_step_down(url: String) -> std::thread::JoinHandle<Option<Duration>> {
    std::thread::spawn(move || {
        let http = client();
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(15) {
            let state = http
                .get(&url)
                .timeout(Duration::from_millis(500))
                .send()
                .ok()
                .and_then(|r| r.json::<Value>().ok())
                .map(|h| h["state"].as_str().unwrap_or_default().to_string());
            if state.is_some_and(|s| s != "Leader") {
                return Some(started.elapsed());
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        None
    })
}

/// Sends [`ATTEMPTS`] revocable creates (usernames `<tag>-<n>`) to `node` from [`CLIENTS`]
/// clients at once (so some wait behind a write in flight): each must be a 503 with
/// Retry-After. Returns how long each took, printed with p50/p99.
fn refused_creates(node: &TestNode, bearer: &str, tag: &str) -> Vec<Duration> {
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let (url, bearer, tag) = (
                node.url("/access/api/v1/tokens"),
                bearer.to_string(),
                tag.to_string(),
            );
            std::thread::spawn(move || {
                let http = client();
                let mut times = Vec::new();
                for n in (c..ATTEMPTS).step_by(CLIENTS) {
                    let name = format!("{tag}-{n}");
                    let started = Instant::now();
                    let r = http
                        .post(&url)
                        .bearer_auth(&bearer)
                        .timeout(Duration::from_secs(30))
                        .form(&[("username", name.as_str()), ("expires_in", "0")])
                        .send()
                        .unwrap();
                    let took = started.elapsed();
                    let retry_after = r.headers().contains_key("retry-after");
                    let (status, body) = json_of(r);
                    assert_eq!(status, 503, "the cut-off node answered {name} with {body}");
                    assert!(retry_after, "503 without Retry-After for {name}");
                    times.push(took);
                }
                times
            })
        })
        .collect();
    let times: Vec<Duration> = clients
        .into_iter()
        .flat_map(|c| c.join().unwrap())
        .collect();
    let mut sorted = times.clone();
    sorted.sort();
    let at = |p: f64| {
        let rank = (p * sorted.len() as f64).ceil() as usize;
        sorted[rank.clamp(1, sorted.len()) - 1]
    };
    eprintln!(
        "{tag}: {} refusals, p50 {:?}, p99 {:?}, all {:?}",
        times.len(),
        at(0.50),
        at(0.99),
        sorted
    );
    times
}

/// A new leader among `majority`, in a term above `term`.
fn new_leader(cluster: &TestCluster, majority: &[usize], term: u64) -> usize {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        for &i in majority {
            if let Some(h) = healthz(&cluster.nodes[i]) {
                if h["state"] == "Leader" && h["term"].as_u64().unwrap_or(0) > term {
                    return i;
                }
            }
        }
        assert!(Instant::now() < deadline, "the majority elected no leader");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A revocable token created through `node`, retried while the majority settles.
fn create_on_majority(node: &TestNode, bearer: &str, username: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, body) = json_of(
            node.post("/access/api/v1/tokens")
                .bearer_auth(bearer)
                .form(&[("username", username), ("expires_in", "0")])
                .send()
                .unwrap(),
        );
        if status == 200 {
            return body;
        }
        assert_eq!(status, 503, "{body}");
        assert!(Instant::now() < deadline, "the majority takes no writes");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The cut-off node answers 503 + Retry-After, not 401, for a token it has not seen.
fn unseen_token_is_unavailable(node: &TestNode, token: &Value) {
    let access = token["access_token"].as_str().unwrap();
    let started = Instant::now();
    let r = node
        .get("/api/system/ping")
        .bearer_auth(access)
        .timeout(Duration::from_secs(30))
        .send()
        .unwrap();
    assert_eq!(r.status(), 503, "a token it has not seen was judged");
    assert!(r.headers().contains_key("retry-after"));
    eprintln!(
        "unseen token on the cut-off node: 503 after {:?}",
        started.elapsed()
    );
}

/// After healing: every node converged, and no token of `tag` exists anywhere.
fn nothing_refused_exists(cluster: &TestCluster, bearer: &str, tag: &str) {
    cluster.wait_converged();
    for node in &cluster.nodes {
        let (status, body) = json_of(
            node.get("/access/api/v1/tokens")
                .bearer_auth(bearer)
                .send()
                .unwrap(),
        );
        assert_eq!(status, 200, "{body}");
        let leaked: Vec<&Value> = body["tokens"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["subject"].as_str().unwrap_or("").contains(tag))
            .collect();
        assert!(leaked.is_empty(), "refused writes exist: {leaked:?}");
    }
}

#[test]
fn a_cut_off_node_refuses_writes_within_3s_and_an_old_leader_stops_leading() {
    let _turn = turn(1);
    let lab = NetLab::new(3);
    let cluster = TestCluster::start_placed(3, &[], |i, node| {
        node.host = lab.addr(i + 1);
        node.netns = Some(lab.ns(i + 1));
        node.port = 8082;
    });
    let admin = cluster.nodes[0].admin_bearer();
    cluster.wait_converged();

    // The leader is cut off.
    let old = cluster.leader();
    let (_, _, old_term) = view(&cluster.nodes[old]);
    let majority: Vec<usize> = (0..3).filter(|i| *i != old).collect();
    lab.isolate(old + 1);
    let step_down = watch_step_down(cluster.nodes[old].url("/healthz"));
    let times = refused_creates(&cluster.nodes[old], &admin, "refused-at-leader");
    let stepped_down = step_down.join().unwrap();
    eprintln!("the cut-off leader stopped claiming to lead after {stepped_down:?}");
    assert!(
        times.iter().all(|t| *t < REFUSAL_BOUND),
        "refusals at the cut-off leader took {times:?}"
    );
    assert!(
        stepped_down.is_some_and(|t| t < STEP_DOWN_BOUND),
        "the cut-off leader kept claiming to lead: {stepped_down:?}"
    );
    let status = cluster.nodes[old].status();
    assert_ne!(status["state"], "Leader", "cluster status: {status}");
    let (_, leader_seen, _) = view(&cluster.nodes[old]);
    assert_ne!(leader_seen, Some(old as u64 + 1), "it still names itself");

    let leader = new_leader(&cluster, &majority, old_term);
    let follower = majority.iter().copied().find(|i| *i != leader).unwrap();
    let fresh = create_on_majority(&cluster.nodes[follower], &admin, "fresh-1");
    unseen_token_is_unavailable(&cluster.nodes[old], &fresh);

    lab.heal(old + 1);
    nothing_refused_exists(&cluster, &admin, "refused-at-leader");
    let (state, leader_seen, _) = view(&cluster.nodes[old]);
    assert_eq!(state, "Follower");
    assert_eq!(leader_seen, Some(leader as u64 + 1));
    assert_eq!(
        ping(
            &cluster.nodes[old],
            fresh["access_token"].as_str().unwrap(),
            false
        ),
        200
    );

    // A follower is cut off.
    let leader = cluster.leader();
    let cut = (leader + 1) % 3;
    let (_, _, term) = view(&cluster.nodes[leader]);
    lab.isolate(cut + 1);
    let times = refused_creates(&cluster.nodes[cut], &admin, "refused-at-follower");
    assert!(
        times.iter().all(|t| *t < REFUSAL_BOUND),
        "refusals at the cut-off follower took {times:?}"
    );
    let (state, _, _) = view(&cluster.nodes[cut]);
    assert_ne!(state, "Leader");
    let fresh = create_on_majority(&cluster.nodes[leader], &admin, "fresh-2");
    unseen_token_is_unavailable(&cluster.nodes[cut], &fresh);
    // The leader was never in doubt.
    assert_eq!(
        view(&cluster.nodes[leader]),
        ("Leader".into(), Some(leader as u64 + 1), term)
    );

    lab.heal(cut + 1);
    nothing_refused_exists(&cluster, &admin, "refused-at-follower");
    assert_eq!(
        ping(
            &cluster.nodes[cut],
            fresh["access_token"].as_str().unwrap(),
            false
        ),
        200
    );
    let r = cluster.nodes[cut]
        .post("/access/api/v1/tokens")
        .bearer_auth(&admin)
        .form(&[("username", "after-heal"), ("expires_in", "0")])
        .send()
        .unwrap();
    assert_eq!(r.status(), 200, "the healed node takes writes again");
}
