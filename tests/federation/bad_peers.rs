use super::*;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::pkcs8::{EncodePrivateKey, LineEnding};

const EVENTS: &str = "/access/api/v1/system/federation/_events";

pub(super) fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The kid of a site's active key, from its JWKS.
pub(super) fn site_kid(site: &Site) -> String {
    active_kid(&json_of(site.node(0).get("/access/api/v1/jwks").send().unwrap()).1)
}

/// A batch as a compact RS256 JWS signed with `pem`.
fn batch(pem: &str, kid: &str, iss: &str, aud: &str, exp: u64, after: u64) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.to_string());
    let claims = json!({
        "iss": iss, "aud": aud, "iat": now(), "exp": exp,
        "jti": format!("test-{}", rand::random::<u64>()),
        "after": after, "upto": after, "events": [],
    });
    jsonwebtoken::encode(
        &header,
        &claims,
        &EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap(),
    )
    .unwrap()
}

/// POST a body to `path` on `to` (no credentials: the body is the credential).
pub(super) fn send(to: &Site, path: &str, body: &str) -> (u16, String) {
    let r = to
        .node(0)
        .post(path)
        .header("Content-Type", "application/jwt")
        .body(body.to_string())
        .send()
        .unwrap();
    (r.status().as_u16(), r.text().unwrap())
}

#[test]
fn peer_api_validation_and_refused_peers() {
    let _turn = turn(1);
    let _slots = slots(3);
    let a = Site::start("a", 1, &[]);
    let b = Site::start("b", 1, &[]);
    let c = Site::start("c", 1, &[]);
    federate(&a, &b);
    a.trust(&c); // trusted, but no federation entry at A

    // The peer API.
    let list = a.federation_status(0);
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list[0]["name"], "b");
    assert_eq!(list[0]["service_id"], b.service_id());
    assert!(list[0]["status"]["state"].is_string(), "{list}");
    let fed = "/access/api/v1/system/federation";
    assert_eq!(a.get(0, &format!("{fed}/nope")).0, 404);
    let dup = json!({"name": "b", "url": b.url()});
    assert_eq!(a.post(0, fed, &dup).0, 409, "name taken");
    let dead = format!("http://127.0.0.1:{}", free_port());
    assert_eq!(
        a.post(0, fed, &json!({"name": "d", "url": dead})).0,
        400,
        "unreachable, no service id"
    );
    let bad = json!({"name": "e", "url": c.url(), "entities": ["NOPE"]});
    assert_eq!(a.post(0, fed, &bad).0, 400, "unknown entity");
    let (status, body) = a.patch(
        0,
        &format!("{fed}/b"),
        &json!({"exclude_users": ["admin", "ci"]}),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["exclude_users"], json!(["admin", "ci"]));
    // An excluded user stays at A; a link without USERS carries tokens but no users.
    create_user(&a, 0, "ci", "ci-pass-1");
    let (status, body) = a.patch(0, &format!("{fed}/b"), &json!({"entities": ["TOKENS"]}));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["entities"], json!(["TOKENS"]));
    create_user(&a, 0, "unshared", "unshared-pass-1");
    let marker = revocable(&a, 0, "marker");
    wait_ping(&b, &marker, 200, "a token over the TOKENS-only link");
    assert_eq!(user(&b, 0, "ci").0, 404, "excluded user crossed");
    assert_eq!(
        user(&b, 0, "unshared").0,
        404,
        "a user crossed a TOKENS-only link"
    );
    // Users again, and a full sync brings what the link left out (the excluded user stays).
    let all = json!({"entities": ["USERS", "GROUPS", "TOKENS", "PERMISSIONS"]});
    assert_eq!(a.patch(0, &format!("{fed}/b"), &all).0, 200);
    assert_eq!(a.put(0, &format!("{fed}/b/full_broadcast")).0, 202);
    wait_until("the left-out user at B after a full sync", SETTLE, || {
        user(&b, 0, "unshared").0 == 200
    });
    assert_eq!(
        user(&b, 0, "ci").0,
        404,
        "excluded user crossed in a full sync"
    );
    assert_eq!(
        a.patch(0, &format!("{fed}/nope"), &json!({"active": false}))
            .0,
        404
    );
    // A temporary entry, with the service id given: created, listed, deleted.
    let tmp = json!({"name": "tmp", "url": dead, "service_id": "jfac@nobody", "active": false});
    let (status, body) = a.post(0, fed, &tmp);
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["service_id"], "jfac@nobody");
    assert_eq!(a.federation_status(0).as_array().unwrap().len(), 2);
    assert_eq!(a.delete(0, &format!("{fed}/tmp")).0, 204);
    assert_eq!(a.get(0, &format!("{fed}/tmp")).0, 404);
    // Admins only.
    let bob = token_of(&a.token(0, &[("username", "bob"), ("expires_in", "600")]));
    let r = a.node(0).get(fed).bearer_auth(&bob).send().unwrap();
    assert_eq!(r.status(), 403);
    let r = a.node(0).get(fed).send().unwrap();
    assert_eq!(r.status(), 401);

    // validate_server: B is fine, C trusts nobody and is unknown to us as a peer.
    let validate = |url: &str| {
        let (status, body) = a.post(0, &format!("{fed}/validate_server"), &json!({ "url": url }));
        assert_eq!(status, 200, "{body}");
        body
    };
    let v = validate(&b.url());
    assert_eq!(v["reachable"], true, "{v}");
    assert_eq!(v["service_id"], b.service_id(), "{v}");
    assert_eq!(
        (
            &v["we_trust_them"],
            &v["they_trust_us"],
            &v["they_know_us"],
            &v["ok"]
        ),
        (&json!(true), &json!(true), &json!(true), &json!(true)),
        "{v}"
    );
    let v = validate(&c.url());
    assert_eq!(
        (&v["reachable"], &v["we_trust_them"]),
        (&json!(true), &json!(true)),
        "{v}"
    );
    assert_eq!(
        (&v["they_trust_us"], &v["ok"]),
        (&json!(false), &json!(false)),
        "{v}"
    );
    assert!(!v["problems"].as_array().unwrap().is_empty(), "{v}");
    // Once C trusts us, we can link to it now: that it has no entry for us yet is a warning
    // (the operator registers both sides next), not a problem.
    c.trust(&a);
    let v = validate(&c.url());
    assert_eq!(
        (&v["they_trust_us"], &v["they_know_us"], &v["ok"]),
        (&json!(true), &json!(false), &json!(true)),
        "{v}"
    );
    assert_eq!(v["problems"], json!([]), "{v}");
    assert!(
        v["warnings"][0]
            .as_str()
            .unwrap()
            .contains("no federation entry"),
        "{v}"
    );
    let v = validate(&dead);
    assert_eq!(
        (&v["reachable"], &v["ok"]),
        (&json!(false), &json!(false)),
        "{v}"
    );

    // Internal endpoints refuse what is not a proper batch.
    for path in [
        EVENTS,
        "/access/api/v1/system/federation/_sync",
        "/access/api/v1/system/federation/_hello",
    ] {
        let (status, body) = send(&a, path, "this is not a jwt");
        assert_eq!(status, 400, "{path}: {body}");
    }
    let (status, body) = send(&a, EVENTS, "e30.e30.e30");
    assert_eq!(status, 400, "not a JWS: {body}");

    let b_pem = std::fs::read_to_string(b.node(0).home.join("etc/keys/private.key")).unwrap();
    let c_pem = std::fs::read_to_string(c.node(0).home.join("etc/keys/private.key")).unwrap();
    let (b_kid, c_kid) = (site_kid(&b), site_kid(&c));
    let (aid, bid, cid) = (a.service_id(), b.service_id(), c.service_id());
    let soon = now() + 60;
    // A key nobody trusts claiming to be B (with B's kid, even).
    let forged_key = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).unwrap();
    let forged_pem = forged_key.to_pkcs8_pem(LineEnding::LF).unwrap().to_string();
    let (status, body) = send(&a, EVENTS, &batch(&forged_pem, &b_kid, bid, aid, soon, 0));
    assert_eq!(status, 401, "untrusted key claiming B: {body}");
    // C's real key: trusted at A, but C is no peer of A.
    let (status, body) = send(&a, EVENTS, &batch(&c_pem, &c_kid, cid, aid, soon, 0));
    assert!(
        status == 401 || status == 403,
        "trusted site without a federation entry: {status} {body}"
    );
    // B's real key, but C's identity: the key speaks only for B.
    let (status, body) = send(&a, EVENTS, &batch(&b_pem, &b_kid, cid, aid, soon, 0));
    assert!(
        status == 401 || status == 403,
        "B's key claiming C: {status} {body}"
    );
    // B's real key, addressed to another site, or expired.
    let (status, body) = send(&a, EVENTS, &batch(&b_pem, &b_kid, bid, cid, soon, 0));
    assert_eq!(status, 401, "wrong audience: {body}");
    let (status, body) = send(&a, EVENTS, &batch(&b_pem, &b_kid, bid, aid, now() - 120, 0));
    assert_eq!(status, 401, "expired: {body}");
    // B's real key, properly addressed, but not where A stands with B: 409 with the position.
    let (status, body) = send(
        &a,
        EVENTS,
        &batch(&b_pem, &b_kid, bid, aid, soon, 1_000_000_000),
    );
    assert_eq!(status, 409, "out of order: {body}");
    let conflict: Value = serde_json::from_str(&body).unwrap();
    assert!(conflict["position"].is_u64(), "{conflict}");

    // None of it broke the real link.
    create_user(&b, 0, "still-linked", "still-linked-1");
    wait_until("B's user at A after the bad batches", SETTLE, || {
        user(&a, 0, "still-linked").0 == 200
    });
    wait_same_digest(&[&a, &b], SETTLE);
}
