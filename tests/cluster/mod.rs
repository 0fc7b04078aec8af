//! Multi-node clusters of real processes: replication, forwarding, joins, membership and the
//! authenticated cluster RPC.

mod formats;
mod handover;
mod membership;
mod oidc;
mod operations;
mod replication;
mod snapshots;

use access_node_harness::*;

use std::time::{Duration, Instant};

use serde_json::{json, Value};

fn ping_status(node: &TestNode, token: &str, strict: bool) -> u16 {
    let mut rb = node.get("/api/system/ping").bearer_auth(token);
    if strict {
        rb = rb.header("X-Access-Consistency", "strict");
    }
    rb.send().unwrap().status().as_u16()
}

fn key_files(node: &TestNode) -> (Vec<u8>, Vec<u8>) {
    (
        std::fs::read(node.home.join("etc/keys/private.key")).unwrap(),
        std::fs::read(node.home.join("etc/keys/root.crt")).unwrap(),
    )
}
