//! Cluster membership: joining through seeds, adding and removing members (forwarded to the
//! leader when needed), and the one reader of `raft.metrics()` for health and status pages.
//! A node cut off from a majority shows as `Isolated`, with no leader (`raft::quorum`).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use openraft::error::{ClientWriteError, RaftError};
use openraft::{BasicNode, ChangeMembers};

pub mod status;

use crate::raft::contact::PeerContacts;
use crate::raft::election::{self, LastLogId, PreVoteReply, PreVoteRequest};
use crate::raft::peer::PeerClient;
use crate::raft::quorum::QuorumWatch;
use crate::raft::rpc::{JoinRequest, MembershipChange, MembershipReply, Refusal, RefusalKind};
use crate::raft::{NodeId, Raft};
use crate::telemetry::audit::Event;

/// How long a forwarded removal may take: it commits two entries (joint consensus).
const REMOVE_TIMEOUT: Duration = Duration::from_secs(5);

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
    log: Arc<dyn LastLogId>,
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
        log: impl LastLogId + 'static,
    ) -> Membership {
        Membership {
            raft,
            node_id,
            peer,
            contacts,
            quorum,
            lease,
            log: Arc::new(log),
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
            self.log.as_ref(),
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

    /// Ask the seeds, in turn, to add this node until one accepts.
    pub async fn join_via_seeds(&self, seeds: &[String], advertise_url: String) {
        let request = JoinRequest {
            node_id: self.node_id,
            url: advertise_url,
            format: Some(crate::domain::version::own_format()),
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

    pub fn voters(&self) -> Vec<NodeId> {
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
}
