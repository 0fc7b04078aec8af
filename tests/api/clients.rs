use super::*;

#[test]
fn third_party_python_clients_work_against_the_node() {
    let node = TestNode::start();
    let out = pytest(
        &[
            "tests/python/test_clients.py",
            "tests/python/test_jfrog_clients.py",
        ],
        &[
            ("ACCESS_URL", node.url("")),
            ("ACCESS_ADMIN_USER", "admin".into()),
            ("ACCESS_ADMIN_PASSWORD", ADMIN_PASSWORD.into()),
            (
                "ACCESS_ROOT_CRT",
                node.root_crt_path().display().to_string(),
            ),
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "python client tests failed:\n{stdout}\n{stderr}"
    );
    // 2 pyartifactory tests x 2 URL prefixes + 2 PyJWT tests (root.crt, JWKS), then
    // dohq-artifactory, jfrog-client and Authlib.
    assert!(
        stdout.contains("9 passed"),
        "unexpected pytest summary:\n{stdout}"
    );
}

#[test]
fn jfrog_client_js_pings_and_reads_the_version() {
    let node = TestNode::start();
    let token = node.admin_bearer();
    let out = std::process::Command::new("node")
        .arg("tests/node/test_client.js")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("ACCESS_URL", node.url(""))
        .env("ACCESS_TOKEN", &token)
        .output()
        .expect("run node (scripts/test installs nodejs and tests/node/node_modules)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "jfrog-client-js failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("3 checks passed"), "{stdout}");
}
