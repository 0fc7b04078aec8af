//! The use cases every caller goes through (the JSON API, the CLI, actors and, next,
//! federation and the web page): tokens, token kinds, keys and trust, users, logins,
//! bootstrap. A service signs, builds `Command`s, proposes them through the one writer and
//! reads the applied state. Its errors know nothing of HTTP.

pub mod auth;
pub mod backup;
pub mod bootstrap;
pub mod clock;
pub mod error;
pub mod federation;
mod federation_inbound;
pub mod keys;
pub mod login;
pub mod minting;
pub mod permissions;
pub mod principal_cache;
pub mod queries;
pub mod registry;
pub mod sessions;
pub mod site_upload;
pub mod telemetry;
pub mod token_kinds;
pub mod tokens;
pub mod users;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

pub use error::{ServiceError, ServiceResult};
pub use tokens::{IssueSpec, IssuedToken, RefreshOverrides};

use crate::config::Config;
use crate::crypto::KeySet;
use crate::raft::batcher::WriteBatcher;
use crate::raft::command::{Command, CommandResponse};
use crate::raft::membership::Membership;
use crate::raft::peer::PeerClient;
use crate::raft::writer::Writer;
use crate::raft::{NodeId, Raft};
use crate::store::{BackupSource, StateView};

pub use crate::clock::now_secs;

/// A new token id (`jti`): a version 7 UUID. Ids from one node sort by issue time, so each new
/// record lands at the right edge of the tokens tree instead of on a random page (cheaper
/// writes on every node), and expiry sweeps and in-order revocations touch neighbouring pages.
/// The id is no secret: it is in the token itself and in listings.
pub(crate) fn new_token_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// 400 unless `name` is a valid user or group name (see `domain::names`).
pub(crate) fn check_name(kind: &str, name: &str) -> ServiceResult<()> {
    if crate::domain::names::valid_name(name) {
        Ok(())
    } else {
        Err(ServiceError::BadRequest(format!("invalid {kind} '{name}'")))
    }
}

/// How long a strict validation may wait for the leader's read index.
pub(crate) const STRICT_READ_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a read of something unknown here may wait to catch up.
pub(crate) const CATCH_UP_TIMEOUT: Duration = Duration::from_secs(1);

/// The node's services: configuration, the applied state, and the writer. Cheap to share.
pub struct Service {
    pub config: Config,
    pub node_id: NodeId,
    pub home: PathBuf,
    /// The applied state: read straight from sled, never through Raft or an actor.
    pub state: StateView,
    pub membership: Membership,
    writer: Writer,
    /// Group commit for token issues, revocations and failed logins.
    batcher: WriteBatcher,
    raft: Raft,
    peer: PeerClient,
    /// Consistent reads of the whole state, for backups.
    backup: BackupSource,
    /// Set once this node is a member, bootstrapped and caught up; until then the public API
    /// answers 503 (the cluster RPC is served from the start).
    ready: AtomicBool,
    /// What each federation link is doing (filled in by the leader's link tasks).
    pub links: crate::federation::status::Board,
    /// Callers of recently seen bearer tokens.
    principals: principal_cache::PrincipalCache,
    /// The other members' and the federated sites' clocks, as last read.
    pub clocks: crate::raft::clock::ClockBoard,
    /// Our offset from the leader's clock (ms), for `clock_now_ms` on every request.
    leader_offset: std::sync::atomic::AtomicI64,
}

pub type SharedService = Arc<Service>;

impl Service {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        config: Config,
        home: PathBuf,
        state: StateView,
        raft: Raft,
        writer: Writer,
        batcher: WriteBatcher,
        membership: Membership,
        peer: PeerClient,
        backup: BackupSource,
    ) -> Service {
        let principals = principal_cache::PrincipalCache::new(config.token.verified_cache_entries);
        Service {
            principals,
            node_id: config.server.node_id,
            config,
            home,
            state,
            membership,
            writer,
            batcher,
            raft,
            peer,
            backup,
            ready: AtomicBool::new(false),
            links: Default::default(),
            clocks: Default::default(),
            leader_offset: Default::default(),
        }
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    pub(crate) fn set_ready(&self) {
        self.ready.store(true, Ordering::Release);
    }

    /// The Raft instance, for the node-to-node RPC endpoints and shutdown.
    pub fn raft(&self) -> &Raft {
        &self.raft
    }

    /// The HTTP client with this node's TLS settings.
    pub fn peer_http(&self) -> &reqwest::Client {
        self.peer.http()
    }

    /// The secret every cluster RPC carries.
    pub fn join_key(&self) -> &str {
        self.peer.join_key()
    }

    /// The writer, for the leader side of forwarded writes and read-index requests.
    pub fn writer(&self) -> &Writer {
        &self.writer
    }

    /// A lookup of something a write through another node may have made an instant ago: on
    /// a miss, catch up with the leader once (503 if it cannot) and look again.
    pub(crate) async fn caught_up<T>(
        &self,
        look: impl Fn() -> ServiceResult<Option<T>>,
    ) -> ServiceResult<Option<T>> {
        if let Some(found) = look()? {
            return Ok(Some(found));
        }
        self.read_barrier(CATCH_UP_TIMEOUT).await?;
        look()
    }

    /// Propose `cmd` alone (forwarded to the leader when needed) and wait until it is applied.
    /// On a follower, also waits (briefly) until the write is applied here, so what this
    /// node answers next includes it: read-your-writes through any node.
    pub async fn write(&self, cmd: Command) -> ServiceResult<CommandResponse> {
        let response = self.writer.write(cmd).await?;
        if !self.membership.status().is_leader {
            // The write is committed: failing to see it here yet is no reason to fail it.
            let _ = self.read_barrier(CATCH_UP_TIMEOUT).await;
        }
        Ok(response)
    }

    /// Propose `cmd` through group commit (hot writes: issues, revocations, failed logins).
    pub async fn write_batched(&self, cmd: Command) -> ServiceResult<CommandResponse> {
        Ok(self.batcher.write(cmd).await?)
    }

    /// After this, local reads see everything committed when it was called.
    pub async fn read_barrier(&self, timeout: Duration) -> ServiceResult<()> {
        Ok(self.writer.read_barrier(timeout).await?)
    }

    pub fn keyset(&self) -> ServiceResult<Arc<KeySet>> {
        self.state
            .keyset()
            .ok_or_else(|| ServiceError::Unavailable("the cluster is not bootstrapped yet".into()))
    }

    /// Lifetime of a token whose request names none: the cluster-wide setting when an admin
    /// set one (`PUT /access/api/v1/tokens/default_expiry`), else `token.default-expiry`.
    pub fn default_expiry(&self) -> u64 {
        self.state
            .default_expiry()
            .ok()
            .flatten()
            .unwrap_or(self.config.token.default_expiry)
    }

    /// Set the default token lifetime for the whole cluster, through the log.
    pub async fn set_default_expiry(&self, secs: u64) -> ServiceResult<u64> {
        let secs = tokens::check_expires_in(secs)?;
        self.write(Command::SetDefaultExpiry { secs }).await?;
        tracing::info!(secs, "default token expiry set");
        Ok(secs)
    }

    pub fn service_id(&self) -> ServiceResult<String> {
        Ok(self.keyset()?.service_id.clone())
    }
}

#[cfg(test)]
mod token_id_tests {
    #[test]
    fn token_ids_are_version_7_uuids_in_issue_order() {
        let ids: Vec<String> = (0..1000).map(|_| super::new_token_id()).collect();
        for id in &ids {
            let parsed = uuid::Uuid::parse_str(id).expect("a UUID");
            assert_eq!(parsed.get_version_num(), 7, "{id}");
            assert_eq!(id, &parsed.hyphenated().to_string(), "canonical form");
        }
        assert!(
            ids.windows(2).all(|w| w[0] < w[1]),
            "ids sort by issue order"
        );
    }
}
