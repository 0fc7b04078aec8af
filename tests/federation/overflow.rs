use super::*;

fn full_syncs(site: &Site, peer: &str) -> u64 {
    site.peer(0, peer)["status"]["full_syncs"]
        .as_u64()
        .unwrap_or(0)
}

/// Wait until A's peer entry for B counts more than `than` full syncs; the entry on timeout.
fn wait_full_syncs(a: &Site, than: u64, what: &str) {
    let deadline = Instant::now() + SETTLE;
    loop {
        let peer = a.peer(0, "b");
        if peer["status"]["full_syncs"].as_u64().unwrap_or(0) > than {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: full_syncs still {than} or less: {peer}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn journal_overflow_falls_back_to_a_full_sync() {
    let _turn = turn(1);
    let _slots = slots(2);
    let a = Site::start(
        "a",
        1,
        &[("ACCESS_NODE_FEDERATION_JOURNAL_MAX_EVENTS", "20")],
    );
    let mut b = Site::start("b", 1, &[]);
    federate(&a, &b);
    create_user(&a, 0, "first", "first-pass-1");
    wait_same_digest(&[&a, &b], SETTLE);
    let before = full_syncs(&a, "b");
    eprintln!("full syncs before the overflow: {before}");

    // B is down for 100 changes at A: more than A's journal keeps.
    b.stop_all();
    for i in 0..30 {
        create_user(&a, 0, &format!("bulk{i:02}"), "bulk-pass-1");
    }
    let tokens: Vec<String> = (0..60).map(|_| revocable(&a, 0, "bulk")).collect();
    for t in &tokens[..10] {
        let r = a.send_as_admin(0, |n| {
            n.delete("/access/api/v1/tokens/revoke")
                .form(&[("token", t.as_str())])
        });
        assert_eq!(r.status(), 200);
    }

    b.start_all();
    wait_same_digest(&[&a, &b], Duration::from_secs(60));
    wait_full_syncs(&a, before, "the full sync after the overflow");
    let names = user_names(&b, 0);
    assert_eq!(
        names.iter().filter(|n| n.starts_with("bulk")).count(),
        30,
        "{names:?}"
    );
    for (i, t) in tokens.iter().enumerate() {
        let expected = if i < 10 { 401 } else { 200 };
        assert_eq!(ping(b.node(0), t), expected, "token {i} at B");
    }
    // Things keep streaming after the full sync.
    create_user(&a, 0, "after", "after-pass-1");
    wait_until("a change after the full sync", SETTLE, || {
        user(&b, 0, "after").0 == 200
    });

    // A full sync on demand.
    let count = full_syncs(&a, "b");
    let (status, body) = a.put(0, "/access/api/v1/system/federation/b/full_broadcast");
    assert_eq!(status, 202, "{body}");
    wait_full_syncs(&a, count, "the requested full sync");
    wait_same_digest(&[&a, &b], SETTLE);
    let (status, _) = a.put(0, "/access/api/v1/system/federation/nope/full_broadcast");
    assert_eq!(status, 404);
    wait_until(
        "the link back to streaming (state ok, no full sync running)",
        SETTLE,
        || {
            let peer = a.peer(0, "b");
            peer["status"]["full_sync"] == false && peer["status"]["state"] == "ok"
        },
    );
}
