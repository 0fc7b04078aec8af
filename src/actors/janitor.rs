//! On the leader, periodically sweeps expired token records, revocations, login-failure
//! counters and pairings out of the state. A sweep is a run of `ExpireBefore` slices, each
//! looking at a bounded number of records, with a pause between them: at a million tokens
//! no single apply holds up the writes behind it. The time is decided here, before proposing.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix::{Actor, AsyncContext, Context};

use crate::raft::command::{Command, CommandResponse, SweepFrom};
use crate::service::{now_secs, Service};

/// Records one slice looks at (a few milliseconds of apply).
const SLICE: u64 = 2_000;
/// Left to the other writes between two slices.
const PAUSE: Duration = Duration::from_millis(20);

pub struct Janitor {
    node: Arc<Service>,
    every: Duration,
    /// One sweep at a time, however long a sweep of a large state takes.
    sweeping: Arc<AtomicBool>,
}

impl Janitor {
    pub fn new(node: Arc<Service>, every: Duration) -> Janitor {
        Janitor {
            node,
            every,
            sweeping: Arc::default(),
        }
    }
}

impl Actor for Janitor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.run_interval(self.every, |this, _ctx| {
            let node = this.node.clone();
            let sweeping = this.sweeping.clone();
            if sweeping.swap(true, Ordering::AcqRel) {
                return;
            }
            actix::spawn(async move {
                sweep(&node).await;
                sweeping.store(false, Ordering::Release);
            });
        });
    }
}

/// One sweep over the whole state, slice by slice, while this node leads.
async fn sweep(node: &Service) {
    let now = now_secs();
    let started = std::time::Instant::now();
    let (mut tokens, mut revocations, mut slices) = (0u64, 0u64, 0u64);
    let mut from: Option<SweepFrom> = None;
    loop {
        if !node.membership.status().is_leader {
            return;
        }
        let cmd = Command::ExpireBefore {
            now,
            grace_secs: node.config.token.refresh_grace_period,
            logins_before_ms: now
                .saturating_sub(node.config.security.login_failure_reset_secs)
                .saturating_mul(1000),
            from: from.clone(),
            limit: Some(SLICE),
        };
        slices += 1;
        match node.write(cmd).await {
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
