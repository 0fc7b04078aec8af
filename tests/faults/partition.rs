use super::*;

#[test]
fn a_partitioned_minority_refuses_writes_keeps_validating_and_converges() {
    let _turn = turn(1);
    let lab = NetLab::new(3);
    let cluster = TestCluster::start_placed(3, &[], |i, node| {
        node.host = lab.addr(i + 1);
        node.netns = Some(lab.ns(i + 1));
        node.port = 8082;
    });
    let minority = 2; // node 3
    let majority = [0usize, 1];

    let kept = cluster.nodes[0].admin_token(&[("username", "kept"), ("expires_in", "0")]);
    let doomed = cluster.nodes[0].admin_token(&[("username", "doomed"), ("expires_in", "0")]);
    cluster.wait_converged();

    lab.isolate(minority + 1);
    let m = &cluster.nodes[minority];
    // Writes on the minority are refused with 503 + Retry-After within seconds.
    let started = Instant::now();
    let r = m
        .admin(m.post("/access/api/v1/tokens"))
        .form(&[("expires_in", "0")])
        .send()
        .unwrap();
    let took = started.elapsed();
    assert_eq!(r.status(), 503, "minority accepted a write");
    assert!(r.headers().contains_key("retry-after"));
    assert!(
        took < Duration::from_secs(10),
        "write refusal took {took:?}"
    );
    eprintln!("minority refused a write after {took:?}");
    // It keeps validating what it knows; a strict (linearizable) check is refused.
    assert_eq!(ping(m, kept["access_token"].as_str().unwrap(), false), 200);
    assert_eq!(ping(m, kept["access_token"].as_str().unwrap(), true), 503);

    // The majority goes on: new token, one revocation.
    let deadline = Instant::now() + Duration::from_secs(20);
    let fresh = loop {
        let n = &cluster.nodes[majority[0]];
        let r = n
            .admin(n.post("/access/api/v1/tokens"))
            .form(&[("username", "fresh"), ("expires_in", "0")])
            .send()
            .unwrap();
        if r.status() == 200 {
            break r.json::<Value>().unwrap();
        }
        assert!(
            Instant::now() < deadline,
            "majority does not take writes: {}",
            r.status()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let b = &cluster.nodes[majority[1]];
    let r = b
        .admin(b.delete(&format!(
            "/access/api/v1/tokens/{}",
            doomed["token_id"].as_str().unwrap()
        )))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    // The minority has not heard of either.
    assert_eq!(
        ping(m, doomed["access_token"].as_str().unwrap(), false),
        200,
        "minority cannot know yet"
    );

    lab.heal(minority + 1);
    cluster.wait_converged();
    assert_eq!(ping(m, fresh["access_token"].as_str().unwrap(), false), 200);
    assert_eq!(
        ping(m, doomed["access_token"].as_str().unwrap(), false),
        401
    );
    assert_eq!(ping(m, kept["access_token"].as_str().unwrap(), false), 200);
    // And it takes writes again (forwarded to the leader).
    let r = m
        .admin(m.post("/access/api/v1/tokens"))
        .form(&[("expires_in", "0")])
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
}
