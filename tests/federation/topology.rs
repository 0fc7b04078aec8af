use super::*;

/// Every running node's version vector, labelled `site/node`.
fn vectors(sites: &[&Site]) -> Vec<(String, Value)> {
    digests(sites)
        .into_iter()
        .map(|(label, d)| (label, d.map(|d| d["vector"].clone()).unwrap_or(Value::Null)))
        .collect()
}

/// Wait until every peer of every site reports nothing left to send.
fn wait_idle(sites: &[&Site]) {
    wait_until("every link idle (events_behind 0)", SETTLE, || {
        sites.iter().all(|s| {
            s.federation_status(0)
                .as_array()
                .unwrap()
                .iter()
                .all(|p| p["status"]["events_behind"] == 0)
        })
    });
}

#[test]
fn one_way_chain_relays_and_mesh_does_not_echo() {
    let _turn = turn(1);
    let _slots = slots(7);
    let a = Site::start("a", 3, &[]);
    let b = Site::start("b", 3, &[]);
    let c = Site::start("c", 1, &[]);

    // A one-way chain A -> B -> C: C knows only B, and B and C only receive.
    link_one_way(&a, &b);
    link_one_way(&b, &c);
    assert_eq!(c.peer(0, "b")["status"]["state"], "inactive");
    create_user(&a, 1, "relayed", "relayed-pass-1");
    let token = revocable(&a, 2, "relayed");
    wait_until("A's user at C", SETTLE, || user(&c, 0, "relayed").0 == 200);
    // A's certificate travels with the federation: C validates A's token without trusting A.
    wait_ping(&c, &token, 200, "A's token at C through B");
    let (status, body) = a.delete(0, "/access/api/v1/tokens?username=relayed");
    assert_eq!(status, 200, "{body}");
    wait_ping(&c, &token, 401, "A's subject revocation at C");
    // Receive-only: C's own change stays at C while A's changes still arrive.
    create_user(&c, 0, "from-c", "from-c-pass-1");
    create_user(&a, 0, "marker", "marker-pass-1");
    wait_until("A's marker at C", SETTLE, || user(&c, 0, "marker").0 == 200);
    assert_eq!(
        user(&b, 0, "from-c").0,
        404,
        "C pushed through a receive-only link"
    );
    assert!(
        b.digest(0)["vector"][c.service_id()].as_u64().unwrap_or(0) == 0,
        "B applied C's changes: {}",
        b.digest(0)
    );

    // Both ways now (the receive-only entries turned active): C's change reaches A through B.
    for (site, peer) in [(&b, "a"), (&c, "b")] {
        let (status, body) = site.patch(
            0,
            &format!("/access/api/v1/system/federation/{peer}"),
            &json!({"active": true}),
        );
        assert_eq!(status, 200, "{body}");
    }
    wait_until("C's user at every node of A", SETTLE, || {
        (0..3).all(|i| user(&a, i, "from-c").0 == 200)
    });
    wait_same_digest(&[&a, &b, &c], SETTLE);
    assert_eq!(login(a.node(2), "from-c", "from-c-pass-1"), 200);

    // Mesh: A <-> C as well. Every change now reaches C twice; it must apply once, and no
    // site may journal another site's change as its own (echo) or send it round for ever.
    federate(&a, &c);
    wait_same_digest(&[&a, &b, &c], SETTLE);
    wait_idle(&[&a, &b, &c]);
    let before = a.digest(0)["vector"].clone();
    let own = |site: &Site, v: &Value| v[site.service_id()].as_u64().unwrap_or(0);
    let (b_own, c_own) = (
        own(&b, &b.digest(0)["vector"]),
        own(&c, &c.digest(0)["vector"]),
    );
    create_user(&a, 0, "meshy", "meshy-pass-1");
    let (status, _) = a.post(0, "/access/api/v2/groups", &json!({"name": "mesh"}));
    assert_eq!(status, 201);
    let digest = wait_same_digest(&[&a, &b, &c], SETTLE);
    wait_idle(&[&a, &b, &c]);
    let settled = vectors(&[&a, &b, &c]);
    let a_seq = own(&a, &settled[0].1);
    assert!(
        a_seq >= own(&a, &before) + 2,
        "A's two changes advance A's entry: {before} -> {:?}",
        settled[0]
    );
    for (label, v) in &settled {
        assert_eq!(
            own(&a, v),
            a_seq,
            "{label} has applied all of A's changes: {settled:?}"
        );
        assert_eq!(
            own(&b, v),
            b_own,
            "{label}: B journaled something: {settled:?}"
        );
        assert_eq!(
            own(&c, v),
            c_own,
            "{label}: C journaled something: {settled:?}"
        );
    }
    let names = user_names(&c, 0);
    assert_eq!(
        names.iter().filter(|n| *n == "meshy").count(),
        1,
        "{names:?}"
    );
    // Nothing keeps moving: no loop.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(vectors(&[&a, &b, &c]), settled, "vectors moved while idle");
    assert_eq!(wait_same_digest(&[&a, &b, &c], SETTLE), digest);
    for s in [&a, &b, &c] {
        // Every node answers for the site (followers ask the leader).
        for i in 0..s.nodes().len() {
            let peers = s.federation_status(i);
            assert_eq!(
                peers.as_array().unwrap().len(),
                2,
                "{}/{}: {peers}",
                s.name,
                i + 1
            );
            for p in peers.as_array().unwrap() {
                assert_eq!(p["status"]["state"], "ok", "{}/{}: {p}", s.name, i + 1);
                assert_eq!(p["status"]["events_behind"], 0, "{}/{}: {p}", s.name, i + 1);
            }
        }
    }
}
