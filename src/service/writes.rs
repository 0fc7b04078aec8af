//! The one way use cases write: through the writer (forwarded to the leader when needed) or
//! the group-commit batcher, and the read barriers that make reads follow writes.

use std::time::Duration;

use super::{ServiceError, ServiceResult, CATCH_UP_TIMEOUT};
use crate::raft::batcher::WriteBatcher;
use crate::raft::command::{Command, CommandResponse};
use crate::raft::membership::Membership;
use crate::raft::writer::Writer;
use crate::store::StateView;

/// 503 for what needs format `needed` while the cluster is at `cluster` (`what`: "this needs",
/// "this backup is of").
pub(super) fn being_upgraded(what: &str, needed: u32, cluster: u32) -> ServiceError {
    ServiceError::Unavailable {
        why: format!(
            "the cluster is being upgraded: {what} format {needed}, the cluster is at format \
             {cluster} until every voter runs a binary of format {needed}"
        ),
        retry_after_secs: 5,
    }
}

/// The write path every use case shares. Cheap to share behind an `Arc`.
pub struct Writes {
    writer: Writer,
    /// Group commit for token issues, revocations and failed logins.
    batcher: WriteBatcher,
    membership: Membership,
    /// For the cluster's format: a command it does not cover yet is refused.
    state: StateView,
}

impl Writes {
    pub fn new(
        writer: Writer,
        batcher: WriteBatcher,
        membership: Membership,
        state: StateView,
    ) -> Writes {
        Writes {
            writer,
            batcher,
            membership,
            state,
        }
    }

    /// 503 while the cluster's format is older than `cmd` needs: during a rolling upgrade,
    /// until every voter runs a binary that reads it (an older node would drop part of it).
    fn check_format(&self, cmd: &Command) -> ServiceResult<()> {
        let needed = cmd.format_needed();
        // Most writes (token issues, revocations) need no more than the first format: they
        // read nothing more on the hot path.
        if needed <= crate::domain::version::FIRST_FORMAT {
            return Ok(());
        }
        let cluster = self.state.cluster_format()?;
        if needed <= cluster {
            return Ok(());
        }
        Err(being_upgraded("this needs", needed, cluster))
    }

    /// Propose `cmd` alone (forwarded to the leader when needed) and wait until it is applied.
    /// On a follower, also waits (briefly) until the write is applied here, so what this
    /// node answers next includes it: read-your-writes through any node.
    pub async fn write(&self, cmd: Command) -> ServiceResult<CommandResponse> {
        self.check_format(&cmd)?;
        let response = self.writer.write(cmd).await?;
        if !self.membership.status().is_leader {
            // The write is committed: failing to see it here yet is no reason to fail it.
            let _ = self.read_barrier(CATCH_UP_TIMEOUT).await;
        }
        Ok(response)
    }

    /// Propose `cmd` through group commit (hot writes: issues, revocations, failed logins).
    pub async fn write_batched(&self, cmd: Command) -> ServiceResult<CommandResponse> {
        self.check_format(&cmd)?;
        Ok(self.batcher.write(cmd).await?)
    }

    /// After this, local reads see everything committed when it was called.
    pub async fn read_barrier(&self, timeout: Duration) -> ServiceResult<()> {
        Ok(self.writer.read_barrier(timeout).await?)
    }

    /// A lookup of something a write through another node may have made an instant ago: on
    /// a miss, catch up with the leader once (503 if it cannot) and look again.
    pub async fn caught_up<T>(
        &self,
        look: impl Fn() -> ServiceResult<Option<T>>,
    ) -> ServiceResult<Option<T>> {
        if let Some(found) = look()? {
            return Ok(Some(found));
        }
        self.read_barrier(CATCH_UP_TIMEOUT).await?;
        look()
    }
}
