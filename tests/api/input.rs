use super::*;

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
fn bad_configuration_stops_startup_naming_the_key() {
    let run = |env: &[(&str, &str)]| {
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_access-node"));
        cmd.arg("serve")
            .arg("--home")
            .arg(dir.path())
            .arg("--listen")
            .arg(format!("127.0.0.1:{}", free_port()))
            // The harness's own override is no config key: the node would refuse to start.
            .env_remove("ACCESS_NODE_BIN");
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
