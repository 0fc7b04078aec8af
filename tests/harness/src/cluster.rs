//! A cluster of real processes: node 1 initialises, the others join it.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::node::{TestNode, ADMIN_PASSWORD};

pub const JOIN_KEY: &str = "test-cluster-join-key-0123456789";

/// A cluster of real processes on 127.0.0.1: node 1 initialises, the others join it.
pub struct TestCluster {
    pub nodes: Vec<TestNode>,
}

impl TestCluster {
    pub fn start(n: usize, extra: &[(&str, &str)]) -> TestCluster {
        Self::start_placed(n, extra, |_, _| {})
    }

    /// Like `start`, with `place(i, node)` choosing where node i (0-based) runs.
    pub fn start_placed(
        n: usize,
        extra: &[(&str, &str)],
        place: impl Fn(usize, &mut TestNode),
    ) -> TestCluster {
        let mut nodes: Vec<TestNode> = Vec::new();
        for i in 0..n {
            let mut env: Vec<(&str, &str)> = vec![
                (
                    "ACCESS_NODE_SECURITY_BOOTSTRAP_ADMIN_PASSWORD",
                    ADMIN_PASSWORD,
                ),
                ("ACCESS_NODE_SECURITY_JOIN_KEY", JOIN_KEY),
            ];
            env.extend_from_slice(extra);
            let mut node = TestNode::prepare(&env);
            place(i, &mut node);
            node.set_env("ACCESS_NODE_SERVER_NODE_ID", &(i + 1).to_string());
            if i > 0 {
                node.set_env("ACCESS_NODE_RAFT_SEEDS", &nodes[0].url(""));
            }
            node.spawn();
            node.wait_ready();
            nodes.push(node);
        }
        let cluster = TestCluster { nodes };
        cluster.wait_converged();
        cluster
    }

    /// Index of the node that is leader (as node 1..n sees it), waiting for one.
    pub fn leader(&self) -> usize {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            for (i, node) in self.nodes.iter().enumerate() {
                if let Ok(r) = node.get("/healthz").send() {
                    if let Ok(v) = r.json::<Value>() {
                        if v["state"] == "Leader" {
                            return i;
                        }
                    }
                }
            }
            assert!(Instant::now() < deadline, "no leader");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Wait until every running node has applied the same index.
    pub fn wait_converged(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let applied: Vec<Option<u64>> = self
                .nodes
                .iter()
                .map(|n| {
                    n.get("/healthz")
                        .send()
                        .ok()
                        .and_then(|r| r.json::<Value>().ok())
                        .and_then(|v| v["last_applied"].as_u64())
                })
                .collect();
            if applied.iter().all(|a| a.is_some() && *a == applied[0]) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "nodes did not converge: {applied:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}
