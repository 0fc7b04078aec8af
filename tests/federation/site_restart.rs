use super::*;

#[test]
fn a_stopped_site_catches_up_both_ways_after_restart() {
    let _turn = turn(1);
    let _slots = slots(4);
    let a = Site::start("a", 1, &[]);
    let mut b = Site::start("b", 3, &[]);
    federate(&a, &b);
    let ta = revocable(&a, 0, "during");
    wait_ping(&b, &ta, 200, "A's token");

    // B writes, then every node of B stops at once: some of it may not have left B yet.
    for i in 0..5 {
        create_user(&b, i % 3, &format!("b-before-{i}"), "before-pass-1");
    }
    let tb = revocable(&b, 1, "b-side");
    let tb_revoked = revocable(&b, 2, "b-side");
    let r = b.send_as_admin(0, |n| {
        n.delete("/access/api/v1/tokens/revoke")
            .form(&[("token", tb_revoked.as_str())])
    });
    assert_eq!(r.status(), 200);
    b.stop_all();

    // A keeps writing while B is down, and sees B as behind.
    for i in 0..10 {
        create_user(&a, 0, &format!("a-during-{i}"), "during-pass-1");
    }
    let (status, _) = a.post(0, "/access/api/v2/groups", &json!({"name": "during"}));
    assert_eq!(status, 201);
    let r = a.send_as_admin(0, |n| {
        n.delete("/access/api/v1/tokens/revoke")
            .form(&[("token", ta.as_str())])
    });
    assert_eq!(r.status(), 200);
    wait_until("A to report B behind", SETTLE, || {
        let p = a.peer(0, "b");
        p["status"]["events_behind"].as_u64().unwrap_or(0) > 0 && p["status"]["state"] != "ok"
    });

    b.start_all();
    wait_same_digest(&[&a, &b], Duration::from_secs(60));
    let at_a = user_names(&a, 0);
    for i in 0..5 {
        assert!(at_a.contains(&format!("b-before-{i}")), "{at_a:?}");
    }
    for (i, n) in b.nodes().iter().enumerate() {
        let at_b = user_names(&b, i);
        for j in 0..10 {
            assert!(
                at_b.contains(&format!("a-during-{j}")),
                "{}: {at_b:?}",
                n.url("")
            );
        }
        assert_eq!(b.get(i, "/access/api/v2/groups/during").0, 200);
        assert_eq!(ping(n, &ta), 401, "A's revocation while B was down");
    }
    assert_eq!(ping(a.node(0), &tb), 200, "B's token");
    assert_eq!(ping(a.node(0), &tb_revoked), 401, "B's revocation");
    wait_until("A to report B caught up", SETTLE, || {
        let p = a.peer(0, "b");
        p["status"]["events_behind"] == 0 && p["status"]["state"] == "ok"
    });
}
