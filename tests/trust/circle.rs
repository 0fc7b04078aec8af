use super::*;

#[test]
fn dropped_certificates_join_the_circle_of_trust_cluster_wide() {
    let east = TestCluster::start(2, &[]);
    let west = TestNode::start();
    let short = token_of(&west.admin_token(&[("username", "ci"), ("expires_in", "3600")]));
    let long = token_of(&west.admin_token(&[("username", "ci"), ("expires_in", "0")]));
    let fake_admin = token_of(&west.admin_token(&[("username", "admin"), ("expires_in", "3600")]));
    assert_eq!(ping(&east.nodes[0], &short), 401, "not trusted yet");

    // Drop west's root.crt into the trusted folder of east's second node.
    let trusted_dir = east.nodes[1].home.join("etc/keys/trusted");
    let dropped = trusted_dir.join("us-west.crt");
    std::fs::write(&dropped, std::fs::read(west.root_crt_path()).unwrap()).unwrap();
    wait_until(
        "the dropped certificate to be ingested",
        Duration::from_secs(15),
        || !dropped.exists(),
    );
    east.wait_converged();
    for n in &east.nodes {
        // Non-revocable foreign tokens validate on every node, without a restart…
        assert_eq!(ping(n, &short), 200, "{}", n.url(""));
        // …a revocable one we do not hold counts as revoked (until federation tells us).
        assert_eq!(ping(n, &long), 401);
        // A foreign "admin" user's token does not get our admin's rights.
        let r = n
            .get("/access/api/v2/users")
            .bearer_auth(&fake_admin)
            .send()
            .unwrap();
        assert_eq!(r.status(), 403);
    }
    let (_, listed) = json_of(
        east.nodes[0]
            .admin(east.nodes[0].get("/access/api/v1/cert/trusted"))
            .send()
            .unwrap(),
    );
    assert_eq!(listed["certificates"][0]["name"], "us-west");
    let (_, jwks) = json_of(east.nodes[0].get("/.well-known/jwks.json").send().unwrap());
    let origins = key_origins(&jwks);
    assert_eq!(origins, vec!["active", "trusted"]);

    // An invalid file stays, with a log line.
    let bad = east.nodes[0].home.join("etc/keys/trusted/broken.crt");
    std::fs::write(
        &bad,
        "-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    wait_until(
        "the invalid certificate to be reported",
        Duration::from_secs(10),
        || east.nodes[0].log().contains("invalid trusted certificate"),
    );
    assert!(
        bad.exists(),
        "an invalid certificate must stay in the folder"
    );

    // Removing trust through the API takes effect on every node.
    let a = &east.nodes[0];
    assert_eq!(
        a.admin(a.delete("/access/api/v1/cert/trusted/us-west"))
            .send()
            .unwrap()
            .status(),
        204
    );
    // Health reports the applied index from Raft's metrics, which can trail the write's
    // answer by an instant: wait for the answer itself on every node.
    for n in &east.nodes {
        wait_until(
            "the removed certificate to stop verifying",
            Duration::from_secs(10),
            || ping(n, &short) == 401,
        );
    }
    let (status, _) = json_of(
        a.admin(a.delete("/access/api/v1/cert/trusted/us-west"))
            .send()
            .unwrap(),
    );
    assert_eq!(status, 404);
    // And adding it back through the API (JSON body) works too.
    let pem = std::fs::read_to_string(west.root_crt_path()).unwrap();
    let (status, body) = json_of(
        a.admin(a.post("/access/api/v1/cert/trusted"))
            .json(&json!({"name": "us-west", "certificate": pem}))
            .send()
            .unwrap(),
    );
    assert_eq!(status, 201, "{body}");
    east.wait_converged();
    // Once in one CI dry run node 2 still answered 401 right after converging (not reproduced
    // in later runs): allow it a moment, and keep the question open in the notes.
    wait_until(
        "node 2 to trust the re-added certificate",
        Duration::from_secs(10),
        || ping(&east.nodes[1], &short) == 200,
    );
    // Bad input.
    let add = |body: Value| {
        json_of(
            a.admin(a.post("/access/api/v1/cert/trusted"))
                .json(&body)
                .send()
                .unwrap(),
        )
        .0
    };
    assert_eq!(add(json!({"name": "x", "certificate": "junk"})), 400);
    assert_eq!(add(json!({"name": "../etc", "certificate": pem})), 400);
    assert_eq!(add(json!({"certificate": pem})), 400);
    let bob_token = token_of(&a.admin_token(&[("username", "bob"), ("expires_in", "600")]));
    let (status, _) = json_of(
        a.get("/access/api/v1/cert/trusted")
            .bearer_auth(&bob_token)
            .send()
            .unwrap(),
    );
    assert_eq!(status, 403);
}
