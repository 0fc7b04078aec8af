//! Circle of trust, key lifecycle and the other token kinds, on real processes.
#![allow(clippy::unwrap_used)]

mod circle;
mod reset;
mod token_kinds;

use access_node_harness::*;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

fn ping(node: &TestNode, token: &str) -> u16 {
    node.get("/api/system/ping")
        .bearer_auth(token)
        .send()
        .unwrap()
        .status()
        .as_u16()
}

fn wait_until(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn token_of(v: &Value) -> String {
    v["access_token"].as_str().unwrap().to_string()
}
