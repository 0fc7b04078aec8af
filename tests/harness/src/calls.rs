//! Calls and checks more than one suite makes: pings, logins, waiting for a condition, the
//! service id, reading lists out of answers, racing refreshes.

use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::node::{client, TestNode};

/// Status of `GET /api/system/ping` with a bearer token.
pub fn ping(node: &TestNode, token: &str) -> u16 {
    node.get("/api/system/ping")
        .bearer_auth(token)
        .send()
        .unwrap()
        .status()
        .as_u16()
}

/// Status of `GET /access/api/v1/system/ping` (the Access path) with a bearer token.
pub fn ping_v1(node: &TestNode, token: &str) -> u16 {
    node.get("/access/api/v1/system/ping")
        .bearer_auth(token)
        .send()
        .unwrap()
        .status()
        .as_u16()
}

/// Status of `GET /api/system/ping` with Basic credentials. Failed logins are throttled.
pub fn login_status(node: &TestNode, user: &str, password: &str) -> u16 {
    node.get("/api/system/ping")
        .basic_auth(user, Some(password))
        .send()
        .unwrap()
        .status()
        .as_u16()
}

/// The `access_token` of a token answer.
pub fn token_of(v: &Value) -> String {
    v["access_token"].as_str().unwrap().to_string()
}

/// The node's service id (`jfac@…`).
pub fn service_id(node: &TestNode) -> String {
    node.get("/access/api/v1/system/service_id")
        .send()
        .unwrap()
        .text()
        .unwrap()
}

/// Poll `f` every 50 ms until it holds; panics naming `what` after `timeout`.
pub fn wait_until(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The user names of a `GET /access/api/v2/users` answer.
pub fn user_names(users: &Value) -> Vec<&str> {
    users["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect()
}

/// The `x-origin` of every key of a JWKS, in order.
pub fn key_origins(jwks: &Value) -> Vec<&str> {
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["x-origin"].as_str().unwrap())
        .collect()
}

/// The kid of the active key of a JWKS.
pub fn active_kid(jwks: &Value) -> String {
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["x-origin"] == "active")
        .unwrap()["kid"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Refresh the same pair at every URL of `urls` (token endpoints) at once, one thread each;
/// the statuses in the order of `urls`.
pub fn concurrent_refreshes(urls: &[String], access: &str, refresh: &str) -> Vec<u16> {
    let handles: Vec<_> = urls
        .iter()
        .map(|url| {
            let (url, a, r) = (url.clone(), access.to_string(), refresh.to_string());
            std::thread::spawn(move || {
                client()
                    .post(url)
                    .form(&[
                        ("grant_type", "refresh_token"),
                        ("access_token", a.as_str()),
                        ("refresh_token", r.as_str()),
                    ])
                    .send()
                    .unwrap()
                    .status()
                    .as_u16()
            })
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).collect()
}

/// Tests of a binary that may run at once when each takes [`turn`]`(1)`: the cluster, fault
/// and federation tests time elections, leases and convergence, which hold with 2 at a time on
/// a 2-core machine (whatever the test thread count, which suites of single nodes use fully).
pub const TURNS: usize = 2;

static TAKEN: Mutex<usize> = Mutex::new(0);
static RETURNED: Condvar = Condvar::new();

/// A place among the [`TURNS`] tests that may run at once, held until dropped: `turn(1)`
/// for most tests, `turn(TURNS)` for one that must run alone (a CPU-bound load, say).
pub struct Turn(usize);

pub fn turn(weight: usize) -> Turn {
    assert!((1..=TURNS).contains(&weight));
    let mut taken = TAKEN.lock().unwrap_or_else(|e| e.into_inner());
    while *taken + weight > TURNS {
        taken = RETURNED.wait(taken).unwrap_or_else(|e| e.into_inner());
    }
    *taken += weight;
    Turn(weight)
}

impl Drop for Turn {
    fn drop(&mut self) {
        let mut taken = TAKEN.lock().unwrap_or_else(|e| e.into_inner());
        *taken -= self.0;
        RETURNED.notify_all();
    }
}
