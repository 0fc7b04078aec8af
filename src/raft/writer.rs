//! The one writer to the replicated log: propose on the leader or forward to it, retry while
//! leadership moves until a deadline, and the read-index barrier that makes local reads
//! linearizable. Every write of the node goes through here (the batcher holds one).

use std::time::{Duration, Instant};

use openraft::error::{CheckIsLeaderError, ClientWriteError, ForwardToLeader, RaftError};
use openraft::BasicNode;

use super::command::{Command, CommandResponse};
use super::peer::PeerClient;
use super::quorum::{QuorumWatch, CUT_OFF};
use super::rpc::{ReadIndexReply, Refusal, RefusalKind, WriteReply};
use super::{NodeId, Raft};

const RETRY_PAUSE: Duration = Duration::from_millis(100);
/// Between read-index attempts while the leadership moves (a hand-over takes tens of ms).
const LEADER_RETRY_PAUSE: Duration = Duration::from_millis(10);

/// Why a write or a read barrier was not carried out.
#[derive(Debug, Clone, thiserror::Error)]
pub enum WriteError {
    /// No leader, no quorum or no commit in time: the caller may retry.
    #[error("{0}")]
    Unavailable(String),
    /// The log answered something this command cannot produce (a bug).
    #[error("unexpected answer from the log: {0}")]
    Unexpected(String),
}

fn not_leader(f: &ForwardToLeader<NodeId, BasicNode>, message: &str) -> Refusal {
    Refusal {
        kind: RefusalKind::NotLeader,
        leader: f.leader_node.as_ref().map(|n| n.addr.clone()),
        message: message.into(),
    }
}

fn refused_now(problem: &str) -> WriteError {
    WriteError::Unavailable(format!("cannot commit the change now ({problem}); retry"))
}

#[derive(Clone)]
pub struct Writer {
    raft: Raft,
    node_id: NodeId,
    peer: PeerClient,
    quorum: QuorumWatch,
    /// `raft.write-timeout-ms`: how long a write may wait for a leader and a commit.
    timeout: Duration,
    /// Set by a leader that is handing over (`Cluster::hand_over`): it proposes nothing more,
    /// so the follower it picks holds the whole log and wins at once.
    draining: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Writer {
    pub fn new(
        raft: Raft,
        node_id: NodeId,
        peer: PeerClient,
        quorum: QuorumWatch,
        timeout: Duration,
    ) -> Writer {
        Writer {
            raft,
            node_id,
            peer,
            quorum,
            timeout,
            draining: Default::default(),
        }
    }

    /// Propose nothing more while this node leads: writes wait until the leadership has
    /// moved, then go to the new leader.
    pub fn drain(&self) {
        self.draining
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    fn draining(&self) -> bool {
        self.draining.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// While draining: wait (up to `within`) until another node leads.
    async fn until_led_elsewhere(&self, within: Duration) {
        let me = Some(self.node_id);
        let _ = self
            .raft
            .wait(Some(within))
            .metrics(|m| m.current_leader != me, "another leader")
            .await;
    }

    /// The leader's address when it is another node.
    fn elsewhere<'a>(&self, f: &'a ForwardToLeader<NodeId, BasicNode>) -> Option<&'a BasicNode> {
        f.leader_node
            .as_ref()
            .filter(|_| f.leader_id != Some(self.node_id))
    }

    /// [`Writer::write_until`] with the whole write timeout.
    pub async fn write(&self, cmd: Command) -> Result<CommandResponse, WriteError> {
        self.write_until(cmd, Instant::now() + self.timeout).await
    }

    /// Propose on the leader (forwarding if needed) and wait until the entry is applied on
    /// the node that proposed it. Retries while leadership moves, until `deadline`. Refused at
    /// once, and abandoned, when this node is cut off from a majority (`raft::quorum`). A
    /// forwarded write is abandoned as soon as this node sees another leader (or none), so a
    /// frozen leader holds writes no longer than the election that replaces it.
    pub async fn write_until(
        &self,
        cmd: Command,
        deadline: Instant,
    ) -> Result<CommandResponse, WriteError> {
        if self.quorum.cut_off() {
            return Err(refused_now(CUT_OFF));
        }
        let mut last_problem = String::from("no leader is elected");
        let outcome = {
            let attempts = self.attempts(&cmd, deadline, &mut last_problem);
            tokio::select! {
                done = attempts => Some(done),
                () = tokio::time::sleep_until(deadline.into()) => None,
                () = self.quorum.until_cut_off() => Some(Err(refused_now(CUT_OFF))),
            }
        };
        outcome.unwrap_or_else(|| Err(refused_now(&last_problem)))
    }

    /// Propose or forward until it succeeds; `last_problem` says what it is waiting on when
    /// the caller's deadline ends it.
    async fn attempts(
        &self,
        cmd: &Command,
        deadline: Instant,
        last_problem: &mut String,
    ) -> Result<CommandResponse, WriteError> {
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            *last_problem = "the cluster did not commit the change in time".into();
            if self.draining() {
                *last_problem = "the leader is handing over".into();
                self.until_led_elsewhere(remaining).await;
            }
            match self.raft.client_write(cmd.clone()).await {
                Ok(resp) => return Ok(resp.data),
                Err(RaftError::APIError(ClientWriteError::ForwardToLeader(f))) => {
                    match self.elsewhere(&f) {
                        Some(leader) => {
                            *last_problem = "the leader did not answer in time".into();
                            // Bounded by what is left of the caller's deadline.
                            let call = self.peer.call::<_, WriteReply>(
                                &leader.addr,
                                "write",
                                cmd,
                                remaining,
                            );
                            tokio::select! {
                                reply = call => match reply {
                                    Ok(Ok(response)) => return Ok(response),
                                    Ok(Err(refused)) => *last_problem = refused.message,
                                    Err(e) => *last_problem = format!("leader unreachable: {e}"),
                                },
                                () = self.leader_moves_from(f.leader_id, remaining) => {
                                    *last_problem = "leadership moved during the write".into();
                                    continue;
                                }
                            }
                        }
                        None if f.leader_id.is_none() => {
                            // No leader known: wait for one rather than poll.
                            *last_problem = "no leader is elected".into();
                            self.leader_elected(RETRY_PAUSE).await;
                            continue;
                        }
                        None => {}
                    }
                }
                Err(e) => *last_problem = e.to_string(),
            }
            tokio::time::sleep(RETRY_PAUSE).await;
        }
    }

    /// Resolves once this node's view of the leader is no longer `leader` (never, if it
    /// stays the same for `within`).
    async fn leader_moves_from(&self, leader: Option<NodeId>, within: Duration) {
        let moved = self
            .raft
            .wait(Some(within))
            .metrics(|m| m.current_leader != leader, "leader moves")
            .await;
        if moved.is_err() {
            futures::future::pending::<()>().await;
        }
    }

    /// Waits up to `within` until some node is known as leader.
    async fn leader_elected(&self, within: Duration) {
        let _ = self
            .raft
            .wait(Some(within))
            .metrics(|m| m.current_leader.is_some(), "a leader is elected")
            .await;
    }

    /// Leader side of a forwarded write: propose here, never forward again.
    pub async fn write_as_leader(&self, cmd: Command) -> WriteReply {
        let cut_off = || Refusal::new(RefusalKind::Unavailable, CUT_OFF);
        if self.quorum.cut_off() {
            return Err(cut_off());
        }
        if self.draining() {
            // The follower asks again (the new leader, once it knows it).
            self.until_led_elsewhere(self.timeout).await;
            let leader = self.raft.metrics().borrow().current_leader;
            return Err(Refusal::new(
                RefusalKind::NotLeader,
                format!("the leader handed over (to {leader:?})"),
            ));
        }
        let commit = tokio::time::timeout(self.timeout, self.raft.client_write(cmd));
        tokio::select! {
            result = commit => match result {
                Err(_) => Err(Refusal::new(RefusalKind::Unavailable, "commit timed out")),
                Ok(Ok(resp)) => Ok(resp.data),
                Ok(Err(RaftError::APIError(ClientWriteError::ForwardToLeader(f)))) => {
                    Err(not_leader(&f, "not the leader"))
                }
                Ok(Err(e)) => Err(Refusal::new(RefusalKind::Unavailable, e.to_string())),
            },
            () = self.quorum.until_cut_off() => Err(cut_off()),
        }
    }

    /// Leader side of a read-index request: the log id a linearizable read must wait for.
    pub async fn read_index_as_leader(&self) -> ReadIndexReply {
        if self.quorum.cut_off() {
            return Err(Refusal::new(RefusalKind::Unavailable, CUT_OFF));
        }
        match self.raft.ensure_linearizable().await {
            Ok(log_id) => Ok(log_id),
            Err(RaftError::APIError(CheckIsLeaderError::ForwardToLeader(f))) => {
                Err(not_leader(&f, "not the leader"))
            }
            Err(e) => Err(Refusal::new(RefusalKind::Unavailable, e.to_string())),
        }
    }

    /// Wait until this node has applied everything the leader had committed when asked:
    /// after this, local reads are linearizable. Everything within `timeout`; at once when
    /// this node is cut off from a majority.
    pub async fn read_barrier(&self, timeout: Duration) -> Result<(), WriteError> {
        let unavailable =
            |why: &str| WriteError::Unavailable(format!("cannot confirm the latest state: {why}"));
        if self.quorum.cut_off() {
            return Err(unavailable(CUT_OFF));
        }
        let deadline = Instant::now() + timeout;
        let left = || deadline.saturating_duration_since(Instant::now());
        let read_index = loop {
            let confirmed = tokio::time::timeout(left(), self.raft.ensure_linearizable())
                .await
                .map_err(|_| unavailable("the leader did not confirm its leadership in time"))?;
            let why = match confirmed {
                Ok(_) => return Ok(()),
                Err(RaftError::APIError(CheckIsLeaderError::ForwardToLeader(f))) => {
                    match f.leader_node {
                        Some(leader) => {
                            let reply: Result<ReadIndexReply, _> = self
                                .peer
                                .call(&leader.addr, "read_index", &(), left())
                                .await;
                            match reply {
                                Ok(Ok(index)) => break index,
                                // The leadership moved (a hand-over, an election; the leader
                                // we knew may be gone), or a leader elected an instant ago has
                                // no quorum acknowledgement yet: ask again until the deadline.
                                Ok(Err(r)) => r.message,
                                Err(e) => e.to_string(),
                            }
                        }
                        None => "no leader".to_string(),
                    }
                }
                Err(e) => return Err(unavailable(&e.to_string())),
            };
            if left() <= LEADER_RETRY_PAUSE {
                return Err(unavailable(&why));
            }
            tokio::time::sleep(LEADER_RETRY_PAUSE).await;
        };
        self.raft
            .wait(Some(left()))
            .applied_index_at_least(read_index.map(|l| l.index), "catch up with the leader")
            .await
            .map_err(|e| unavailable(&e.to_string()))?;
        Ok(())
    }
}
