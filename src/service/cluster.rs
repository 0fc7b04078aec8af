//! The cluster itself, as its members and admins use it: readiness, becoming a member
//! (`bootstrap`), the node-to-node RPC (Raft messages, forwarded writes, read index, joins,
//! membership changes) and the status the admin API shows.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use openraft::error::{InstallSnapshotError, RaftError};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};

use super::clock::ClusterClock;
use super::writes::Writes;
use super::ServiceResult;
use crate::config::Config;
use crate::domain::version::{next_cluster_version, own_format, refuse_older_binary, FIRST_FORMAT};
use crate::raft::command::Command;
use crate::raft::election::{PreVoteReply, PreVoteRequest};
use crate::raft::membership::status::{Member, RaftStatus};
use crate::raft::membership::Membership;
use crate::raft::peer::PeerClient;
use crate::raft::rpc::{
    JoinRequest, MembershipChange, MembershipReply, ReadIndexReply, Refusal, RefusalKind,
    ReplicationView, WriteReply,
};
use crate::raft::writer::Writer;
use crate::raft::{NodeId, Raft, TypeConfig};
use crate::store::StateView;
use crate::telemetry::audit::Event;

/// This node as a member of its cluster.
pub struct Cluster {
    pub(super) config: Arc<Config>,
    pub(super) home: PathBuf,
    pub(super) node_id: NodeId,
    pub(super) state: StateView,
    pub(super) raft: Raft,
    pub(super) writer: Writer,
    pub(super) writes: Arc<Writes>,
    pub(super) membership: Membership,
    peer: PeerClient,
    clock: Arc<ClusterClock>,
    /// Set once this node is a member, bootstrapped and caught up; until then the public API
    /// answers 503 (the cluster RPC is served from the start).
    ready: AtomicBool,
    /// Voters already reported as reading less than the cluster's format (a downgrade).
    older_voters: std::sync::Mutex<std::collections::BTreeSet<NodeId>>,
}

/// What `Cluster::new` is built from.
pub struct ClusterParts {
    pub config: Arc<Config>,
    pub state: StateView,
    pub raft: Raft,
    pub writer: Writer,
    pub writes: Arc<Writes>,
    pub membership: Membership,
    pub peer: PeerClient,
    pub clock: Arc<ClusterClock>,
}

impl Cluster {
    pub fn new(parts: ClusterParts) -> Cluster {
        Cluster {
            home: parts.config.server.home.clone(),
            node_id: parts.config.server.node_id,
            config: parts.config,
            state: parts.state,
            raft: parts.raft,
            writer: parts.writer,
            writes: parts.writes,
            membership: parts.membership,
            peer: parts.peer,
            clock: parts.clock,
            ready: AtomicBool::new(false),
            older_voters: Default::default(),
        }
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    pub(crate) fn set_ready(&self) {
        self.ready.store(true, Ordering::Release);
    }

    pub fn node_id(&self) -> NodeId {
        self.node_id
    }

    /// Whether a cluster RPC must come with a client certificate our CA signed.
    pub fn requires_client_cert(&self) -> bool {
        self.config.tls.require_client_cert
    }

    /// The secret every cluster RPC carries.
    pub fn join_key(&self) -> &str {
        self.peer.join_key()
    }

    /// The kid of the signing key the log holds now, if any.
    pub fn active_kid(&self) -> Option<String> {
        self.state.active_key().ok().flatten().map(|k| k.kid)
    }

    pub async fn append(
        &self,
        rpc: AppendEntriesRequest<TypeConfig>,
    ) -> Result<AppendEntriesResponse<NodeId>, RaftError<NodeId>> {
        let answer = self.raft.append_entries(rpc).await;
        if matches!(&answer, Ok(r) if !matches!(r, AppendEntriesResponse::HigherVote(_))) {
            self.membership.heard_from_leader();
        }
        answer
    }

    pub async fn vote(
        &self,
        rpc: VoteRequest<NodeId>,
    ) -> Result<VoteResponse<NodeId>, RaftError<NodeId>> {
        let answer = self.raft.vote(rpc).await;
        if matches!(&answer, Ok(r) if r.vote_granted) {
            self.membership.granted_vote();
        }
        answer
    }

    pub fn pre_vote(&self, request: &PreVoteRequest) -> PreVoteReply {
        self.membership.pre_vote(request)
    }

    pub async fn install_snapshot(
        &self,
        rpc: InstallSnapshotRequest<TypeConfig>,
    ) -> Result<InstallSnapshotResponse<NodeId>, RaftError<NodeId, InstallSnapshotError>> {
        let answer = self.raft.install_snapshot(rpc).await;
        if answer.is_ok() {
            self.membership.heard_from_leader();
        }
        answer
    }

    /// A write another member forwarded to us as the leader.
    pub async fn forwarded_write(&self, cmd: Command) -> WriteReply {
        self.writer.write_as_leader(cmd).await
    }

    pub async fn read_index(&self) -> ReadIndexReply {
        self.writer.read_index_as_leader().await
    }

    /// Add a node. A node whose binary reads an older format than the cluster's is refused:
    /// it could not apply what the cluster writes.
    pub async fn join(&self, join: JoinRequest) -> MembershipReply {
        let cluster = self.state.cluster_format().unwrap_or(FIRST_FORMAT);
        let theirs = join.format.unwrap_or(FIRST_FORMAT);
        if let Some(why) = refuse_older_binary(theirs, cluster) {
            tracing::warn!(node_id = join.node_id, url = %join.url, %why, "join refused");
            return Err(Refusal::new(RefusalKind::Unavailable, why));
        }
        self.membership.join(join).await
    }

    /// On the leader: once every voter reads a newer format than the cluster's, move the
    /// cluster to it (through the log: the format only moves forward). A voter not heard from
    /// counts as the first format.
    pub async fn raise_format(&self) -> ServiceResult<Option<u32>> {
        if !self.membership.status().is_leader || self.state.service_id()?.is_none() {
            return Ok(None);
        }
        let current = self.state.cluster_format()?;
        let voters = self.membership.voters();
        self.report_older_voters(&voters, current);
        let next =
            next_cluster_version(current, voters.iter().map(|v| self.clock.member_format(*v)));
        if next <= current {
            return Ok(None);
        }
        self.writes
            .write(Command::RaiseFormat { version: next })
            .await?;
        tracing::info!(
            from = current,
            to = next,
            "cluster format raised: every voter reads it"
        );
        Event::new("cluster.format_raised")
            .field("from", current)
            .field("to", next)
            .emit();
        Ok(Some(next))
    }

    /// A voter that reads less than the cluster's format runs a binary too old for it (a
    /// downgrade past a format change, or a binary from before formats): say so once per voter,
    /// in the log and the audit trail. It may fail to apply what the others write.
    fn report_older_voters(&self, voters: &[NodeId], cluster: u32) {
        let mut reported = self.older_voters.lock().unwrap_or_else(|e| e.into_inner());
        for id in voters {
            let Some(format) = self.clock.member_format(*id) else {
                continue;
            };
            if format >= cluster {
                reported.remove(id);
            } else if reported.insert(*id) {
                tracing::error!(member = id, format, cluster, "a voter runs a binary of an older format than the cluster's: upgrade it (a downgrade past a format change is not supported)");
                Event::new("cluster.member_format_older")
                    .field("member", *id)
                    .field("format", format)
                    .field("cluster", cluster)
                    .emit();
            }
        }
    }

    /// The format this node reads, and the cluster's.
    pub fn formats_json(&self) -> serde_json::Value {
        serde_json::json!({
            "node": own_format(),
            "cluster": self.state.cluster_format().ok(),
        })
    }

    pub async fn change_membership(&self, change: MembershipChange) -> MembershipReply {
        self.membership.remove(change).await
    }

    pub async fn replication_view(&self) -> Option<ReplicationView> {
        self.membership.replication_view().await
    }

    pub fn status(&self) -> RaftStatus {
        self.membership.status()
    }

    pub async fn members(&self) -> Vec<Member> {
        self.membership.members().await
    }

    /// How far member `id`'s clock is ahead of ours, as last read.
    pub fn member_clock_offset(&self, id: NodeId) -> Option<i64> {
        self.clock.board().node_offset(id)
    }

    /// The format member `id` reads, as last read (None: not yet).
    pub fn member_format(&self, id: NodeId) -> Option<u32> {
        self.clock.member_format(id)
    }

    /// This node's clock as `/healthz` and the cluster status show it.
    pub fn clock_json(&self) -> serde_json::Value {
        self.clock.json()
    }

    /// This cluster's service id (None before bootstrap).
    pub fn service_id(&self) -> super::ServiceResult<Option<String>> {
        Ok(self.state.service_id()?)
    }

    /// Before this node stops: when it leads, the most caught-up voter that answers takes over
    /// (it campaigns at once, and this node, which stops renewing its vote, grants it), so the
    /// other members never wait out a lease and an election. Waits at most `limit` for the
    /// leadership to move; the leader it moved to, if it did.
    pub async fn hand_over(&self, limit: Duration) -> Option<NodeId> {
        let metrics = self.raft.metrics().borrow().clone();
        if metrics.current_leader != Some(self.node_id) {
            return None;
        }
        // Propose nothing more, and let the followers catch up: the one asked then holds the
        // whole log, so this node (whose own lease has long passed) grants it the vote at once.
        self.writer.drain();
        let membership = metrics.membership_config.membership().clone();
        let others: Vec<NodeId> = membership
            .voter_ids()
            .filter(|id| *id != self.node_id)
            .collect();
        let last = metrics.last_log_index.unwrap_or(0);
        let _ = self
            .raft
            .wait(Some(Duration::from_millis(300)))
            .metrics(
                |m| {
                    let last = m.last_log_index.unwrap_or(0).max(last);
                    others.iter().all(|id| matched_index(m, *id) >= last)
                },
                "followers caught up",
            )
            .await;
        let metrics = self.raft.metrics().borrow().clone();
        let mut candidates: Vec<(u64, NodeId)> = others
            .iter()
            .map(|id| (matched_index(&metrics, *id), *id))
            .collect();
        candidates.sort_unstable_by(|a, b| b.cmp(a));
        // Ask the most caught-up voter again every moment until `limit`: a campaign that lost
        // (votes are refused within a leader lease) wins a moment later, in a new term. One
        // candidate at a time, so two never split the votes; the next when this one cannot be
        // reached or has lost three times.
        let deadline = std::time::Instant::now() + limit;
        let (mut turn, mut asks) = (0, 0u32);
        while std::time::Instant::now() < deadline && !candidates.is_empty() {
            let id = candidates[turn % candidates.len()].1;
            let Some(url) = membership.get_node(&id).map(|n| n.addr.clone()) else {
                turn += 1;
                continue;
            };
            let asked: Result<(), _> = self
                .peer
                .call(&url, "take_over", &(), Duration::from_millis(500))
                .await;
            asks += 1;
            if let Err(e) = asked {
                tracing::warn!(member = id, error = %e, "cannot hand leadership over");
                turn += 1;
            } else if asks % 3 == 0 {
                // Three campaigns lost (its log behind another's?): the next one's turn.
                turn += 1;
            }
            let wait_until = std::time::Instant::now() + Duration::from_millis(200);
            while std::time::Instant::now() < wait_until {
                let leader = self.raft.metrics().borrow().current_leader;
                if let Some(new) = leader.filter(|l| *l != self.node_id) {
                    tracing::info!(to = new, "leadership handed over");
                    return Some(new);
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
        tracing::warn!("leadership did not move in time");
        None
    }

    /// The leader is stopping and asks this node to take over: campaign now.
    pub async fn take_over(&self) {
        tracing::info!("the leader is stopping: campaigning to take over");
        if let Err(e) = self.raft.trigger().elect().await {
            tracing::warn!(error = %e, "cannot campaign");
        }
    }

    pub async fn shutdown(&self) {
        let _ = self.raft.shutdown().await;
    }

    /// `/healthz`: whether the node serves, and what it shows of itself.
    pub fn health(&self) -> super::ServiceResult<(bool, serde_json::Value)> {
        let status = self.membership.status();
        let ready = self.is_ready() && self.state.keyset().is_some();
        let body = serde_json::json!({
            "status": if ready { "UP" } else { "DOWN" },
            "node_id": status.node_id,
            "state": status.state,
            "leader": status.leader,
            "term": status.term,
            // From the state machine itself: Raft's metrics can trail an answered write by an
            // instant, and callers compare this across nodes to know they agree.
            "last_applied": self.state.last_applied()?.map(|l| l.index).or(status.applied_index),
            // Degraded: the node still validates, but mints nothing until its clock is in range.
            "degraded": self.clock.problem().is_some(),
            "clock": self.clock.json(),
            "format": self.formats_json(),
        });
        Ok((ready, body))
    }
}

/// How far the leader knows `id`'s log to match its own (0 when not replicating to it).
fn matched_index(metrics: &openraft::RaftMetrics<NodeId, openraft::BasicNode>, id: NodeId) -> u64 {
    metrics
        .replication
        .as_ref()
        .and_then(|r| r.get(&id).cloned().flatten())
        .map_or(0, |l| l.index)
}
