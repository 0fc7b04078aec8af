//! A hostile site that the test controls: it holds a real site's signing key (trusted by A,
//! with a federation entry at A) and sends hand-made messages. Nothing it sends may yield a
//! credential at A, pass A's entry for it, rebind a certificate, or forge or suppress
//! another origin's events. B is a real federated site beside A.

use super::bad_peers::{now, send, site_kid};
use super::*;
use access_node_harness::site::FEDERATION;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use sha2::{Digest, Sha256};

const EVENTS: &str = "/access/api/v1/system/federation/_events";
const SYNC: &str = "/access/api/v1/system/federation/_sync";

/// The hostile site: its service id, kid and private key.
struct Hostile {
    id: String,
    kid: String,
    pem: String,
}

impl Hostile {
    /// A compact RS256 JWS of `claims` with the hostile key.
    fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(
            &header,
            claims,
            &EncodingKey::from_rsa_pem(self.pem.as_bytes()).unwrap(),
        )
        .unwrap()
    }

    /// A message to `to` with `body`'s fields.
    fn message(&self, to: &Site, body: Value) -> String {
        let mut claims = json!({
            "iss": self.id, "aud": to.service_id(), "iat": now(), "exp": now() + 60,
            "jti": format!("h-{}", rand::random::<u64>()),
        });
        claims
            .as_object_mut()
            .unwrap()
            .extend(body.as_object().unwrap().clone());
        self.sign(&claims)
    }

    fn events(&self, to: &Site, after: u64, events: Vec<Value>) -> (u16, String) {
        let upto = after + events.len() as u64;
        let body = json!({"after": after, "upto": upto, "events": events});
        send(to, EVENTS, &self.message(to, body))
    }

    /// Event `seq` of `origin` (no origin signature).
    fn event(&self, origin: &str, seq: u64, change: Value) -> Value {
        json!({"origin": origin, "seq": seq, "at_ms": now() * 1000, "change": change})
    }

    /// This key's certificate claimed for `service_id`, endorsed by this key.
    fn cert_for(&self, service_id: &str, certificate: &str) -> Value {
        let endorsement = self.sign(&json!({
            "iss": service_id, "sub": self.kid, "purpose": "federation-key"
        }));
        json!({"kind": "cert", "cert": {
            "service_id": service_id,
            "stamp": {"ms": now() * 1000 + 10_000_000, "n": 0, "site": service_id},
            "kid": self.kid, "certificate_pem": certificate, "retired": [],
            "endorsement": endorsement, "self_endorsement": endorsement,
        }})
    }
}

fn sha256(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

fn stamp(site: &str) -> Value {
    json!({"ms": now() * 1000, "n": 0, "site": site})
}

fn user_change(site: &str, name: &str, password_hash: &str) -> Value {
    json!({"kind": "user", "name": name, "state": {
        "stamp": stamp(site),
        "fields": {"password_hash": password_hash, "email": "h@example.com", "created_at": 1},
        "deleted_at": null, "members": {},
    }})
}

/// A token record as a site sends it: `kind` access or session, reference hash chosen.
fn record(issuer: &str, kind: &str, reference: &str) -> Value {
    json!({"kind": "token", "record": {
        "token_id": format!("h-{}", rand::random::<u64>()),
        "username": "admin", "subject": format!("{issuer}/users/admin"),
        "scope": "applied-permissions/admin", "audience": "*@*", "issuer": issuer,
        "issued_at": now() - 5, "expiry": now() + 3600, "revocable": true,
        "refreshable": false, "refresh_hash": null, "description": null,
        "kind": kind, "reference_hash": sha256(reference),
    }})
}

/// `GET path` at A with `token` as bearer.
fn status_with(site: &Site, path: &str, token: &str) -> u16 {
    site.node(0)
        .get(path)
        .bearer_auth(token)
        .send()
        .unwrap()
        .status()
        .as_u16()
}

/// A reference token JFrog-shaped, never issued by anyone.
fn made_up_reference() -> String {
    use base64::Engine;
    let raw = format!("reftkn:01:0:{}", rand::random::<u64>());
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(raw)
}

/// What a foreign credential must never reach at A.
fn assert_no_local_rights(a: &Site, token: &str, what: &str) {
    for path in [
        "/access/api/v2/users",
        "/metrics",
        "/access/api/v1/system/backup",
        "/access/api/v1/cert/trusted",
    ] {
        let s = status_with(a, path, token);
        assert!(s == 401 || s == 403, "{what} on {path}: {s}");
    }
    let r = a
        .node(0)
        .post("/access/api/v2/users")
        .bearer_auth(token)
        .json(&json!({"username": "planted", "password": "planted-pass-1", "admin": true}))
        .send()
        .unwrap();
    assert!(
        r.status() == 401 || r.status() == 403,
        "{what} created a user"
    );
}

fn refused_count(a: &Site) -> u64 {
    a.peer(0, "h")["status"]["refused"].as_u64().unwrap_or(0)
}

#[test]
fn a_hostile_site_gains_nothing_here() {
    let _turn = turn(1);
    let _slots = slots(3);
    let a = Site::start("a", 1, &[]);
    let b = Site::start("b", 1, &[]);
    let h_site = Site::start("h", 1, &[]);
    federate(&a, &b);
    let h = Hostile {
        id: h_site.service_id().to_string(),
        kid: site_kid(&h_site),
        pem: std::fs::read_to_string(h_site.node(0).home.join("etc/keys/private.key")).unwrap(),
    };
    let h_cert = h_site.root_cert();
    a.trust(&h_site);
    let entry = json!({
        "name": "h", "url": h_site.url(), "service_id": h.id, "active": false,
        "entities": ["GROUPS"], "exclude_users": ["admin", "fed-excl"],
    });
    assert_eq!(a.post(0, FEDERATION, &entry).0, 201);

    // 1. A federated site's admin-scoped reference token acts at A as B's token, no more.
    let minted = b.token(
        0,
        &[
            ("scope", "applied-permissions/admin"),
            ("include_reference_token", "true"),
            ("expires_in", "0"),
        ],
    );
    let (b_jwt, b_ref) = (
        token_of(&minted),
        minted["reference_token"].as_str().unwrap().to_string(),
    );
    wait_ping(&a, &b_ref, 200, "B's reference token at A (as B's token)");
    assert_no_local_rights(&a, &b_ref, "B's reference token");
    assert_no_local_rights(&a, &b_jwt, "B's admin JWT");

    // 2. A's entry for H carries GROUPS only and excludes fed-excl: the rest is refused.
    create_user(&a, 0, "fed-excl", "fed-excl-pass-1");
    let any_write = json!({"kind": "permission", "name": "h-any", "state": {
        "stamp": stamp(&h.id),
        "target": {"name": "h-any", "resources": {"artifact": {
            "actions": {"users": {}, "groups": {"readers": ["READ", "WRITE"]}},
            "targets": {"ANY": {"include_patterns": ["**"], "exclude_patterns": []}},
        }}},
    }});
    let h_ref = format!("cmVmdGtu{}", rand::random::<u64>());
    let group = json!({"kind": "group", "name": "h-group", "state": {
        "stamp": stamp(&h.id), "fields": {"description": "from h", "created_at": 1},
    }});
    let batch = vec![
        h.event(&h.id, 1, user_change(&h.id, "h-user", "x")),
        h.event(&h.id, 2, user_change(&h.id, "fed-excl", "hijacked")),
        h.event(&h.id, 3, any_write),
        h.event(&h.id, 4, record(&h.id, "access", &h_ref)),
        h.event(&h.id, 5, group),
    ];
    let (status, body) = h.events(&a, 0, batch);
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        a.get(0, "/access/api/v2/groups/h-group").0,
        200,
        "GROUPS is carried"
    );
    assert_eq!(user(&a, 0, "h-user").0, 404);
    assert_eq!(login(a.node(0), "fed-excl", "fed-excl-pass-1"), 200);
    assert_eq!(a.get(0, "/access/api/v2/permissions/h-any").0, 404);
    assert_eq!(status_with(&a, "/access/api/v1/system/ping", &h_ref), 401);
    assert_eq!(refused_count(&a), 4);
    let last = &a.peer(0, "h")["status"]["last_refused"];
    assert_eq!(last["reason"], "entity", "{last}");
    let metrics = a.send_as_admin(0, |n| n.get("/metrics")).text().unwrap();
    assert!(
        metrics.contains("access_federation_refused_changes_total{peer=\"h\",reason=\"entity\"} 4"),
        "{metrics}"
    );
    // The audit trail is written by a background thread: a moment later.
    wait_until("the refusals in A's audit trail", SETTLE, || {
        let (status, audit) = a.get(
            0,
            "/access/api/v1/audit/events?kind=federation.change_refused",
        );
        status == 200 && audit["events"].as_array().unwrap().len() >= 4
    });

    // 3. Every entity now, but records still never pass for local credentials.
    let all = json!({"entities": ["USERS", "GROUPS", "TOKENS", "PERMISSIONS"]});
    assert_eq!(a.patch(0, &format!("{FEDERATION}/h"), &all).0, 200);
    let (h_ref2, a_ref) = (made_up_reference(), made_up_reference());
    let (s_h, s_a) = (
        format!("uis.{}", rand::random::<u64>()),
        format!("uis.{}", rand::random::<u64>()),
    );
    let batch = vec![
        h.event(&h.id, 6, record(&h.id, "access", &h_ref2)),
        h.event(&h.id, 7, record(a.service_id(), "access", &a_ref)),
        h.event(&h.id, 8, record(&h.id, "session", &s_h)),
        h.event(&h.id, 9, record(a.service_id(), "session", &s_a)),
        h.event(&h.id, 10, h.cert_for(b.service_id(), &h_cert)),
        h.event(&h.id, 11, h.cert_for(a.service_id(), &h_cert)),
        // Stamped two minutes in A's future (beyond federation.maximum-future-time-diff-millis).
        h.event(&h.id, 12, {
            let mut u = user_change(&h.id, "h-future", "x");
            u["state"]["stamp"]["ms"] = json!(now() * 1000 + 120_000);
            u
        }),
    ];
    let (status, body) = h.events(&a, 5, batch);
    assert_eq!(status, 200, "{body}");
    assert_eq!(refused_count(&a), 4 + 6);
    assert_eq!(user(&a, 0, "h-future").0, 404, "a change from the future");
    // H's own record acts as H's token: trusted, foreign, nothing local.
    assert_eq!(status_with(&a, "/access/api/v1/system/ping", &h_ref2), 200);
    assert_no_local_rights(&a, &h_ref2, "H's own reference token");
    assert_eq!(status_with(&a, "/access/api/v1/system/ping", &a_ref), 401);
    let http = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for secret in [&s_h, &s_a] {
        let r = http
            .get(a.node(0).url("/ui/users"))
            .header("cookie", format!("access_session={secret}"))
            .send()
            .unwrap();
        assert_eq!(r.status(), 303, "a forged session signed in");
    }
    // B's certificate is still the one A's admin installed, and B's tokens still work.
    let (_, trusted) = a.get(0, "/access/api/v1/cert/trusted");
    let certs = trusted["certificates"].as_array().unwrap();
    let site_b = certs
        .iter()
        .find(|c| c["name"] == "site-b")
        .expect("site-b");
    assert_eq!(site_b["withdrawn"], false, "{trusted}");
    assert!(
        !certs
            .iter()
            .any(|c| c["kid"] == h.kid.as_str() && c["service_id"] != h.id.as_str()),
        "H's key bound to another site: {trusted}"
    );
    let fresh_b = revocable(&b, 0, "still-b");
    wait_ping(&a, &fresh_b, 200, "B's token at A after H's rebind attempt");

    // 4. A forged event of B's origin, with B's next sequence, and a full sync claiming B's
    // sequence far ahead: neither suppresses B's real changes.
    let b_seq = a.digest(0)["vector"][b.service_id()].as_u64().unwrap();
    let forged = h.event(
        b.service_id(),
        b_seq + 1,
        user_change(b.service_id(), "forged-b", "x"),
    );
    let (status, body) = h.events(&a, 12, vec![forged]);
    assert_eq!(status, 200, "{body}");
    let mut vector = a.digest(0)["vector"].clone();
    vector[b.service_id()] = json!(b_seq + 1_000_000);
    vector[&h.id] = json!(12);
    let chunk = json!({"sync_id": "h-sync", "chunk": 0, "changes": [],
        "done": {"position": 13, "vector": vector, "proofs": {}}});
    let (status, body) = send(&a, SYNC, &h.message(&a, chunk));
    assert_eq!(status, 200, "{body}");
    create_user(&b, 0, "real-b", "real-b-pass-1");
    wait_until("B's real change at A", SETTLE, || {
        user(&a, 0, "real-b").0 == 200
    });
    assert_eq!(user(&a, 0, "forged-b").0, 404);
    assert!(refused_count(&a) > 10);

    // What A relays to B carries nothing of the refused: B never binds H's key to A's id.
    create_user(&a, 0, "marker-a", "marker-a-pass-1");
    wait_until("A's marker at B", SETTLE, || {
        user(&b, 0, "marker-a").0 == 200
    });
    let (_, trusted) = b.get(0, "/access/api/v1/cert/trusted");
    assert!(
        !trusted["certificates"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["kid"] == h.kid.as_str()),
        "H's key reached B's trust: {trusted}"
    );
}
