//! Reads every other member's clock every `cluster.clock-probe-millis`, so each node knows
//! its offset from the leader (see `service::clock`). Logs once when this node's clock goes
//! out of range and once when it is back. The same replies say which format each member
//! reads: on the leader, the cluster's format moves up once every voter reads a newer one.

use std::time::Duration;

use std::sync::Arc;

use crate::service::clock::ClusterClock;
use crate::service::cluster::Cluster;
use crate::telemetry::audit::Event;

pub fn start(clock: Arc<ClusterClock>, cluster: Arc<Cluster>) {
    tokio::spawn(run(clock, cluster));
}

async fn run(clock: Arc<ClusterClock>, cluster: Arc<Cluster>) {
    let every = Duration::from_millis(clock.probe_every_ms().max(100));
    let mut out_of_range = false;
    loop {
        tokio::time::sleep(every).await;
        for (id, url) in clock.other_members() {
            if let Err(e) = clock.read_member_clock(id, &url).await {
                tracing::debug!(peer = id, error = %e, "cannot read a member's clock");
            }
        }
        clock.note_leader_offset();
        if let Err(e) = cluster.raise_format().await {
            tracing::debug!(error = %e, "cannot raise the cluster's format yet");
        }
        crate::telemetry::metrics::clock_offsets(
            clock
                .board()
                .nodes()
                .into_iter()
                .map(|(id, r)| (format!("node-{id}"), r.offset_ms))
                .chain(
                    clock
                        .board()
                        .sites()
                        .into_iter()
                        .map(|(name, r)| (format!("site-{name}"), r.offset_ms)),
                ),
        );
        match (clock.problem(), out_of_range) {
            (Some(problem), false) => {
                tracing::warn!(%problem, "clock out of range: minting refused");
                Event::new("cluster.clock_out_of_range")
                    .field("offset_from_leader_ms", clock.leader_offset_ms())
                    .field("max_skew_ms", clock.max_skew_ms())
                    .emit();
                out_of_range = true;
            }
            (None, true) => {
                tracing::info!("clock back in range: minting again");
                Event::new("cluster.clock_in_range")
                    .field("offset_from_leader_ms", clock.leader_offset_ms())
                    .emit();
                out_of_range = false;
            }
            _ => {}
        }
    }
}
