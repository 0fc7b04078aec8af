//! Cluster membership: joining through seeds, adding and removing members (forwarded to the
//! leader when needed), and the one reader of `raft.metrics()` for health and status pages.
//! A node cut off from a majority shows as `Isolated`, with no leader (`raft::quorum`).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use openraft::error::{ClientWriteError, RaftError};
use openraft::{BasicNode, ChangeMembers};

use super::contact::PeerContacts;
use super::election::{self, PreVoteReply, PreVoteRequest};
use super::peer::PeerClient;
use super::quorum::QuorumWatch;
use super::rpc::{
    JoinRequest, MembershipChange, MembershipReply, Refusal, RefusalKind, ReplicationView,
};
use super::{NodeId, Raft};
use crate::store::LogStore;
use crate::telemetry::audit::Event;
use crate::telemetry::metrics;

/// How long a forwarded removal may take: it commits two entries (joint consensus).
const REMOVE_TIMEOUT: Duration = Duration::from_secs(5);

/// One member as the status page shows it.
#[derive(Debug, Clone)]
pub struct Member {
    pub id: NodeId,
    pub url: String,
    pub voter: bool,
    pub matched_index: Option<u64>,
    /// Entries behind the leader.
    pub lag: Option<u64>,
    /// Whether the leader's last call to it got through (the leader itself: true).
    pub reachable: Option<bool>,
    /// Milliseconds since the leader last heard from it.
    pub last_contact_ms_ago: Option<u64>,
}

/// This node's view of Raft, read once from its metrics.
#[derive(Debug, Clone)]
pub struct RaftStatus {
    pub node_id: NodeId,
    pub state: String,
    pub is_leader: bool,
    pub leader: Option<NodeId>,
    pub leader_url: Option<String>,
    pub term: u64,
    pub applied_index: Option<u64>,
    pub last_log_index: Option<u64>,
    pub snapshot_index: Option<u64>,
    pub purged_index: Option<u64>,
}

#[derive(Clone)]
pub struct Membership {
    raft: Raft,
    node_id: NodeId,
    peer: PeerClient,
    contacts: PeerContacts,
    /// When a leader or a majority was last heard from; whether this node is cut off.
    quorum: QuorumWatch,
    /// The lease the pre-vote rule waits out.
    lease: Duration,
    /// The Raft log, for the pre-vote's log comparison.
    log: LogStore,
}

fn refused(kind: RefusalKind, leader: Option<String>, message: impl Into<String>) -> Refusal {
    Refusal {
        kind,
        leader,
        message: message.into(),
    }
}

impl Membership {
    pub fn new(
        raft: Raft,
        node_id: NodeId,
        peer: PeerClient,
        contacts: PeerContacts,
        quorum: QuorumWatch,
        lease: Duration,
        log: LogStore,
    ) -> Membership {
        Membership {
            raft,
            node_id,
            peer,
            contacts,
            quorum,
            lease,
            log,
        }
    }

    /// A leader's append or snapshot was accepted (a leader without a majority refuses
    /// writes itself).
    pub fn heard_from_leader(&self) {
        self.quorum.contact().heard_from_quorum_leader();
    }

    /// This node granted a vote: it gives the candidate time before campaigning itself.
    pub fn granted_vote(&self) {
        self.quorum.contact().restart_timer();
    }

    /// This node's answer to a peer's pre-vote request.
    pub fn pre_vote(&self, request: &PreVoteRequest) -> PreVoteReply {
        let reply = election::answer(
            &self.raft,
            &self.log,
            self.quorum.contact(),
            self.lease,
            request,
        );
        tracing::debug!(
            candidate = request.candidate,
            term = request.term,
            granted = reply.granted,
            "pre-vote"
        );
        reply
    }

    pub fn status(&self) -> RaftStatus {
        let m = self.raft.metrics().borrow().clone();
        let (state, leader) = self.quorum.seen(&m);
        let leader_url = leader.and_then(|id| {
            m.membership_config
                .membership()
                .get_node(&id)
                .map(|n| n.addr.clone())
        });
        RaftStatus {
            node_id: self.node_id,
            state,
            is_leader: leader == Some(self.node_id),
            leader,
            leader_url,
            term: m.current_term,
            applied_index: m.last_applied.map(|l| l.index),
            last_log_index: m.last_log_index,
            snapshot_index: m.snapshot.map(|l| l.index),
            purged_index: m.purged.map(|l| l.index),
        }
    }

    /// Raft's gauges for `/metrics`. Openraft 0.9 shows a commit index to no one: the leader
    /// derives it from the voters' matched indexes, a follower reports its applied index.
    pub fn sample(&self) -> metrics::Sample {
        let m = self.raft.metrics().borrow().clone();
        let applied = m.last_applied.map(|l| l.index).unwrap_or(0);
        let last_log = m.last_log_index.unwrap_or(0);
        let (state, leader) = self.quorum.seen(&m);
        let mut sample = metrics::Sample {
            state,
            term: m.current_term,
            leader,
            commit_index: applied,
            applied_index: applied,
            last_log_index: last_log,
            ..Default::default()
        };
        if let Some(replication) = &m.replication {
            let matched = |id: &NodeId| match replication.get(id) {
                Some(l) => l.map(|l| l.index).unwrap_or(0),
                None if *id == self.node_id => last_log,
                None => 0,
            };
            let mut voters: Vec<u64> = m
                .membership_config
                .membership()
                .voter_ids()
                .map(|id| matched(&id))
                .collect();
            voters.sort_unstable_by_key(|m| std::cmp::Reverse(*m));
            if let Some(quorum) = voters.get(voters.len() / 2) {
                sample.commit_index = (*quorum).max(applied);
            }
            sample.lag = m
                .membership_config
                .membership()
                .nodes()
                .map(|(id, _)| (*id, last_log.saturating_sub(matched(id))))
                .collect();
        }
        sample
    }

    /// Ask the seeds, in turn, to add this node until one accepts.
    pub async fn join_via_seeds(&self, seeds: &[String], advertise_url: String) {
        let request = JoinRequest {
            node_id: self.node_id,
            url: advertise_url,
        };
        let mut attempt = 0u32;
        loop {
            for seed in seeds {
                let reply: Result<MembershipReply, _> = self
                    .peer
                    .call(seed, "join", &request, Duration::from_secs(120))
                    .await;
                match reply {
                    Ok(Ok(voters)) => {
                        tracing::info!(%seed, ?voters, "joined the cluster");
                        return;
                    }
                    Ok(Err(refused)) => {
                        tracing::warn!(%seed, reason = %refused.message, "join refused; retrying")
                    }
                    Err(e) => {
                        if attempt.is_multiple_of(10) {
                            tracing::warn!(%seed, error = %e, "cannot reach seed; retrying")
                        }
                    }
                }
            }
            attempt += 1;
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    fn voters(&self) -> Vec<NodeId> {
        self.raft
            .metrics()
            .borrow()
            .membership_config
            .membership()
            .voter_ids()
            .collect()
    }

    /// Forward a membership call to the leader, when it is another node.
    async fn forward<B: serde::Serialize>(
        &self,
        leader: Option<BasicNode>,
        leader_id: Option<NodeId>,
        path: &str,
        body: &B,
        timeout: Duration,
    ) -> MembershipReply {
        match leader.filter(|_| leader_id != Some(self.node_id)) {
            Some(l) => self
                .peer
                .call(&l.addr, path, body, timeout)
                .await
                .unwrap_or_else(|e| {
                    Err(refused(
                        RefusalKind::Unavailable,
                        Some(l.addr),
                        e.to_string(),
                    ))
                }),
            None => Err(refused(RefusalKind::NotLeader, None, "no leader yet")),
        }
    }

    /// Add a node as a learner, let it catch up (by log or snapshot), then make it a voter.
    /// Forwarded to the leader when this node is not it.
    pub async fn join(&self, req: JoinRequest) -> MembershipReply {
        let node = BasicNode::new(req.url.clone());
        match self.raft.add_learner(req.node_id, node, true).await {
            Ok(_) => {}
            Err(RaftError::APIError(ClientWriteError::ForwardToLeader(f))) => {
                let timeout = Duration::from_secs(120);
                return self
                    .forward(f.leader_node, f.leader_id, "join", &req, timeout)
                    .await;
            }
            Err(e) => return Err(refused(RefusalKind::Unavailable, None, e.to_string())),
        }
        let ids: BTreeSet<NodeId> = [req.node_id].into_iter().collect();
        match self
            .raft
            .change_membership(ChangeMembers::AddVoterIds(ids), false)
            .await
        {
            Ok(_) => {
                tracing::info!(node_id = req.node_id, url = %req.url, "node joined as a voter");
                Event::new("cluster.member_added")
                    .field("member", req.node_id)
                    .field("url", &req.url)
                    .emit();
                Ok(self.voters())
            }
            Err(RaftError::APIError(ClientWriteError::ForwardToLeader(f))) => Err(refused(
                RefusalKind::NotLeader,
                f.leader_node.map(|n| n.addr),
                "leadership moved; retry",
            )),
            Err(e) => Err(refused(RefusalKind::Unavailable, None, e.to_string())),
        }
    }

    /// Remove a member (voter or learner). Forwarded to the leader when needed.
    pub async fn remove(&self, change: MembershipChange) -> MembershipReply {
        let metrics = self.raft.metrics().borrow().clone();
        let membership = metrics.membership_config.membership().clone();
        let id = change.remove;
        if membership.get_node(&id).is_none() {
            return Err(refused(
                RefusalKind::NotMember,
                None,
                format!("node {id} is not a member"),
            ));
        }
        let is_voter = membership.voter_ids().any(|v| v == id);
        if is_voter && membership.voter_ids().count() == 1 {
            return Err(refused(
                RefusalKind::LastVoter,
                None,
                "cannot remove the last voter",
            ));
        }
        let ids: BTreeSet<NodeId> = [id].into_iter().collect();
        let changes = if is_voter {
            ChangeMembers::RemoveVoters(ids)
        } else {
            ChangeMembers::RemoveNodes(ids)
        };
        match self.raft.change_membership(changes, false).await {
            Ok(_) => {
                tracing::info!(node_id = id, "node removed from the cluster");
                Event::new("cluster.member_removed")
                    .field("member", id)
                    .emit();
                Ok(self.voters())
            }
            Err(RaftError::APIError(ClientWriteError::ForwardToLeader(f))) => {
                self.forward(
                    f.leader_node,
                    f.leader_id,
                    "membership",
                    &change,
                    REMOVE_TIMEOUT,
                )
                .await
            }
            Err(e) => Err(refused(RefusalKind::Unavailable, None, e.to_string())),
        }
    }

    /// Replication progress as the leader sees it; asked of the leader when this node is not.
    pub async fn replication_view(&self) -> Option<ReplicationView> {
        let metrics = self.raft.metrics().borrow().clone();
        if let Some(replication) = metrics.replication {
            let contacts = replication
                .keys()
                .filter_map(|id| {
                    self.contacts
                        .get(*id)
                        .map(|c| (*id, c.reachable, c.last_contact_ms))
                })
                .collect();
            return Some(ReplicationView {
                last_log_index: metrics.last_log_index,
                matched: replication
                    .iter()
                    .map(|(id, l)| (*id, l.map(|l| l.index)))
                    .collect(),
                contacts,
            });
        }
        let leader_id = metrics.current_leader?;
        let membership = metrics.membership_config.membership();
        let leader = membership.get_node(&leader_id)?;
        self.peer
            .call(&leader.addr, "replication", &(), Duration::from_secs(2))
            .await
            .ok()
    }

    /// Members with their URLs, voter flag and replication lag.
    pub async fn members(&self) -> Vec<Member> {
        let metrics = self.raft.metrics().borrow().clone();
        let membership = metrics.membership_config.membership().clone();
        let voters: BTreeSet<NodeId> = membership.voter_ids().collect();
        let view = self.replication_view().await;
        let matched: BTreeMap<NodeId, Option<u64>> = view
            .as_ref()
            .map(|v| v.matched.iter().cloned().collect())
            .unwrap_or_default();
        let last = view.as_ref().and_then(|v| v.last_log_index);
        let contacts: BTreeMap<NodeId, (bool, u64)> = view
            .as_ref()
            .map(|v| {
                v.contacts
                    .iter()
                    .map(|(id, r, t)| (*id, (*r, *t)))
                    .collect()
            })
            .unwrap_or_default();
        let now_ms = crate::clock::now_millis();
        membership
            .nodes()
            .map(|(id, node)| {
                let m = matched.get(id).cloned().flatten();
                let lag = match (last, m) {
                    (Some(l), Some(m)) => Some(l.saturating_sub(m)),
                    (Some(l), None) if view.is_some() => Some(l),
                    _ => None,
                };
                let (reachable, last_contact_ms_ago) = match contacts.get(id) {
                    _ if metrics.current_leader == Some(*id) => (Some(true), Some(0)),
                    Some((r, t)) => (Some(*r), (*t > 0).then(|| now_ms.saturating_sub(*t))),
                    None => (None, None),
                };
                Member {
                    id: *id,
                    url: node.addr.clone(),
                    voter: voters.contains(id),
                    matched_index: m,
                    lag,
                    reachable,
                    last_contact_ms_ago,
                }
            })
            .collect()
    }
}
