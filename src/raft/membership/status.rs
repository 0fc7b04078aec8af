//! What a node reports of the cluster, read from `raft.metrics()`: its own Raft status, the
//! gauges for `/metrics`, the members with their replication lag.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::Membership;
use crate::raft::rpc::ReplicationView;
use crate::raft::NodeId;
use crate::telemetry::metrics;

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

impl Membership {
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
