use serde_json::Value;

use super::*;

#[test]
fn three_nodes_with_mutual_tls_join_over_https_and_refuse_plaintext() {
    let pki = Pki::new("test-ca");
    let cluster = TestCluster::start_placed(3, &[], |i, node| {
        pki.configure(node, &format!("node{i}"), true);
    });
    let [a, b, c] = [&cluster.nodes[0], &cluster.nodes[1], &cluster.nodes[2]];
    assert!(b.url("").starts_with("https://"));
    let status = a.status();
    assert_eq!(status["members"].as_array().unwrap().len(), 3, "{status}");
    assert!(status["members"]
        .as_array()
        .unwrap()
        .iter()
        .all(|m| m["url"].as_str().unwrap().starts_with("https://")));
    // A revocable token issued through one node validates on the others, then is revoked.
    let token = a.admin_token(&[("username", "ci"), ("expires_in", "0")]);
    let access = token["access_token"].as_str().unwrap();
    cluster.wait_converged();
    assert_eq!(ping(c, access), 200);
    let (status, _) = json_of(
        c.admin(c.delete("/access/api/v1/tokens/revoke"))
            .form(&[("token", access)])
            .send()
            .unwrap(),
    );
    assert_eq!(status, 200);
    cluster.wait_converged();
    assert_eq!(ping(b, access), 401);
    // Plain HTTP to a TLS port gets no answer.
    let plain = client()
        .get(format!("http://127.0.0.1:{}/healthz", a.port))
        .send();
    assert!(plain.is_err(), "plaintext was answered: {plain:?}");
    // The cluster RPC wants a client certificate from our CA, even with the join key.
    let rpc = |client: &reqwest::blocking::Client| {
        client
            .post(a.url("/_cluster/read_index"))
            .header("x-access-join-key", JOIN_KEY)
            .json(&Value::Null)
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(rpc(&tls::client(&pki.ca_pem, None)), 401);
    let (cert, key) = pki.node_pem();
    assert_eq!(rpc(&tls::client(&pki.ca_pem, Some((&cert, &key)))), 200);
    // The public API asks no client certificate.
    assert_eq!(
        a.get("/access/api/v1/system/ping").send().unwrap().status(),
        200
    );
    // The operator CLI over https, trusting the cluster CA.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_access-node"))
        .args(["cluster", "status", "--json", "--url"])
        .arg(b.url(""))
        .arg("--ca-cert")
        .arg(pki.ca_file())
        .env("ACCESS_NODE_USER", "admin")
        .env("ACCESS_NODE_PASSWORD", ADMIN_PASSWORD)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shown: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(shown["members"].as_array().unwrap().len(), 3, "{shown}");
    // Without the CA it refuses the server's certificate.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_access-node"))
        .args(["cluster", "status", "--url"])
        .arg(b.url(""))
        .env("ACCESS_NODE_USER", "admin")
        .env("ACCESS_NODE_PASSWORD", ADMIN_PASSWORD)
        .env_remove("ACCESS_NODE_CA_CERT")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}
