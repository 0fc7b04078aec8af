//! A logged value cannot forge a node log line: a failed Basic login whose user name holds a
//! newline and a fake line is logged on one line, escaped, in the text and JSON formats.

use std::time::{Duration, Instant};

use super::*;

/// What an attacker wants the log to show on a line of its own (no `:`, which would end a
/// Basic user name).
const FORGED: &str = "2026-01-01T00.00.00Z  WARN access_node login succeeded user=admin";

/// The user name sent: the forged line after a newline, then other control characters.
fn evil_user() -> String {
    format!("x\n{FORGED}\r\u{1b}[2K\u{85}\u{2028}")
}

/// Fail a Basic login as `user`, then wait for the node to log it; the node log.
fn fail_login_as(node: &TestNode, user: &str) -> String {
    let r = node
        .get("/api/system/ping")
        .basic_auth(user, Some("not-the-password"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 401);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let log = node.log();
        if log.contains("login failed") {
            return log;
        }
        assert!(Instant::now() < deadline, "no failed login logged:\n{log}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// No line starts with, or holds a raw control character from, the injected text.
fn assert_not_forged(log: &str) {
    for line in log.lines() {
        assert!(!line.starts_with("2026-01-01"), "forged line: {line}");
        assert!(
            !line.contains(['\r', '\u{1b}', '\u{85}', '\u{2028}']),
            "raw control character: {line:?}"
        );
    }
}

#[test]
fn a_user_name_cannot_forge_a_text_log_line() {
    let node = TestNode::start();
    let log = fail_login_as(&node, &evil_user());
    assert_not_forged(&log);
    let escaped = format!("user=x\\n{FORGED}\\r\\u{{1b}}[2K\\u{{85}}\\u{{2028}}");
    let line = log.lines().find(|l| l.contains("login failed")).unwrap();
    assert!(line.contains(&escaped), "{line}");
}

#[test]
fn a_user_name_cannot_forge_a_json_log_line() {
    let node = TestNode::start_with(&[
        (
            "ACCESS_NODE_SECURITY_BOOTSTRAP_ADMIN_PASSWORD",
            ADMIN_PASSWORD,
        ),
        ("ACCESS_NODE_LOG_FORMAT", "json"),
    ]);
    let log = fail_login_as(&node, &evil_user());
    assert_not_forged(&log);
    // Every line is one JSON object, and the logged name is exactly the one sent.
    let lines: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let failed = lines
        .iter()
        .find(|l| l["fields"]["message"] == "login failed")
        .unwrap_or_else(|| panic!("no failed login:\n{log}"));
    assert_eq!(failed["fields"]["user"], evil_user());
}
