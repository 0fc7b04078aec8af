//! Holders deleted from every permission target, and targets that survive a restart.

use super::*;

#[test]
fn deleting_a_group_or_user_removes_it_from_every_permission() {
    let node = TestNode::start();
    let admin = Admin::new(&node);
    admin.group("g1");
    admin.group("g2");
    admin.user("u1", "u1-secret-1", &["g2"]);
    admin.user("u2", "u2-secret-1", &[]);
    admin.create(&json!({"name": "p1", "resources": {"artifact": {
        "actions": {"users": {"u1": ["READ"], "u2": ["READ"]}, "groups": {"g1": ["READ"], "g2": ["READ"]}},
        "targets": {"one-local": {}},
    }}}));
    admin.create(&json!({"name": "p2", "resources": {"artifact": {
        "actions": {"users": {"u1": ["WRITE"]}, "groups": {"g1": ["WRITE"]}},
        "targets": {"two-local": {}},
    }}}));
    let (status, body) = admin.put(
        &format!("{ART}/p3"),
        &json!({"name": "p3", "repo": {
            "repositories": ["three-local"],
            "actions": {"users": {"u1": ["read"]}, "groups": {"g1": ["read"]}},
        }}),
    );
    assert_eq!(status, 201, "{body}");
    let g1 =
        token_of(&node.admin_token(&[("username", "jenkins"), ("scope", "member-of-groups:g1")]));
    expect(&node, &g1, "two-local/a", "w", true);

    // Delete group g1: gone from p1, p2 and p3, in both forms; the others stay.
    assert_eq!(admin.delete("/access/api/v2/groups/g1"), 204);
    for name in ["p1", "p2", "p3"] {
        let doc = admin.permission(name);
        assert!(
            !principals(&doc, "groups").contains(&"g1".to_string()),
            "{doc}"
        );
        let art = admin.art_permission(name);
        assert!(
            !art_principals(&art, "groups").contains(&"g1".to_string()),
            "{art}"
        );
    }
    assert_eq!(principals(&admin.permission("p1"), "groups"), ["g2"]);
    assert_eq!(principals(&admin.permission("p1"), "users"), ["u1", "u2"]);
    expect(&node, &g1, "two-local/a", "w", false);
    expect(&node, &g1, "one-local/a", "r", false);
    // A new group of the same name does not inherit the old one's permissions.
    admin.group("g1");
    assert!(!principals(&admin.permission("p2"), "groups").contains(&"g1".to_string()));
    expect(&node, &g1, "two-local/a", "w", false);

    // Delete user u1: gone everywhere; u2 and g2 stay.
    let u1 =
        token_of(&node.admin_token(&[("username", "u1"), ("scope", "applied-permissions/user")]));
    expect(&node, &u1, "two-local/a", "w", true);
    assert_eq!(admin.delete("/access/api/v2/users/u1"), 204);
    for name in ["p1", "p2", "p3"] {
        let doc = admin.permission(name);
        assert!(
            !principals(&doc, "users").contains(&"u1".to_string()),
            "{doc}"
        );
        let art = admin.art_permission(name);
        assert!(
            !art_principals(&art, "users").contains(&"u1".to_string()),
            "{art}"
        );
    }
    let p1 = admin.permission("p1");
    assert_eq!(principals(&p1, "users"), ["u2"], "{p1}");
    assert_eq!(principals(&p1, "groups"), ["g2"], "{p1}");
    // A user of the same name made again starts without u1's old permissions.
    admin.user("u1", "u1-secret-2", &[]);
    let u1_again =
        token_of(&node.admin_token(&[("username", "u1"), ("scope", "applied-permissions/user")]));
    expect(&node, &u1_again, "two-local/a", "w", false);
    // The permission targets themselves remain.
    assert_eq!(admin.names(), ["p1", "p2", "p3"]);
}

#[test]
fn permission_targets_survive_a_restart() {
    let mut node = TestNode::start();
    {
        let admin = Admin::new(&node);
        admin.group("CI");
        admin.create(&group_perm(
            "ci-perm",
            "generic-local",
            "CI",
            &["READ", "WRITE"],
        ));
    }
    node.restart();
    let admin = Admin::new(&node);
    assert_eq!(admin.names(), ["ci-perm"]);
    let token =
        token_of(&node.admin_token(&[("username", "jenkins"), ("scope", "member-of-groups:CI")]));
    let body = expect(&node, &token, "generic-local/a", "w", true);
    assert_eq!(
        body["granted_by"], "permission 'ci-perm' via group 'CI'",
        "{body}"
    );
}
