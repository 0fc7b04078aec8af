use super::*;

/// Two sites in their own network namespaces; one is cut off (iptables, both directions) while
/// both keep writing, including the same user; after the heal every change is everywhere and
/// the digests agree.
#[test]
fn a_partitioned_site_keeps_writing_and_converges_after_the_heal() {
    let _turn = turn(1);
    let _slots = slots(2);
    let lab = NetLab::new(2);
    let placed = |host: usize| {
        let (addr, ns) = (lab.addr(host), lab.ns(host));
        move |_: usize, node: &mut TestNode| {
            node.host = addr.clone();
            node.netns = Some(ns.clone());
            node.port = 8082;
        }
    };
    let a = Site::start_placed("a", 1, &[], placed(1));
    let b = Site::start_placed("b", 1, &[], placed(2));
    federate(&a, &b);
    create_user(&a, 0, "shared", "shared-pass-1");
    let doomed = revocable(&b, 0, "ci");
    wait_same_digest(&[&a, &b], SETTLE);
    assert_eq!(ping(a.node(0), &doomed), 200, "B's token is known at A");

    lab.isolate(2);
    // Both sides write while apart: each its own user, the same user, a revocation at B.
    create_user(&a, 0, "from-a", "from-a-pass-1");
    create_user(&b, 0, "from-b", "from-b-pass-1");
    let (status, body) = a.patch(0, "/access/api/v2/users/shared", &json!({"email": "a@cut"}));
    assert_eq!(status, 200, "{body}");
    std::thread::sleep(Duration::from_millis(50));
    let (status, body) = b.patch(0, "/access/api/v2/users/shared", &json!({"email": "b@cut"}));
    assert_eq!(status, 200, "{body}");
    let r = b.send_as_admin(0, |n| {
        n.delete("/access/api/v1/tokens/revoke")
            .form(&[("token", doomed.as_str())])
    });
    assert_eq!(r.status(), 200);
    wait_until("A to report the link to B failing", SETTLE, || {
        a.peer(0, "b")["status"]["state"] == "error"
    });
    assert_eq!(user(&b, 0, "from-a").0, 404, "B cannot know A's user yet");
    assert_eq!(
        ping(a.node(0), &doomed),
        200,
        "A cannot know B's revocation yet"
    );

    lab.heal(2);
    wait_same_digest(&[&a, &b], Duration::from_secs(60));
    for site in [&a, &b] {
        for name in ["from-a", "from-b"] {
            assert_eq!(user(site, 0, name).0, 200, "{}: {name}", site.name);
        }
        assert_eq!(
            user(site, 0, "shared").1["email"],
            "b@cut",
            "{}: the later write wins",
            site.name
        );
        assert_eq!(ping(site.node(0), &doomed), 401, "{}: revoked", site.name);
    }
}
