//! Bodies of the node-to-node calls beyond Raft itself (forwarded writes, read index, joins),
//! shared by the client (`node`) and the server (`http::cluster`).

use serde::{Deserialize, Serialize};

use super::command::CommandResponse;
use super::LogId;

/// What kind of refusal a peer answered: callers decide by this, never by the message text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum RefusalKind {
    /// Not the leader (or leadership moved): go to `leader`, or retry.
    NotLeader,
    /// The cluster did not commit in time, or a peer could not be reached.
    #[default]
    Unavailable,
    /// The node named is not a member.
    NotMember,
    /// Removing it would leave the cluster without voters.
    LastVoter,
}

/// Why a peer did not carry out a forwarded call; `leader` tells where to go instead.
#[derive(Debug, Clone, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct Refusal {
    #[serde(default)]
    pub kind: RefusalKind,
    pub leader: Option<String>,
    pub message: String,
}

impl Refusal {
    pub fn new(kind: RefusalKind, message: impl Into<String>) -> Refusal {
        Refusal {
            kind,
            leader: None,
            message: message.into(),
        }
    }
}

pub type WriteReply = Result<CommandResponse, Refusal>;
pub type ReadIndexReply = Result<Option<LogId>, Refusal>;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JoinRequest {
    pub node_id: u64,
    pub url: String,
    /// The format the joining node reads (`domain::version`); absent from older nodes.
    #[serde(default)]
    pub format: Option<u32>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MembershipChange {
    pub remove: u64,
}

pub type MembershipReply = Result<Vec<u64>, Refusal>;

/// The leader's view of replication, for status pages on any node.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReplicationView {
    pub last_log_index: Option<u64>,
    pub matched: Vec<(u64, Option<u64>)>,
    /// (node, reachable, Unix ms of the last answer, 0 = never) as the leader's traffic sees it.
    #[serde(default)]
    pub contacts: Vec<(u64, bool, u64)>,
}
