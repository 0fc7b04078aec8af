use std::time::{Duration, Instant};

use super::*;

#[test]
fn a_node_with_a_certificate_from_another_ca_cannot_join() {
    let pki = Pki::new("cluster-ca");
    let cluster = TestCluster::start_placed(2, &[], |i, node| {
        pki.configure(node, &format!("node{i}"), true);
    });
    // Same CA file (so it trusts the cluster), but its own certificate is another CA's.
    let rogue_pki = Pki::new("rogue-ca");
    let mut rogue = TestNode::prepare(&[
        (
            "ACCESS_NODE_SECURITY_BOOTSTRAP_ADMIN_PASSWORD",
            ADMIN_PASSWORD,
        ),
        ("ACCESS_NODE_SECURITY_JOIN_KEY", JOIN_KEY),
        ("ACCESS_NODE_SERVER_NODE_ID", "9"),
    ]);
    rogue_pki.configure(&mut rogue, "rogue", true);
    rogue.set_env("ACCESS_NODE_TLS_CA_FILE", pki.ca_file().to_str().unwrap());
    rogue.set_env("ACCESS_NODE_RAFT_SEEDS", &cluster.nodes[0].url(""));
    rogue.client = tls::client(&rogue_pki.ca_pem, None);
    rogue.spawn();
    let deadline = Instant::now() + Duration::from_secs(8);
    while Instant::now() < deadline {
        let health = rogue.get("/healthz").send().map(|r| r.status().as_u16());
        assert_ne!(health.ok(), Some(200), "the rogue node became ready");
        std::thread::sleep(Duration::from_millis(250));
    }
    let status = cluster.nodes[0].status();
    assert_eq!(status["members"].as_array().unwrap().len(), 2, "{status}");
    assert!(rogue.is_running(), "it keeps trying, it does not crash");
}
