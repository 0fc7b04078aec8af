//! What each link is doing, as the leader's link tasks report it (in memory: a new leader
//! starts afresh; the durable part, cursors and vector, is replicated state).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

#[derive(Debug, Clone)]
pub struct LinkStatus {
    /// "connecting", "ok", "error", "full_sync", "inactive" or "standby" (not the leader).
    pub state: &'static str,
    pub last_contact: Option<Instant>,
    pub last_error: Option<String>,
    /// Journal-to-delivery time of the last batch the peer accepted, in ms.
    pub lag_ms: Option<u64>,
    pub events_sent: u64,
    /// The peer site's cluster format as its last answer said, and when.
    pub peer_format: Option<(u32, Instant)>,
}

impl Default for LinkStatus {
    fn default() -> Self {
        LinkStatus {
            state: "connecting",
            last_contact: None,
            last_error: None,
            lag_ms: None,
            events_sent: 0,
            peer_format: None,
        }
    }
}

#[derive(Default)]
pub struct Board(Mutex<HashMap<String, LinkStatus>>);

impl Board {
    pub fn get(&self, peer: &str) -> Option<LinkStatus> {
        self.0.lock().ok().and_then(|m| m.get(peer).cloned())
    }

    pub fn update(&self, peer: &str, f: impl FnOnce(&mut LinkStatus)) {
        if let Ok(mut m) = self.0.lock() {
            f(m.entry(peer.to_string()).or_default());
        }
    }

    pub fn remove(&self, peer: &str) {
        if let Ok(mut m) = self.0.lock() {
            m.remove(peer);
        }
    }
}
