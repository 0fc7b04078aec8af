use super::*;

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
    let service_id = service_id(&node);
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
