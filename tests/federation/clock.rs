//! Sites whose clocks disagree by up to 50 s (libfaketime): a user deleted at the slow site
//! takes every token the other sites issued before they learned of it, and each site's
//! offset shows in the federation status and /metrics.

use super::*;

use access_node_harness::clock::skew;

fn skewed_site(name: &str, offset: Option<&str>) -> Site {
    Site::start_placed(name, 1, &[], |_, node| {
        if let Some(o) = offset {
            skew(node, o);
        }
    })
}

/// The clock offset A's link reports for `peer`, once read.
fn offset_of(a: &Site, peer: &str) -> i64 {
    let mut found = None;
    wait_until(&format!("A's reading of {peer}'s clock"), SETTLE, || {
        found = a.peer(0, peer)["status"]["clock_offset_ms"].as_i64();
        found.is_some()
    });
    found.unwrap()
}

#[test]
fn a_delete_at_a_slow_site_takes_every_token_issued_before_it() {
    let _turn = turn(1);
    let _slots = slots(3);
    let a = skewed_site("a", None);
    let slow = skewed_site("slow", Some("-30s"));
    // 50 s apart from the slow site: within federation.maximum-future-time-diff-millis.
    let fast = skewed_site("fast", Some("+20s"));
    federate(&a, &slow);
    federate(&a, &fast);
    let off = offset_of(&a, "slow");
    assert!((-31_000..-29_000).contains(&off), "slow: {off}");
    let off = offset_of(&a, "fast");
    assert!((19_000..21_000).contains(&off), "fast: {off}");
    // Exported at the next round of the node's clock readings.
    let mut line = String::new();
    wait_until("the slow site's offset in /metrics", SETTLE, || {
        let metrics = a.send_as_admin(0, |n| n.get("/metrics")).text().unwrap();
        let found = metrics
            .lines()
            .find(|l| l.starts_with("access_clock_offset_seconds{peer=\"site-slow\"}"));
        line = found.unwrap_or_default().to_string();
        found.is_some()
    });
    let secs: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
    assert!((-31.0..-29.0).contains(&secs), "{line}");
    eprintln!("A's view of the slow site: {line}");

    for (minter, name) in [(&a, "at-a"), (&fast, "at-fast")] {
        create_user(minter, 0, name, "user-pass-123");
        let t = revocable(minter, 0, name);
        let short = token_of(&minter.token(0, &[("username", name), ("expires_in", "600")]));
        for site in [&a, &slow, &fast] {
            wait_ping(site, &t, 200, "the stored token everywhere");
        }
        wait_until("the user at the slow site", SETTLE, || {
            user_names(&slow, 0).iter().any(|u| u == name)
        });
        std::thread::sleep(std::time::Duration::from_secs(3));
        let (status, body) = slow.delete(0, &format!("/access/api/v2/users/{name}"));
        assert_eq!(status, 204, "{body}");
        for site in [&a, &slow, &fast] {
            wait_until("the delete everywhere", SETTLE, || {
                user(site, 0, name).0 == 404
            });
            wait_ping(
                site,
                &t,
                401,
                "the stored token after the delete at the slow site",
            );
            wait_ping(
                site,
                &short,
                401,
                "the short token after the delete at the slow site",
            );
        }
    }
    // A token minted at A after A applied the delete, for a transient user of that name,
    // is not caught.
    let later = token_of(&a.token(0, &[("username", "at-a"), ("expires_in", "600")]));
    wait_ping(&a, &later, 200, "a token minted after the delete");
}
