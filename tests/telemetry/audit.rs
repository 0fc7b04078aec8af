//! The audit trail of a security flow: the serving node's detailed events (request id,
//! client address, actor), every node's events for the replicated changes, the admin API
//! with its filters, and no secret of the flow anywhere in an audit file or a node log.

use serde_json::json;

use super::*;

/// Every audit event in `node`'s audit files, in file order.
fn audit_lines(node: &TestNode) -> Vec<Value> {
    audit_text(node)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn audit_text(node: &TestNode) -> String {
    let dir = node.home.join("audit");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap())
        .collect()
}

/// The first event of `node` with `kind` and `origin` whose fields include `fields`,
/// waiting for the writer thread (and, on followers, for the apply).
fn find(node: &TestNode, kind: &str, origin: &str, fields: &[(&str, &str)]) -> Value {
    eventually(&format!("{kind} ({origin}) {fields:?}"), || {
        audit_lines(node).into_iter().find(|e| {
            e["kind"] == kind
                && e["origin"] == origin
                && fields.iter().all(|(k, v)| e[*k].as_str() == Some(*v))
        })
    })
}

fn send(rb: reqwest::blocking::RequestBuilder, id: &str) -> (u16, Value) {
    json_of(rb.header("x-request-id", id).send().unwrap())
}

#[test]
fn a_security_flow_is_audited_on_every_node_without_secrets() {
    let cluster = TestCluster::start(3, &[]);
    let node = &cluster.nodes[0];
    let (first_pw, second_pw, wrong_pw) =
        ("Carol-First-9f3k2", "Carol-Second-7q1z8", "Wrong-4u6t0p");

    let (status, body) = send(
        node.admin(node.post("/access/api/v2/users")).json(&json!({
            "username": "carol", "password": first_pw, "email": "carol@example.com"
        })),
        "flow-user",
    );
    assert_eq!(status, 201, "{body}");
    let ping = node.get("/api/system/ping");
    assert_eq!(
        send(ping.basic_auth("carol", Some(wrong_pw)), "flow-bad-login").0,
        401
    );
    let ping = node.get("/api/system/ping");
    assert_eq!(
        send(ping.basic_auth("carol", Some(first_pw)), "flow-login").0,
        200
    );

    let form = [
        ("username", "carol"),
        ("expires_in", "0"),
        ("refreshable", "true"),
    ];
    let (status, first) = send(
        node.admin(node.post("/access/api/v1/tokens")).form(&form),
        "flow-create",
    );
    assert_eq!(status, 200, "{first}");
    let refresh = [
        ("grant_type", "refresh_token"),
        ("access_token", first["access_token"].as_str().unwrap()),
        ("refresh_token", first["refresh_token"].as_str().unwrap()),
    ];
    let (status, second) = send(
        node.post("/access/api/v1/tokens").form(&refresh),
        "flow-refresh",
    );
    assert_eq!(status, 200, "{second}");
    let second_id = str_of(&second, "token_id");
    let revoke = node.delete(&format!("/access/api/v1/tokens/{second_id}"));
    assert_eq!(send(node.admin(revoke), "flow-revoke").0, 200);

    let change = json!({
        "userName": "carol", "oldPassword": first_pw,
        "newPassword1": second_pw, "newPassword2": second_pw
    });
    let path = "/artifactory/api/security/users/authorization/changePassword";
    assert_eq!(send(node.post(path).json(&change), "flow-password").0, 200);

    let (status, reset) = send(
        node.admin(node.post("/access/api/v1/cert/root/reset")),
        "flow-reset",
    );
    assert_eq!(status, 200, "{reset}");
    let new_kid = str_of(&reset, "kid");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let other = access_node::crypto::generate_key_material(2048, "jfac@01audittest", now).unwrap();
    let trust = json!({ "name": "partner", "certificate": other.certificate_pem });
    let add = node
        .admin(node.post("/access/api/v1/cert/trusted"))
        .json(&trust);
    let (status, body) = send(add, "flow-trust-add");
    assert_eq!(status, 201, "{body}");
    let remove = node.admin(node.delete("/access/api/v1/cert/trusted/partner"));
    assert_eq!(send(remove, "flow-trust-remove").0, 204);

    // The serving node: the detailed events, with the request's id, address and caller.
    let user = find(node, "user.created", "request", &[("subject", "carol")]);
    assert_eq!(user["request_id"], "flow-user");
    assert_eq!(user["actor"], "admin");
    assert_eq!(user["client_ip"], "127.0.0.1");
    assert_eq!(user["node_id"], 1);
    let failed = find(
        node,
        "login.failed",
        "request",
        &[("request_id", "flow-bad-login")],
    );
    assert_eq!(failed["subject"], "carol");
    find(
        node,
        "login.succeeded",
        "request",
        &[("request_id", "flow-login"), ("subject", "carol")],
    );
    let created = find(
        node,
        "token.created",
        "request",
        &[("request_id", "flow-create")],
    );
    assert_eq!(created["token_id"], first["token_id"]);
    assert_eq!(created["subject"], "carol");
    assert_eq!(created["actor"], "admin");
    assert_eq!(created["scope"], "applied-permissions/user");
    assert_eq!(created["refreshable"], true);
    assert!(
        created.get("expiry").is_none(),
        "never expires: no expiry field {created}"
    );
    let refreshed = find(
        node,
        "token.refreshed",
        "request",
        &[("request_id", "flow-refresh")],
    );
    assert_eq!(refreshed["token_id"], second_id.as_str());
    assert_eq!(refreshed["old_token_id"], first["token_id"]);
    assert_eq!(refreshed["subject"], "carol");
    let revoked = find(
        node,
        "token.revoked",
        "request",
        &[("token_id", &second_id)],
    );
    assert_eq!(revoked["request_id"], "flow-revoke");
    assert_eq!(revoked["actor"], "admin");
    let changed = find(
        node,
        "user.password_changed",
        "request",
        &[("request_id", "flow-password")],
    );
    assert_eq!(changed["subject"], "carol");
    assert_eq!(changed["by"], "self");
    let cert = find(
        node,
        "cert.reset",
        "request",
        &[("request_id", "flow-reset")],
    );
    assert_eq!(cert["kid"], new_kid.as_str());
    find(
        node,
        "trust.added",
        "request",
        &[("request_id", "flow-trust-add"), ("name", "partner")],
    );
    find(
        node,
        "trust.removed",
        "request",
        &[("request_id", "flow-trust-remove"), ("name", "partner")],
    );
    for event in audit_lines(node) {
        assert!(
            event.as_object().unwrap().values().all(|v| !v.is_null()),
            "{event}"
        );
    }

    // Every node: the replicated changes it applied.
    for (i, n) in cluster.nodes.iter().enumerate() {
        let id = (i + 1) as u64;
        let e = find(n, "user.created", "log", &[("subject", "carol")]);
        assert_eq!(e["node_id"], id);
        assert!(e.get("request_id").is_none(), "{e}");
        find(
            n,
            "token.revoked",
            "log",
            &[("token_id", &second_id), ("subject", "carol")],
        );
        find(n, "user.password_changed", "log", &[("subject", "carol")]);
        find(n, "cert.reset", "log", &[("kid", &new_kid)]);
        find(n, "trust.added", "log", &[("name", "partner")]);
        find(n, "trust.removed", "log", &[("name", "partner")]);
        find(n, "cluster.membership_changed", "log", &[]);
    }

    // The API: admins only, filtered, newest first.
    let api = "/access/api/v1/audit/events";
    assert_eq!(node.get(api).send().unwrap().status(), 401);
    // A live token of carol's (hers from the flow are revoked or refreshed away).
    let carol_token = {
        let (status, t) = send(
            node.admin(node.post("/access/api/v1/tokens"))
                .form(&[("username", "carol")]),
            "flow-403-token",
        );
        assert_eq!(status, 200, "{t}");
        str_of(&t, "access_token")
    };
    assert_eq!(
        node.get(api)
            .bearer_auth(&carol_token)
            .send()
            .unwrap()
            .status(),
        403
    );
    let query = |q: &str| -> Vec<Value> {
        let (status, body) = json_of(node.admin(node.get(&format!("{api}?{q}"))).send().unwrap());
        assert_eq!(status, 200, "{body}");
        body["events"].as_array().unwrap().clone()
    };
    let tokens = query("subject=carol&kind=token");
    let kinds: Vec<&str> = tokens.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    for kind in ["token.created", "token.refreshed", "token.revoked"] {
        assert!(kinds.contains(&kind), "{kinds:?}");
    }
    assert!(kinds.iter().all(|k| k.starts_with("token.")), "{kinds:?}");
    assert!(tokens.iter().all(|e| e["subject"] == "carol"));
    let times: Vec<&str> = tokens.iter().map(|e| e["time"].as_str().unwrap()).collect();
    let parsed: Vec<time::OffsetDateTime> = times
        .iter()
        .map(|t| {
            time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).unwrap()
        })
        .collect();
    assert!(
        parsed.windows(2).all(|w| w[0] >= w[1]),
        "newest first: {times:?}"
    );
    let failures = query("kind=login.failed&since=2000-01-01T00:00:00Z");
    assert!(!failures.is_empty());
    assert!(failures.iter().all(|e| e["kind"] == "login.failed"));
    assert_eq!(query("limit=1").len(), 1);
    assert!(query("since=4000000000").is_empty());
    assert!(query(&format!("until={}", 946_684_800)).is_empty());
    let (status, _) = json_of(
        node.admin(node.get(&format!("{api}?limit=5000")))
            .send()
            .unwrap(),
    );
    assert_eq!(status, 400);

    // No secret of the flow in any audit file or node log.
    let mut secrets = vec![
        first_pw.to_string(),
        second_pw.to_string(),
        wrong_pw.to_string(),
        carol_token,
    ];
    for t in [&first, &second] {
        for key in ["access_token", "refresh_token"] {
            let secret = str_of(t, key);
            // The signature alone would give a token away as well.
            if let Some((_, sig)) = secret.rsplit_once('.') {
                secrets.push(sig.to_string());
            }
            secrets.push(secret);
        }
    }
    for n in &cluster.nodes {
        let texts = [audit_text(n), n.log()];
        for text in &texts {
            for secret in &secrets {
                assert!(
                    !text.contains(secret.as_str()),
                    "a secret leaked on node {}",
                    n.port
                );
            }
        }
    }
}

/// The ids of the requests whose `login.succeeded` line of `user` is in `node`'s audit files,
/// once the line of request `marker` (a failed login of `user`, sent last) is written.
fn audited_logins(node: &TestNode, user: &str, marker: &str) -> Vec<String> {
    find(node, "login.failed", "request", &[("request_id", marker)]);
    audit_lines(node)
        .into_iter()
        .filter(|e| e["kind"] == "login.succeeded" && e["subject"] == user)
        .map(|e| e["request_id"].as_str().unwrap().to_string())
        .collect()
}

/// A sign-in to the web page through its form: the form, its cookie and CSRF token, the post.
fn web_sign_in(node: &TestNode, user: &str, password: &str, id: &str) -> u16 {
    let http = reqwest::blocking::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let form = http.get(node.url("/ui/login")).send().unwrap();
    let cookie = form
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_string())
        .find(|c| c.starts_with("access_login="))
        .unwrap();
    let html = form.text().unwrap();
    let at = html.find(r#"name="csrf" value=""#).unwrap() + r#"name="csrf" value=""#.len();
    let csrf = &html[at..at + html[at..].find('"').unwrap()];
    http.post(node.url("/ui/login"))
        .header("cookie", cookie)
        .header("origin", node.url(""))
        .header("x-request-id", id)
        .form(&[("csrf", csrf), ("username", user), ("password", password)])
        .send()
        .unwrap()
        .status()
        .as_u16()
}

#[test]
fn password_logins_of_api_calls_are_audited_once_and_sign_ins_every_time() {
    let node = TestNode::start();
    let password = "Dave-Secret-5k2m9";
    let user = json!({ "username": "dave", "password": password });
    let (status, body) = json_of(
        node.admin(node.post("/access/api/v2/users"))
            .json(&user)
            .send()
            .unwrap(),
    );
    assert_eq!(status, 201, "{body}");
    let ping = |id: &str, password: &str| {
        let rb = node
            .get("/api/system/ping")
            .basic_auth("dave", Some(password));
        send(rb, id).0
    };
    // A client sending its password with every call: one line for the lot.
    for i in 0..5 {
        assert_eq!(ping(&format!("api-{i}"), password), 200);
    }
    // Someone creating tokens with the password, and signing in to the web page: every time.
    for i in 0..2 {
        let create = node
            .post("/access/api/v1/tokens")
            .basic_auth("dave", Some(password));
        let (status, body) = send(create, &format!("create-{i}"));
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            web_sign_in(&node, "dave", password, &format!("web-{i}")),
            303
        );
    }
    // Failures: a line each.
    for i in 0..3 {
        assert_eq!(ping(&format!("bad-{i}"), "wrong-password"), 401);
    }
    let mut audited = audited_logins(&node, "dave", "bad-2");
    audited.sort();
    assert_eq!(audited, ["api-0", "create-0", "create-1", "web-0", "web-1"]);
    for i in 0..3 {
        find(
            &node,
            "login.failed",
            "request",
            &[("request_id", &format!("bad-{i}")), ("subject", "dave")],
        );
    }
}

#[test]
fn a_zero_login_audit_window_audits_every_api_login() {
    let node = TestNode::start_with(&[
        (
            "ACCESS_NODE_SECURITY_BOOTSTRAP_ADMIN_PASSWORD",
            ADMIN_PASSWORD,
        ),
        ("ACCESS_NODE_AUDIT_LOGIN_SUCCESS_WINDOW_SECS", "0"),
    ]);
    for i in 0..3 {
        let rb = node
            .get("/api/system/ping")
            .basic_auth("admin", Some(ADMIN_PASSWORD));
        assert_eq!(send(rb, &format!("api-{i}")).0, 200);
    }
    let bad = node
        .get("/api/system/ping")
        .basic_auth("admin", Some("nope"));
    assert_eq!(send(bad, "marker").0, 401);
    let audited = audited_logins(&node, "admin", "marker");
    assert_eq!(audited, ["api-0", "api-1", "api-2"]);
}
