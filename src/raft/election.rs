//! Elections with a pre-vote. openraft 0.9 has no PreVote: a follower back from a pause or a
//! partition starts an election at once with a higher term, and the healthy leader, seeing
//! that term in the follower's answers, steps down. So openraft's own election timer is off
//! (`enable_elect: false`) and this task starts elections instead, only after a majority of
//! voters (itself included) agree that none of them has heard from a leader for a lease. The
//! real vote still checks logs and terms; the pre-vote only keeps a lone node from disrupting.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use openraft::ServerState;
use rand::Rng;
use serde::{Deserialize, Serialize};

use super::peer::PeerClient;
use super::{NodeId, Raft};

/// When this node last heard from a leader (an accepted append or snapshot), voted for a
/// candidate, or led: milliseconds since `start`.
#[derive(Debug)]
pub struct LeaderContact {
    start: Instant,
    last_ms: AtomicU64,
}

impl Default for LeaderContact {
    fn default() -> Self {
        LeaderContact {
            start: Instant::now(),
            last_ms: AtomicU64::new(0),
        }
    }
}

impl LeaderContact {
    pub fn touch(&self) {
        let now = self.start.elapsed().as_millis() as u64;
        self.last_ms.fetch_max(now, Ordering::Relaxed);
    }

    pub fn since(&self) -> Duration {
        let now = self.start.elapsed().as_millis() as u64;
        Duration::from_millis(now.saturating_sub(self.last_ms.load(Ordering::Relaxed)))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PreVoteRequest {
    pub candidate: NodeId,
    /// The term the candidate would campaign in.
    pub term: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PreVoteReply {
    pub granted: bool,
}

/// The pre-vote rule: grant only when this node is not leading and has not heard from a
/// leader for a whole lease (openraft's voters refuse real votes within it anyway).
pub fn grant_pre_vote(is_leader: bool, since_contact: Duration, lease: Duration) -> bool {
    !is_leader && since_contact >= lease
}

/// How long a follower waits without a leader before asking for pre-votes: the lease plus a
/// random part of the election timeout range, so nodes rarely ask at once.
pub fn patience(lease: Duration, spread: Duration, rng: &mut impl Rng) -> Duration {
    let spread_ms = spread.as_millis().max(1) as u64;
    lease + Duration::from_millis(rng.gen_range(0..spread_ms))
}

/// Whether `granted` answers out of `voters` (self included) are a majority.
pub fn majority(granted: usize, voters: usize) -> bool {
    granted * 2 > voters
}

/// The answer to a peer's pre-vote request.
pub fn answer(raft: &Raft, contact: &LeaderContact, lease: Duration) -> PreVoteReply {
    let is_leader = raft.metrics().borrow().state == ServerState::Leader;
    PreVoteReply {
        granted: grant_pre_vote(is_leader, contact.since(), lease),
    }
}

/// Settings of the election task, from `raft.*`.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// openraft's leader lease: `election-timeout-max-ms`.
    pub lease: Duration,
    /// `election-timeout-max-ms - election-timeout-min-ms`.
    pub spread: Duration,
    pub tick: Duration,
}

/// The election task: runs for the life of the node.
pub async fn run(
    raft: Raft,
    node_id: NodeId,
    peer: PeerClient,
    contact: Arc<LeaderContact>,
    timing: Timing,
) {
    let mut wait = patience(timing.lease, timing.spread, &mut rand::thread_rng());
    contact.touch();
    loop {
        tokio::time::sleep(timing.tick).await;
        let metrics = raft.metrics().borrow().clone();
        if metrics.running_state.is_err() {
            return;
        }
        if metrics.state == ServerState::Leader {
            contact.touch();
            continue;
        }
        let membership = metrics.membership_config.membership().clone();
        if !membership.voter_ids().any(|id| id == node_id) {
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
            if contact.since() >= timing.tick * 4 {
                if raft.trigger().elect().await.is_err() {
                    return;
                }
                contact.touch();
            }
            continue;
        }
        if contact.since() < wait {
            continue;
        }
        let request = PreVoteRequest {
            candidate: node_id,
            term: metrics.current_term + 1,
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
                    reply.is_ok_and(|r| r.granted)
                }
            })
            .collect();
        // Decide as soon as a majority granted: a frozen peer must not hold the election up.
        let mut granted = 1;
        while !majority(granted, voters) {
            match asks.next().await {
                Some(true) => granted += 1,
                Some(false) => {}
                None => break,
            }
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
        contact.touch();
        wait = patience(timing.lease, timing.spread, &mut rand::thread_rng());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pre_votes_need_a_silent_lease_and_a_non_leader() {
        let lease = Duration::from_millis(600);
        assert!(!grant_pre_vote(true, Duration::from_secs(10), lease));
        assert!(!grant_pre_vote(false, Duration::from_millis(599), lease));
        assert!(grant_pre_vote(false, lease, lease));
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
    fn contact_measures_from_the_latest_touch() {
        let c = LeaderContact::default();
        std::thread::sleep(Duration::from_millis(20));
        assert!(c.since() >= Duration::from_millis(20));
        c.touch();
        assert!(c.since() < Duration::from_millis(20));
    }
}
