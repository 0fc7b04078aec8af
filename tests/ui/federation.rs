use std::time::{Duration, Instant};

use super::*;

#[test]
fn the_cluster_view_shows_federation_peers_with_their_link_status() {
    let a = Site::start("a", 2, &[]);
    let b = Site::start("b", 1, &[]);
    federate(&a, &b);
    wait_same_digest(&[&a, &b], Duration::from_secs(60));
    let page = Page::new(a.node(0));
    let session = page.sign_in("admin", ADMIN_PASSWORD);
    // A session is site-local: B's admin signed in at B is nobody at A, even once the
    // sites have converged (the session record never crosses).
    let b_page = Page::new(b.node(0));
    let b_session = b_page.sign_in("admin", ADMIN_PASSWORD);
    assert_eq!(b_page.get("/ui/users", Some(&b_session)).status(), 200);
    let marker = b.token(0, &[("username", "after-sign-in"), ("expires_in", "0")]);
    let marker = marker["access_token"].as_str().unwrap().to_string();
    let deadline = Instant::now() + Duration::from_secs(60);
    // B's later (stored) token validates at A: B's journal went past the sign-in.
    while a
        .node(0)
        .get("/access/api/v1/system/ping")
        .bearer_auth(&marker)
        .send()
        .unwrap()
        .status()
        != 200
    {
        assert!(Instant::now() < deadline, "B's token never reached A");
        std::thread::sleep(Duration::from_millis(200));
    }
    let r = page.get("/ui/users", Some(&b_session));
    assert_eq!(r.status(), 303, "B's session signed in at A");
    assert_eq!(r.headers()["location"], "/ui/login");
    let page_of_peers = || {
        let r = page.get("/ui/cluster", Some(&session));
        assert_eq!(r.status(), 200);
        let html = r.text().unwrap();
        let at = html.find(r#"id="peers""#).expect("a peers table");
        html[at..].to_string()
    };
    let peers = page_of_peers();
    for text in [
        b.service_id(),
        b.url().as_str(),
        "USERS, GROUPS, TOKENS, PERMISSIONS",
    ] {
        assert!(peers.contains(text), "{text} missing from {peers}");
    }
    assert!(peers.contains("Events behind") && peers.contains("Lag (ms)"));
    // The page shows the link state the JSON API reports (read one after the other, so
    // retried while the link is still changing state).
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let state = a.federation_status(0)[0]["status"]["state"].clone();
        let peers = page_of_peers();
        if peers.contains(&format!("<td>{}</td>", state.as_str().unwrap())) {
            break;
        }
        assert!(Instant::now() < deadline, "{state}: {peers}");
        std::thread::sleep(Duration::from_millis(200));
    }
    // Every node shows the links as the leader (which runs them) sees them, not "standby".
    for i in 0..a.nodes().len() {
        let page = Page::new(a.node(i));
        let session = page.sign_in("admin", ADMIN_PASSWORD);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let html = page.get("/ui/cluster", Some(&session)).text().unwrap();
            let peers = &html[html.find(r#"id="peers""#).expect("a peers table")..];
            if peers.contains("<td>ok</td>") {
                assert!(!peers.contains("standby"), "node {i}: {peers}");
                break;
            }
            assert!(Instant::now() < deadline, "node {i}: {peers}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}
