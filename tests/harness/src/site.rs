//! A federation "site": one cluster (one service id) of real processes, with the admin calls
//! the federation suite makes on it: trust another site, link to it, read digests and peer
//! status, stop and restart every node.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use reqwest::blocking::{RequestBuilder, Response};
use reqwest::Method;
use serde_json::{json, Value};

use crate::cluster::TestCluster;
use crate::http::json_of;
use crate::node::TestNode;

pub const FEDERATION: &str = "/access/api/v1/system/federation";
pub const DIGEST: &str = "/access/api/v1/system/federation/digest";

/// One site: a [`TestCluster`] of `n` nodes (a one-node cluster for a one-node site).
pub struct Site {
    /// Name other sites give their federation entry and trusted certificate for this one.
    pub name: String,
    pub cluster: TestCluster,
    service_id: String,
    /// An admin bearer token of this site, minted on first use (Basic auth costs an argon2
    /// hash per request, too slow for polling loops); minted again after a 401.
    bearer: Mutex<Option<String>>,
}

impl Site {
    /// A site of `n` nodes; `extra` environment goes to every node.
    pub fn start(name: &str, n: usize, extra: &[(&str, &str)]) -> Site {
        Self::start_placed(name, n, extra, |_, _| {})
    }

    /// Like `start`, with `place(i, node)` choosing where node i runs (a network namespace).
    pub fn start_placed(
        name: &str,
        n: usize,
        extra: &[(&str, &str)],
        place: impl Fn(usize, &mut TestNode),
    ) -> Site {
        let cluster = TestCluster::start_placed(n, extra, place);
        let service_id = crate::calls::service_id(&cluster.nodes[0]);
        assert!(service_id.starts_with("jfac@"), "{service_id}");
        Site {
            name: name.to_string(),
            cluster,
            service_id,
            bearer: Mutex::new(None),
        }
    }

    pub fn service_id(&self) -> &str {
        &self.service_id
    }

    pub fn nodes(&self) -> &[TestNode] {
        &self.cluster.nodes
    }

    pub fn node(&self, i: usize) -> &TestNode {
        &self.cluster.nodes[i]
    }

    /// Nodes with a process (not stopped or killed by the test).
    pub fn running(&self) -> impl Iterator<Item = &TestNode> {
        self.cluster.nodes.iter().filter(|n| n.pid().is_some())
    }

    /// The URL other sites push to: the first node's.
    pub fn url(&self) -> String {
        self.cluster.nodes[0].url("")
    }

    /// An admin bearer token of this site (non-revocable, 1 h: valid on every node).
    pub fn bearer(&self) -> String {
        let mut cached = self.bearer.lock().unwrap();
        if cached.is_none() {
            let node = self.running().next().expect("a running node");
            *cached = Some(node.admin_bearer());
        }
        cached.clone().unwrap()
    }

    fn forget_bearer(&self) {
        *self.bearer.lock().unwrap() = None;
    }

    /// Send `build(node)` as admin (bearer); after a 401 mint a new bearer and try once more
    /// (a key reset without keep_old invalidates the old one).
    pub fn send_as_admin(&self, i: usize, build: impl Fn(&TestNode) -> RequestBuilder) -> Response {
        let node = self.node(i);
        let r = build(node).bearer_auth(self.bearer()).send().unwrap();
        if r.status() != 401 {
            return r;
        }
        self.forget_bearer();
        build(node).bearer_auth(self.bearer()).send().unwrap()
    }

    /// An admin request on node `i`: status and JSON body (error shape checked by `json_of`).
    pub fn call(&self, i: usize, method: Method, path: &str, body: Option<&Value>) -> (u16, Value) {
        json_of(self.send_as_admin(i, |n| {
            let rb = n.client.request(method.clone(), n.url(path));
            match body {
                Some(b) => rb.json(b),
                None => rb,
            }
        }))
    }

    pub fn get(&self, i: usize, path: &str) -> (u16, Value) {
        self.call(i, Method::GET, path, None)
    }

    pub fn post(&self, i: usize, path: &str, body: &Value) -> (u16, Value) {
        self.call(i, Method::POST, path, Some(body))
    }

    pub fn patch(&self, i: usize, path: &str, body: &Value) -> (u16, Value) {
        self.call(i, Method::PATCH, path, Some(body))
    }

    pub fn put(&self, i: usize, path: &str) -> (u16, Value) {
        self.call(i, Method::PUT, path, None)
    }

    pub fn delete(&self, i: usize, path: &str) -> (u16, Value) {
        self.call(i, Method::DELETE, path, None)
    }

    /// A token minted as admin on node `i` with form fields; panics unless 200.
    pub fn token(&self, i: usize, form: &[(&str, &str)]) -> Value {
        let (status, body) =
            json_of(self.send_as_admin(i, |n| n.post("/access/api/v1/tokens").form(form)));
        assert_eq!(status, 200, "{}: create token failed: {body}", self.name);
        body
    }

    /// The PEM of this site's active root certificate.
    pub fn root_cert(&self) -> String {
        let r = self.send_as_admin(0, |n| n.get("/access/api/v1/cert/root"));
        assert_eq!(r.status(), 200, "{}: GET cert/root", self.name);
        r.text().unwrap()
    }

    /// Trust `other`: upload its root certificate bound to its service id. An existing entry
    /// of that name (409) is fine.
    pub fn trust(&self, other: &Site) {
        let body = json!({
            "name": format!("site-{}", other.name),
            "certificate": other.root_cert(),
            "service_id": other.service_id(),
        });
        let (status, answer) = self.post(0, "/access/api/v1/cert/trusted", &body);
        assert!(
            status == 201 || status == 409,
            "{} trusting {}: {status} {answer}",
            self.name,
            other.name
        );
    }

    /// Add a federation entry for `other` (this site pushes to it when `active`; otherwise
    /// it only accepts `other`'s events). The node looks the service id up itself.
    pub fn link(&self, other: &Site, active: bool) -> Value {
        let body = json!({
            "name": other.name,
            "url": other.url(),
            "entities": ["USERS", "GROUPS", "TOKENS", "PERMISSIONS", "OIDC"],
            "active": active,
        });
        let (status, peer) = self.post(0, FEDERATION, &body);
        assert_eq!(status, 201, "{} linking {}: {peer}", self.name, other.name);
        assert_eq!(
            peer["service_id"],
            other.service_id(),
            "{} linking {}: service id looked up at {}",
            self.name,
            other.name,
            other.url()
        );
        peer
    }

    /// The digest answer of node `i`: `{"service_id","digest","vector","counts"}`.
    pub fn digest(&self, i: usize) -> Value {
        let (status, body) = self.get(i, DIGEST);
        assert_eq!(status, 200, "{} node {i}: digest: {body}", self.name);
        body
    }

    /// Every peer object as node `i` sees it.
    pub fn federation_status(&self, i: usize) -> Value {
        let (status, body) = self.get(i, FEDERATION);
        assert_eq!(
            status, 200,
            "{} node {i}: federation list: {body}",
            self.name
        );
        body
    }

    /// The peer object for `peer` as node `i` sees it.
    pub fn peer(&self, i: usize, peer: &str) -> Value {
        let (status, body) = self.get(i, &format!("{FEDERATION}/{peer}"));
        assert_eq!(status, 200, "{} node {i}: peer {peer}: {body}", self.name);
        body
    }

    /// Stop every node (SIGTERM, then SIGKILL if slow).
    pub fn stop_all(&mut self) {
        for n in &mut self.cluster.nodes {
            n.stop();
        }
    }

    /// Start every stopped node again (all spawned first: a restarted member is ready only
    /// once a majority is back), then wait for them to agree.
    pub fn start_all(&mut self) {
        for n in &mut self.cluster.nodes {
            if n.pid().is_none() {
                n.spawn();
            }
        }
        for n in &mut self.cluster.nodes {
            n.wait_ready();
        }
        self.cluster.wait_converged();
        self.forget_bearer();
    }

    /// Index of the current leader.
    pub fn leader(&self) -> usize {
        self.cluster.leader()
    }
}

/// Trust and link both ways: `a` and `b` push to each other.
pub fn federate(a: &Site, b: &Site) {
    a.trust(b);
    b.trust(a);
    a.link(b, true);
    b.link(a, true);
}

/// `from` pushes to `to`; `to` accepts `from`'s events without pushing back.
pub fn link_one_way(from: &Site, to: &Site) {
    to.trust(from);
    from.trust(to);
    to.link(from, false);
    from.link(to, true);
}

/// The digest of every running node of every site, labelled `site/node`; `None` when a node
/// does not answer 200.
pub fn digests(sites: &[&Site]) -> Vec<(String, Option<Value>)> {
    let mut out = Vec::new();
    for s in sites {
        for (i, n) in s.nodes().iter().enumerate() {
            if n.pid().is_none() {
                continue;
            }
            // A node still starting may refuse the connection: no answer, not a panic.
            let body = n
                .get(DIGEST)
                .bearer_auth(s.bearer())
                .timeout(Duration::from_secs(5))
                .send()
                .ok()
                .filter(|r| r.status() == 200)
                .and_then(|r| r.json::<Value>().ok());
            out.push((format!("{}/{}", s.name, i + 1), body));
        }
    }
    out
}

/// Wait until every running node of every site reports the same digest; on timeout, panic
/// with every node's digest, vector and counts and each site's peer status.
pub fn wait_same_digest(sites: &[&Site], timeout: Duration) -> String {
    let deadline = Instant::now() + timeout;
    loop {
        let all = digests(sites);
        let first = all[0].1.as_ref().map(|d| d["digest"].clone());
        if first.as_ref().is_some_and(|d| d.is_string())
            && all
                .iter()
                .all(|(_, d)| d.as_ref().map(|d| d["digest"].clone()) == first)
        {
            return first.unwrap().as_str().unwrap().to_string();
        }
        if Instant::now() > deadline {
            let mut report = String::new();
            for (label, d) in &all {
                match d {
                    Some(d) => report.push_str(&format!(
                        "  {label}: {} vector={} counts={}\n",
                        d["digest"], d["vector"], d["counts"]
                    )),
                    None => report.push_str(&format!("  {label}: no answer\n")),
                }
            }
            for s in sites {
                if let Some(i) = s.nodes().iter().position(|n| n.pid().is_some()) {
                    let (_, peers) = s.get(i, FEDERATION);
                    report.push_str(&format!("  {} peers: {peers}\n", s.name));
                }
            }
            panic!("digests differ after {timeout:?}:\n{report}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}
