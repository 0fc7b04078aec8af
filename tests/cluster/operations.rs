use super::*;

/// Lines of a node's log from `from` (byte offset) on.
fn log_since(node: &TestNode, from: usize) -> String {
    node.log().get(from..).unwrap_or_default().to_string()
}

#[test]
fn a_down_peer_is_one_warning_and_status_shows_reachability() {
    let _turn = turn(1);
    let mut cluster = TestCluster::start(3, &[]);
    let leader = cluster.leader();
    let victim = (leader + 1) % 3;
    let victim_id = (victim + 1) as u64;
    let mark = cluster.nodes[leader].log().len();
    cluster.nodes[victim].kill9();
    std::thread::sleep(Duration::from_secs(4));
    let lines = log_since(&cluster.nodes[leader], mark);
    let warnings = lines.matches("peer unreachable").count();
    assert_eq!(warnings, 1, "one warning for a down peer:\n{lines}");
    assert!(!lines.contains("ERROR"), "no error chain:\n{lines}");
    // Heartbeats and probes stay out of the info log: a quiet cluster writes few lines.
    assert!(lines.lines().count() < 15, "too chatty:\n{lines}");
    let status = cluster.nodes[leader].status();
    let member = status["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == victim_id)
        .unwrap()
        .clone();
    assert_eq!(member["reachable"], false, "{status}");
    assert!(
        member["last_contact_ms_ago"].as_u64().unwrap() >= 3000,
        "{member}"
    );
    let mark = cluster.nodes[leader].log().len();
    cluster.nodes[victim].spawn();
    cluster.nodes[victim].wait_ready();
    cluster.wait_converged();
    // The leader says so at its next contact with the peer, which may come just after the
    // cluster has converged.
    let back = || log_since(&cluster.nodes[leader], mark).contains("peer reachable again");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !back() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let lines = log_since(&cluster.nodes[leader], mark);
    assert!(lines.contains("peer reachable again"), "{lines}");
    let status = cluster.nodes[(leader + 2) % 3].status();
    for m in status["members"].as_array().unwrap() {
        assert_eq!(m["reachable"], true, "{status}");
        assert!(m["last_contact_ms_ago"].as_u64().unwrap() < 2000, "{m}");
    }
}

#[test]
fn request_lines_carry_an_id_and_the_subject_and_json_logs_are_json() {
    let _turn = turn(1);
    let node = TestNode::start_with(&[
        (
            "ACCESS_NODE_SECURITY_BOOTSTRAP_ADMIN_PASSWORD",
            ADMIN_PASSWORD,
        ),
        ("ACCESS_NODE_LOG_FORMAT", "json"),
    ]);
    let r = node
        .admin(node.get("/access/api/v2/users"))
        .header("x-request-id", "trace-me-42")
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-request-id"], "trace-me-42");
    let fresh = node.get("/api/system/ping").send().unwrap();
    assert_eq!(fresh.headers()["x-request-id"].len(), 16);
    std::thread::sleep(Duration::from_millis(200));
    let log = node.log();
    let lines: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let request = lines
        .iter()
        .find(|l| l["fields"]["request_id"] == "trace-me-42")
        .unwrap_or_else(|| panic!("no request line:\n{log}"));
    assert_eq!(request["fields"]["subject"], "admin");
    assert_eq!(request["fields"]["path"], "/access/api/v2/users");
    assert_eq!(request["level"], "INFO");
    // One start-up line with the version and the configuration, and no secret anywhere.
    let start = lines
        .iter()
        .find(|l| l["fields"]["message"] == "access-node starting")
        .unwrap();
    assert_eq!(start["fields"]["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(start["fields"]["tls"], false);
    assert!(
        !log.contains("YWRtaW46cGFzc3dvcmQ"),
        "credentials in the log"
    );
    // Health probes are not logged at info.
    assert!(!lines.iter().any(|l| l["fields"]["path"] == "/healthz"));
}

#[test]
fn the_systemd_unit_and_the_multi_machine_configs_check_out() {
    let _turn = turn(1);
    let repo = env!("CARGO_MANIFEST_DIR");
    let binary = env!("CARGO_BIN_EXE_access-node");
    let unit = std::fs::read_to_string(format!("{repo}/cluster/access-node.service")).unwrap();
    assert!(unit.contains("ExecStart=/usr/local/bin/access-node serve"));
    // Verified against the binary this test run built.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("access-node.service");
    std::fs::write(&path, unit.replace("/usr/local/bin/access-node", binary)).unwrap();
    let out = std::process::Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .expect("systemd-analyze (Debian package systemd)");
    let said = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "systemd-analyze verify: {said}");
    assert!(!said.contains("access-node.service:"), "warnings: {said}");
    // Each example node configuration loads, with TLS on and https peers.
    for i in 1..=3 {
        let out = std::process::Command::new(binary)
            .args(["config", "--config"])
            .arg(format!("{repo}/cluster/multi-machine/node{i}.yml"))
            .env_remove("ACCESS_NODE_SECURITY_BOOTSTRAP_ADMIN_PASSWORD")
            .output()
            .unwrap();
        let shown = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "node{i}.yml: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(shown.contains("require-client-cert: true"), "{shown}");
        assert!(shown.contains(&format!("https://node{i}.example.internal:8082")));
    }
}
