//! The checks a loaded configuration must pass: each failure names its key.

use std::net::SocketAddr;

use super::{
    Config, ConfigError, MAX_DOCKER_TOKEN_EXPIRY, MAX_UI_SESSION_EXPIRY, MAX_WRITE_TIMEOUT_MS,
    MIN_WRITE_TIMEOUT_MS,
};
use crate::domain::forwarded::parse_net;
use crate::domain::token::MAX_EXPIRES_IN;

impl Config {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let bad = |key: &str, message: &str| {
            Err(ConfigError::Key {
                key: key.to_string(),
                message: message.to_string(),
            })
        };
        if self.server.listen.parse::<SocketAddr>().is_err() {
            return bad(
                "server.listen",
                "must be an IP:port address such as 127.0.0.1:8082",
            );
        }
        if !self.server.advertise_url.is_empty() && !self.server.advertise_url.starts_with("http") {
            return bad("server.advertise-url", "must be an http:// or https:// URL");
        }
        if self.server.node_id == 0 {
            return bad("server.node-id", "must be at least 1");
        }
        if let Some(bad) = self
            .server
            .trusted_proxies
            .iter()
            .find(|s| parse_net(s).is_none())
        {
            return Err(ConfigError::Key {
                key: "server.trusted-proxies".into(),
                message: format!("'{bad}' is not an IP address or CIDR block"),
            });
        }
        if self.server.max_body_bytes < 1024 {
            return bad("server.max-body-bytes", "must be at least 1024");
        }
        if ![2048, 3072, 4096].contains(&self.security.rsa_key_size) {
            return bad("security.rsa-key-size", "must be 2048, 3072 or 4096");
        }
        if self.security.bootstrap_admin_username.is_empty() {
            return bad("security.bootstrap-admin-username", "must not be empty");
        }
        if self.token.default_audience.trim().is_empty() {
            return bad("token.default-audience", "must not be empty");
        }
        for (key, value) in [
            ("token.default-expiry", self.token.default_expiry),
            (
                "token.non-admin-max-expiry",
                self.token.non_admin_max_expiry,
            ),
            (
                "token.identity-token-expiry",
                self.token.identity_token_expiry,
            ),
            (
                "token.pairing-token-expiry",
                self.token.pairing_token_expiry,
            ),
        ] {
            if value > MAX_EXPIRES_IN {
                return bad(key, &format!("must be at most {MAX_EXPIRES_IN} seconds"));
            }
        }
        if self.security.login_backoff_max_secs == 0 || self.security.login_failure_reset_secs == 0
        {
            return bad(
                "security.login-backoff-max-secs",
                "login-backoff-max-secs and login-failure-reset-secs must be at least 1",
            );
        }
        if !(1..=MAX_DOCKER_TOKEN_EXPIRY).contains(&self.docker.token_expiry) {
            return bad(
                "docker.token-expiry",
                &format!("must be between 1 and {MAX_DOCKER_TOKEN_EXPIRY} seconds"),
            );
        }
        if !(60..=MAX_UI_SESSION_EXPIRY).contains(&self.ui.session_expiry) {
            return bad(
                "ui.session-expiry",
                &format!("must be between 60 and {MAX_UI_SESSION_EXPIRY} seconds"),
            );
        }
        if self.oidc.leeway_secs > 300 {
            return bad("oidc.leeway-secs", "must be at most 300 seconds");
        }
        if self.oidc.jwks_max_age_secs == 0 || self.oidc.fetch_timeout_ms == 0 {
            return bad(
                "oidc.jwks-max-age-secs",
                "jwks-max-age-secs and fetch-timeout-ms must be at least 1",
            );
        }
        if !self.oidc.ca_file.as_os_str().is_empty() && !self.oidc.ca_file.is_file() {
            return bad("oidc.ca-file", "is not a readable file");
        }
        if self.token.pairing_token_expiry == 0 {
            return bad("token.pairing-token-expiry", "must be at least 1 second");
        }
        if self.raft.election_timeout_min_ms <= self.raft.heartbeat_ms
            || self.raft.election_timeout_max_ms <= self.raft.election_timeout_min_ms
        {
            return bad(
                "raft.election-timeout-min-ms",
                "need heartbeat-ms < election-timeout-min-ms < election-timeout-max-ms",
            );
        }
        if !(MIN_WRITE_TIMEOUT_MS..=MAX_WRITE_TIMEOUT_MS).contains(&self.raft.write_timeout_ms) {
            return bad(
                "raft.write-timeout-ms",
                &format!("must be between {MIN_WRITE_TIMEOUT_MS} and {MAX_WRITE_TIMEOUT_MS}"),
            );
        }
        let tls = &self.tls;
        if tls.cert_file.as_os_str().is_empty() != tls.key_file.as_os_str().is_empty() {
            return bad(
                "tls.cert-file",
                "tls.cert-file and tls.key-file go together",
            );
        }
        if tls.require_client_cert && (!tls.enabled() || tls.ca_file.as_os_str().is_empty()) {
            return bad(
                "tls.require-client-cert",
                "needs tls.cert-file, tls.key-file and tls.ca-file",
            );
        }
        let https = self.seeds().iter().any(|s| s.starts_with("https://"))
            || self.advertise_url().starts_with("https://");
        if https && tls.ca_file.as_os_str().is_empty() {
            return bad(
                "tls.ca-file",
                "https:// seeds or advertise URL need the CA that signs the nodes' certificates",
            );
        }
        if self.seeds().iter().any(|s| !s.starts_with("http")) {
            return bad("raft.seeds", "must be comma separated http:// URLs");
        }
        if !["text", "json"].contains(&self.log.format.as_str()) {
            return bad("log.format", "must be text or json");
        }
        if let Err((key, message)) = crate::telemetry::settings::check(&self.metrics, &self.audit) {
            return bad(key, &message);
        }
        let max_message = crate::federation::upload::MAX_MESSAGE_BYTES;
        if !(1024..=max_message).contains(&self.federation.max_message_bytes) {
            return bad(
                "federation.max-message-bytes",
                &format!("must be between 1024 and {max_message}"),
            );
        }
        if self.raft.snapshot_after_entries == 0 {
            return bad("raft.snapshot-after-entries", "must be at least 1");
        }
        Ok(())
    }
}
