//! Authenticate before reading: a site-to-site body over `server.max-body-bytes` is read only
//! after its upload header (`X-Access-Site-Auth`) has authenticated a federated site.

use super::bad_peers::{now, site_kid};
use super::*;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::blocking::Body;
use rsa::pkcs8::{EncodePrivateKey, LineEnding};
use sha2::{Digest, Sha256};

const EVENTS: &str = "/access/api/v1/system/federation/_events";
const SYNC: &str = "/access/api/v1/system/federation/_sync";
const HELLO: &str = "/access/api/v1/system/federation/_hello";
const AUTH: &str = "X-Access-Site-Auth";
const MIB: usize = 1024 * 1024;

/// Peak resident memory of a process (VmHWM), in bytes.
fn peak_rss(pid: u32) -> usize {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    let kib: usize = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

/// A compact RS256 JWS of `claims` signed with `pem` under `kid`.
fn jws(pem: &str, kid: &str, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.to_string());
    jsonwebtoken::encode(
        &header,
        claims,
        &EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap(),
    )
    .unwrap()
}

/// An upload header from `iss` to `aud` for a body of `len` bytes with SHA-256 `sha256`.
fn upload_header(pem: &str, kid: &str, iss: &str, aud: &str, len: usize, sha256: &str) -> String {
    jws(
        pem,
        kid,
        &json!({
            "iss": iss, "aud": aud, "iat": now(), "exp": now() + 60,
            "jti": format!("test-{}", rand::random::<u64>()),
            "purpose": "federation-upload", "len": len, "sha256": sha256,
        }),
    )
}

fn sha256(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

/// POST `body` to `path` on node 0 of `to`, with an upload header when given. The answer's
/// status and JSON body (`json_of` checks the error shape).
fn post(to: &Site, path: &str, body: Body, auth: Option<&str>) -> (u16, Value) {
    let mut r = to
        .node(0)
        .post(path)
        .header("Content-Type", "application/jwt")
        .timeout(Duration::from_secs(60));
    if let Some(auth) = auth {
        r = r.header(AUTH, auth);
    }
    json_of(r.body(body).send().unwrap())
}

/// A body of unknown length: sent chunked, without Content-Length.
fn chunked(len: usize) -> Body {
    Body::new(std::io::Cursor::new(vec![b'a'; len]))
}

#[test]
fn anonymous_and_forged_large_bodies_are_refused_unread() {
    let _turn = turn(1);
    let _slots = slots(1);
    let a = Site::start("a", 1, &[]);
    let aid = a.service_id().to_string();
    let pid = a.node(0).pid().unwrap();
    // Small garbage is read and refused as before.
    let (status, body) = post(&a, EVENTS, Body::from("not a jws"), None);
    assert_eq!(status, 400, "{body}");

    // (a) An anonymous 2 MiB batch: 413, declared or streamed; a hello is always small.
    for (what, path, body) in [
        ("2 MiB to _events", EVENTS, Body::from(vec![b'a'; 2 * MIB])),
        ("2 MiB chunked to _events", EVENTS, chunked(2 * MIB)),
        ("2 MiB to _hello", HELLO, Body::from(vec![b'a'; 2 * MIB])),
    ] {
        let (status, body) = post(&a, path, body, None);
        assert_eq!(status, 413, "{what}: {body}");
        assert_eq!(error_code(&body), "PAYLOAD_TOO_LARGE", "{what}: {body}");
    }

    // (b) An anonymous 48 MiB sync chunk: 413, and the node's peak memory hardly moves.
    // Measured from here: the worker threads have served large refusals above, so their
    // one-time warm-up (a few MiB, whatever the body size) is behind us.
    let before = peak_rss(pid);
    let big = vec![b'a'; 48 * MIB];
    let (status, body) = post(&a, SYNC, Body::from(big.clone()), None);
    assert_eq!(status, 413, "48 MiB to _sync: {body}");

    // (d) The same with an upload header signed by a key nobody trusts (claiming a made-up
    // site, then A itself): 401 before the body is read; a garbage header: 400.
    let forged = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).unwrap();
    let forged = forged.to_pkcs8_pem(LineEnding::LF).unwrap().to_string();
    let digest = sha256(&big);
    for iss in ["jfac@nobody", aid.as_str()] {
        let header = upload_header(&forged, "forged-kid", iss, &aid, big.len(), &digest);
        let (status, body) = post(&a, SYNC, Body::from(big.clone()), Some(&header));
        assert_eq!(status, 401, "forged header claiming {iss}: {body}");
    }
    let (status, body) = post(&a, EVENTS, Body::from(big), Some("not-a-jws"));
    assert_eq!(status, 400, "garbage header: {body}");

    let grown = peak_rss(pid).saturating_sub(before);
    eprintln!("peak RSS of the node grew by {} KiB", grown / 1024);
    assert!(
        grown < 16 * MIB,
        "the node's peak RSS grew by {grown} bytes for bodies it should not have read"
    );
    assert_eq!(ping(a.node(0), &a.bearer()), 200, "the node still answers");
}

#[test]
fn large_messages_of_a_federated_site_are_read_once_authenticated() {
    let _turn = turn(1);
    let _slots = slots(2);
    // A reads at most 4 KiB unauthenticated and 1 MiB from a peer: a full sync of B's users
    // is larger than 4 KiB, so it must come in through the upload header.
    let a = Site::start(
        "a",
        1,
        &[
            ("ACCESS_NODE_SERVER_MAX_BODY_BYTES", "4096"),
            ("ACCESS_NODE_FEDERATION_MAX_MESSAGE_BYTES", "1048576"),
        ],
    );
    let b = Site::start("b", 1, &[]);
    for i in 0..40 {
        create_user(&b, 0, &format!("big{i:02}"), "big-pass-1");
    }
    link_one_way(&b, &a);

    // (c) The full sync went through, and streaming after it.
    let big_users = |s: &Site| {
        user_names(s, 0)
            .iter()
            .filter(|n| n.starts_with("big"))
            .count()
    };
    wait_until("B's 40 users at A (a full sync over 4 KiB)", SETTLE, || {
        big_users(&a) == 40
    });
    // B counts the sync once A has answered it, which may come just after A shows the users.
    wait_until("B counts a full sync to A", SETTLE, || {
        b.peer(0, "a")["status"]["full_syncs"].as_u64().unwrap_or(0) >= 1
    });
    create_user(&b, 0, "after-sync", "after-sync-1");
    wait_until("a user created after the sync at A", SETTLE, || {
        user(&a, 0, "after-sync").0 == 200
    });

    // Hand-made large batches in B's name, with B's real key.
    let b_pem = std::fs::read_to_string(b.node(0).home.join("etc/keys/private.key")).unwrap();
    let b_kid = site_kid(&b);
    let (aid, bid) = (a.service_id().to_string(), b.service_id().to_string());
    // A batch far ahead of where A stands with B, padded past 4 KiB: once read and opened,
    // 409 with A's position.
    let batch = jws(
        &b_pem,
        &b_kid,
        &json!({
            "iss": bid, "aud": aid, "iat": now(), "exp": now() + 60,
            "jti": "p".repeat(8 * 1024),
            "after": 1_000_000_000u64, "upto": 1_000_000_000u64, "events": [],
        }),
    );
    assert!(batch.len() > 4096);
    let header = |len: usize, digest: &str| upload_header(&b_pem, &b_kid, &bid, &aid, len, digest);
    let good = header(batch.len(), &sha256(batch.as_bytes()));
    let (status, body) = post(&a, EVENTS, Body::from(batch.clone()), Some(&good));
    assert_eq!(status, 409, "an authenticated large batch is read: {body}");
    assert!(body["position"].is_u64(), "{body}");
    // Without the header: 413. With the header of another body, or another length: refused.
    let (status, body) = post(&a, EVENTS, Body::from(batch.clone()), None);
    assert_eq!(status, 413, "no header: {body}");
    let mut other = batch.clone().into_bytes();
    other[10] ^= 1;
    let (status, body) = post(&a, EVENTS, Body::from(other), Some(&good));
    assert_eq!(status, 401, "a header for another body: {body}");
    let longer = header(batch.len() + 1, &sha256(batch.as_bytes()));
    let (status, body) = post(&a, EVENTS, Body::from(batch.clone()), Some(&longer));
    assert_eq!(status, 400, "Content-Length not the signed length: {body}");
    let (status, body) = post(&a, EVENTS, chunked(batch.len() + 1), Some(&good));
    assert_eq!(
        status, 413,
        "a stream longer than the signed length: {body}"
    );
    // Over A's federation.max-message-bytes, even from a peer: 413 unread.
    let huge = vec![b'a'; 2 * MIB];
    let (status, body) = post(
        &a,
        SYNC,
        Body::from(huge.clone()),
        Some(&header(huge.len(), &sha256(&huge))),
    );
    assert_eq!(status, 413, "over max-message-bytes: {body}");
    // A site that is trusted but has no federation entry here: 401.
    assert_eq!(a.delete(0, "/access/api/v1/system/federation/b").0, 204);
    let (status, body) = post(&a, EVENTS, Body::from(batch), Some(&good));
    assert_eq!(status, 401, "no federation entry: {body}");
}
