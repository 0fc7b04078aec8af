//! Configuration: built-in defaults (config/access.config.yml), then an optional YAML file,
//! then `ACCESS_NODE_*` environment variables. Unknown keys and bad values are errors that name
//! the key.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

mod load;
#[cfg(test)]
mod tests;
mod validate;

pub use crate::telemetry::settings::{AuditConfig, MetricsConfig};

pub const DEFAULT_YAML: &str = include_str!("../../config/access.config.yml");
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
    pub oidc: OidcConfig,
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
    /// Load balancers (addresses or CIDR blocks) whose `Forwarded` / `X-Forwarded-For`
    /// headers name the client (`domain::forwarded`).
    pub trusted_proxies: Vec<String>,
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

/// OIDC token exchange: how issuers are reached and their ID tokens judged.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct OidcConfig {
    /// Accept plain-http issuers that are not on loopback (never in production).
    pub allow_http_issuers: bool,
    /// Extra CA certificates (PEM) trusted for issuers, besides the system's.
    pub ca_file: PathBuf,
    /// Slack for `exp`, `nbf` and `iat` against the cluster's clock, in seconds.
    pub leeway_secs: u64,
    /// An unknown `kid` refetches the issuer's keys at most this often, in seconds.
    pub jwks_refetch_min_secs: u64,
    /// Keys older than this are fetched again before use, in seconds.
    pub jwks_max_age_secs: u64,
    /// Longest wait for an issuer's discovery document or keys, in ms.
    pub fetch_timeout_ms: u64,
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
