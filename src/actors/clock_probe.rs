//! Reads every other member's clock every `cluster.clock-probe-millis`, so each node knows
//! its offset from the leader (see `service::clock`). Logs once when this node's clock goes
//! out of range and once when it is back.

use std::time::Duration;

use crate::service::SharedService;
use crate::telemetry::audit::Event;

pub fn start(svc: SharedService) {
    tokio::spawn(run(svc));
}

async fn run(svc: SharedService) {
    let every = Duration::from_millis(svc.config.cluster.clock_probe_millis.max(100));
    let mut out_of_range = false;
    loop {
        tokio::time::sleep(every).await;
        for (id, url) in svc.other_members() {
            if let Err(e) = svc.read_member_clock(id, &url).await {
                tracing::debug!(peer = id, error = %e, "cannot read a member's clock");
            }
        }
        svc.note_leader_offset();
        crate::telemetry::metrics::clock_offsets(
            svc.clocks
                .nodes()
                .into_iter()
                .map(|(id, r)| (format!("node-{id}"), r.offset_ms))
                .chain(
                    svc.clocks
                        .sites()
                        .into_iter()
                        .map(|(name, r)| (format!("site-{name}"), r.offset_ms)),
                ),
        );
        match (svc.clock_problem(), out_of_range) {
            (Some(problem), false) => {
                tracing::warn!(%problem, "clock out of range: minting refused");
                Event::new("cluster.clock_out_of_range")
                    .field("offset_from_leader_ms", svc.leader_offset_ms())
                    .field("max_skew_ms", svc.config.cluster.max_clock_skew_millis)
                    .emit();
                out_of_range = true;
            }
            (None, true) => {
                tracing::info!("clock back in range: minting again");
                Event::new("cluster.clock_in_range")
                    .field("offset_from_leader_ms", svc.leader_offset_ms())
                    .emit();
                out_of_range = false;
            }
            _ => {}
        }
    }
}
