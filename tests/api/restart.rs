use super::*;

#[test]
fn restart_recovers_tokens_revocations_users_and_keys() {
    let mut node = TestNode::start();
    let id_before = service_id(&node);
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

    assert_eq!(service_id(&node), id_before);
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
