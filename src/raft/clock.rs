//! How far the other members' clocks (and the federated sites') are from ours, as this node
//! last read them. Readings go stale: a member not read for a while has no offset.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::NodeId;
use crate::domain::clock::Reading;

/// A reading older than this says nothing any more.
const STALE: Duration = Duration::from_secs(15);

/// What `/_cluster/time` answers: the answering node's clock.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct TimeReply {
    pub now_ms: u64,
    /// The format the answering node reads (`domain::version`); absent from nodes older
    /// than formats: the first format.
    #[serde(default)]
    pub format: Option<u32>,
}

#[derive(Clone, Copy)]
struct Seen {
    reading: Reading,
    at: Instant,
}

/// Offsets by member (node id) and by federated site (our entry's name).
#[derive(Clone, Default)]
pub struct ClockBoard {
    nodes: Arc<Mutex<HashMap<NodeId, Seen>>>,
    sites: Arc<Mutex<HashMap<String, Seen>>>,
}

fn keep<K: std::hash::Hash + Eq>(map: &Mutex<HashMap<K, Seen>>, key: K, reading: Reading) {
    let Ok(mut map) = map.lock() else { return };
    let now = Instant::now();
    // A slow round trip reads less precisely: keep a recent faster one instead.
    if let Some(old) = map.get(&key) {
        let recent = now.duration_since(old.at) < STALE / 3;
        if recent && old.reading.rtt_ms + 50 < reading.rtt_ms {
            return;
        }
    }
    map.insert(key, Seen { reading, at: now });
}

fn fresh<K: Clone>(map: &Mutex<HashMap<K, Seen>>) -> Vec<(K, Reading)> {
    let Ok(map) = map.lock() else {
        return Vec::new();
    };
    map.iter()
        .filter(|(_, s)| s.at.elapsed() < STALE)
        .map(|(k, s)| (k.clone(), s.reading))
        .collect()
}

impl ClockBoard {
    pub fn node_read(&self, node: NodeId, reading: Reading) {
        keep(&self.nodes, node, reading);
    }

    pub fn site_read(&self, site: &str, reading: Reading) {
        keep(&self.sites, site.to_string(), reading);
    }

    /// How far `node`'s clock is ahead of ours, if read lately.
    pub fn node_offset(&self, node: NodeId) -> Option<i64> {
        fresh(&self.nodes)
            .into_iter()
            .find(|(id, _)| *id == node)
            .map(|(_, r)| r.offset_ms)
    }

    pub fn nodes(&self) -> Vec<(NodeId, Reading)> {
        fresh(&self.nodes)
    }

    pub fn site_offset(&self, site: &str) -> Option<i64> {
        fresh(&self.sites)
            .into_iter()
            .find(|(name, _)| name == site)
            .map(|(_, r)| r.offset_ms)
    }

    pub fn sites(&self) -> Vec<(String, Reading)> {
        fresh(&self.sites)
    }
}
