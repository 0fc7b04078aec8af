use super::*;
use std::time::Duration;

/// A rotated key is fetched when a token names it; a key the issuer dropped stops verifying
/// once the keys are fetched again.
#[test]
fn rotated_keys_verify_and_dropped_keys_stop_verifying() {
    let issuer = TestIssuer::start();
    let node = node_with(&[("ACCESS_NODE_OIDC_JWKS_REFETCH_MIN_SECS", "1")]);
    github_setup(&node, &issuer);
    let old = issuer.mint(json!({}));
    let (status, body) = exchange(&node, "github", &old);
    assert_eq!(status, 200, "{body}");
    issuer.rotate("RS256", false);
    std::thread::sleep(Duration::from_millis(1100));
    let new = issuer.mint(json!({}));
    let (status, body) = exchange(&node, "github", &new);
    assert_eq!(status, 200, "the new key, fetched for its kid: {body}");
    // The set fetched for it no longer holds the old key.
    let (status, body) = exchange(&node, "github", &old);
    assert_eq!(status, 401, "{body}");
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(message.starts_with("Failed to get public key"), "{message}");
}

/// Made-up key ids fetch the issuer's keys at most once per `oidc.jwks-refetch-min-secs`.
#[test]
fn a_flood_of_unknown_key_ids_cannot_hammer_the_issuer() {
    let issuer = TestIssuer::start();
    // A window no slow machine can outlast in this test.
    let node = node_with(&[("ACCESS_NODE_OIDC_JWKS_REFETCH_MIN_SECS", "60")]);
    github_setup(&node, &issuer);
    let forged: Vec<String> = (0..40)
        .map(|i| issuer.mint_with(json!({}), json!({"kid": format!("made-up-{i}")})))
        .collect();
    let (status, body) = exchange(&node, "github", &issuer.mint(json!({})));
    assert_eq!(status, 200, "{body}");
    let before = issuer.jwks_fetches();
    for token in &forged {
        let (status, body) = exchange(&node, "github", token);
        assert_eq!(status, 401, "{body}");
    }
    // The keys were fetched just now, for the good token: 40 unknown key ids in the same
    // window fetch nothing more.
    let fetched = issuer.jwks_fetches() - before;
    assert_eq!(fetched, 0, "{fetched} fetches for 40 unknown key ids");
}

/// An issuer that cannot be reached, or answers 503, is a 503 naming it; the node stays
/// healthy and answers the next exchange once the issuer is back.
#[test]
fn an_unreachable_issuer_is_a_503_and_the_node_stays_healthy() {
    let issuer = TestIssuer::start();
    let node = node_with(&[
        ("ACCESS_NODE_OIDC_JWKS_REFETCH_MIN_SECS", "1"),
        ("ACCESS_NODE_OIDC_FETCH_TIMEOUT_MS", "2000"),
    ]);
    // Nothing listens at this port.
    let nowhere = format!("http://127.0.0.1:{}", free_port());
    add_provider(&node, "gone", &nowhere);
    add_mapping(
        &node,
        "gone",
        json!({"name": "all", "claims": {"repository": "*"}, "token_spec": {"username": "x"}}),
    );
    let (status, body) = exchange(&node, "gone", &issuer.mint(json!({})));
    assert_eq!(status, 503, "{body}");
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(message.starts_with("Failed to get public key"), "{message}");

    github_setup(&node, &issuer);
    issuer.set_down(true);
    let (status, body) = exchange(&node, "github", &issuer.mint(json!({})));
    assert_eq!(status, 503, "{body}");
    assert_eq!(
        client().get(node.url("/healthz")).send().unwrap().status(),
        200
    );
    issuer.set_down(false);
    std::thread::sleep(Duration::from_millis(1100));
    let (status, body) = exchange(&node, "github", &issuer.mint(json!({})));
    assert_eq!(status, 200, "{body}");
    let log = node.log();
    assert!(!log.contains("panicked") && !log.contains("internal error"));
}
