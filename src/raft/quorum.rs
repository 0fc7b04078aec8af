//! Whether this node is cut off from a quorum of voters. openraft 0.9 keeps an isolated
//! leader leading until it hears a higher term, and a follower keeps naming a leader it cannot
//! reach, so both would hold every write for the whole write deadline. A node that has not
//! been in touch with a majority for two leases is cut off instead: it refuses writes and
//! read barriers at once (503), drops the ones it is waiting on, and its status shows
//! `Isolated` with no leader, so no load balancer takes it for the leader.

use std::sync::Arc;
use std::time::Duration;

use openraft::{BasicNode, RaftMetrics, ServerState};

use super::contact::PeerContacts;
use super::leader_contact::{majority, LeaderContact};
use super::{NodeId, Raft};

/// How often a waiting write looks again (a metrics refresh is 1.5 heartbeats).
const POLL: Duration = Duration::from_millis(50);

/// Why a cut-off node refuses, as the client reads it.
pub const CUT_OFF: &str = "this node cannot reach a majority of the cluster";

/// The state a cut-off node shows instead of its Raft state.
pub const ISOLATED: &str = "Isolated";

/// How long without a majority makes a node cut off: two leases, so one slow heartbeat is no
/// alarm, and a cut-off leader stops claiming to lead about when the others can elect anew.
pub fn limit(lease: Duration) -> Duration {
    lease * 2
}

/// What the rule looks at.
#[derive(Debug, Clone, Copy)]
pub struct Evidence {
    pub state: ServerState,
    /// Whether this node is a voter.
    pub voter: bool,
    /// openraft's, on a leader: since a majority last acknowledged it.
    pub millis_since_quorum_ack: Option<u64>,
    /// The contact clocks' `since_quorum`.
    pub since_quorum: Duration,
    /// Voters, this node included.
    pub voters: usize,
    /// Other voters whose latest Raft call from here failed.
    pub unreachable: usize,
}

/// The rule. A leader is cut off when no majority acknowledged it for `limit` (before the
/// first acknowledgement: since its election) and its latest calls failed to reach enough
/// voters to make one: a voter that answers, only slowly (a snapshot being installed), leaves
/// the write to its deadline instead. Any other voter counts from the last accepted append or
/// snapshot, or the last pre-vote a majority answered. Learners are never cut off.
pub fn cut_off(e: &Evidence, limit: Duration) -> bool {
    match e.state {
        ServerState::Leader => {
            let silent = match e.millis_since_quorum_ack {
                Some(ms) => Duration::from_millis(ms) > limit,
                None => e.since_quorum > limit,
            };
            let reached = e.voters.saturating_sub(e.unreachable);
            silent && !majority(reached, e.voters)
        }
        ServerState::Follower | ServerState::Candidate => e.voter && e.since_quorum > limit,
        ServerState::Learner | ServerState::Shutdown => false,
    }
}

/// The rule applied to this node's Raft metrics, contact clocks and peer reachability.
#[derive(Clone)]
pub struct QuorumWatch {
    raft: Raft,
    node_id: NodeId,
    contact: Arc<LeaderContact>,
    peers: PeerContacts,
    limit: Duration,
}

impl QuorumWatch {
    /// `limit`: see [`limit`].
    pub fn new(
        raft: Raft,
        node_id: NodeId,
        contact: Arc<LeaderContact>,
        peers: PeerContacts,
        limit: Duration,
    ) -> QuorumWatch {
        QuorumWatch {
            raft,
            node_id,
            contact,
            peers,
            limit,
        }
    }

    /// The contact clocks (the election task and the cluster RPC move them).
    pub fn contact(&self) -> &Arc<LeaderContact> {
        &self.contact
    }

    fn evidence(&self, m: &RaftMetrics<NodeId, BasicNode>) -> Evidence {
        let membership = m.membership_config.membership();
        let (mut voters, mut unreachable, mut voter) = (0, 0, false);
        for id in membership.voter_ids() {
            voters += 1;
            if id == self.node_id {
                voter = true;
            } else if self.peers.get(id).is_some_and(|c| !c.reachable) {
                unreachable += 1;
            }
        }
        Evidence {
            state: m.state,
            voter,
            millis_since_quorum_ack: m.millis_since_quorum_ack,
            since_quorum: self.contact.since_quorum(),
            voters,
            unreachable,
        }
    }

    /// Whether this node is cut off now.
    pub fn cut_off(&self) -> bool {
        let metrics = self.raft.metrics();
        let evidence = self.evidence(&metrics.borrow());
        cut_off(&evidence, self.limit)
    }

    /// The state and leader this node shows: its own, or `Isolated` and none when cut off.
    pub fn seen(&self, m: &RaftMetrics<NodeId, BasicNode>) -> (String, Option<NodeId>) {
        if self.cut_off() {
            (ISOLATED.into(), None)
        } else {
            (format!("{:?}", m.state), m.current_leader)
        }
    }

    /// Resolves once this node is cut off (never, while it is not).
    pub async fn until_cut_off(&self) {
        while !self.cut_off() {
            tokio::time::sleep(POLL).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: Duration = Duration::from_millis(1200);

    fn leader(ack: Option<u64>, since_election: Duration, unreachable: usize) -> bool {
        let e = Evidence {
            state: ServerState::Leader,
            voter: true,
            millis_since_quorum_ack: ack,
            since_quorum: since_election,
            voters: 3,
            unreachable,
        };
        cut_off(&e, LIMIT)
    }

    #[test]
    fn a_leader_is_cut_off_when_no_majority_acknowledged_it_or_answers() {
        let long = Duration::from_secs(60);
        assert!(!leader(Some(150), Duration::ZERO, 2));
        assert!(!leader(Some(1200), Duration::ZERO, 2));
        assert!(leader(Some(1201), Duration::ZERO, 2));
        // Its election long ago does not count while openraft has an acknowledgement.
        assert!(!leader(Some(100), long, 2));
        // Not acknowledged yet: from its election.
        assert!(!leader(None, Duration::from_millis(300), 2));
        assert!(leader(None, Duration::from_secs(2), 2));
        // Silent, but one voter of the two others still answers: slow, not cut off.
        assert!(!leader(Some(5000), long, 1));
        assert!(!leader(Some(5000), long, 0));
    }

    #[test]
    fn a_voter_is_cut_off_after_the_limit_without_a_majority() {
        let voter = |state, voter, since| {
            let e = Evidence {
                state,
                voter,
                millis_since_quorum_ack: None,
                since_quorum: since,
                voters: 3,
                unreachable: 0,
            };
            cut_off(&e, LIMIT)
        };
        for state in [ServerState::Follower, ServerState::Candidate] {
            assert!(!voter(state, true, LIMIT));
            assert!(voter(state, true, LIMIT * 2));
            assert!(!voter(state, false, LIMIT * 2));
        }
        for state in [ServerState::Learner, ServerState::Shutdown] {
            assert!(!voter(state, true, LIMIT * 10));
        }
    }
}
