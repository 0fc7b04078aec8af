use std::path::{Path, PathBuf};

use super::*;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn defaults_match_the_documented_values() {
    let c = Config::defaults();
    assert_eq!(c.server.listen, "127.0.0.1:8082");
    assert_eq!(c.token.default_expiry, 3600);
    assert_eq!(c.token.revocable_expiry_threshold, 21600);
    assert!(c.token.allow_refreshable);
    assert_eq!(c.token.pairing_token_expiry, 300);
    assert_eq!(c.docker.token_expiry, 300);
    assert_eq!(c.security.rsa_key_size, 2048);
    assert_eq!(c.federation.max_message_bytes, 64 * 1024 * 1024);
    assert_eq!(c.raft.write_timeout_ms, 2500);
}

#[test]
fn env_overrides_and_keeps_strings_verbatim() {
    let c = Config::load(
        None,
        env(&[
            ("ACCESS_NODE_TOKEN_DEFAULT_EXPIRY", "7200"),
            ("ACCESS_NODE_TOKEN_ALLOW_REFRESHABLE", "false"),
            ("ACCESS_NODE_SECURITY_BOOTSTRAP_ADMIN_PASSWORD", "a: b"),
            ("UNRELATED", "x"),
        ]),
    )
    .unwrap();
    assert_eq!(c.token.default_expiry, 7200);
    assert!(!c.token.allow_refreshable);
    assert_eq!(c.security.bootstrap_admin_password, "a: b");
}

#[test]
fn errors_name_the_key() {
    let e = Config::load(None, env(&[("ACCESS_NODE_TOKEN_DEFAULT_EXPIRY", "-5")])).unwrap_err();
    assert!(e.to_string().contains("token.default-expiry"), "{e}");
    let e = Config::load(None, env(&[("ACCESS_NODE_DOCKER_TOKEN_EXPIRY", "0")])).unwrap_err();
    assert!(e.to_string().contains("docker.token-expiry"), "{e}");
    // The CLI's own variables are not config keys, and not errors either.
    Config::load(
        None,
        env(&[("ACCESS_NODE_URL", "http://x"), ("ACCESS_NODE_TOKEN", "t")]),
    )
    .unwrap();
    let e = Config::load(None, env(&[("ACCESS_NODE_TOKEN_BOGUS", "1")])).unwrap_err();
    assert!(e.to_string().contains("ACCESS_NODE_TOKEN_BOGUS"), "{e}");
    let e = Config::load(None, env(&[("ACCESS_NODE_SECURITY_RSA_KEY_SIZE", "1000")])).unwrap_err();
    assert!(e.to_string().contains("security.rsa-key-size"), "{e}");
    let e = Config::load(None, env(&[("ACCESS_NODE_RAFT_WRITE_TIMEOUT_MS", "0")])).unwrap_err();
    assert!(e.to_string().contains("raft.write-timeout-ms"), "{e}");
}

#[test]
fn file_overlay_rejects_unknown_keys() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.yml");
    std::fs::write(&good, "token:\n  default-expiry: 60\n").unwrap();
    let c = Config::load(Some(&good), Vec::new()).unwrap();
    assert_eq!(c.token.default_expiry, 60);
    assert_eq!(c.token.revocable_expiry_threshold, 21600);
    let bad = dir.path().join("bad.yml");
    std::fs::write(&bad, "token:\n  defualt-expiry: 60\n").unwrap();
    let e = Config::load(Some(&bad), Vec::new()).unwrap_err();
    assert!(e.to_string().contains("defualt-expiry"), "{e}");
    assert!(e.to_string().contains("token"), "{e}");
}

#[test]
fn metrics_and_audit_keys_are_checked() {
    let c = Config::defaults();
    assert!(c.metrics.anonymous_from.is_empty());
    assert_eq!(c.audit.rotation, "daily");
    assert_eq!(c.audit.dir_in(Path::new("/h")), PathBuf::from("/h/audit"));
    let c = Config::load(
        None,
        env(&[(
            "ACCESS_NODE_METRICS_ANONYMOUS_FROM",
            r#"["127.0.0.1", "10.0.0.0/8"]"#,
        )]),
    )
    .unwrap();
    let nets = c.metrics.networks();
    assert!(nets
        .iter()
        .any(|n| n.contains(&"10.1.2.3".parse::<std::net::IpAddr>().unwrap())));
    assert!(!nets
        .iter()
        .any(|n| n.contains(&"192.168.0.1".parse::<std::net::IpAddr>().unwrap())));
    let e = Config::load(
        None,
        env(&[("ACCESS_NODE_METRICS_ANONYMOUS_FROM", "[\"nope\"]")]),
    )
    .unwrap_err();
    assert!(e.to_string().contains("metrics.anonymous-from"), "{e}");
    let e = Config::load(None, env(&[("ACCESS_NODE_AUDIT_ROTATION", "weekly")])).unwrap_err();
    assert!(e.to_string().contains("audit.rotation"), "{e}");
}

#[test]
fn trusted_proxies_and_the_login_audit_window_are_read_and_checked() {
    let c = Config::defaults();
    assert!(c.server.trusted_proxies.is_empty());
    assert_eq!(c.audit.login_success_window_secs, 300);
    let c = Config::load(
        None,
        env(&[
            (
                "ACCESS_NODE_SERVER_TRUSTED_PROXIES",
                r#"["10.0.0.5", "10.1.0.0/16", "::1"]"#,
            ),
            ("ACCESS_NODE_AUDIT_LOGIN_SUCCESS_WINDOW_SECS", "0"),
        ]),
    )
    .unwrap();
    assert_eq!(c.server.trusted_proxies.len(), 3);
    assert_eq!(c.audit.login_success_window_secs, 0);
    let e = Config::load(
        None,
        env(&[("ACCESS_NODE_SERVER_TRUSTED_PROXIES", r#"["lb.example"]"#)]),
    )
    .unwrap_err();
    assert!(e.to_string().contains("server.trusted-proxies"), "{e}");
    assert!(e.to_string().contains("lb.example"), "{e}");
}
