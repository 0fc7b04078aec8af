use super::*;

fn set_active(site: &Site, peer: &str, active: bool) {
    let (status, body) = site.patch(
        0,
        &format!("/access/api/v1/system/federation/{peer}"),
        &json!({ "active": active }),
    );
    assert_eq!(status, 200, "{}: PATCH {peer}: {body}", site.name);
    assert_eq!(body["active"], active, "{body}");
}

fn members(site: &Site, group: &str, add: &[&str], remove: &[&str]) {
    let (status, body) = site.patch(
        1,
        &format!("/access/api/v2/groups/{group}/members"),
        &json!({"add": add, "remove": remove}),
    );
    assert!(status == 200 || status == 204, "{status} {body}");
}

fn email(site: &Site, i: usize, name: &str, email: &str) {
    let (status, body) = site.patch(
        i,
        &format!("/access/api/v2/users/{name}"),
        &json!({ "email": email }),
    );
    assert_eq!(status, 200, "{}: {name}: {body}", site.name);
}

/// `user` as every node of every site sees it: (status, email, sorted groups).
fn everywhere(sites: &[&Site], name: &str) -> Vec<(String, u16, Value, Vec<String>)> {
    let mut out = Vec::new();
    for s in sites {
        for i in 0..s.nodes().len() {
            let (status, u) = user(s, i, name);
            let mut groups: Vec<String> = u["groups"]
                .as_array()
                .map(|g| g.iter().map(|g| g.as_str().unwrap().to_string()).collect())
                .unwrap_or_default();
            groups.sort();
            out.push((
                format!("{}/{}", s.name, i + 1),
                status,
                u["email"].clone(),
                groups,
            ));
        }
    }
    out
}

#[test]
fn concurrent_writes_end_with_the_same_winner_everywhere() {
    let _turn = turn(1);
    let _slots = slots(6);
    let a = Site::start("a", 3, &[]);
    let b = Site::start("b", 3, &[]);
    federate(&a, &b);
    for g in ["g1", "g2", "g3"] {
        assert_eq!(
            a.post(0, "/access/api/v2/groups", &json!({"name": g})).0,
            201
        );
    }
    for u in ["x", "y", "z", "w"] {
        create_user(&a, 0, u, "conflict-pass-1");
    }
    members(&a, "g3", &["x"], &[]);
    wait_same_digest(&[&a, &b], SETTLE);

    // Pause both directions: each site writes without seeing the other's writes.
    set_active(&a, "b", false);
    set_active(&b, "a", false);
    assert_eq!(a.peer(0, "b")["status"]["state"], "inactive");
    let gap = || std::thread::sleep(Duration::from_millis(50));
    // x: the later email (B's) wins; membership merges element by element.
    email(&a, 0, "x", "x@from-a");
    members(&a, "g1", &["x"], &[]);
    gap();
    email(&b, 1, "x", "x@from-b");
    members(&b, "g2", &["x"], &[]);
    members(&b, "g3", &[], &["x"]);
    // y: deleted at A, updated later at B: the update is the last write.
    assert_eq!(a.delete(2, "/access/api/v2/users/y").0, 204);
    gap();
    email(&b, 2, "y", "y@from-b");
    // z: updated at B, deleted later at A: the delete is the last write.
    email(&b, 0, "z", "z@from-b");
    gap();
    assert_eq!(a.delete(1, "/access/api/v2/users/z").0, 204);
    // Still apart.
    assert_eq!(user(&b, 0, "x").1["email"], "x@from-b");
    assert_eq!(user(&a, 0, "x").1["email"], "x@from-a");

    set_active(&a, "b", true);
    set_active(&b, "a", true);
    wait_same_digest(&[&a, &b], SETTLE);
    for (label, status, mail, groups) in everywhere(&[&a, &b], "x") {
        assert_eq!(status, 200, "{label}");
        assert_eq!(mail, "x@from-b", "{label}: last writer wins");
        assert_eq!(groups, ["g1", "g2"], "{label}: memberships merge per group");
    }
    for (label, status, mail, _) in everywhere(&[&a, &b], "y") {
        assert_eq!(
            (status, mail),
            (200, json!("y@from-b")),
            "{label}: update after delete"
        );
    }
    for (label, status, _, _) in everywhere(&[&a, &b], "z") {
        assert_eq!(status, 404, "{label}: delete after update");
    }

    // Truly concurrent updates of one user at both sites, through different nodes.
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
    std::thread::scope(|scope| {
        for (site, tag) in [(&a, "a"), (&b, "b")] {
            let barrier = barrier.clone();
            scope.spawn(move || {
                barrier.wait();
                for i in 0..10 {
                    email(site, i % 3, "w", &format!("w{i}@from-{tag}"));
                }
            });
        }
    });
    wait_same_digest(&[&a, &b], SETTLE);
    let seen = everywhere(&[&a, &b], "w");
    let winner = &seen[0].2;
    eprintln!("concurrent updates: {winner} won");
    for (label, status, mail, _) in &seen {
        assert_eq!(*status, 200, "{label}");
        assert_eq!(mail, winner, "{label}: {seen:?}");
    }
    assert!(
        winner == "w9@from-a" || winner == "w9@from-b",
        "the winner is one site's last write: {winner}"
    );
}
