//! On the leader, periodically proposes `ExpireBefore` so expired token records and
//! revocations do not pile up. The time is decided here, before proposing.

use std::sync::Arc;
use std::time::Duration;

use actix::{Actor, AsyncContext, Context};

use crate::raft::command::{Command, CommandResponse};
use crate::service::{now_secs, Service};

pub struct Janitor {
    node: Arc<Service>,
    every: Duration,
}

impl Janitor {
    pub fn new(node: Arc<Service>, every: Duration) -> Janitor {
        Janitor { node, every }
    }
}

impl Actor for Janitor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.run_interval(self.every, |this, _ctx| {
            let node = this.node.clone();
            actix::spawn(async move {
                if !node.membership.status().is_leader {
                    return;
                }
                let now = now_secs();
                let cmd = Command::ExpireBefore {
                    now,
                    grace_secs: node.config.token.refresh_grace_period,
                    logins_before_ms: now
                        .saturating_sub(node.config.security.login_failure_reset_secs)
                        .saturating_mul(1000),
                };
                match node.write(cmd).await {
                    Ok(CommandResponse::Expired {
                        tokens,
                        revocations,
                    }) if tokens + revocations > 0 => {
                        tracing::info!(tokens, revocations, "expired records dropped");
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "expiry sweep failed"),
                }
            });
        });
    }
}
