//! Access Federation between sites (each site one cluster of real processes): entities
//! crossing, refresh at the issuing site, chain and mesh topologies, a leader killed while it
//! streams, a stopped site, conflicts, journal overflow and full sync, peers that must be
//! refused, large bodies read only once authenticated, permission targets, and the revocation
//! lag.
//!
//! Sites are started per test; a test takes node "slots" first so that the suite never runs
//! more than [`MAX_NODES`] processes at once, whatever the test thread count; and, like the
//! cluster and fault tests, a harness `turn` (2 tests at a time).

mod bad_peers;
mod bodies;
mod clock;
mod conflicts;
mod deprovision;
mod entities;
mod formats;
mod hostile;
mod leader_kill;
mod oidc;
mod overflow;
mod partition;
mod permissions;
mod refresh;
mod scim;
mod site_restart;
mod tokens;
mod topology;

use access_node_harness::ping_v1 as ping;
use access_node_harness::*;

use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// How long convergence may take before a test fails (events cross in a few hundred ms).
const SETTLE: Duration = Duration::from_secs(30);

/// Node processes the suite may run at once (2-core CI machines).
const MAX_NODES: usize = 7;

static SLOTS: Mutex<usize> = Mutex::new(0);
static FREED: Condvar = Condvar::new();

/// Node slots held by a test until it ends.
struct Slots(usize);

fn slots(n: usize) -> Slots {
    assert!(n <= MAX_NODES);
    let mut used = SLOTS.lock().unwrap_or_else(|e| e.into_inner());
    while *used + n > MAX_NODES {
        used = FREED.wait(used).unwrap_or_else(|e| e.into_inner());
    }
    *used += n;
    Slots(n)
}

impl Drop for Slots {
    fn drop(&mut self) {
        let mut used = SLOTS.lock().unwrap_or_else(|e| e.into_inner());
        *used -= self.0;
        FREED.notify_all();
    }
}

/// Basic-auth login status. Only call once the password is known to have arrived: failed
/// logins are throttled.
fn login(node: &TestNode, user: &str, password: &str) -> u16 {
    node.get("/access/api/v1/system/ping")
        .basic_auth(user, Some(password))
        .send()
        .unwrap()
        .status()
        .as_u16()
}

/// Wait until `token` gets `status` from every running node of `site`.
fn wait_ping(site: &Site, token: &str, status: u16, what: &str) {
    wait_until(
        &format!("{what}: {status} on every node of {}", site.name),
        SETTLE,
        || site.running().all(|n| ping(n, token) == status),
    );
}

/// A revocable (stored) token for `username`, minted as admin on node `i`.
fn revocable(site: &Site, i: usize, username: &str) -> String {
    token_of(&site.token(i, &[("username", username), ("expires_in", "0")]))
}

/// Create a user on node `i` of `site`; panics unless 201.
fn create_user(site: &Site, i: usize, name: &str, password: &str) {
    let (status, body) = site.post(
        i,
        "/access/api/v2/users",
        &json!({"username": name, "password": password, "email": format!("{name}@example.com")}),
    );
    assert_eq!(status, 201, "{}: create user {name}: {body}", site.name);
}

/// `GET /access/api/v2/users/{name}` on node `i`: status and body.
fn user(site: &Site, i: usize, name: &str) -> (u16, Value) {
    site.get(i, &format!("/access/api/v2/users/{name}"))
}

/// User names known on node `i`.
fn user_names(site: &Site, i: usize) -> Vec<String> {
    let (status, body) = site.get(i, "/access/api/v2/users");
    assert_eq!(status, 200, "{body}");
    body["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap().to_string())
        .collect()
}

/// `sorted[p]` for p in 0..=100.
fn percentile(sorted: &[Duration], p: usize) -> Duration {
    let i = (sorted.len() * p / 100).min(sorted.len() - 1);
    sorted[i]
}
