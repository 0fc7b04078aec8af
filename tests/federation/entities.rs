use super::*;

/// Wait until every running node of `site` answers `GET path` with `status`.
fn wait_status(site: &Site, path: &str, status: u16) {
    wait_until(
        &format!("{path} -> {status} on every node of {}", site.name),
        SETTLE,
        || (0..site.nodes().len()).all(|i| site.get(i, path).0 == status),
    );
}

fn groups_of(site: &Site, i: usize, name: &str) -> Vec<String> {
    let (status, body) = user(site, i, name);
    assert_eq!(status, 200, "{}: {name}: {body}", site.name);
    let mut groups: Vec<String> = body["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g.as_str().unwrap().to_string())
        .collect();
    groups.sort();
    groups
}

#[test]
fn users_groups_and_membership_cross_both_ways() {
    let _turn = turn(1);
    let _slots = slots(6);
    let a = Site::start("a", 3, &[]);
    let b = Site::start("b", 3, &[]);

    // Trust alone does not federate: B verifies A's revocable token but does not hold it.
    a.trust(&b);
    b.trust(&a);
    let early = revocable(&a, 1, "early");
    for n in b.nodes() {
        assert_eq!(ping(n, &early), 401, "not federated yet: {}", n.url(""));
    }
    let peer = a.link(&b, true);
    assert_eq!(peer["active"], true, "{peer}");
    assert_eq!(peer["exclude_users"], json!(["admin"]), "default: {peer}");
    let mut entities: Vec<&str> = peer["entities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    entities.sort();
    assert_eq!(
        entities,
        ["GROUPS", "OIDC", "PERMISSIONS", "TOKENS", "USERS"],
        "{peer}"
    );
    b.link(&a, true);
    // Tokens stored before the link cross too (the journal or a full sync).
    wait_ping(&b, &early, 200, "a token issued before the link");

    // A user made at A (on a follower) appears on every node of B.
    create_user(&a, 1, "alice", "alice-pass-1");
    wait_status(&b, "/access/api/v2/users/alice", 200);
    assert_eq!(user(&b, 2, "alice").1["email"], "alice@example.com");
    // A new password set at A logs in at every node of B; the old one no longer does.
    let (status, body) = a.patch(
        2,
        "/access/api/v2/users/alice",
        &json!({"password": "alice-pass-2"}),
    );
    assert_eq!(status, 200, "{body}");
    wait_same_digest(&[&a, &b], SETTLE);
    for n in b.nodes() {
        assert_eq!(login(n, "alice", "alice-pass-2"), 200, "{}", n.url(""));
    }
    assert_eq!(login(b.node(0), "alice", "alice-pass-1"), 401);
    // An update made at B comes back to A.
    let (status, body) = b.patch(
        0,
        "/access/api/v2/users/alice",
        &json!({"email": "alice@b.example.com"}),
    );
    assert_eq!(status, 200, "{body}");
    wait_until("B's email at every node of A", SETTLE, || {
        (0..3).all(|i| user(&a, i, "alice").1["email"] == "alice@b.example.com")
    });

    // Groups, both ways.
    let (status, body) = a.post(0, "/access/api/v2/groups", &json!({"name": "dev"}));
    assert_eq!(status, 201, "{body}");
    let (status, body) = b.post(1, "/access/api/v2/groups", &json!({"name": "ops"}));
    assert_eq!(status, 201, "{body}");
    wait_status(&b, "/access/api/v2/groups/dev", 200);
    wait_status(&a, "/access/api/v2/groups/ops", 200);

    // Membership: added at A, seen at B; added at B, seen at A; removed at B, gone at A.
    let (status, body) = a.patch(
        0,
        "/access/api/v2/groups/dev/members",
        &json!({"add": ["alice"]}),
    );
    assert!(status == 200 || status == 204, "{status} {body}");
    wait_until("alice in dev at every node of B", SETTLE, || {
        (0..3).all(|i| groups_of(&b, i, "alice") == ["dev"])
    });
    let (status, body) = b.patch(
        2,
        "/access/api/v2/groups/ops/members",
        &json!({"add": ["alice"]}),
    );
    assert!(status == 200 || status == 204, "{status} {body}");
    wait_until("alice in dev and ops at every node of A", SETTLE, || {
        (0..3).all(|i| groups_of(&a, i, "alice") == ["dev", "ops"])
    });
    let (status, body) = b.patch(
        0,
        "/access/api/v2/groups/dev/members",
        &json!({"remove": ["alice"]}),
    );
    assert!(status == 200 || status == 204, "{status} {body}");
    wait_until("alice out of dev at every node of A", SETTLE, || {
        (0..3).all(|i| groups_of(&a, i, "alice") == ["ops"])
    });

    // Deletes: a group deleted at A, a user deleted at B.
    assert_eq!(a.delete(1, "/access/api/v2/groups/ops").0, 204);
    wait_status(&b, "/access/api/v2/groups/ops", 404);
    create_user(&b, 0, "carol", "carol-pass-1");
    wait_status(&a, "/access/api/v2/users/carol", 200);
    assert_eq!(b.delete(0, "/access/api/v2/users/alice").0, 204);
    wait_status(&a, "/access/api/v2/users/alice", 404);
    let digest = wait_same_digest(&[&a, &b], SETTLE);
    eprintln!("a and b agree: {digest}");
    // The digest lists what both hold: carol yes, alice no.
    let names = user_names(&a, 0);
    assert!(names.contains(&"carol".to_string()) && !names.contains(&"alice".to_string()));

    // Admin rights never cross: an admin made at A is not an admin at B. A marker user made
    // after it tells when A's events up to it have arrived.
    let (status, body) = a.post(
        0,
        "/access/api/v2/users",
        &json!({"username": "boss", "password": "boss-pass-1", "admin": true}),
    );
    assert_eq!(status, 201, "{body}");
    // A user that is a local admin at B keeps its credentials whatever A says about it.
    let (status, body) = b.post(
        0,
        "/access/api/v2/users",
        &json!({"username": "root2", "password": "root2-at-b", "admin": true}),
    );
    assert_eq!(status, 201, "{body}");
    // A learns root2 (as a plain user there), then changes its password.
    wait_status(&a, "/access/api/v2/users/root2", 200);
    let (status, body) = a.patch(
        0,
        "/access/api/v2/users/root2",
        &json!({"password": "root2-at-a"}),
    );
    assert_eq!(status, 200, "{body}");
    create_user(&a, 0, "marker", "marker-pass-1");
    wait_status(&b, "/access/api/v2/users/marker", 200);
    for i in 0..3 {
        let (status, boss) = user(&b, i, "boss");
        assert!(
            status == 404 || (status == 200 && boss["admin"] == false),
            "an admin of A must not be an admin at B: {status} {boss}"
        );
        let (status, root2) = user(&b, i, "root2");
        assert_eq!(status, 200, "{root2}");
        assert_eq!(root2["admin"], true, "B's local admin stays admin: {root2}");
    }
    assert_eq!(login(b.node(1), "root2", "root2-at-b"), 200);
    assert_eq!(
        login(b.node(1), "root2", "root2-at-a"),
        401,
        "A changed the password of B's local admin"
    );
    if let (200, _) = user(&b, 0, "boss") {
        // boss exists at B as a plain user: its password gets no admin there.
        let r = b
            .node(0)
            .get("/access/api/v2/users")
            .basic_auth("boss", Some("boss-pass-1"))
            .send()
            .unwrap();
        assert_eq!(r.status(), 403, "boss is no admin at B");
    }
}

/// Admin rights are site-local, so an admin at one site is a plain user (or unknown) at
/// another; the digest must still agree everywhere, as the contract says every node of every
/// site converges to the same digest.
#[test]
fn site_local_admins_do_not_split_the_digest() {
    let _turn = turn(1);
    let _slots = slots(2);
    let a = Site::start("a", 1, &[]);
    let b = Site::start("b", 1, &[]);
    federate(&a, &b);
    create_user(&a, 0, "plain", "plain-pass-1");
    wait_same_digest(&[&a, &b], SETTLE);
    // An admin made at A, and a plain user of both sites made admin at B.
    let (status, body) = a.post(
        0,
        "/access/api/v2/users",
        &json!({"username": "boss", "password": "boss-pass-1", "admin": true}),
    );
    assert_eq!(status, 201, "{body}");
    let (status, body) = b.patch(0, "/access/api/v2/users/plain", &json!({"admin": true}));
    assert_eq!(status, 200, "{body}");
    create_user(&a, 0, "marker", "marker-pass-1");
    create_user(&b, 0, "marker-b", "marker-pass-1");
    wait_until("both markers at both sites", SETTLE, || {
        user(&a, 0, "marker-b").0 == 200 && user(&b, 0, "marker").0 == 200
    });
    assert_eq!(
        user(&b, 0, "plain").1["admin"],
        true,
        "B's admin stays admin"
    );
    assert_ne!(
        user(&a, 0, "plain").1["admin"],
        true,
        "B's admin right stays at B"
    );
    wait_same_digest(&[&a, &b], SETTLE);
}
