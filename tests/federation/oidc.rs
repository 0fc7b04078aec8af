use super::*;

const OIDC: &str = "/access/api/v1/oidc";

fn exchange(site: &Site, id_token: &str) -> (u16, Value) {
    json_of(
        site.node(0)
            .post("/access/api/v1/oidc/token")
            .json(&json!({
                "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
                "subject_token_type": "urn:ietf:params:oauth:token-type:id_token",
                "subject_token": id_token,
                "provider_name": "github",
            }))
            .send()
            .unwrap(),
    )
}

fn mappings_at(site: &Site) -> usize {
    let (status, body) = site.get(0, &format!("{OIDC}/github/identity_mappings"));
    match status {
        200 => body.as_array().unwrap().len(),
        _ => usize::MAX,
    }
}

/// A provider and its mappings made at one site work at the other; a mapping written at
/// another site never grants admin (nor a `system:` scope, SCIM's included) there; a delete
/// crosses too.
#[test]
fn oidc_providers_and_mappings_cross_sites_without_admin_rights() {
    let _turn = turn(1);
    let _slots = slots(2);
    let issuer = TestIssuer::start();
    let a = Site::start("a", 1, &[]);
    let b = Site::start("b", 1, &[]);
    federate(&a, &b);
    let provider = json!({"name": "github", "issuer_url": issuer.url, "provider_type": "GitHub",
                          "audience": "access-node"});
    let (status, body) = a.post(0, OIDC, &provider);
    assert_eq!(status, 201, "{body}");
    let mappings = format!("{OIDC}/github/identity_mappings");
    for mapping in [
        json!({"name": "octo", "priority": 5, "claims": {"repository_owner": "octo-org"},
               "token_spec": {"username": "octo-ci", "scope": "applied-permissions/groups:readers"}}),
        // What a site's admin may do at home, but may not do at the other site.
        json!({"name": "to-admin", "priority": 1, "claims": {"workflow": "escalate"},
               "token_spec": {"username": "admin", "scope": "applied-permissions/admin"}}),
        // A provisioning credential (SCIM) is an admin's too.
        json!({"name": "to-scim", "priority": 2, "claims": {"workflow": "provision"},
               "token_spec": {"username": "idp-sync", "scope": "system:scim:rw"}}),
    ] {
        let (status, body) = a.post(0, &mappings, &mapping);
        assert_eq!(status, 201, "{body}");
    }
    wait_until("B holds A's three mappings", SETTLE, || {
        mappings_at(&b) == 3
    });

    // Exchanged at B with the provider A made: an ordinary token of B's, valid at A too.
    let (status, body) = exchange(&b, &issuer.mint(json!({})));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["username"], "octo-ci");
    let token = token_of(&body);
    wait_until("B's exchanged token validates at A", SETTLE, || {
        ping(a.node(0), &token) == 200
    });

    // The admin mapping works where it was written, and is refused at the other site.
    let escalate = issuer.mint(json!({"workflow": "escalate"}));
    let (status, body) = exchange(&a, &escalate);
    assert_eq!(status, 200, "at home: {body}");
    let (status, body) = exchange(&b, &escalate);
    assert_eq!(status, 401, "{body}");
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("another site never grants admin"),
        "{message}"
    );
    let provision = issuer.mint(json!({"workflow": "provision"}));
    assert_eq!(exchange(&a, &provision).0, 200, "at home");
    let (status, body) = exchange(&b, &provision);
    assert_eq!(
        status, 401,
        "a system scope from another site's mapping: {body}"
    );

    // B changes a mapping: A takes it (the last writer wins), and B's own word holds at B.
    let changed = json!({"priority": 5, "claims": {"repository_owner": "octo-org"},
                         "token_spec": {"username": "octo-ci-2"}});
    let (status, body) = b.call(
        0,
        reqwest::Method::PUT,
        &format!("{mappings}/octo"),
        Some(&changed),
    );
    assert_eq!(status, 200, "{body}");
    wait_until("A takes B's change", SETTLE, || {
        a.get(0, &format!("{mappings}/octo")).1["token_spec"]["username"] == "octo-ci-2"
    });
    // Now B wrote the provider's record last: A's admin mapping no longer grants admin at
    // A either, since it came back as B's.
    let (status, body) = exchange(&a, &escalate);
    assert_eq!(status, 401, "{body}");

    // A delete crosses.
    let (status, _) = a.delete(0, &format!("{OIDC}/github"));
    assert_eq!(status, 204);
    wait_until("the provider is gone at B", SETTLE, || {
        b.get(0, &format!("{OIDC}/github")).0 == 404
    });
    assert_eq!(exchange(&b, &issuer.mint(json!({}))).0, 404);
    wait_same_digest(&[&a, &b], SETTLE);
}
