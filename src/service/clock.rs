//! Time across the cluster: each node reads the other members' clocks, measures its own
//! offset from the leader's, refuses to mint while that is beyond `cluster.max-clock-skew-millis`,
//! and places "every token until now" cut-offs where every minting node's tokens fall.

use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::{json, Value};

use super::{Service, ServiceError, ServiceResult};
use crate::clock::now_millis;
use crate::domain::clock::{self, reading};
use crate::raft::clock::TimeReply;
use crate::raft::NodeId;

impl Service {
    /// This node's offset from the leader's clock (ms, positive: we are behind it); 0 on the
    /// leader; None while not read yet (no leader, or just started).
    pub fn leader_offset_ms(&self) -> Option<i64> {
        let status = self.membership.status();
        match status.leader {
            Some(id) if id == self.node_id => Some(0),
            Some(id) => self.clocks.node_offset(id),
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
    pub fn clock_now_ms(&self) -> u64 {
        now_millis().saturating_add_signed(self.leader_offset.load(Ordering::Relaxed))
    }

    pub fn clock_now_secs(&self) -> u64 {
        self.clock_now_ms() / 1000
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
            offsets.push(match (self.clocks.node_offset(id), leader) {
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
    pub fn clock_problem(&self) -> Option<String> {
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
    pub async fn check_clock_for_minting(&self) -> ServiceResult<()> {
        let status = self.membership.status();
        if let (Some(leader), Some(url)) = (status.leader, status.leader_url) {
            if leader != self.node_id && self.clocks.node_offset(leader).is_none() {
                if let Err(e) = self.read_member_clock(leader, &url).await {
                    tracing::debug!(error = %e, "cannot read the leader's clock");
                }
            }
        }
        match self.clock_problem() {
            Some(problem) => Err(ServiceError::Unavailable(problem)),
            None => Ok(()),
        }
    }

    /// Read `node`'s clock at `url` once.
    pub async fn read_member_clock(&self, node: NodeId, url: &str) -> Result<(), String> {
        let sent = now_millis();
        let reply: TimeReply = self
            .peer
            .call(url, "time", &(), Duration::from_secs(1))
            .await
            .map_err(|e| e.to_string())?;
        self.clocks
            .node_read(node, reading(sent, reply.now_ms, now_millis()));
        self.note_leader_offset();
        Ok(())
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
    pub fn clock_json(&self) -> Value {
        let offset = self.leader_offset_ms();
        json!({
            "offset_from_leader_ms": offset,
            "max_skew_ms": self.config.cluster.max_clock_skew_millis,
            "degraded": self.clock_problem().is_some(),
            "problem": self.clock_problem(),
        })
    }
}
