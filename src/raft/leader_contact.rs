//! When this node last heard from a leader, when its election timer last restarted, and when
//! a majority was last with it: the clocks the election task (`raft::election`) and the
//! cut-off check (`raft::quorum`) both read.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A moment, as milliseconds since `start`, moved only forward.
#[derive(Debug)]
struct Moment {
    start: Instant,
    ms: AtomicU64,
}

impl Moment {
    fn new(start: Instant) -> Moment {
        Moment {
            start,
            ms: AtomicU64::new(0),
        }
    }

    fn touch(&self) {
        let now = self.start.elapsed().as_millis() as u64;
        self.ms.fetch_max(now, Ordering::Relaxed);
    }

    fn since(&self) -> Duration {
        let now = self.start.elapsed().as_millis() as u64;
        Duration::from_millis(now.saturating_sub(self.ms.load(Ordering::Relaxed)))
    }
}

/// Three clocks: when this node last heard from a leader (an accepted append or snapshot, or
/// leading itself), which decides its pre-vote answers; its election timer, which also
/// restarts when it grants a vote or asks for pre-votes, and decides when it asks; and when a
/// majority was last with it as a follower (a leader's append, a majority answering its
/// pre-vote, winning an election), which tells a cut-off node (`raft::quorum`).
#[derive(Debug)]
pub struct LeaderContact {
    leader: Moment,
    timer: Moment,
    quorum: Moment,
}

impl Default for LeaderContact {
    fn default() -> Self {
        let start = Instant::now();
        LeaderContact {
            leader: Moment::new(start),
            timer: Moment::new(start),
            quorum: Moment::new(start),
        }
    }
}

impl LeaderContact {
    /// A leader was heard from (or this node leads).
    pub fn heard_from_leader(&self) {
        self.leader.touch();
        self.timer.touch();
    }

    /// A leader's append or snapshot was accepted. (A leader that lost its majority finds
    /// out itself and refuses writes: `raft::quorum`.)
    pub fn heard_from_quorum_leader(&self) {
        self.heard_from_leader();
        self.quorum.touch();
    }

    /// A majority answered (a pre-vote, or the votes that made this node leader).
    pub fn quorum_answered(&self) {
        self.quorum.touch();
    }

    pub fn since_quorum(&self) -> Duration {
        self.quorum.since()
    }

    /// This node voted for a candidate, or asked for pre-votes: wait a patience again.
    pub fn restart_timer(&self) {
        self.timer.touch();
    }

    pub fn since_leader(&self) -> Duration {
        self.leader.since()
    }

    pub fn since_timer(&self) -> Duration {
        self.timer.since()
    }
}

/// Whether `granted` answers out of `voters` (self included) are a majority.
pub fn majority(granted: usize, voters: usize) -> bool {
    granted * 2 > voters
}
