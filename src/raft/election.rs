//! Elections with a pre-vote. openraft 0.9 has no PreVote: a follower back from a pause or a
//! partition starts an election at once with a higher term, and the healthy leader, seeing
//! that term in the follower's answers, steps down. So openraft's own election timer is off
//! (`enable_elect: false`) and this task starts elections instead, only after a majority of
//! voters (itself included) agree that none of them has heard from a leader for a lease. The
//! real vote still checks logs and terms; the pre-vote only keeps a lone node from disrupting.

use std::time::Duration;

use futures::StreamExt;
use openraft::ServerState;
use rand::Rng;
use serde::{Deserialize, Serialize};

use super::leader_contact::{majority, LeaderContact};
use super::peer::PeerClient;
use super::quorum::QuorumWatch;
use super::{LogId, NodeId, Raft, StorageError};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PreVoteRequest {
    pub candidate: NodeId,
    /// The term the candidate would campaign in.
    pub term: u64,
    /// The candidate's last log entry: a node whose log is behind would lose the real vote,
    /// and campaigning anyway only raises terms and deposes the leaders others elect.
    #[serde(default)]
    pub last_log: Option<LogId>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PreVoteReply {
    pub granted: bool,
}

/// The pre-vote rule: grant only when this node is not leading, has not heard from a leader
/// for a whole lease (openraft's voters refuse real votes within it anyway), and the
/// candidate's log is at least as up to date as this node's.
pub fn grant_pre_vote(
    is_leader: bool,
    since_contact: Duration,
    lease: Duration,
    mine: Option<LogId>,
    theirs: Option<LogId>,
) -> bool {
    !is_leader && since_contact >= lease && theirs >= mine
}

/// How long a follower waits without a leader before asking for pre-votes: the lease plus a
/// random part of the election timeout range, so nodes rarely ask at once.
pub fn patience(lease: Duration, spread: Duration, rng: &mut impl Rng) -> Duration {
    let spread_ms = spread.as_millis().max(1) as u64;
    lease + Duration::from_millis(rng.gen_range(0..spread_ms))
}

/// Where this node's Raft log ends, read without asking the Raft core (the log store
/// answers it): the pre-vote compares logs with it.
pub trait LastLogId: Send + Sync {
    // The error is openraft's own storage error, as the log store returns it.
    #[allow(clippy::result_large_err)]
    fn last_log_id(&self) -> Result<Option<LogId>, StorageError>;
}

/// The answer to a peer's pre-vote request. A log that cannot be read grants nothing.
pub fn answer(
    raft: &Raft,
    log: &dyn LastLogId,
    contact: &LeaderContact,
    lease: Duration,
    request: &PreVoteRequest,
) -> PreVoteReply {
    let is_leader = raft.metrics().borrow().state == ServerState::Leader;
    let granted = match log.last_log_id() {
        Ok(mine) => grant_pre_vote(
            is_leader,
            contact.since_leader(),
            lease,
            mine,
            request.last_log,
        ),
        Err(_) => false,
    };
    PreVoteReply { granted }
}

/// Settings of the election task, from `raft.*`.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// openraft's leader lease: `election-timeout-max-ms`.
    pub lease: Duration,
    /// `election-timeout-max-ms - election-timeout-min-ms`.
    pub spread: Duration,
    /// Waited past the lease before asking (a heartbeat): the other voters heard the last
    /// heartbeat a moment apart from this one, and their leases must have run out too.
    pub margin: Duration,
    pub tick: Duration,
}

/// The election task: runs for the life of the node.
pub async fn run(
    raft: Raft,
    node_id: NodeId,
    peer: PeerClient,
    log: impl LastLogId,
    quorum: QuorumWatch,
    timing: Timing,
) {
    let contact = quorum.contact().clone();
    // After a leader was heard: wait out its lease first. After an attempt of ours (or a vote
    // we granted) with no leader heard since, the leases are gone: only a short random wait,
    // so a split vote is settled in a few hundred milliseconds rather than another lease.
    let first_ask = timing.lease + timing.margin;
    let mut wait = patience(first_ask, timing.spread, &mut rand::thread_rng());
    let mut retry = patience(timing.margin, timing.spread, &mut rand::thread_rng());
    contact.restart_timer();
    let (mut leading, mut cut_off) = (false, false);
    loop {
        tokio::time::sleep(timing.tick).await;
        let metrics = raft.metrics().borrow().clone();
        if metrics.running_state.is_err() {
            return;
        }
        let membership = metrics.membership_config.membership().clone();
        let voter = membership.voter_ids().any(|id| id == node_id);
        let now_cut_off = quorum.cut_off();
        if now_cut_off != cut_off {
            // Once each way, not a line per refused write.
            cut_off = now_cut_off;
            let state = metrics.state;
            if cut_off {
                tracing::warn!(
                    ?state,
                    "cut off from a majority of the cluster: refusing writes"
                );
            } else {
                tracing::info!(?state, "in touch with a majority of the cluster again");
            }
        }
        if metrics.state == ServerState::Leader {
            if !leading {
                // A majority voted for it a moment ago.
                contact.quorum_answered();
            }
            leading = true;
            contact.heard_from_leader();
            continue;
        }
        leading = false;
        if !voter {
            continue;
        }
        let peers: Vec<String> = membership
            .nodes()
            .filter(|(id, _)| **id != node_id && membership.voter_ids().any(|v| v == **id))
            .map(|(_, n)| n.addr.clone())
            .collect();
        let voters = peers.len() + 1;
        if voters == 1 {
            // The only voter has nobody to disturb: elect soon, but give an election that
            // is under way a few ticks to finish.
            if contact.since_timer() >= timing.tick * 4 {
                if raft.trigger().elect().await.is_err() {
                    return;
                }
                contact.restart_timer();
            }
            continue;
        }
        let retrying = contact.since_leader() > contact.since_timer() + timing.tick;
        if contact.since_timer() < if retrying { retry } else { wait } {
            continue;
        }
        let request = PreVoteRequest {
            candidate: node_id,
            term: metrics.current_term + 1,
            last_log: log.last_log_id().ok().flatten(),
        };
        let mut asks: futures::stream::FuturesUnordered<_> = peers
            .iter()
            .map(|addr| {
                let peer = peer.clone();
                let request = request.clone();
                async move {
                    let reply: Result<PreVoteReply, _> = peer
                        .call(addr, "raft/pre_vote", &request, timing.lease)
                        .await;
                    reply.ok().map(|r| r.granted)
                }
            })
            .collect();
        // Decide as soon as a majority granted: a frozen peer must not hold the election up.
        let (mut granted, mut answered) = (1, 1);
        while !majority(granted, voters) {
            match asks.next().await {
                Some(Some(yes)) => {
                    answered += 1;
                    granted += usize::from(yes);
                }
                Some(None) => {}
                None => break,
            }
        }
        // Refused or not, a majority that answers means this node is not cut off.
        if majority(answered, voters) {
            contact.quorum_answered();
        }
        if majority(granted, voters) {
            tracing::info!(
                term = request.term,
                granted,
                voters,
                "pre-vote won, starting an election"
            );
            if raft.trigger().elect().await.is_err() {
                return;
            }
        } else {
            tracing::debug!(granted, voters, "pre-vote lost: a leader is still heard");
        }
        // Give the election (or the leader we did not hear) a new patience before asking again.
        contact.restart_timer();
        wait = patience(first_ask, timing.spread, &mut rand::thread_rng());
        retry = patience(timing.margin, timing.spread, &mut rand::thread_rng());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pre_votes_need_a_silent_lease_a_non_leader_and_a_log_as_long() {
        let lease = Duration::from_millis(600);
        let id = |term, index| Some(LogId::new(openraft::CommittedLeaderId::new(term, 1), index));
        assert!(!grant_pre_vote(
            true,
            Duration::from_secs(10),
            lease,
            id(1, 5),
            id(1, 5)
        ));
        assert!(!grant_pre_vote(
            false,
            Duration::from_millis(599),
            lease,
            id(1, 5),
            id(1, 5)
        ));
        assert!(grant_pre_vote(false, lease, lease, id(1, 5), id(1, 5)));
        // A shorter log, or one from an older term, is behind.
        assert!(!grant_pre_vote(false, lease, lease, id(1, 5), id(1, 4)));
        assert!(!grant_pre_vote(false, lease, lease, id(2, 3), id(1, 9)));
        assert!(!grant_pre_vote(false, lease, lease, id(1, 1), None));
        assert!(grant_pre_vote(false, lease, lease, id(1, 5), id(2, 1)));
        assert!(grant_pre_vote(false, lease, lease, None, None));
    }

    #[test]
    fn majorities_and_patience() {
        assert!(majority(1, 1));
        assert!(!majority(1, 2));
        assert!(majority(2, 3));
        assert!(!majority(2, 4));
        let mut rng = rand::thread_rng();
        let lease = Duration::from_millis(600);
        let spread = Duration::from_millis(300);
        for _ in 0..1000 {
            let p = patience(lease, spread, &mut rng);
            assert!(p >= lease && p < lease + spread, "{p:?}");
        }
    }

    #[test]
    fn the_timer_restarts_without_counting_as_leader_or_quorum_contact() {
        let c = LeaderContact::default();
        std::thread::sleep(Duration::from_millis(20));
        assert!(c.since_leader() >= Duration::from_millis(20));
        c.restart_timer();
        assert!(c.since_timer() < Duration::from_millis(20));
        assert!(c.since_leader() >= Duration::from_millis(20));
        c.heard_from_leader();
        assert!(c.since_leader() < Duration::from_millis(20));
        // Leading itself says nothing of a majority; a leader's append or answers do.
        assert!(c.since_quorum() >= Duration::from_millis(20));
        c.heard_from_quorum_leader();
        assert!(c.since_quorum() < Duration::from_millis(20));
        std::thread::sleep(Duration::from_millis(20));
        c.quorum_answered();
        assert!(c.since_quorum() < Duration::from_millis(20));
    }
}
