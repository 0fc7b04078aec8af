use super::*;

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
