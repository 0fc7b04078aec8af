use super::*;

use reqwest::Method;

const SCIM: &str = "/access/api/v1/scim/v2";

/// Polls every node with `tokens` until each refuses all of them; how long after `t0` each
/// node did (ms), in node order.
fn refused_after(nodes: &[&TestNode], tokens: &[String], t0: Instant) -> Vec<f64> {
    std::thread::scope(|s| {
        let pollers: Vec<_> = nodes
            .iter()
            .map(|node| {
                s.spawn(move || {
                    let mut pending: Vec<&String> = tokens.iter().collect();
                    while !pending.is_empty() {
                        assert!(
                            t0.elapsed() < SETTLE,
                            "a token still valid at {}",
                            node.url("")
                        );
                        pending.retain(|t| ping(node, t) != 401);
                    }
                    t0.elapsed().as_secs_f64() * 1000.0
                })
            })
            .collect();
        pollers.into_iter().map(|p| p.join().unwrap()).collect()
    })
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// A user provisioned through SCIM at one site is the same user at the other (its SCIM fields
/// cross, and a SCIM group's too); deactivated (`active: false`) or deleted through SCIM at one site, every token of
/// it, each site's own, is refused on every node of both sites. Prints how long that took
/// per site (from the SCIM request being sent to the last node refusing).
#[test]
fn a_user_deprovisioned_through_scim_is_refused_on_every_node_of_both_sites() {
    let _turn = turn(1);
    let _slots = slots(4);
    let a = Site::start("a", 2, &[]);
    let b = Site::start("b", 2, &[]);
    federate(&a, &b);
    let nodes: Vec<&TestNode> = a.nodes().iter().chain(b.nodes()).collect();
    let (mut at_a, mut at_b) = (Vec::new(), Vec::new());
    for round in 0..6 {
        let name = format!("scim-user-{round}");
        let body = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                          "userName": name, "externalId": format!("ext-{round}"), "active": true});
        let (status, created) = a.call(
            round % 2,
            Method::POST,
            &format!("{SCIM}/Users"),
            Some(&body),
        );
        assert_eq!(status, 201, "{created}");
        wait_until("the user at B", SETTLE, || {
            b.get(0, &format!("/access/api/v2/users/{name}")).0 == 200
        });
        let (_, seen) = b.get(0, &format!("{SCIM}/Users/{name}"));
        assert_eq!(seen["externalId"], format!("ext-{round}"), "{seen}");
        let (_, at_b_user) = b.get(1, &format!("/access/api/v2/users/{name}"));
        assert_eq!(at_b_user["realm"], "scim", "{at_b_user}");
        // A token of each site's own, both good on all four nodes.
        let tokens = [
            token_of(&a.token(0, &[("username", &name), ("expires_in", "0")])),
            token_of(&b.token(1, &[("username", &name), ("expires_in", "600")])),
        ];
        wait_until("both tokens valid everywhere", SETTLE, || {
            nodes
                .iter()
                .all(|n| tokens.iter().all(|t| ping(n, t) == 200))
        });
        let t0 = Instant::now();
        let (status, body) = if round < 4 {
            let off = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                             "Operations": [{"op": "replace", "value": {"active": false}}]});
            a.call(
                round % 2,
                Method::PATCH,
                &format!("{SCIM}/Users/{name}"),
                Some(&off),
            )
        } else {
            a.call(
                round % 2,
                Method::DELETE,
                &format!("{SCIM}/Users/{name}"),
                None,
            )
        };
        assert!(status == 200 || status == 204, "{body}");
        let ms = refused_after(&nodes, &tokens, t0);
        at_a.extend_from_slice(&ms[..2]);
        at_b.extend_from_slice(&ms[2..]);
    }
    for (site, mut ms) in [("A (where it was deprovisioned)", at_a), ("B", at_b)] {
        ms.sort_by(f64::total_cmp);
        eprintln!(
            "deprovisioning to rejection at {site}, {} node-rounds: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            ms.len(),
            percentile(&ms, 0.5),
            percentile(&ms, 0.99),
            ms[ms.len() - 1]
        );
    }
    // A SCIM group crosses with its display name, external id and members.
    let group = json!({"displayName": "Site Crossers", "externalId": "g-1",
                       "members": [{"value": "scim-user-0"}]});
    let (status, created) = a.call(0, Method::POST, &format!("{SCIM}/Groups"), Some(&group));
    assert_eq!(status, 201, "{created}");
    wait_until("the group at B", SETTLE, || {
        b.get(0, "/access/api/v2/groups/Site-Crossers").0 == 200
    });
    wait_until("its member at B", SETTLE, || {
        let (_, seen) = b.get(1, &format!("{SCIM}/Groups/Site-Crossers"));
        seen["displayName"] == "Site Crossers"
            && seen["externalId"] == "g-1"
            && seen["members"][0]["value"] == "scim-user-0"
    });
    wait_same_digest(&[&a, &b], SETTLE);
}
