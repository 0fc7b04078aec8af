//! Housekeeping of the replicated state, on the leader: sweeps of expired token records,
//! revocations, login-failure counters and pairings. A sweep is a run of `ExpireBefore`
//! slices, each looking at a bounded number of records, with a pause between them: however
//! much expires at once, no single apply holds up the writes behind it. From format 2 a
//! sweep walks only the expiry index's due part; at format 1 (a rolling upgrade from a
//! release before it) it walks every record, as those releases do. The time is decided
//! here, before proposing.

use std::sync::Arc;
use std::time::Duration;

use super::now_secs;
use super::writes::Writes;
use crate::config::Config;
use crate::raft::command::{Command, CommandResponse, SweepFrom};
use crate::raft::membership::Membership;
use crate::store::StateView;

/// Records one slice looks at (a few milliseconds of apply).
const SLICE: u64 = 4_000;
/// The pace of a sweep, in records looked at per second: every node of the cluster walks
/// each slice. A million tokens expiring at once (or, at format 1, a million stored) take
/// about 200 s to sweep at a few percent of a core.
const RECORDS_PER_SEC: u64 = 5_000;
/// Between two slices (a slice looks at up to SLICE records): the sweep's pace, and room for
/// the other writes.
const PAUSE: Duration = Duration::from_millis(SLICE * 1000 / RECORDS_PER_SEC);

pub struct Housekeeping {
    config: Arc<Config>,
    /// For the cluster's format: which way a sweep walks.
    state: StateView,
    writes: Arc<Writes>,
    membership: Membership,
}

impl Housekeeping {
    pub fn new(
        config: Arc<Config>,
        state: StateView,
        writes: Arc<Writes>,
        membership: Membership,
    ) -> Housekeeping {
        Housekeeping {
            config,
            state,
            writes,
            membership,
        }
    }

    /// One slice of a sweep at `now`, from `from`.
    fn slice(&self, now: u64, from: Option<SweepFrom>) -> Command {
        Command::ExpireBefore {
            now,
            grace_secs: self.config.token.refresh_grace_period,
            logins_before_ms: now
                .saturating_sub(self.config.security.login_failure_reset_secs)
                .saturating_mul(1000),
            from,
            limit: Some(SLICE),
        }
    }

    /// Where a sweep starts: the expiry index once the cluster's format covers a sweep by it
    /// (every node keeps the index), every record before.
    fn first_slice(&self, now: u64) -> Option<SweepFrom> {
        let by_index = Some(SweepFrom::Due(None));
        let needs = self.slice(now, by_index.clone()).format_needed();
        match self.state.cluster_format() {
            Ok(f) if f >= needs => by_index,
            _ => None,
        }
    }

    /// One sweep over the whole state, slice by slice, while this node leads.
    pub async fn sweep(&self) {
        let now = now_secs();
        let started = std::time::Instant::now();
        let (mut tokens, mut revocations, mut slices) = (0u64, 0u64, 0u64);
        let mut from = self.first_slice(now);
        loop {
            if !self.membership.status().is_leader {
                return;
            }
            let cmd = self.slice(now, from.clone());
            slices += 1;
            match self.writes.write(cmd).await {
                Ok(CommandResponse::Expired {
                    tokens: t,
                    revocations: r,
                    next,
                }) => {
                    tokens += t;
                    revocations += r;
                    // Done, or no progress (a key the cursor cannot pass): end this sweep.
                    if next.is_none() || next == from {
                        break;
                    }
                    from = next;
                }
                Ok(other) => {
                    tracing::warn!(answer = ?other, "expiry sweep: unexpected answer");
                    return;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "expiry sweep failed");
                    return;
                }
            }
            tokio::time::sleep(PAUSE).await;
        }
        let ms = started.elapsed().as_millis() as u64;
        if tokens + revocations > 0 {
            tracing::info!(tokens, revocations, slices, ms, "expired records dropped");
        } else {
            tracing::debug!(slices, ms, "expiry sweep found nothing to drop");
        }
    }
}
