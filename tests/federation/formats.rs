//! Sites on adjacent formats keep federating: what the receiving site's format cannot take
//! is held back (and counted) by the sender, never dropped, and reaches it in the full sync
//! after its upgrade; everything else keeps flowing both ways meanwhile.

use super::bad_peers::{now, send, site_kid};
use super::*;

const FORMAT_ENV: &str = "ACCESS_TEST_FORMAT_VERSION";
const OIDC: &str = "/access/api/v1/oidc";
const EVENTS: &str = "/access/api/v1/system/federation/_events";

/// A's link to B as A's leader shows it.
fn link_to(a: &Site, b: &Site) -> Value {
    a.peer(0, &b.name)["status"].clone()
}

fn held_metric(site: &Site, peer: &str) -> Option<u64> {
    let text = site.send_as_admin(0, |n| n.get("/metrics")).text().unwrap();
    let prefix = format!("access_federation_held_changes{{peer=\"{peer}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .and_then(|v| v.trim().parse().ok())
}

/// A batch from A, made by hand with A's key, carrying an OIDC change (format 2) to B.
fn oidc_batch_from(a: &Site, b: &Site) -> String {
    let pem = std::fs::read_to_string(a.node(0).home.join("etc/keys/private.key")).unwrap();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some(site_kid(a));
    let change =
        json!({"kind": "oidc", "name": "made", "state": {"stamp": null, "provider": null}});
    let claims = json!({
        "iss": a.service_id(), "aud": b.service_id(), "iat": now(), "exp": now() + 60,
        "jti": format!("f-{}", rand::random::<u64>()),
        "after": 0, "upto": 1, "format": 2,
        "events": [{"origin": a.service_id(), "seq": 1, "at_ms": now() * 1000, "change": change}],
    });
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap();
    jsonwebtoken::encode(&header, &claims, &key).unwrap()
}

/// Site B runs nodes that read only format 1 (a release before OIDC), A the current one.
/// A's OIDC provider is held for B (counted in the status and /metrics) while users and
/// revocations made after it still cross at once, both ways; B refuses a hand-made batch
/// of a newer format with 409 `format`, naming its own. While B is upgraded node by node it
/// takes nothing (503: its nodes would merge differently) and A keeps what it sends; once
/// every node of B reads format 2, the provider reaches it and nothing is held any more.
#[test]
fn changes_of_a_newer_format_wait_for_the_peer_site_and_the_rest_flows() {
    let _turn = turn(1);
    let _slots = slots(3);
    let issuer = TestIssuer::start();
    let a = Site::start("a", 1, &[]);
    let mut b = Site::start("b", 2, &[(FORMAT_ENV, "1")]);
    federate(&a, &b);

    let provider = json!({"name": "github", "issuer_url": issuer.url, "provider_type": "GitHub",
                          "audience": "access-node"});
    let (status, body) = a.post(0, OIDC, &provider);
    assert_eq!(status, 201, "{body}");
    // Made after the provider: neither waits for it.
    create_user(&a, 0, "after-oidc", "after-oidc-pass-1");
    let token = revocable(&a, 0, "after-oidc");
    wait_ping(&b, &token, 200, "A's token at B");
    let r = a.send_as_admin(0, |n| {
        n.delete("/access/api/v1/tokens/revoke")
            .form(&[("token", token.as_str())])
    });
    assert_eq!(r.status().as_u16(), 200);
    wait_ping(&b, &token, 401, "A's revocation at B (format 1)");
    create_user(&b, 0, "from-old-site", "from-old-site-pass-1");
    wait_until("B's user at A", SETTLE, || {
        user(&a, 0, "from-old-site").0 == 200
    });
    assert_eq!(user(&b, 0, "after-oidc").0, 200);

    let status = link_to(&a, &b);
    assert_eq!(status["held"], 1, "{status}");
    assert_eq!(status["held_needs_format"], 2, "{status}");
    assert_eq!(status["peer_format"], 1, "{status}");
    assert_eq!(held_metric(&a, "b"), Some(1));
    assert_eq!(b.get(0, &format!("{OIDC}/github")).0, 404);

    // What the sender would never send: refused before anything is proposed.
    let (status, body) = send(&b, EVENTS, &oidc_batch_from(&a, &b));
    assert_eq!(status, 409, "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["status"], "format", "{answer}");
    assert_eq!(answer["format"], 1, "{answer}");
    let message = answer["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("format 1"), "{message}");

    // B half upgraded: the node A pushes to takes nothing yet, and A keeps it.
    let node = &mut b.cluster.nodes[0];
    node.stop();
    node.set_env(FORMAT_ENV, "2");
    node.spawn();
    node.wait_ready();
    create_user(&a, 0, "during-upgrade", "during-upgrade-pass-1");
    wait_until("A's link waiting on B's upgrade", SETTLE, || {
        link_to(&a, &b)["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("being upgraded"))
    });
    assert_eq!(user(&b, 1, "during-upgrade").0, 404);
    // Fully upgraded: its cluster moves to format 2, A's link reads it and syncs what it held.
    let node = &mut b.cluster.nodes[1];
    node.stop();
    node.set_env(FORMAT_ENV, "2");
    node.spawn();
    node.wait_ready();
    wait_until("A's user made during B's upgrade at B", SETTLE, || {
        user(&b, 1, "during-upgrade").0 == 200
    });
    wait_until("A's provider at B after B's upgrade", SETTLE, || {
        b.get(0, &format!("{OIDC}/github")).0 == 200
    });
    wait_until("nothing held for B", SETTLE, || {
        link_to(&a, &b)["held"] == 0
    });
    assert_eq!(held_metric(&a, "b"), Some(0));
    assert_eq!(link_to(&a, &b)["peer_format"], 2);
    assert_eq!(user(&b, 0, "after-oidc").0, 200, "nothing lost by the sync");
    wait_ping(&b, &token, 401, "the revocation after the sync");
}
