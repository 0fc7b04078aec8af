//! Time across the cluster: each node reads the other members' clocks, measures its own
//! offset from the leader's, refuses to mint while that is beyond `cluster.max-clock-skew-millis`,
//! and places "every token until now" cut-offs where every minting node's tokens fall.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use super::{ServiceError, ServiceResult};
use crate::clock::now_millis;
use crate::config::Config;
use crate::domain::clock::{self, reading};
use crate::domain::version::{own_format, FIRST_FORMAT};
use crate::raft::clock::{ClockBoard, TimeReply};
use crate::raft::membership::Membership;
use crate::raft::peer::{PeerClient, PeerError};
use crate::raft::{NodeId, Raft};
use crate::store::StateView;

/// The cluster's clock as this node reads it: the other members' and the federated sites'
/// offsets, and ours from the leader's.
pub struct ClusterClock {
    config: Arc<Config>,
    node_id: NodeId,
    membership: Membership,
    raft: Raft,
    peer: PeerClient,
    state: StateView,
    /// The other members' and the federated sites' clocks, as last read.
    board: ClockBoard,
    /// Our offset from the leader's clock (ms), for `now_ms` on every request.
    leader_offset: AtomicI64,
    /// The format each other member said it reads, as last read with its clock.
    formats: std::sync::Mutex<std::collections::BTreeMap<NodeId, u32>>,
}

impl ClusterClock {
    pub fn new(
        config: Arc<Config>,
        membership: Membership,
        raft: Raft,
        peer: PeerClient,
        state: StateView,
    ) -> ClusterClock {
        ClusterClock {
            node_id: config.server.node_id,
            config,
            membership,
            raft,
            peer,
            state,
            board: ClockBoard::default(),
            leader_offset: AtomicI64::default(),
            formats: Default::default(),
        }
    }

    /// How often the members' clocks are read (`cluster.clock-probe-millis`).
    pub fn probe_every_ms(&self) -> u64 {
        self.config.cluster.clock_probe_millis
    }

    /// The largest offset from the leader at which this node still mints.
    pub fn max_skew_ms(&self) -> u64 {
        self.config.cluster.max_clock_skew_millis
    }

    /// The offsets as last read, by member and by federated site.
    pub fn board(&self) -> &ClockBoard {
        &self.board
    }

    /// This node's offset from the leader's clock (ms, positive: we are behind it); 0 on the
    /// leader; None while not read yet (no leader, or just started).
    pub fn leader_offset_ms(&self) -> Option<i64> {
        let status = self.membership.status();
        match status.leader {
            Some(id) if id == self.node_id => Some(0),
            Some(id) => self.board.node_offset(id),
            None => None,
        }
    }

    /// The leader's clock as this node reads it (our own while not read yet).
    pub fn cluster_now_ms(&self) -> u64 {
        let now = now_millis();
        match self.leader_offset_ms() {
            Some(off) => now.saturating_add_signed(off),
            None => now,
        }
    }

    /// The time tokens are minted and checked by: our clock corrected by our offset from the
    /// leader's as last read (cheap: one atomic), so every node mints `iat`/`exp` and
    /// compares `exp` on one clock, whatever its own says.
    pub fn now_ms(&self) -> u64 {
        now_millis().saturating_add_signed(self.leader_offset.load(Ordering::Relaxed))
    }

    pub fn now_secs(&self) -> u64 {
        self.now_ms() / 1000
    }

    /// Remember our offset from the leader (the probe calls this after each round).
    pub fn note_leader_offset(&self) {
        let off = self.leader_offset_ms().unwrap_or(0);
        self.leader_offset.store(off, Ordering::Relaxed);
    }

    /// The cut-off for "every token of a subject issued until now" (see `domain::clock`):
    /// the leader's now, plus how far the latest member's clock runs past it.
    pub fn cut_off_now(&self) -> u64 {
        let max = self.config.cluster.max_clock_skew_millis;
        let leader = self.leader_offset_ms();
        // Each member's offset from the leader: (member - us) - (leader - us).
        let mut offsets: Vec<Option<i64>> = vec![leader.map(|l| -l)];
        for (id, _) in self.other_members() {
            offsets.push(match (self.board.node_offset(id), leader) {
                (Some(m), Some(l)) => Some(m - l),
                _ => None,
            });
        }
        clock::cut_off_secs(self.cluster_now_ms(), clock::latest_ahead(&offsets, max))
    }

    /// Time as a federation batch or sync chunk carries it into the log.
    pub fn receive_times(&self) -> crate::raft::command::ReceiveTimes {
        crate::raft::command::ReceiveTimes {
            now_ms: self.cluster_now_ms(),
            cut_off: self.cut_off_now(),
            max_future_ms: self.config.federation.maximum_future_time_diff_millis,
        }
    }

    /// Whether this node's clock is too far from the leader's to mint.
    pub fn problem(&self) -> Option<String> {
        let max = self.config.cluster.max_clock_skew_millis;
        let off = self.leader_offset_ms()?;
        (!clock::within_skew(off, max)).then(|| {
            format!(
                "this node's clock is {:.1} s {} the leader's (cluster.max-clock-skew-millis is {max}): it mints no token until its clock is back in range",
                off.unsigned_abs() as f64 / 1000.0,
                if off > 0 { "behind" } else { "ahead of" },
            )
        })
    }

    /// 503 while this node's clock is out of range: a token it minted would carry times the
    /// other nodes read differently. A follower that has not read the leader's clock yet
    /// reads it first.
    pub async fn check_for_minting(&self) -> ServiceResult<()> {
        let status = self.membership.status();
        if let (Some(leader), Some(url)) = (status.leader, status.leader_url) {
            if leader != self.node_id && self.board.node_offset(leader).is_none() {
                if let Err(e) = self.read_member_clock(leader, &url).await {
                    tracing::debug!(error = %e, "cannot read the leader's clock");
                }
            }
        }
        match self.problem() {
            Some(problem) => Err(ServiceError::unavailable(problem)),
            None => Ok(()),
        }
    }

    /// Read `node`'s clock at `url` once.
    pub async fn read_member_clock(&self, node: NodeId, url: &str) -> Result<(), String> {
        let sent = now_millis();
        let answer: Result<TimeReply, PeerError> = self
            .peer
            .call(url, "time", &(), Duration::from_secs(1))
            .await;
        let mut formats = self.formats.lock().unwrap_or_else(|e| e.into_inner());
        let reply = match answer {
            Ok(reply) => reply,
            Err(e) => {
                match e {
                    // No such RPC: a binary from before it, of the first format.
                    PeerError::Status { status: 404, .. } => formats.insert(node, FIRST_FORMAT),
                    // Not heard: its format is unknown until it answers again.
                    _ => formats.remove(&node),
                };
                return Err(e.to_string());
            }
        };
        formats.insert(node, reply.format.unwrap_or(FIRST_FORMAT));
        drop(formats);
        self.board
            .node_read(node, reading(sent, reply.now_ms, now_millis()));
        self.note_leader_offset();
        Ok(())
    }

    /// The format `node` reads: ours for this node; for another, what it said when its clock
    /// was last read (None: not read yet).
    pub fn member_format(&self, node: NodeId) -> Option<u32> {
        if node == self.node_id {
            return Some(own_format());
        }
        self.formats
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&node)
            .copied()
    }

    /// The other members and their addresses.
    pub fn other_members(&self) -> Vec<(NodeId, String)> {
        let metrics = self.raft.metrics().borrow().clone();
        metrics
            .membership_config
            .membership()
            .nodes()
            .filter(|(id, _)| **id != self.node_id)
            .map(|(id, n)| (*id, n.addr.clone()))
            .collect()
    }

    /// This node's clock as `/healthz` and cluster status show it.
    pub fn json(&self) -> Value {
        let offset = self.leader_offset_ms();
        json!({
            "offset_from_leader_ms": offset,
            "max_skew_ms": self.config.cluster.max_clock_skew_millis,
            "degraded": self.problem().is_some(),
            "problem": self.problem(),
        })
    }

    /// Every mint comes here first. A node whose clock is out of range mints nothing (503).
    /// Tokens of a subject issued in the same second as (or before) its revocation cut-off
    /// are dead on arrival: wait past it before issuing (a cut-off reaches past "now" by the
    /// clock bound, see `domain::clock::cut_off_secs`), but not for a cut-off further ahead
    /// than any clock in range can explain.
    pub async fn wait_past_cut_off(&self, subject: &str) -> ServiceResult<()> {
        self.check_for_minting().await?;
        let longest = 4 * self.config.cluster.max_clock_skew_millis / 1000 + 3;
        while let Some(cut) = self.state.subject_revoked_at(subject)? {
            let now_ms = self.now_ms();
            let now = now_ms / 1000;
            if now > cut {
                break;
            }
            if cut > now + longest {
                return Err(ServiceError::unavailable(format!(
                    "every token of this user until {cut} (Unix seconds) was revoked, {} s from now: try again later",
                    cut - now
                )));
            }
            let wait = (cut - now) * 1000 + (1000 - now_ms % 1000) + 5;
            tokio::time::sleep(Duration::from_millis(wait.min(2000))).await;
        }
        Ok(())
    }
}
