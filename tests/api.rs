//! The JFrog-compatible token API against a real single-node process.

mod common;

use common::*;
use serde_json::{json, Value};

#[test]
fn seed_002_legacy_token_for_a_transient_user() {
    let node = TestNode::start();
    // curl -uadmin:password -XPOST .../artifactory/api/security/token -d username=jenkins -d scope=member-of-groups:CI
    let r = node
        .admin(node.post("/artifactory/api/security/token"))
        .body("username=jenkins&scope=member-of-groups:CI")
        .header("content-type", "application/x-www-form-urlencoded")
        .send()
        .unwrap();
    let (status, body) = json_of(r);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["scope"], "member-of-groups:CI api:*");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["token_type"], "Bearer");
    let token = body["access_token"].as_str().unwrap();
    let (header, claims) = jwt_parts(token);
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["typ"], "JWT");
    assert_eq!(header["ver"], "2");
    assert_eq!(header["kid"].as_str().unwrap().len(), 43);
    let service_id = node
        .get("/access/api/v1/system/service_id")
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(service_id.starts_with("jfac@"), "{service_id}");
    assert_eq!(claims["sub"], format!("{service_id}/users/jenkins"));
    assert_eq!(claims["iss"], service_id);
    assert_eq!(claims["aud"], "*@*");
    assert_eq!(claims["scp"], "member-of-groups:CI api:*");
    assert_eq!(
        claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
        3600
    );
    assert_eq!(claims["jti"].as_str().unwrap().len(), 36);
    // The transient user's token works for the API (bearer ping).
    let r = node
        .get("/artifactory/api/system/ping")
        .bearer_auth(token)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().unwrap(), "OK");
}

#[test]
fn seed_001_basic_user_token_and_bearer_ping() {
    let node = TestNode::start();
    let body = node.admin_token(&[("username", "jenkins"), ("scope", "member-of-groups:CI")]);
    let token = body["access_token"].as_str().unwrap();
    // curl -u<USERNAME>:<TOKEN> http://ARTIFACTORY_URL/api/system/ping
    let r = node
        .get("/api/system/ping")
        .basic_auth("jenkins", Some(token))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().unwrap(), "OK");
    // The user name must match the token's subject.
    let (status, body) = json_of(
        node.get("/api/system/ping")
            .basic_auth("someoneelse", Some(token))
            .send()
            .unwrap(),
    );
    assert_eq!(status, 401, "{body}");
    // curl -H "Authorization: Bearer <TOKEN>" .../api/system/ping
    let r = node
        .get("/api/system/ping")
        .bearer_auth(token)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = node
        .get("/access/api/v1/system/ping")
        .bearer_auth(token)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    // The token authenticates Access API calls as that user.
    let (status, body) = json_of(
        node.get("/access/api/v1/tokens")
            .bearer_auth(token)
            .send()
            .unwrap(),
    );
    assert_eq!(status, 200);
    assert_eq!(
        body["tokens"],
        json!([]),
        "non-revocable tokens are not stored"
    );
}

#[test]
fn seed_003_path_scoped_token_permission_check() {
    let node = TestNode::start();
    let admin = node.admin_token(&[("scope", "applied-permissions/admin")]);
    let admin_token = admin["access_token"].as_str().unwrap();
    // curl -H "Authorization: Bearer <ADMIN-TOKEN>" -X POST .../access/api/v1/tokens -d "scope=artifact:example-repo-local/test1/com/**:r"
    let r = node
        .post("/access/api/v1/tokens")
        .bearer_auth(admin_token)
        .form(&[("scope", "artifact:example-repo-local/test1/com/**:r")])
        .send()
        .unwrap();
    let (status, body) = json_of(r);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["scope"], "artifact:example-repo-local/test1/com/**:r");
    let token = body["access_token"].as_str().unwrap();
    let check = |path: &str, action: &str| -> bool {
        let (status, body) = json_of(
            node.get("/access/api/v1/permissions/check")
                .query(&[("path", path), ("action", action)])
                .bearer_auth(token)
                .send()
                .unwrap(),
        );
        assert_eq!(status, 200, "{body}");
        body["allowed"].as_bool().unwrap()
    };
    assert!(check("example-repo-local/test1/com/test6.zip", "r"));
    assert!(!check("example-repo-local/test1/comm/x", "r"));
    assert!(!check("example-repo-local/test1/com/test6.zip", "w"));
    // Multiple repos in one token.
    let body = node.admin_token(&[("scope", "artifact:r1/p/**:r,w artifact:r2/p/**:r,w")]);
    let multi = body["access_token"].as_str().unwrap();
    let allowed = |path: &str| {
        let r = node
            .get("/access/api/v1/permissions/check")
            .query(&[("path", path), ("action", "w")])
            .bearer_auth(multi)
            .send()
            .unwrap();
        json_of(r).1["allowed"].as_bool().unwrap()
    };
    assert!(allowed("r1/p/a.jar") && allowed("r2/p/b.jar") && !allowed("r3/p/c.jar"));
    // Bad action and missing path are client errors.
    let (status, _) = json_of(
        node.get("/access/api/v1/permissions/check?path=x/y&action=q")
            .bearer_auth(token)
            .send()
            .unwrap(),
    );
    assert_eq!(status, 400);
    let (status, _) = json_of(
        node.get("/access/api/v1/permissions/check")
            .bearer_auth(token)
            .send()
            .unwrap(),
    );
    assert_eq!(status, 400);
}

#[test]
fn revocable_tokens_revoke_and_non_revocable_ones_cannot() {
    let node = TestNode::start();
    let body = node.admin_token(&[
        ("username", "ci"),
        ("expires_in", "0"),
        ("description", "forever"),
    ]);
    assert!(
        body.get("expires_in").is_none(),
        "non-expiring token has no expires_in: {body}"
    );
    let token = body["access_token"].as_str().unwrap().to_string();
    let id = body["token_id"].as_str().unwrap().to_string();
    let (_, claims) = jwt_parts(&token);
    assert!(claims.get("exp").is_none(), "exp absent for expires_in=0");
    assert_eq!(
        node.get("/api/system/ping")
            .bearer_auth(&token)
            .send()
            .unwrap()
            .status(),
        200
    );

    // Listed and readable by id.
    let (status, one) = json_of(
        node.admin(node.get(&format!("/access/api/v1/tokens/{id}")))
            .send()
            .unwrap(),
    );
    assert_eq!(status, 200);
    assert_eq!(one["description"], "forever");
    assert_eq!(one["expiry"], Value::Null);
    let (_, me) = json_of(
        node.get("/access/api/v1/tokens/me")
            .bearer_auth(&token)
            .send()
            .unwrap(),
    );
    assert_eq!(me["token_id"], id.as_str());

    // Revoke with the token itself (pyartifactory's call).
    let r = node
        .admin(node.delete("/access/api/v1/tokens/revoke"))
        .form(&[("token", token.as_str())])
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let (status, body) = json_of(
        node.get("/api/system/ping")
            .bearer_auth(&token)
            .send()
            .unwrap(),
    );
    assert_eq!(status, 401, "{body}");
    // Revoking twice is fine; an unknown id is 404.
    assert_eq!(
        node.admin(node.delete(&format!("/access/api/v1/tokens/{id}")))
            .send()
            .unwrap()
            .status(),
        200
    );
    let (status, body) = json_of(
        node.admin(node.delete("/access/api/v1/tokens/no-such-id"))
            .send()
            .unwrap(),
    );
    assert_eq!((status, error_code(&body)), (404, "NOT_FOUND"));

    // Threshold: 6 h is revocable (legacy revoke by token_id), 1 h is not.
    let long = node.admin_token(&[("username", "ci"), ("expires_in", "21600")]);
    let r = node
        .admin(node.post("/artifactory/api/security/token/revoke"))
        .form(&[("token_id", long["token_id"].as_str().unwrap())])
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        node.get("/api/system/ping")
            .bearer_auth(long["access_token"].as_str().unwrap())
            .send()
            .unwrap()
            .status(),
        401
    );
    let short = node.admin_token(&[("username", "ci"), ("expires_in", "3600")]);
    let (status, body) = json_of(
        node.admin(node.post("/access/api/v1/tokens/revoke"))
            .form(&[("token", short["access_token"].as_str().unwrap())])
            .send()
            .unwrap(),
    );
    assert_eq!(
        (status, error_code(&body)),
        (400, "TOKEN_NOT_REVOCABLE"),
        "{body}"
    );
    let (status, _) = json_of(
        node.admin(node.delete(&format!(
            "/access/api/v1/tokens/{}",
            short["token_id"].as_str().unwrap()
        )))
        .send()
        .unwrap(),
    );
    assert_eq!(status, 404, "non-revocable tokens are not stored");
}

#[test]
fn refresh_swaps_the_pair_once() {
    let node = TestNode::start();
    let body = node.admin_token(&[
        ("username", "builder"),
        ("refreshable", "TRUE"),
        ("expires_in", "21600"),
        ("scope", "member-of-groups:ci"),
    ]);
    let access = body["access_token"].as_str().unwrap().to_string();
    let refresh = body["refresh_token"].as_str().unwrap().to_string();
    let refresh_form = |a: &str, r: &str| {
        node.post("/access/api/v1/tokens")
            .form(&[
                ("grant_type", "refresh_token"),
                ("access_token", a),
                ("refresh_token", r),
            ])
            .send()
            .unwrap()
    };
    let (status, new) = json_of(refresh_form(&access, &refresh));
    assert_eq!(status, 200, "{new}");
    assert_eq!(new["scope"], "member-of-groups:ci");
    assert_eq!(new["expires_in"], 21600);
    let new_access = new["access_token"].as_str().unwrap();
    let new_refresh = new["refresh_token"].as_str().unwrap();
    assert_ne!(new_refresh, refresh);
    let (_, old_claims) = jwt_parts(&access);
    let (_, new_claims) = jwt_parts(new_access);
    assert_eq!(old_claims["sub"], new_claims["sub"]);
    assert_eq!(old_claims["aud"], new_claims["aud"]);
    assert_ne!(old_claims["jti"], new_claims["jti"]);
    // The old token is revoked, the new one works.
    assert_eq!(
        node.get("/api/system/ping")
            .bearer_auth(&access)
            .send()
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        node.get("/api/system/ping")
            .bearer_auth(new_access)
            .send()
            .unwrap()
            .status(),
        200
    );
    // Each refresh token works once.
    let (status, _) = json_of(refresh_form(&access, &refresh));
    assert_eq!(status, 401);
    // A wrong refresh token for the new access token is refused; the right one works.
    let (status, _) = json_of(refresh_form(new_access, "not-the-refresh-token"));
    assert_eq!(status, 401);
    let (status, _) = json_of(refresh_form(new_access, new_refresh));
    assert_eq!(status, 200);
    // Extra parameters need an admin.
    let (status, _) = json_of(
        node.post("/access/api/v1/tokens")
            .form(&[
                ("grant_type", "refresh_token"),
                ("access_token", new_access),
                ("refresh_token", new_refresh),
                ("expires_in", "60"),
            ])
            .send()
            .unwrap(),
    );
    assert_eq!(status, 401);
    // Missing fields are 400; a non-refreshable token cannot be refreshed.
    let (status, _) = json_of(
        node.post("/access/api/v1/tokens")
            .form(&[("grant_type", "refresh_token")])
            .send()
            .unwrap(),
    );
    assert_eq!(status, 400);
}

#[test]
fn concurrent_refresh_of_one_token_succeeds_once() {
    let node = TestNode::start();
    let body = node.admin_token(&[("username", "racer"), ("refreshable", "true")]);
    let access = body["access_token"].as_str().unwrap().to_string();
    let refresh = body["refresh_token"].as_str().unwrap().to_string();
    let url = node.url("/access/api/v1/tokens");
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let (url, a, r) = (url.clone(), access.clone(), refresh.clone());
            std::thread::spawn(move || {
                client()
                    .post(url)
                    .form(&[
                        ("grant_type", "refresh_token"),
                        ("access_token", a.as_str()),
                        ("refresh_token", r.as_str()),
                    ])
                    .send()
                    .unwrap()
                    .status()
                    .as_u16()
            })
        })
        .collect();
    let statuses: Vec<u16> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 401),
        "{statuses:?}"
    );
}

#[test]
fn users_groups_and_non_admin_policy() {
    let node = TestNode::start();
    let (status, _) = json_of(
        node.admin(node.post("/access/api/v2/groups"))
            .json(&json!({"name": "dev", "description": "developers"}))
            .send()
            .unwrap(),
    );
    assert_eq!(status, 201);
    let (status, _) = json_of(
        node.admin(node.post("/access/api/v2/groups"))
            .json(&json!({"name": "dev"}))
            .send()
            .unwrap(),
    );
    assert_eq!(status, 409);
    let (status, body) = json_of(
        node.admin(node.post("/access/api/v2/users"))
            .json(&json!({"username": "bob", "password": "bob-secret-1", "groups": ["dev"], "admin": false}))
            .send()
            .unwrap(),
    );
    assert_eq!(status, 201, "{body}");
    assert!(body.get("password").is_none() && body.get("password_hash").is_none());
    let (status, _) = json_of(
        node.admin(node.post("/access/api/v2/users"))
            .json(&json!({"username": "eve", "password": "eve-secret-1", "groups": ["nope"]}))
            .send()
            .unwrap(),
    );
    assert_eq!(status, 400, "unknown group");
    let (_, users) = json_of(node.admin(node.get("/access/api/v2/users")).send().unwrap());
    let names: Vec<&str> = users["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"admin") && names.contains(&"bob"),
        "{names:?}"
    );

    let bob = |form: &[(&str, &str)]| {
        json_of(
            node.post("/access/api/v1/tokens")
                .basic_auth("bob", Some("bob-secret-1"))
                .form(form)
                .send()
                .unwrap(),
        )
    };
    let (status, body) = bob(&[
        ("scope", "applied-permissions/groups:dev"),
        ("expires_in", "600"),
    ]);
    assert_eq!(status, 200, "{body}");
    let (_, claims) = jwt_parts(body["access_token"].as_str().unwrap());
    assert!(claims["sub"].as_str().unwrap().ends_with("/users/bob"));
    for (form, why) in [
        (vec![("username", "alice")], "another subject"),
        (vec![("scope", "applied-permissions/admin")], "admin scope"),
        (vec![("scope", "member-of-groups:ops")], "foreign group"),
        (vec![("expires_in", "7200")], "beyond the non-admin maximum"),
        (vec![("expires_in", "0")], "never-expiring"),
        (vec![("scope", "artifact:r/**:r")], "resource scope"),
    ] {
        let (status, body) = bob(&form);
        assert_eq!(
            (status, error_code(&body)),
            (403, "FORBIDDEN"),
            "{why}: {body}"
        );
    }
    // Non-admins cannot manage users.
    let (status, _) = json_of(
        node.get("/access/api/v2/users")
            .basic_auth("bob", Some("bob-secret-1"))
            .send()
            .unwrap(),
    );
    assert_eq!(status, 403);
    let (status, _) = json_of(
        node.get("/access/api/v2/users")
            .basic_auth("bob", Some("wrong"))
            .send()
            .unwrap(),
    );
    assert_eq!(status, 401);
    // Users can be deleted; their password stops working.
    assert_eq!(
        node.admin(node.delete("/access/api/v2/users/bob"))
            .send()
            .unwrap()
            .status(),
        204
    );
    let (status, _) = bob(&[]);
    assert_eq!(status, 401);
    let (status, _) = json_of(
        node.admin(node.delete("/access/api/v2/users/bob"))
            .send()
            .unwrap(),
    );
    assert_eq!(status, 404);
    // An admin user's own token (applied-permissions/user) acts as admin.
    let admin_user_token = node.admin_token(&[]);
    let (status, _) = json_of(
        node.get("/access/api/v2/users")
            .bearer_auth(admin_user_token["access_token"].as_str().unwrap())
            .send()
            .unwrap(),
    );
    assert_eq!(status, 200);
}

#[test]
fn bad_input_gets_json_errors_not_500() {
    let node = TestNode::start();
    let create = |body: &str, ct: &str| {
        json_of(
            node.admin(node.post("/access/api/v1/tokens"))
                .header("content-type", ct)
                .body(body.to_string())
                .send()
                .unwrap(),
        )
    };
    let form = "application/x-www-form-urlencoded";
    let cases: Vec<(&str, &str, u16, &str)> = vec![
        ("scope=bogus:scope", form, 400, "INVALID_SCOPE"),
        ("scope=artifact:repo/x/**:q", form, 400, "INVALID_SCOPE"),
        ("expires_in=-5", form, 400, "BAD_REQUEST"),
        ("expires_in=soon", form, 400, "BAD_REQUEST"),
        ("refreshable=maybe", form, 400, "BAD_REQUEST"),
        ("username=bad%20name", form, 400, "BAD_REQUEST"),
        ("grant_type=password", form, 400, "BAD_REQUEST"),
        (
            r#"{"expires_in": "x"#,
            "application/json",
            400,
            "BAD_REQUEST",
        ),
        ("[1,2]", "application/json", 400, "BAD_REQUEST"),
        (
            r#"{"expires_in": -1}"#,
            "application/json",
            400,
            "BAD_REQUEST",
        ),
        ("<token/>", "application/xml", 415, "UNSUPPORTED_MEDIA_TYPE"),
    ];
    for (body, ct, want_status, want_code) in cases {
        let (status, got) = create(body, ct);
        assert_eq!(
            (status, error_code(&got)),
            (want_status, want_code),
            "{body}: {got}"
        );
        assert!(
            got["error_description"].is_string(),
            "OAuth-style field for token clients: {got}"
        );
    }
    let long_scope = format!("scope={}", "api:*%20".repeat(120));
    assert_eq!(create(&long_scope, form).0, 400);
    let huge = "a".repeat(200_000);
    assert_eq!(create(&format!("description={huge}"), form).0, 413);
    // JSON bodies work with typed values too.
    let (status, body) = create(
        r#"{"username":"j","expires_in":60,"refreshable":false}"#,
        "application/json",
    );
    assert_eq!(status, 200, "{body}");

    // Authentication failures.
    let ping = |rb: reqwest::blocking::RequestBuilder| json_of(rb.send().unwrap());
    for bad in ["garbage", "a.b.c", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."] {
        let (status, _) = ping(node.get("/api/system/ping").bearer_auth(bad));
        assert_eq!(status, 401, "{bad}");
    }
    let good = body["access_token"].as_str().unwrap();
    let mut tampered: Vec<char> = good.chars().collect();
    let mid = good.find('.').unwrap() + 10;
    tampered[mid] = if tampered[mid] == 'A' { 'B' } else { 'A' };
    let tampered: String = tampered.into_iter().collect();
    assert_eq!(
        ping(node.get("/api/system/ping").bearer_auth(&tampered)).0,
        401
    );
    assert_eq!(
        ping(
            node.get("/api/system/ping")
                .basic_auth("nobody", Some("whatever"))
        )
        .0,
        401
    );
    assert_eq!(
        ping(
            node.get("/api/system/ping")
                .header("authorization", "Digest abc")
        )
        .0,
        401
    );
    assert_eq!(
        ping(
            node.get("/api/system/ping")
                .header("authorization", "Basic !!!")
        )
        .0,
        401
    );
    assert_eq!(ping(node.post("/access/api/v1/tokens")).0, 401);
    // Expired token.
    let short = node.admin_token(&[("expires_in", "1")]);
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let (status, body) = ping(
        node.get("/api/system/ping")
            .bearer_auth(short["access_token"].as_str().unwrap()),
    );
    assert_eq!(status, 401);
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("expired"),
        "{body}"
    );
    // Unknown endpoint and bad revoke input.
    assert_eq!(ping(node.get("/access/api/v1/nope")).0, 404);
    assert_eq!(
        ping(node.admin(node.post("/access/api/v1/tokens/revoke"))).0,
        400
    );
    assert_eq!(
        ping(
            node.admin(node.post("/access/api/v1/tokens/revoke"))
                .form(&[("token", "junk")])
        )
        .0,
        400
    );
    assert_eq!(
        ping(node.admin(node.get("/access/api/v1/tokens/unknown"))).0,
        404
    );
    // The node is still healthy after all of that.
    assert_eq!(node.get("/healthz").send().unwrap().status(), 200);
}

#[test]
fn restart_recovers_tokens_revocations_users_and_keys() {
    let mut node = TestNode::start();
    let service_id = node
        .get("/access/api/v1/system/service_id")
        .send()
        .unwrap()
        .text()
        .unwrap();
    let cert = std::fs::read(node.root_crt_path()).unwrap();
    let key = std::fs::read(node.home.join("etc/keys/private.key")).unwrap();
    assert_eq!(mode_of(&node.home.join("etc/keys/private.key")), 0o600);
    assert!(
        String::from_utf8_lossy(&key).starts_with("-----BEGIN PRIVATE KEY-----"),
        "PKCS#8 PEM"
    );
    assert_eq!(
        node.get("/access/api/v1/cert/root")
            .send()
            .unwrap()
            .bytes()
            .unwrap()
            .to_vec(),
        cert
    );

    node.admin(node.post("/access/api/v2/users"))
        .json(&json!({"username": "carol", "password": "carol-pass-1"}))
        .send()
        .unwrap();
    let kept = node.admin_token(&[("username", "carol"), ("expires_in", "0")]);
    let gone = node.admin_token(&[("username", "carol"), ("expires_in", "0")]);
    let r = node
        .admin(node.delete(&format!(
            "/access/api/v1/tokens/{}",
            gone["token_id"].as_str().unwrap()
        )))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let short = node.admin_token(&[("username", "carol")]);

    node.restart(); // SIGKILL, then start on the same home

    assert_eq!(
        node.get("/access/api/v1/system/service_id")
            .send()
            .unwrap()
            .text()
            .unwrap(),
        service_id
    );
    assert_eq!(std::fs::read(node.root_crt_path()).unwrap(), cert);
    assert_eq!(
        std::fs::read(node.home.join("etc/keys/private.key")).unwrap(),
        key
    );
    let ping = |t: &Value| {
        node.get("/api/system/ping")
            .bearer_auth(t["access_token"].as_str().unwrap())
            .send()
            .unwrap()
            .status()
    };
    assert_eq!(ping(&kept), 200);
    assert_eq!(ping(&gone), 401);
    assert_eq!(
        ping(&short),
        200,
        "non-revocable tokens stay valid: same key"
    );
    let r = node
        .get("/api/system/ping")
        .basic_auth("carol", Some("carol-pass-1"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    // Writes still work after recovery.
    node.admin_token(&[("username", "carol"), ("expires_in", "0")]);
    let (_, listed) = json_of(
        node.admin(node.get("/access/api/v1/tokens"))
            .send()
            .unwrap(),
    );
    assert_eq!(listed["tokens"].as_array().unwrap().len(), 2);
}

#[test]
fn generated_admin_password_is_in_a_private_file_not_the_log() {
    let node = TestNode::start_with(&[]);
    let path = node.home.join("etc/security/bootstrap.password");
    assert_eq!(mode_of(&path), 0o600);
    let password = std::fs::read_to_string(&path).unwrap().trim().to_string();
    assert!(password.len() >= 16);
    let r = node
        .get("/api/system/ping")
        .basic_auth("admin", Some(&password))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let token = node
        .post("/access/api/v1/tokens")
        .basic_auth("admin", Some(&password))
        .form(&[("expires_in", "0")])
        .send()
        .unwrap()
        .json::<Value>()
        .unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    node.get("/api/system/ping")
        .bearer_auth(&token)
        .send()
        .unwrap();
    let log = node.log();
    assert!(!log.contains(&password), "password leaked into the log");
    assert!(
        !log.contains(&token[token.len() - 40..]),
        "token leaked into the log"
    );
    assert_eq!(mode_of(&node.home.join("etc/security/join.key")), 0o600);
}

#[test]
fn bad_configuration_stops_startup_naming_the_key() {
    let run = |env: &[(&str, &str)]| {
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_access-node"));
        cmd.arg("serve")
            .arg("--home")
            .arg(dir.path())
            .arg("--listen")
            .arg(format!("127.0.0.1:{}", free_port()));
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (code, err) = run(&[("ACCESS_NODE_TOKEN_DEFUALT_EXPIRY", "5")]);
    assert_eq!(code, Some(2));
    assert!(err.contains("ACCESS_NODE_TOKEN_DEFUALT_EXPIRY"), "{err}");
    let (code, err) = run(&[("ACCESS_NODE_TOKEN_DEFAULT_EXPIRY", "an hour")]);
    assert_eq!(code, Some(2));
    assert!(err.contains("token.default-expiry"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c.yml");
    std::fs::write(&file, "token:\n  allow-refreshable: yes-please\n").unwrap();
    let (code, err) = run(&[("ACCESS_NODE_CONFIG", file.to_str().unwrap())]);
    assert_eq!(code, Some(2));
    assert!(err.contains("token.allow-refreshable"), "{err}");
}

#[test]
fn refresh_works_within_the_grace_period_and_can_be_disabled() {
    let node = TestNode::start_with(&[
        (
            "ACCESS_NODE_SECURITY_BOOTSTRAP_ADMIN_PASSWORD",
            ADMIN_PASSWORD,
        ),
        ("ACCESS_NODE_TOKEN_REFRESH_GRACE_PERIOD", "3"),
    ]);
    let refresh = |t: &Value| {
        json_of(
            node.post("/access/api/v1/tokens")
                .form(&[
                    ("grant_type", "refresh_token"),
                    ("access_token", t["access_token"].as_str().unwrap()),
                    ("refresh_token", t["refresh_token"].as_str().unwrap()),
                ])
                .send()
                .unwrap(),
        )
    };
    // Expired one second ago: inside the 3 s grace period.
    let a = node.admin_token(&[
        ("username", "g"),
        ("expires_in", "1"),
        ("refreshable", "true"),
    ]);
    let b = node.admin_token(&[
        ("username", "g"),
        ("expires_in", "1"),
        ("refreshable", "true"),
    ]);
    std::thread::sleep(std::time::Duration::from_millis(2100));
    assert_eq!(
        node.get("/api/system/ping")
            .bearer_auth(a["access_token"].as_str().unwrap())
            .send()
            .unwrap()
            .status(),
        401
    );
    let (status, body) = refresh(&a);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["expires_in"], 1);
    // Past expiry + grace: refused.
    std::thread::sleep(std::time::Duration::from_millis(3000));
    let (status, body) = refresh(&b);
    assert_eq!(status, 401, "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("grace"),
        "{body}"
    );

    // token.allow-refreshable=false: no refreshable tokens at all.
    let off = TestNode::start_with(&[
        (
            "ACCESS_NODE_SECURITY_BOOTSTRAP_ADMIN_PASSWORD",
            ADMIN_PASSWORD,
        ),
        ("ACCESS_NODE_TOKEN_ALLOW_REFRESHABLE", "false"),
    ]);
    let (status, body) = json_of(
        off.admin(off.post("/access/api/v1/tokens"))
            .form(&[("refreshable", "true")])
            .send()
            .unwrap(),
    );
    assert_eq!((status, error_code(&body)), (403, "FORBIDDEN"), "{body}");
}
