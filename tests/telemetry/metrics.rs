//! `/metrics`: who may read it, `promtool` accepts it, and its counters move by exactly the
//! traffic sent to the node.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use super::*;

/// Counts the password logins the test makes on the scraped node, so the login counter can
/// be checked exactly.
struct Admin<'a> {
    node: &'a TestNode,
    logins: u32,
}

impl Admin<'_> {
    fn mint(&mut self, form: &[(&str, &str)]) -> Value {
        self.logins += 1;
        mint(self.node, form)
    }

    fn send(&mut self, rb: reqwest::blocking::RequestBuilder) -> (u16, Value) {
        self.logins += 1;
        json_of(self.node.admin(rb).send().unwrap())
    }
}

/// `token` with its signature's first character changed: signed by a known key, badly.
fn bad_signature(token: &str) -> String {
    let (signed, sig) = token.rsplit_once('.').unwrap();
    let first = if sig.starts_with('A') { 'B' } else { 'A' };
    format!("{signed}.{first}{}", &sig[1..])
}

/// `token` claiming a key id no one has.
fn unknown_key(token: &str) -> String {
    let (_, rest) = token.split_once('.').unwrap();
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","typ":"JWT","kid":"no-such-key"}"#);
    format!("{header}.{rest}")
}

fn delta(before: &Scrape, after: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    after.value(name, labels) - before.value(name, labels)
}

#[test]
fn metrics_are_guarded_valid_and_count_the_traffic() {
    let cluster = TestCluster::start_placed(
        3,
        &[
            ("ACCESS_NODE_SECURITY_LOCK_AFTER_FAILED_LOGINS", "2"),
            ("ACCESS_NODE_RAFT_SNAPSHOT_AFTER_ENTRIES", "10"),
        ],
        |i, node| {
            if i == 2 {
                node.set_env("ACCESS_NODE_METRICS_ANONYMOUS_FROM", r#"["127.0.0.0/8"]"#);
            }
        },
    );
    let node = &cluster.nodes[0];
    let mut admin = Admin { node, logins: 0 };

    // Who may read: the metrics scope or an admin; not anonymous, not a plain user token.
    let reader = str_of(
        &admin.mint(&[("username", "prometheus"), ("scope", "system:metrics:r")]),
        "access_token",
    );
    let plain = str_of(
        &admin.mint(&[
            ("username", "someone"),
            ("scope", "applied-permissions/user"),
        ]),
        "access_token",
    );
    assert_eq!(node.get("/metrics").send().unwrap().status(), 401);
    let r = node.get("/metrics").bearer_auth(&plain).send().unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(
        node.admin(node.get("/metrics")).send().unwrap().status(),
        200
    );
    admin.logins += 1;
    let r = node.post("/metrics").bearer_auth(&reader).send().unwrap();
    assert_eq!(r.status(), 405);
    // Node 3 lets 127.0.0.0/8 in without credentials; the others do not.
    let anonymous = cluster.nodes[2].get("/metrics").send().unwrap();
    assert_eq!(anonymous.status(), 200);
    promtool_check(&anonymous.text().unwrap());
    assert_eq!(
        cluster.nodes[1].get("/metrics").send().unwrap().status(),
        401
    );

    let before = scrape(node, &reader);
    promtool_check(&before.text);
    let logins_before = admin.logins;

    // Traffic: 3 issues (2 stored, 1 short-lived), 1 refresh, 1 revoke.
    let kept = admin.mint(&[
        ("username", "alice"),
        ("expires_in", "0"),
        ("refreshable", "true"),
    ]);
    let doomed = admin.mint(&[("username", "alice"), ("expires_in", "0")]);
    let short = admin.mint(&[("username", "alice"), ("expires_in", "1")]);
    let (status, refreshed) = json_of(
        node.post("/access/api/v1/tokens")
            .form(&[
                ("grant_type", "refresh_token"),
                ("access_token", &str_of(&kept, "access_token")),
                ("refresh_token", &str_of(&kept, "refresh_token")),
            ])
            .send()
            .unwrap(),
    );
    assert_eq!(status, 200, "{refreshed}");
    let path = format!("/access/api/v1/tokens/{}", str_of(&doomed, "token_id"));
    let (status, body) = admin.send(node.delete(&path));
    assert_eq!(status, 200, "{body}");

    // Validations: 2 valid, then one of each refusal.
    let fresh = str_of(&refreshed, "access_token");
    assert_eq!(ping(node, &fresh), 200);
    assert_eq!(ping(node, &fresh), 200);
    assert_eq!(ping(node, &str_of(&doomed, "access_token")), 401);
    assert_eq!(ping(node, "garbage"), 401);
    assert_eq!(ping(node, &bad_signature(&fresh)), 401);
    assert_eq!(ping(node, &unknown_key(&fresh)), 401);
    let short = str_of(&short, "access_token");
    let exp = jwt_parts(&short).1["exp"].as_u64().unwrap();
    while std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        <= exp
    {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(ping(node, &short), 401);

    // Failed logins until the name is throttled (2 free attempts, then a growing wait).
    let (mut failed, mut throttled) = (0.0, 0.0);
    while throttled == 0.0 {
        match login_status(node, "mallory", "not-the-password") {
            401 => failed += 1.0,
            429 => throttled += 1.0,
            other => panic!("login answered {other}"),
        }
        assert!(failed <= 10.0, "never throttled");
    }

    let after = scrape(node, &reader);
    promtool_check(&after.text);
    let d = |name: &str, labels: &[(&str, &str)]| delta(&before, &after, name, labels);
    assert_eq!(d("access_tokens_issued_total", &[("kind", "access")]), 3.0);
    assert_eq!(
        d("access_tokens_refreshed_total", &[("kind", "access")]),
        1.0
    );
    assert_eq!(d("access_tokens_revoked_total", &[("kind", "access")]), 1.0);
    let outcome = |o: &str| d("access_token_validations_total", &[("outcome", o)]);
    // The second scrape's own token is one more valid one.
    assert_eq!(outcome("valid"), 3.0);
    assert_eq!(outcome("revoked"), 1.0);
    assert_eq!(outcome("malformed"), 1.0);
    assert_eq!(outcome("bad_signature"), 1.0);
    assert_eq!(outcome("unknown_key"), 1.0);
    assert_eq!(outcome("expired"), 1.0);
    assert!(d("access_verified_cache_hits_total", &[]) >= 2.0);
    assert_eq!(d("access_logins_total", &[("outcome", "failed")]), failed);
    assert_eq!(
        d("access_logins_total", &[("outcome", "throttled")]),
        throttled
    );
    assert_eq!(
        d("access_logins_total", &[("outcome", "succeeded")]),
        f64::from(admin.logins - logins_before)
    );
    let pings = |status: &str| {
        let labels = [
            ("route", "/api/system/ping"),
            ("method", "GET"),
            ("status", status),
        ];
        d("access_http_requests_total", &labels)
    };
    assert_eq!(pings("200"), 2.0);
    assert_eq!(pings("401"), 5.0 + failed);
    assert_eq!(pings("429"), throttled);
    // Routes are patterns, never raw paths.
    let revoke = [
        ("route", "/access/api/v1/tokens/{id}"),
        ("method", "DELETE"),
        ("status", "200"),
    ];
    assert_eq!(d("access_http_requests_total", &revoke), 1.0);
    assert!(!after.text.contains(&str_of(&doomed, "token_id")));
    let latency = [("route", "/api/system/ping"), ("method", "GET")];
    assert_eq!(
        d("access_http_request_duration_seconds_count", &latency),
        2.0 + 5.0 + failed + throttled
    );
    assert!(d("access_raft_batch_size_count", &[]) >= 1.0);

    // Raft: one leader everyone agrees on; the leader shows every member's lag.
    let views: Vec<Scrape> = cluster.nodes.iter().map(|n| scrape(n, &reader)).collect();
    let leaders: Vec<&Scrape> = views
        .iter()
        .filter(|s| s.value("access_raft_state", &[("state", "Leader")]) == 1.0)
        .collect();
    assert_eq!(leaders.len(), 1);
    let leader_id = leaders[0].value("access_raft_leader_id", &[]);
    for s in &views {
        promtool_check(&s.text);
        assert_eq!(s.value("access_raft_leader_id", &[]), leader_id);
        assert!(s.value("access_raft_term", &[]) >= 1.0);
        assert!(s.value("access_raft_applied_index", &[]) > 0.0);
        assert!(
            s.value("access_raft_commit_index", &[]) >= s.value("access_raft_applied_index", &[])
        );
    }
    let lag = leaders[0].series("access_raft_replication_lag_entries");
    let members: Vec<&str> = lag.iter().map(|(l, _)| l["member"].as_str()).collect();
    assert_eq!(members, ["1", "2", "3"]);

    // A snapshot every 10 entries: the traffic above made at least one on each node.
    for n in &cluster.nodes {
        eventually("a snapshot", || {
            let s = scrape(n, &reader);
            (s.value("access_snapshots_total", &[]) >= 1.0
                && s.value("access_snapshot_duration_seconds_count", &[]) >= 1.0)
                .then_some(())
        });
    }
}
