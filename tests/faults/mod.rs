//! Fault tests with real processes: kill -9 of the leader under write traffic through nginx,
//! a network partition of a minority (network namespaces + iptables), a node cut off from
//! both peers refusing writes fast, a rolling restart under validation traffic, and skewed
//! clocks (libfaketime). Needs root, nginx, iproute2, iptables and faketime (.ci/run installs
//! them).

mod clock;
mod isolation;
mod leader_kill;
mod partition;
mod pauses;
mod rolling_restart;

use access_node_harness::*;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

fn healthz(node: &TestNode) -> Option<Value> {
    node.client
        .get(node.url("/healthz"))
        .timeout(Duration::from_millis(500))
        .send()
        .ok()?
        .json()
        .ok()
}

fn ping(node: &TestNode, token: &str, strict: bool) -> u16 {
    let mut rb = node.get("/api/system/ping").bearer_auth(token);
    if strict {
        rb = rb.header("X-Access-Consistency", "strict");
    }
    rb.send().map(|r| r.status().as_u16()).unwrap_or(0)
}

#[derive(Default)]
struct WriteLog {
    created: Vec<(String, String)>, // (token_id, access_token)
    revoked: Vec<String>,           // token ids whose revoke was acknowledged
    statuses: HashMap<u16, usize>,
    /// 503s without Retry-After, other failures, with the time they happened.
    bad: Vec<String>,
    unavailable_at: Vec<Instant>,
}
