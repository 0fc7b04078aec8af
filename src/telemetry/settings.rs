//! The `metrics` and `audit` sections of the configuration, and their checks (called by
//! `Config::load`, which names the key at fault).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::domain::forwarded::parse_net;

/// Who may read `/metrics` without credentials.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct MetricsConfig {
    /// Client addresses or CIDR blocks (e.g. `127.0.0.1`, `10.0.0.0/8`).
    pub anonymous_from: Vec<String>,
}

impl MetricsConfig {
    /// The configured networks; an entry that parses as neither is refused at load.
    pub fn networks(&self) -> Vec<ipnet::IpNet> {
        self.anonymous_from
            .iter()
            .filter_map(|s| parse_net(s))
            .collect()
    }
}

/// The audit trail: one JSON line per security event, in rotated files.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct AuditConfig {
    /// Directory of the audit files; empty = `<home>/audit`.
    pub dir: PathBuf,
    /// `daily`, `hourly` or `never`.
    pub rotation: String,
    /// Rotated files kept (the oldest is deleted); 0 = keep all.
    pub max_files: usize,
    /// A password login by a client that sends its password on every call is audited once
    /// per user, address and password in this many seconds; 0 audits every one.
    pub login_success_window_secs: u64,
}

impl AuditConfig {
    pub fn dir_in(&self, home: &Path) -> PathBuf {
        if self.dir.as_os_str().is_empty() {
            home.join("audit")
        } else {
            self.dir.clone()
        }
    }
}

/// `Err((key, message))` for the first bad value.
pub fn check(metrics: &MetricsConfig, audit: &AuditConfig) -> Result<(), (&'static str, String)> {
    if let Some(bad) = metrics
        .anonymous_from
        .iter()
        .find(|s| parse_net(s).is_none())
    {
        return Err((
            "metrics.anonymous-from",
            format!("'{bad}' is not an IP address or CIDR block"),
        ));
    }
    if !["daily", "hourly", "never"].contains(&audit.rotation.as_str()) {
        return Err(("audit.rotation", "must be daily, hourly or never".into()));
    }
    Ok(())
}
