//! Federation in the metrics and the audit trail: the lag and backlog of each peer site, and
//! the link's creation as an audit event.

use super::*;

#[test]
fn federation_lag_per_peer_is_exported_and_links_are_audited() {
    let a = Site::start("east", 1, &[]);
    let b = Site::start("west", 1, &[]);
    link_one_way(&a, &b);
    let bearer = a.bearer();
    // The link starts with a full sync, which sets no lag: only once it streams does the
    // token below travel as an event (and a slow start cannot fold it into the full sync).
    eventually("the link to west streaming", || {
        let peer = a.peer(0, "west");
        (peer["status"]["full_sync"] == false && peer["status"]["state"] == "ok").then_some(())
    });

    // A stored token issued at A reaches B: the link delivered at least one batch.
    let token = str_of(
        &a.token(0, &[("username", "ci"), ("expires_in", "0")]),
        "access_token",
    );
    eventually("A's token accepted at B", || {
        let r = b
            .node(0)
            .get("/api/system/ping")
            .bearer_auth(&token)
            .send()
            .unwrap();
        (r.status() == 200).then_some(())
    });
    let scraped = eventually("lag and an empty backlog for west", || {
        let s = scrape(a.node(0), &bearer);
        let lag = s.series("access_federation_lag_seconds");
        let behind = s.value("access_federation_events_behind", &[("peer", "west")]);
        (lag.len() == 1 && lag[0].0["peer"] == "west" && behind == 0.0).then_some(s)
    });
    promtool_check(&scraped.text);
    assert!(scraped.value("access_federation_lag_seconds", &[("peer", "west")]) >= 0.0);

    let api = "/access/api/v1/audit/events?kind=federation";
    let (status, body) = json_of(a.send_as_admin(0, |n| n.get(api)));
    assert_eq!(status, 200, "{body}");
    let events = body["events"].as_array().unwrap();
    let added = events
        .iter()
        .find(|e| e["kind"] == "federation.peer_added" && e["origin"] == "request")
        .unwrap_or_else(|| panic!("{body}"));
    assert_eq!(added["peer"], "west");
    assert_eq!(added["active"], true);
    assert_eq!(added["service_id"], b.service_id());
    assert!(events
        .iter()
        .any(|e| e["kind"] == "federation.peer_set" && e["origin"] == "log"));
}
