//! Periodically sweeps expired records out of the state (`service::housekeeping`; only the
//! leader does), one sweep at a time, and after a sweep at least as long again without one.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix::{Actor, AsyncContext, Context};

use crate::service::housekeeping::Housekeeping;

pub struct Janitor {
    node: Arc<Housekeeping>,
    every: Duration,
    /// One sweep at a time, however long a sweep of a large state takes.
    sweeping: Arc<AtomicBool>,
}

impl Janitor {
    pub fn new(node: Arc<Housekeeping>, every: Duration) -> Janitor {
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
                let started = std::time::Instant::now();
                node.sweep().await;
                // A sweep of much at once (or, at format 1, of a large state) takes
                // minutes: as long again is left to the writes.
                tokio::time::sleep(started.elapsed()).await;
                sweeping.store(false, Ordering::Release);
            });
        });
    }
}
