//! Findings 1 and 2: a trusted cluster's key speaks only for that cluster, and its tokens
//! never become local ones.

use super::{list_users_status, mint_with, ping, service_id, token_of};
use access_node::crypto::{KeyMaterial, SigningKey};
use access_node::domain::token::Claims;
use access_node_harness::*;
use serde_json::{json, Value};

/// Two independent clusters; `a` trusts `b`'s root.crt (bound to b's service id by its CN).
fn a_trusts_b() -> (TestNode, TestNode) {
    let a = TestNode::start();
    let b = TestNode::start();
    let pem = std::fs::read_to_string(b.root_crt_path()).unwrap();
    let (status, body) = json_of(
        a.admin(a.post("/access/api/v1/cert/trusted"))
            .json(&json!({ "name": "b", "certificate": pem }))
            .send()
            .unwrap(),
    );
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["service_id"], service_id(&b));
    (a, b)
}

/// A token signed with `signer`'s private key (read from its home), claims as given.
fn forge(signer: &TestNode, iss: &str, sub: &str, scp: &str) -> String {
    forge_with_id(signer, iss, sub, scp, "forged")
}

fn forge_with_id(signer: &TestNode, iss: &str, sub: &str, scp: &str, jti: &str) -> String {
    let material = KeyMaterial {
        kid: active_kid(&json_of(signer.get("/.well-known/jwks.json").send().unwrap()).1),
        private_key_pem: std::fs::read_to_string(signer.home.join("etc/keys/private.key")).unwrap(),
        certificate_pem: String::new(),
        created_at: 0,
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = Claims {
        sub: sub.into(),
        scp: scp.into(),
        aud: "*@*".into(),
        iss: iss.into(),
        exp: Some(now + 3600),
        iat: now,
        jti: jti.into(),
        ext: Some(r#"{"revocable":"false"}"#.into()),
    };
    SigningKey::from_material(&material)
        .unwrap()
        .sign(&claims)
        .unwrap()
}

#[test]
fn finding_1_a_trusted_key_cannot_speak_for_our_issuer() {
    let (a, b) = a_trusts_b();
    let a_sid = service_id(&a);
    let b_sid = service_id(&b);
    // JWKS names the service id each trusted key speaks for.
    let (_, jwks) = json_of(a.get("/.well-known/jwks.json").send().unwrap());
    let trusted: Vec<&Value> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["x-origin"] == "trusted")
        .collect();
    assert_eq!(trusted.len(), 1);
    assert_eq!(trusted[0]["x-service-id"], b_sid.as_str());

    // B's key, claiming to be A's admin: rejected outright.
    let spoofed = forge(
        &b,
        &a_sid,
        &format!("{a_sid}/users/admin"),
        "applied-permissions/user",
    );
    assert_eq!(ping(&a, &spoofed), 401);
    assert_eq!(list_users_status(&a, &spoofed), 401);
    let (status, _) = json_of(
        a.post("/access/api/v2/users")
            .bearer_auth(&spoofed)
            .json(&json!({"username": "evil", "password": "evil-pass-1", "admin": true}))
            .send()
            .unwrap(),
    );
    assert_eq!(status, 401);
    // Naming B honestly but A's subject: valid as B's token, and never A's admin.
    let honest = forge(
        &b,
        &b_sid,
        &format!("{a_sid}/users/admin"),
        "applied-permissions/admin",
    );
    assert_eq!(ping(&a, &honest), 200);
    assert_eq!(list_users_status(&a, &honest), 403);

    // Our own retired key stays local after a reset that keeps it.
    let before = token_of(&a.admin_token(&[("expires_in", "3600")]));
    let (status, body) = json_of(
        a.admin(a.post("/access/api/v1/cert/root/reset"))
            .form(&[("keep_old", "true")])
            .send()
            .unwrap(),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(list_users_status(&a, &before), 200);

    // A certificate cannot be bound to our own service id.
    let pem = std::fs::read_to_string(b.root_crt_path()).unwrap();
    let (status, body) = json_of(
        a.admin(a.post("/access/api/v1/cert/trusted"))
            .json(&json!({ "name": "b2", "certificate": pem, "service_id": a_sid }))
            .send()
            .unwrap(),
    );
    assert_eq!((status, error_code(&body)), (400, "BAD_REQUEST"), "{body}");
}

#[test]
fn finding_2_foreign_tokens_cannot_be_laundered_into_local_ones() {
    let (a, b) = a_trusts_b();
    // B's admin mints a token for a user called "admin" acting with its user's rights.
    let foreign = token_of(&b.admin_token(&[("username", "admin"), ("expires_in", "3600")]));
    assert_eq!(ping(&a, &foreign), 200, "accepted where it is accepted");
    assert_eq!(list_users_status(&a, &foreign), 403);
    for (path, form) in [
        ("/access/api/v1/tokens", vec![]),
        (
            "/access/api/v1/tokens",
            vec![("scope", "applied-permissions/user")],
        ),
        ("/access/api/v1/tokens/identity", vec![]),
        ("/access/api/v1/tokens/pairing", vec![]),
        ("/artifactory/api/security/token", vec![]),
    ] {
        let (status, body) = json_of(
            a.post(path)
                .bearer_auth(&foreign)
                .form(&form)
                .send()
                .unwrap(),
        );
        assert_eq!(status, 403, "{path}: {body}");
        // The same as a password: Basic admin:<token>.
        let (status, _) = json_of(
            a.post(path)
                .basic_auth("admin", Some(&foreign))
                .form(&form)
                .send()
                .unwrap(),
        );
        assert_eq!(status, 403, "{path} with Basic");
    }
    // It sees none of the local admin's tokens and cannot revoke them.
    let local = a.admin_token(&[("expires_in", "0")]);
    let (status, listed) = json_of(
        a.get("/access/api/v1/tokens")
            .bearer_auth(&foreign)
            .send()
            .unwrap(),
    );
    assert_eq!(status, 200);
    assert_eq!(listed["tokens"], json!([]));
    let id = local["token_id"].as_str().unwrap();
    let status = a
        .delete(&format!("/access/api/v1/tokens/{id}"))
        .bearer_auth(&foreign)
        .send()
        .unwrap()
        .status();
    assert_eq!(status, 403);
    let status = a
        .delete("/access/api/v1/tokens?username=admin")
        .bearer_auth(&foreign)
        .send()
        .unwrap()
        .status();
    assert_eq!(status, 403);
    assert_eq!(ping(&a, &token_of(&local)), 200);
    let (status, _) = mint_with(&a, &foreign, &[("expires_in", "60")]);
    assert_eq!(status, 403);
    // B picks its tokens' ids: one carrying the id of A's token can neither revoke nor read it.
    let b_sid = service_id(&b);
    let same_id = forge_with_id(
        &b,
        &b_sid,
        &format!("{b_sid}/users/mallory"),
        "applied-permissions/user",
        id,
    );
    assert_eq!(ping(&a, &same_id), 200);
    let status = a
        .delete(&format!("/access/api/v1/tokens/{id}"))
        .bearer_auth(&same_id)
        .send()
        .unwrap()
        .status();
    assert_eq!(status, 403);
    let status = a
        .get("/access/api/v1/tokens/me")
        .bearer_auth(&same_id)
        .send()
        .unwrap()
        .status();
    assert_eq!(status, 404);
    assert_eq!(ping(&a, &token_of(&local)), 200, "A's token still works");
}

/// The permission check: a trusted cluster's token for a name that is a local user never gets
/// that user's own permissions, nor its groups'; group scopes it carries are the groups'.
#[test]
fn foreign_tokens_never_get_a_local_users_permissions() {
    let (a, b) = a_trusts_b();
    let post = |path: &str, body: Value| {
        let (status, body) = json_of(a.admin(a.post(path)).json(&body).send().unwrap());
        assert_eq!(status, 201, "{path}: {body}");
    };
    post("/access/api/v2/groups", json!({"name": "ci"}));
    super::create_user(
        &a,
        json!({"username": "bob", "password": "bob-pass-12345", "groups": ["ci"]}),
    );
    post(
        "/access/api/v2/permissions",
        json!({"name": "bob-own", "resources": {"artifact": {
            "actions": {"users": {"bob": ["READ"]}},
            "targets": {"bob-local": {}}}}}),
    );
    post(
        "/access/api/v2/permissions",
        json!({"name": "ci-read", "resources": {"artifact": {
            "actions": {"groups": {"ci": ["READ"]}},
            "targets": {"ci-local": {}}}}}),
    );
    let check = |token: &str, path: &str| {
        let (status, v) = json_of(
            a.get("/access/api/v1/permissions/check")
                .query(&[("path", path), ("action", "r")])
                .bearer_auth(token)
                .send()
                .unwrap(),
        );
        assert_eq!(status, 200, "{v}");
        v["allowed"].as_bool().unwrap()
    };
    // A local token of bob holds both.
    let local =
        token_of(&a.admin_token(&[("username", "bob"), ("scope", "applied-permissions/user")]));
    assert!(check(&local, "bob-local/x") && check(&local, "ci-local/x"));
    // b's token naming bob, user-scoped: neither bob's own nor his groups' permissions here.
    let user_scoped =
        token_of(&b.admin_token(&[("username", "bob"), ("scope", "applied-permissions/user")]));
    assert!(!check(&user_scoped, "bob-local/x"));
    assert!(!check(&user_scoped, "ci-local/x"));
    // b's token carrying the group: the group's permissions, as the circle of trust grants.
    let group_scoped = token_of(&b.admin_token(&[
        ("username", "bob"),
        ("scope", "applied-permissions/groups:ci"),
    ]));
    assert!(check(&group_scoped, "ci-local/x"));
    assert!(!check(&group_scoped, "bob-local/x"));
}
