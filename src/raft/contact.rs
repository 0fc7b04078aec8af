//! Reachability of peers as this node's Raft traffic sees it: the last successful contact
//! with each, and whether the latest call got through. A peer going down is one WARN, coming
//! back one INFO — not a line per failed heartbeat.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::NodeId;
use crate::clock::now_millis;

#[derive(Debug, Clone, Copy, Default)]
pub struct Contact {
    pub reachable: bool,
    /// Unix milliseconds of the last successful call; 0 = never.
    pub last_contact_ms: u64,
    /// Whether any call was made yet (the first failure is worth a warning too).
    tried: bool,
}

#[derive(Clone, Default)]
pub struct PeerContacts(Arc<Mutex<HashMap<NodeId, Contact>>>);

impl PeerContacts {
    /// A call to `peer` at `addr` got an answer.
    pub fn reached(&self, peer: NodeId, addr: &str) {
        let Ok(mut map) = self.0.lock() else { return };
        let entry = map.entry(peer).or_default();
        if entry.tried && !entry.reachable {
            let down = now_millis().saturating_sub(entry.last_contact_ms) / 1000;
            tracing::info!(peer, %addr, down_secs = down, "peer reachable again");
        }
        *entry = Contact {
            reachable: true,
            last_contact_ms: now_millis(),
            tried: true,
        };
    }

    /// A call to `peer` failed to get through.
    pub fn missed(&self, peer: NodeId, addr: &str, error: &str) {
        let Ok(mut map) = self.0.lock() else { return };
        let entry = map.entry(peer).or_default();
        if entry.reachable || !entry.tried {
            tracing::warn!(peer, %addr, %error, "peer unreachable");
        } else {
            tracing::debug!(peer, %addr, %error, "peer still unreachable");
        }
        entry.reachable = false;
        entry.tried = true;
    }

    pub fn get(&self, peer: NodeId) -> Option<Contact> {
        self.0.lock().ok().and_then(|m| m.get(&peer).copied())
    }
}
