//! Cluster operations of a node: writes forwarded to the leader, read-index barriers,
//! joining and leaving. Any node accepts any call; only the leader proposes.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use openraft::error::{CheckIsLeaderError, ClientWriteError, ForwardToLeader, RaftError};
use openraft::{BasicNode, ChangeMembers};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{ApiError, ApiResult};
use crate::node::{Node, WRITE_TIMEOUT};
use crate::raft::command::{Command, CommandResponse};
use crate::raft::network::JOIN_KEY_HEADER;
use crate::raft::rpc::{
    JoinRequest, MembershipChange, MembershipReply, ReadIndexReply, Refusal, ReplicationView,
    WriteReply,
};
use crate::raft::NodeId;

const RETRY_PAUSE: Duration = Duration::from_millis(100);

fn refusal(f: &ForwardToLeader<NodeId, BasicNode>, message: impl Into<String>) -> Refusal {
    Refusal {
        leader: f.leader_node.as_ref().map(|n| n.addr.clone()),
        message: message.into(),
    }
}

impl Node {
    /// POST a JSON body to a peer's cluster endpoint with the join key.
    pub(crate) async fn call_peer<B: Serialize, R: DeserializeOwned>(
        &self,
        base_url: &str,
        path: &str,
        body: &B,
        timeout: Duration,
    ) -> Result<R, String> {
        let url = format!("{}/_cluster/{path}", base_url.trim_end_matches('/'));
        let response = self
            .peers
            .post(&url)
            .header(JOIN_KEY_HEADER, &self.join_key)
            .timeout(timeout)
            .json(body)
            .send()
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        if !response.status().is_success() {
            return Err(format!("{url}: HTTP {}", response.status()));
        }
        response.json().await.map_err(|e| format!("{url}: {e}"))
    }

    /// Propose on the leader (forwarding if needed) and wait until the entry is applied on
    /// the node that proposed it. Retries while leadership moves; 503 after [`WRITE_TIMEOUT`].
    pub async fn write(&self, cmd: Command) -> ApiResult<CommandResponse> {
        let deadline = Instant::now() + WRITE_TIMEOUT;
        let mut last_problem = String::from("no leader is elected");
        while Instant::now() < deadline {
            let remaining = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(remaining, self.raft.client_write(cmd.clone())).await {
                Err(_) => {
                    last_problem = "the cluster did not commit the change in time".into();
                    break;
                }
                Ok(Ok(resp)) => return Ok(resp.data),
                Ok(Err(RaftError::APIError(ClientWriteError::ForwardToLeader(f)))) => {
                    if let Some(leader) = f
                        .leader_node
                        .as_ref()
                        .filter(|_| f.leader_id != Some(self.node_id))
                    {
                        let reply: Result<WriteReply, String> =
                            self.call_peer(&leader.addr, "write", &cmd, remaining).await;
                        match reply {
                            Ok(Ok(response)) => return Ok(response),
                            Ok(Err(refused)) => last_problem = refused.message,
                            Err(e) => last_problem = format!("leader unreachable: {e}"),
                        }
                    }
                }
                Ok(Err(e)) => last_problem = e.to_string(),
            }
            tokio::time::sleep(RETRY_PAUSE).await;
        }
        Err(ApiError::Unavailable(format!(
            "cannot commit the change now ({last_problem}); retry"
        )))
    }

    /// Leader side of a forwarded write: propose here, never forward again.
    pub async fn write_as_leader(&self, cmd: Command) -> WriteReply {
        match tokio::time::timeout(WRITE_TIMEOUT, self.raft.client_write(cmd)).await {
            Err(_) => Err(Refusal {
                leader: None,
                message: "commit timed out".into(),
            }),
            Ok(Ok(resp)) => Ok(resp.data),
            Ok(Err(RaftError::APIError(ClientWriteError::ForwardToLeader(f)))) => {
                Err(refusal(&f, "not the leader"))
            }
            Ok(Err(e)) => Err(Refusal {
                leader: None,
                message: e.to_string(),
            }),
        }
    }

    /// Leader side of a read-index request: the log id a linearizable read must wait for.
    pub async fn read_index_as_leader(&self) -> ReadIndexReply {
        match self.raft.ensure_linearizable().await {
            Ok(log_id) => Ok(log_id),
            Err(RaftError::APIError(CheckIsLeaderError::ForwardToLeader(f))) => {
                Err(refusal(&f, "not the leader"))
            }
            Err(e) => Err(Refusal {
                leader: None,
                message: e.to_string(),
            }),
        }
    }

    /// Wait until this node has applied everything the leader had committed when asked:
    /// after this, local reads are linearizable.
    pub async fn read_barrier(&self, timeout: Duration) -> ApiResult<()> {
        let unavailable =
            |why: String| ApiError::Unavailable(format!("cannot confirm the latest state: {why}"));
        let read_index = match self.raft.ensure_linearizable().await {
            Ok(_) => return Ok(()),
            Err(RaftError::APIError(CheckIsLeaderError::ForwardToLeader(f))) => {
                let leader = f
                    .leader_node
                    .ok_or_else(|| unavailable("no leader".into()))?;
                let reply: ReadIndexReply = self
                    .call_peer(&leader.addr, "read_index", &(), timeout)
                    .await
                    .map_err(unavailable)?;
                reply.map_err(|r| unavailable(r.message))?
            }
            Err(e) => return Err(unavailable(e.to_string())),
        };
        self.raft
            .wait(Some(timeout))
            .applied_index_at_least(read_index.map(|l| l.index), "catch up with the leader")
            .await
            .map_err(|e| unavailable(e.to_string()))?;
        Ok(())
    }

    /// Ask the seeds, in turn, to add this node until one accepts.
    pub(crate) async fn join_via_seeds(&self, seeds: &[String]) {
        let request = JoinRequest {
            node_id: self.node_id,
            url: self.config.advertise_url(),
        };
        let mut attempt = 0u32;
        loop {
            for seed in seeds {
                let reply: Result<MembershipReply, String> = self
                    .call_peer(seed, "join", &request, Duration::from_secs(120))
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

    /// Add a node as a learner, let it catch up (by log or snapshot), then make it a voter.
    /// Forwarded to the leader when this node is not it.
    pub async fn handle_join(&self, req: JoinRequest) -> MembershipReply {
        let node = BasicNode::new(req.url.clone());
        match self.raft.add_learner(req.node_id, node, true).await {
            Ok(_) => {}
            Err(RaftError::APIError(ClientWriteError::ForwardToLeader(f))) => {
                let leader = f
                    .leader_node
                    .clone()
                    .filter(|_| f.leader_id != Some(self.node_id));
                return match leader {
                    Some(l) => self
                        .call_peer(&l.addr, "join", &req, Duration::from_secs(120))
                        .await
                        .unwrap_or_else(|e| {
                            Err(Refusal {
                                leader: Some(l.addr),
                                message: e,
                            })
                        }),
                    None => Err(refusal(&f, "no leader yet")),
                };
            }
            Err(e) => {
                return Err(Refusal {
                    leader: None,
                    message: e.to_string(),
                })
            }
        }
        let ids: BTreeSet<NodeId> = [req.node_id].into_iter().collect();
        match self
            .raft
            .change_membership(ChangeMembers::AddVoterIds(ids), false)
            .await
        {
            Ok(_) => {
                tracing::info!(node_id = req.node_id, url = %req.url, "node joined as a voter");
                Ok(self.voters())
            }
            Err(RaftError::APIError(ClientWriteError::ForwardToLeader(f))) => {
                Err(refusal(&f, "leadership moved; retry"))
            }
            Err(e) => Err(Refusal {
                leader: None,
                message: e.to_string(),
            }),
        }
    }

    /// Remove a member (voter or learner). Forwarded to the leader when needed.
    pub async fn handle_remove(&self, change: MembershipChange) -> MembershipReply {
        let metrics = self.raft.metrics().borrow().clone();
        let membership = metrics.membership_config.membership().clone();
        let id = change.remove;
        if membership.get_node(&id).is_none() {
            return Err(Refusal {
                leader: None,
                message: format!("node {id} is not a member"),
            });
        }
        let is_voter = membership.voter_ids().any(|v| v == id);
        if is_voter && membership.voter_ids().count() == 1 {
            return Err(Refusal {
                leader: None,
                message: "cannot remove the last voter".into(),
            });
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
                Ok(self.voters())
            }
            Err(RaftError::APIError(ClientWriteError::ForwardToLeader(f))) => {
                match f
                    .leader_node
                    .clone()
                    .filter(|_| f.leader_id != Some(self.node_id))
                {
                    Some(l) => self
                        .call_peer(&l.addr, "membership", &change, WRITE_TIMEOUT)
                        .await
                        .unwrap_or_else(|e| {
                            Err(Refusal {
                                leader: Some(l.addr),
                                message: e,
                            })
                        }),
                    None => Err(refusal(&f, "no leader yet")),
                }
            }
            Err(e) => Err(Refusal {
                leader: None,
                message: e.to_string(),
            }),
        }
    }

    /// Replication progress as the leader sees it; asked of the leader when this node is not.
    pub async fn replication_view(&self) -> Option<ReplicationView> {
        let metrics = self.raft.metrics().borrow().clone();
        if let Some(replication) = metrics.replication {
            return Some(ReplicationView {
                last_log_index: metrics.last_log_index,
                matched: replication
                    .iter()
                    .map(|(id, l)| (*id, l.map(|l| l.index)))
                    .collect(),
            });
        }
        let leader_id = metrics.current_leader?;
        let membership = metrics.membership_config.membership();
        let leader = membership.get_node(&leader_id)?;
        self.call_peer(&leader.addr, "replication", &(), Duration::from_secs(2))
            .await
            .ok()
    }

    /// Members with their URLs, voter flag and replication lag (entries behind the leader).
    pub async fn members(&self) -> Vec<(NodeId, String, bool, Option<u64>, Option<u64>)> {
        let metrics = self.raft.metrics().borrow().clone();
        let membership = metrics.membership_config.membership().clone();
        let voters: BTreeSet<NodeId> = membership.voter_ids().collect();
        let view = self.replication_view().await;
        let matched: BTreeMap<NodeId, Option<u64>> = view
            .as_ref()
            .map(|v| v.matched.iter().cloned().collect())
            .unwrap_or_default();
        let last = view.as_ref().and_then(|v| v.last_log_index);
        membership
            .nodes()
            .map(|(id, node)| {
                let m = matched.get(id).cloned().flatten();
                let lag = match (last, m) {
                    (Some(l), Some(m)) => Some(l.saturating_sub(m)),
                    (Some(l), None) if view.is_some() => Some(l),
                    _ => None,
                };
                (*id, node.addr.clone(), voters.contains(id), m, lag)
            })
            .collect()
    }
}
