//! Becoming a serving member: initialise a new cluster or join one, bootstrap identity, keys
//! and admin through the log, and catch up before the public API opens.

use std::collections::BTreeMap;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use openraft::BasicNode;

use super::cluster::Cluster;
use super::now_secs;
use crate::crypto::{self, hash_password};
use crate::domain::accounts::UserRecord;
use crate::raft::command::{Command, CommandResponse};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot prepare home directory {0}: {1}")]
    Home(PathBuf, std::io::Error),
    #[error("cannot open the database: {0}")]
    Db(#[from] sled::Error),
    #[error("storage: {0}")]
    Storage(String),
    #[error("raft: {0}")]
    Raft(String),
    #[error("bootstrap failed: {0}")]
    Bootstrap(String),
    #[error("TLS: {0}")]
    Tls(String),
    /// The OIDC issuer client (`oidc.ca-file` unreadable, say).
    #[error("OIDC: {0}")]
    Oidc(String),
    /// The data directory (or cluster) is of a newer format than this binary reads.
    #[error("{0}")]
    Format(String),
}

/// Write a secret file with mode 0600 (created that way, never briefly world-readable).
pub fn write_secret_file(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    // Never through a link planted at the path: the secret would land where it points.
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)?;
    f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    f.write_all(contents.as_bytes())?;
    f.sync_all()
}

impl Cluster {
    /// Become a serving member: initialise a new cluster (no seeds) or join one, wait for a
    /// leader, bootstrap if this is a brand-new cluster, and catch up with the leader.
    /// Retries until it succeeds; the cluster RPC is served meanwhile. The caller opens the
    /// public API afterwards ([`Cluster::set_ready`]).
    pub async fn become_member(self: Arc<Self>) -> Result<(), StartError> {
        let initialized = self
            .raft
            .is_initialized()
            .await
            .map_err(|e| StartError::Raft(e.to_string()))?;
        if !initialized {
            let seeds = self.config.seeds();
            if seeds.is_empty() {
                let mut members = BTreeMap::new();
                members.insert(self.node_id, BasicNode::new(self.config.advertise_url()));
                self.raft
                    .initialize(members)
                    .await
                    .map_err(|e| StartError::Raft(e.to_string()))?;
                tracing::info!(node_id = self.node_id, "initialised a new one-node cluster");
            } else {
                self.membership
                    .join_via_seeds(&seeds, self.config.advertise_url())
                    .await;
            }
        }
        let mut waited = 0u32;
        loop {
            let leader = self.raft.current_leader().await;
            let bootstrapped = self
                .state
                .service_id()
                .map_err(|e| StartError::Storage(e.to_string()))?
                .is_some();
            if leader == Some(self.node_id) && !bootstrapped {
                self.bootstrap().await?;
                continue;
            }
            if leader.is_some()
                && bootstrapped
                && self
                    .writes
                    .read_barrier(Duration::from_secs(5))
                    .await
                    .is_ok()
            {
                break;
            }
            waited += 1;
            if waited.is_multiple_of(25) {
                tracing::info!(
                    ?leader,
                    bootstrapped,
                    "waiting for a leader and the cluster state"
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Ok(())
    }

    async fn bootstrap(&self) -> Result<(), StartError> {
        let bits = self.config.security.rsa_key_size;
        let now = now_secs();
        let service_id = format!("jfac@{}", crypto::random_service_suffix());
        let cn = service_id.clone();
        let key =
            tokio::task::spawn_blocking(move || crypto::generate_key_material(bits, &cn, now))
                .await
                .map_err(|e| StartError::Bootstrap(e.to_string()))?
                .map_err(|e| StartError::Bootstrap(e.to_string()))?;
        let configured = self.config.security.bootstrap_admin_password.clone();
        let (password, generated) = if configured.is_empty() {
            (crypto::random_secret()[..24].to_string(), true)
        } else {
            (configured, false)
        };
        let pw = password.clone();
        let hash = tokio::task::spawn_blocking(move || hash_password(&pw))
            .await
            .map_err(|e| StartError::Bootstrap(e.to_string()))?
            .map_err(|e| StartError::Bootstrap(e.to_string()))?;
        let admin = UserRecord {
            username: self.config.security.bootstrap_admin_username.clone(),
            password_hash: Some(hash),
            email: None,
            admin: true,
            groups: Vec::new(),
            created_at: now,
            disabled: false,
            scim: None,
        };
        let kid = key.kid.clone();
        let response = self
            .writes
            .write(Command::Bootstrap {
                service_id: service_id.clone(),
                key,
                admin,
                format: crate::domain::version::own_format(),
            })
            .await
            .map_err(|e| StartError::Bootstrap(e.to_string()))?;
        if response == CommandResponse::Bootstrapped {
            if generated {
                let path = self.home.join("etc/security/bootstrap.password");
                write_secret_file(&path, &format!("{password}\n"))
                    .map_err(|e| StartError::Home(path.clone(), e))?;
                tracing::info!(file = %path.display(), "bootstrap admin password generated (see file, mode 0600)");
            }
            tracing::info!(%service_id, %kid, "cluster bootstrapped");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::write_secret_file;

    #[test]
    fn a_secret_is_never_written_through_a_planted_link() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "untouched").unwrap();
        let path = dir.path().join("join.key");
        std::os::unix::fs::symlink(&victim, &path).unwrap();
        assert!(write_secret_file(&path, "secret").is_err());
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "untouched");
        // A plain path is written, 0600.
        let plain = dir.path().join("bootstrap.password");
        write_secret_file(&plain, "secret").unwrap();
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&plain).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
