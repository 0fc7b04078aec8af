//! The federation links: on the leader, one task per active peer site pushes what the peer
//! lacks (`service::federation_outbound` decides what), retrying with backoff; a supervisor
//! starts and stops the tasks as peers come and go and trims the journal.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::service::federation_outbound::{Seen, SiteOutbox};
use crate::store::state_machine::Applied;

/// How often an idle link and the supervisor look around.
const IDLE: Duration = Duration::from_millis(1000);
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// Start the supervisor: it runs a link task per active peer and trims the journal.
pub fn start(outbox: Arc<SiteOutbox>, applied: watch::Receiver<Applied>) {
    tokio::spawn(supervise(outbox, applied));
}

async fn supervise(outbox: Arc<SiteOutbox>, mut applied: watch::Receiver<Applied>) {
    let mut links: HashMap<String, tokio::task::JoinHandle<()>> = HashMap::new();
    let mut last_trim = Instant::now();
    loop {
        let _ = tokio::time::timeout(IDLE, applied.changed()).await;
        links.retain(|_, h| !h.is_finished());
        let Ok(peers) = outbox.peers() else {
            continue;
        };
        for peer in peers.iter().filter(|p| p.active) {
            if !links.contains_key(&peer.name) {
                let task = tokio::spawn(run(outbox.clone(), peer.name.clone(), applied.clone()));
                links.insert(peer.name.clone(), task);
            }
        }
        for peer in peers.iter().filter(|p| !p.active) {
            outbox.update_link(&peer.name, |s| s.state = "inactive");
        }
        if last_trim.elapsed() > Duration::from_secs(2) && outbox.is_leader() {
            last_trim = Instant::now();
            if let Err(e) = outbox.trim(&peers).await {
                tracing::debug!(error = %e, "federation journal trim failed");
            }
        }
    }
}

async fn run(outbox: Arc<SiteOutbox>, name: String, mut applied: watch::Receiver<Applied>) {
    let retry = outbox.retry();
    let mut backoff = retry;
    // Our cursor while we lead; re-read from the replicated state after any doubt.
    let mut next: Option<u64> = None;
    let mut seen = Seen::default();
    loop {
        let peer = match outbox.peer(&name) {
            Ok(Some(p)) if p.active => p,
            Ok(Some(_)) => return,
            _ => {
                outbox.forget_link(&name);
                return;
            }
        };
        if !outbox.is_leader() {
            outbox.update_link(&name, |s| s.state = "standby");
            next = None;
            let _ = tokio::time::timeout(IDLE, applied.changed()).await;
            continue;
        }
        match outbox.step(&peer, &mut next, &mut seen).await {
            Ok(sent) => {
                backoff = retry;
                if sent == 0 {
                    let _ = tokio::time::timeout(IDLE, applied.changed()).await;
                }
            }
            Err(e) => {
                tracing::warn!(peer = %name, error = %e, "federation link failed; retrying");
                outbox.update_link(&name, |s| {
                    s.state = "error";
                    s.last_error = Some(e);
                });
                next = None;
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}
