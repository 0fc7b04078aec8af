use super::*;

fn revoke(site: &Site, i: usize, token: &str) {
    let r = site.send_as_admin(i, |n| {
        n.delete("/access/api/v1/tokens/revoke")
            .form(&[("token", token)])
    });
    let (status, body) = json_of(r);
    assert_eq!(status, 200, "{}: revoke: {body}", site.name);
}

#[test]
fn tokens_revocations_and_key_resets_cross_with_a_measured_lag() {
    let _turn = turn(1);
    let _slots = slots(6);
    let a = Site::start("a", 3, &[]);
    let b = Site::start("b", 3, &[]);
    federate(&a, &b);

    // A stored token issued at A validates on every node of B; revoked at A, it stops there.
    let t1 = revocable(&a, 1, "ci");
    wait_ping(&b, &t1, 200, "A's revocable token");
    revoke(&a, 0, &t1);
    wait_ping(&b, &t1, 401, "A's revocation");
    // A token of A held at B can be revoked at B, and that holds at A.
    let t2 = revocable(&a, 2, "ci");
    wait_ping(&b, &t2, 200, "A's second revocable token");
    revoke(&b, 1, &t2);
    wait_ping(&a, &t2, 401, "B's revocation of A's token");
    // And the other way: B's stored tokens and revocations reach A.
    let tb = revocable(&b, 0, "ci-b");
    let tb2 = revocable(&b, 1, "ci-b");
    wait_ping(&a, &tb, 200, "B's revocable token");
    wait_ping(&a, &tb2, 200, "B's second revocable token");
    revoke(&b, 2, &tb);
    wait_ping(&a, &tb, 401, "B's revocation");
    assert_eq!(ping(a.node(1), &tb2), 200, "only the revoked one");

    // Revoking a subject at A: every A-issued token of sam stops at B, revocable or not.
    let sam_short = token_of(&a.token(0, &[("username", "sam"), ("expires_in", "3600")]));
    let sam_stored = revocable(&a, 0, "sam");
    wait_ping(&b, &sam_stored, 200, "sam's stored token");
    assert_eq!(
        ping(b.node(1), &sam_short),
        200,
        "trusted non-revocable token"
    );
    let (status, body) = a.delete(0, "/access/api/v1/tokens?username=sam");
    assert_eq!(status, 200, "{body}");
    wait_ping(&b, &sam_short, 401, "sam's subject cut-off (non-revocable)");
    wait_ping(&b, &sam_stored, 401, "sam's subject cut-off (stored)");
    // The cut-off is for the tokens issued until then: a new one works.
    let sam_new = revocable(&a, 0, "sam");
    wait_ping(&b, &sam_new, 200, "a token of sam issued after the cut-off");

    // A key reset at A keeping the old key: old and new tokens of A validate at B.
    let old_short = token_of(&a.token(0, &[("username", "k"), ("expires_in", "3600")]));
    let old_stored = revocable(&a, 0, "k");
    wait_ping(&b, &old_stored, 200, "a token before the reset");
    let (status, body) = a.call(
        1,
        reqwest::Method::POST,
        "/access/api/v1/cert/root/reset",
        Some(&json!({"keep_old": true})),
    );
    assert_eq!(status, 200, "{body}");
    let new_kid = body["kid"].as_str().unwrap().to_string();
    let new_short = token_of(&a.token(0, &[("username", "k"), ("expires_in", "3600")]));
    assert_eq!(jwt_parts(&new_short).0["kid"], new_kid.as_str());
    wait_ping(&b, &new_short, 200, "a token signed by A's new key");
    wait_same_digest(&[&a, &b], SETTLE);
    for n in b.nodes() {
        assert_eq!(ping(n, &old_short), 200, "old key kept: {}", n.url(""));
        assert_eq!(ping(n, &old_stored), 200, "old key kept: {}", n.url(""));
    }
    // A reset without keep_old: every earlier token of A stops at B too.
    let (status, body) = a.post(0, "/access/api/v1/cert/root/reset", &json!({}));
    assert_eq!(status, 200, "{body}");
    wait_ping(
        &b,
        &old_short,
        401,
        "the dropped key (token from before both resets)",
    );
    wait_ping(
        &b,
        &new_short,
        401,
        "the dropped key (token from between the resets)",
    );
    wait_ping(&b, &old_stored, 401, "the dropped key (stored token)");
    let newest = revocable(&a, 2, "k");
    wait_ping(&b, &newest, 200, "a token signed by A's newest key");

    // Revocation lag: revoke at A, poll every node of B until each says 401.
    const N: usize = 30;
    let tokens: Vec<String> = (0..N).map(|i| revocable(&a, i % 3, "lag")).collect();
    wait_same_digest(&[&a, &b], SETTLE);
    for t in &tokens {
        assert_eq!(ping(b.node(2), t), 200);
    }
    let mut lags = Vec::new();
    for (i, t) in tokens.iter().enumerate() {
        revoke(&a, i % 3, t);
        let started = Instant::now();
        let mut pending: Vec<&TestNode> = b.nodes().iter().collect();
        while !pending.is_empty() {
            pending.retain(|n| ping(n, t) != 401);
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "revocation {i} not seen at B after 10 s"
            );
            if !pending.is_empty() {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        lags.push(started.elapsed());
    }
    lags.sort();
    eprintln!(
        "revocation lag A -> every node of B over {N} revocations: p50 {:?}, p99 {:?}, max {:?}",
        percentile(&lags, 50),
        percentile(&lags, 99),
        lags[N - 1]
    );
    wait_same_digest(&[&a, &b], SETTLE);
}
