//! Configuration: built-in defaults (config/access.config.yml), then an optional YAML file,
//! then `ACCESS_NODE_*` environment variables. Unknown keys and bad values are errors that name
//! the key.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_yaml_ng::{Mapping, Value};

use crate::domain::token::MAX_EXPIRES_IN;
pub use crate::telemetry::settings::{AuditConfig, MetricsConfig};

pub const DEFAULT_YAML: &str = include_str!("../config/access.config.yml");
pub const ENV_PREFIX: &str = "ACCESS_NODE_";
pub const ENV_CONFIG_FILE: &str = "ACCESS_NODE_CONFIG";
/// Variables of the operator CLI (`src/cli`): where and as whom a client command connects.
/// A node ignores them, so one shell can run both.
pub const CLIENT_ENV: &[&str] = &[
    "ACCESS_NODE_URL",
    "ACCESS_NODE_TOKEN",
    "ACCESS_NODE_USER",
    "ACCESS_NODE_PASSWORD",
    "ACCESS_NODE_CA_CERT",
];

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path} is not valid YAML: {message}")]
    Yaml { path: String, message: String },
    #[error("config key '{key}': {message}")]
    Key { key: String, message: String },
    #[error("unknown environment variable {0} (no such config key)")]
    UnknownEnv(String),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub token: TokenConfig,
    pub security: SecurityConfig,
    pub tls: TlsConfig,
    pub raft: RaftConfig,
    pub cluster: ClusterConfig,
    pub log: LogConfig,
    pub federation: FederationConfig,
    pub docker: DockerConfig,
    pub metrics: MetricsConfig,
    pub audit: AuditConfig,
    pub ui: UiConfig,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ServerConfig {
    pub listen: String,
    pub advertise_url: String,
    pub home: PathBuf,
    pub node_id: u64,
    pub workers: usize,
    pub max_body_bytes: usize,
    /// Artifactory version reported by the version endpoints, for version-gated clients.
    pub compat_version: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct TokenConfig {
    pub default_expiry: u64,
    pub revocable_expiry_threshold: u64,
    pub non_admin_max_expiry: u64,
    pub allow_refreshable: bool,
    pub refresh_grace_period: u64,
    pub pairing_token_expiry: u64,
    pub identity_token_expiry: u64,
    pub default_audience: String,
    pub verified_cache_entries: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct SecurityConfig {
    pub rsa_key_size: usize,
    pub bootstrap_admin_username: String,
    pub bootstrap_admin_password: String,
    pub join_key: String,
    pub lock_after_failed_logins: u32,
    pub lock_after_failed_logins_per_address: u32,
    pub login_backoff_max_secs: u64,
    pub login_failure_reset_secs: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct TlsConfig {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    pub ca_file: PathBuf,
    pub require_client_cert: bool,
}

impl TlsConfig {
    /// Whether this node serves TLS (then it serves nothing else).
    pub fn enabled(&self) -> bool {
        !self.cert_file.as_os_str().is_empty()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RaftConfig {
    pub cluster_name: String,
    pub seeds: String,
    pub snapshot_after_entries: u64,
    pub heartbeat_ms: u64,
    pub election_timeout_min_ms: u64,
    pub election_timeout_max_ms: u64,
    /// How long a write may wait for a leader and a commit before a 503.
    pub write_timeout_ms: u64,
}

/// Time across the nodes of the cluster.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ClusterConfig {
    /// Farther than this from the leader's clock, a node is degraded and mints nothing.
    pub max_clock_skew_millis: u64,
    /// How often each node reads the other members' clocks.
    pub clock_probe_millis: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct FederationConfig {
    /// Changes stamped further than this in our future are refused (JFrog's name).
    pub maximum_future_time_diff_millis: u64,
    pub journal_max_events: u64,
    pub buffer_max_size: usize,
    pub buffer_wait_millis: u64,
    pub retry_millis: u64,
    pub sync_chunk_size: usize,
    /// Largest message a peer site may send; see `federation::upload`.
    pub max_message_bytes: usize,
}

/// The Docker Registry v2 token service (`/v2/token`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct DockerConfig {
    pub token_expiry: u64,
}

/// The admin web page (`/ui/`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct UiConfig {
    /// Seconds a sign-in lasts.
    pub session_expiry: u64,
}

/// Bounds of `raft.write-timeout-ms`: room for a commit, and below any client's patience.
pub const MIN_WRITE_TIMEOUT_MS: u64 = 100;
pub const MAX_WRITE_TIMEOUT_MS: u64 = 60_000;

/// Longest web session (`ui.session-expiry`): a day.
pub const MAX_UI_SESSION_EXPIRY: u64 = 86_400;

/// Longest registry token lifetime (`docker.token-expiry`): a day.
pub const MAX_DOCKER_TOKEN_EXPIRY: u64 = 86_400;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct LogConfig {
    pub level: String,
    pub format: String,
}

impl Config {
    /// Built-in defaults only.
    pub fn defaults() -> Config {
        Self::load(None, std::iter::empty()).expect("built-in defaults are valid")
    }

    /// Defaults, then `file` (if any), then `ACCESS_NODE_*` variables from `env`.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let mut value = parse_yaml("<built-in defaults>", DEFAULT_YAML)?;
        let leaves = leaf_paths(&value);
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.to_path_buf(),
                source,
            })?;
            let overlay = parse_yaml(&path.display().to_string(), &text)?;
            if !overlay.is_null() {
                merge(&mut value, overlay);
            }
        }
        for (name, raw) in env {
            let Some(rest) = name.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            if name == ENV_CONFIG_FILE || CLIENT_ENV.contains(&name.as_str()) {
                continue;
            }
            let (path, default) = leaves
                .iter()
                .find(|(p, _)| env_name(p) == rest)
                .ok_or_else(|| ConfigError::UnknownEnv(name.clone()))?;
            // Strings stay verbatim (a password may look like YAML); other leaves parse as YAML.
            let parsed = match default {
                Value::String(_) => Value::String(raw),
                _ => serde_yaml_ng::from_str(&raw).map_err(|e| ConfigError::Key {
                    key: format!("{} (from {name})", path.join(".")),
                    message: e.to_string(),
                })?,
            };
            set_path(&mut value, path, parsed);
        }
        let config: Config =
            serde_path_to_error::deserialize(value).map_err(|e| ConfigError::Key {
                key: e.path().to_string(),
                message: e.inner().to_string(),
            })?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
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

    /// Seed URLs to join on first start.
    pub fn seeds(&self) -> Vec<String> {
        self.raft
            .seeds
            .split(',')
            .map(|s| s.trim().trim_end_matches('/').to_string())
            .filter(|s| !s.is_empty())
            .collect()
    }

    pub fn listen_addr(&self) -> SocketAddr {
        self.server.listen.parse().expect("validated at load")
    }

    /// URL peers use to reach this node.
    pub fn advertise_url(&self) -> String {
        if self.server.advertise_url.is_empty() {
            let scheme = if self.tls.enabled() { "https" } else { "http" };
            format!("{scheme}://{}", self.server.listen)
        } else {
            self.server.advertise_url.trim_end_matches('/').to_string()
        }
    }
}

fn parse_yaml(origin: &str, text: &str) -> Result<Value, ConfigError> {
    serde_yaml_ng::from_str(text).map_err(|e| ConfigError::Yaml {
        path: origin.to_string(),
        message: e.to_string(),
    })
}

fn env_name(path: &[String]) -> String {
    path.join("_").replace('-', "_").to_ascii_uppercase()
}

fn leaf_paths(v: &Value) -> Vec<(Vec<String>, Value)> {
    fn walk(v: &Value, prefix: &mut Vec<String>, out: &mut Vec<(Vec<String>, Value)>) {
        match v {
            Value::Mapping(m) => {
                for (k, child) in m {
                    if let Some(k) = k.as_str() {
                        prefix.push(k.to_string());
                        walk(child, prefix, out);
                        prefix.pop();
                    }
                }
            }
            leaf => out.push((prefix.clone(), leaf.clone())),
        }
    }
    let mut out = Vec::new();
    walk(v, &mut Vec::new(), &mut out);
    out
}

fn merge(base: &mut Value, overlay: Value) {
    match (base, overlay) {
        (Value::Mapping(b), Value::Mapping(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(existing) => merge(existing, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (slot, v) => *slot = v,
    }
}

fn set_path(root: &mut Value, path: &[String], leaf: Value) {
    let mut cur = root;
    for key in path {
        if !cur.is_mapping() {
            *cur = Value::Mapping(Mapping::new());
        }
        let map = cur.as_mapping_mut().expect("just made a mapping");
        cur = map.entry(Value::String(key.clone())).or_insert(Value::Null);
    }
    *cur = leaf;
}

#[cfg(test)]
mod tests {
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
        let e =
            Config::load(None, env(&[("ACCESS_NODE_SECURITY_RSA_KEY_SIZE", "1000")])).unwrap_err();
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
}
