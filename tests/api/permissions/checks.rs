//! The permission check for every kind of token and login: seed 002's group flow, user
//! tokens, `groups:` and `artifact:` scopes, admin, exclude patterns and the ANY keys.

use super::*;

#[test]
fn seed_002_group_permission_through_a_legacy_token() {
    let node = TestNode::start();
    let admin = Admin::new(&node);
    // Group CI with Delete/Overwrite (DELETE), Deploy/Cache (WRITE), Annotate and Read on a repo.
    admin.group("CI");
    admin.create(&group_perm(
        "ci-perm",
        "generic-local",
        "CI",
        &["READ", "WRITE", "ANNOTATE", "DELETE"],
    ));
    // curl -uadmin:password -XPOST .../artifactory/api/security/token -d username=jenkins -d scope=member-of-groups:CI
    let (status, body) = json_of(
        node.admin(node.post("/artifactory/api/security/token"))
            .body("username=jenkins&scope=member-of-groups:CI")
            .header("content-type", "application/x-www-form-urlencoded")
            .send()
            .unwrap(),
    );
    assert_eq!(status, 200, "{body}");
    let token = token_of(&body);

    let path = "generic-local/org/acme/app/1.0/app-1.0.jar";
    for (action, short) in [
        ("r", "r"),
        ("w", "w"),
        ("d", "d"),
        ("a", "a"),
        ("read", "r"),
        ("write", "w"),
        ("deploy", "w"),
        ("delete", "d"),
        ("annotate", "a"),
    ] {
        let body = expect(&node, &token, path, action, true);
        assert_eq!(body["path"], path, "{body}");
        assert_eq!(
            body["action"], short,
            "{action} reported as its letter: {body}"
        );
        assert_eq!(body["subject"], "jenkins", "{body}");
        assert_eq!(
            body["granted_by"], "permission 'ci-perm' via group 'CI'",
            "{body}"
        );
        assert!(body["reason"].is_string(), "{body}");
    }
    // Every path of the repo, not the repo next door, and never manage.
    expect(&node, &token, "generic-local/a.txt", "r", true);
    for action in ["m", "manage"] {
        let body = expect(&node, &token, path, action, false);
        assert!(body["reason"].is_string(), "a denial says why: {body}");
    }
    for other in [
        "other-local/org/acme/app.jar",
        "generic-local2/a.txt",
        "generic/a.txt",
    ] {
        for action in ["r", "w", "d", "a"] {
            expect(&node, &token, other, action, false);
        }
    }
    // The same token without the group's permission: nothing.
    assert_eq!(admin.delete(&format!("{V2}/ci-perm")), 204);
    expect(&node, &token, path, "r", false);
}

#[test]
fn user_tokens_combine_own_and_group_permissions_and_groups_scopes_only_groups() {
    let node = TestNode::start();
    let admin = Admin::new(&node);
    admin.group("dev");
    admin.group("ops");
    admin.user("bob", "bob-secret-1", &["dev"]);
    admin.create(&group_perm("dev-read", "libs-local", "dev", &["READ"]));
    admin.create(&group_perm(
        "ops-write",
        "ops-local",
        "ops",
        &["READ", "WRITE"],
    ));
    admin.create(&json!({"name": "bob-write", "resources": {"artifact": {
        "actions": {"users": {"bob": ["WRITE"]}},
        "targets": {"bob-local": {"include_patterns": ["**"]}},
    }}}));

    // applied-permissions/user: the user's own permissions plus its groups'.
    let user_token =
        token_of(&node.admin_token(&[("username", "bob"), ("scope", "applied-permissions/user")]));
    let body = expect(&node, &user_token, "libs-local/a/b.jar", "r", true);
    assert_eq!(
        body["granted_by"], "permission 'dev-read' via group 'dev'",
        "{body}"
    );
    assert_eq!(body["subject"], "bob", "{body}");
    let body = expect(&node, &user_token, "bob-local/x.bin", "w", true);
    let by = body["granted_by"].as_str().unwrap_or("");
    assert!(by.contains("'bob-write'") && by.contains("bob"), "{body}");
    expect(&node, &user_token, "libs-local/a/b.jar", "w", false);
    expect(&node, &user_token, "ops-local/a", "r", false);
    expect(&node, &user_token, "other-local/a", "r", false);

    // A password login of a non-admin acts the same.
    let basic = |path: &str, action: &str| {
        check_with(
            node.get(CHECK).basic_auth("bob", Some("bob-secret-1")),
            path,
            action,
        )["allowed"]
            .clone()
    };
    assert_eq!(basic("libs-local/a/b.jar", "r"), true);
    assert_eq!(basic("bob-local/x.bin", "w"), true);
    assert_eq!(basic("ops-local/a", "r"), false);

    // Membership is read live: bob joins ops, his existing token gains ops' permission.
    let (status, body) = admin.call(
        Method::PATCH,
        "/access/api/v2/groups/ops/members",
        Some(&json!({"add": ["bob"]})),
    );
    assert!(status == 200 || status == 204, "{status} {body}");
    let body = expect(&node, &user_token, "ops-local/a", "w", true);
    assert_eq!(
        body["granted_by"], "permission 'ops-write' via group 'ops'",
        "{body}"
    );

    // applied-permissions/groups:dev: that group's permissions only, not the user's own.
    let groups_token = token_of(&node.admin_token(&[
        ("username", "bob"),
        ("scope", "applied-permissions/groups:dev"),
    ]));
    let body = expect(&node, &groups_token, "libs-local/a/b.jar", "r", true);
    assert_eq!(
        body["granted_by"], "permission 'dev-read' via group 'dev'",
        "{body}"
    );
    expect(&node, &groups_token, "bob-local/x.bin", "w", false);
    expect(&node, &groups_token, "ops-local/a", "r", false);
    // Two groups, and the union with an artifact scope.
    let both = token_of(&node.admin_token(&[
        ("username", "bob"),
        (
            "scope",
            "applied-permissions/groups:dev,ops artifact:scratch-local/tmp/**:w",
        ),
    ]));
    expect(&node, &both, "libs-local/a", "r", true);
    expect(&node, &both, "ops-local/a", "w", true);
    let body = expect(&node, &both, "scratch-local/tmp/x", "w", true);
    assert_eq!(
        body["granted_by"], "scope 'artifact:scratch-local/tmp/**:w'",
        "{body}"
    );
    expect(&node, &both, "scratch-local/other/x", "w", false);
    expect(&node, &both, "bob-local/x.bin", "w", false);

    // A transient user has no permissions of its own, only its groups'.
    let transient = token_of(
        &node.admin_token(&[("username", "ghost"), ("scope", "applied-permissions/user")]),
    );
    for (path, action) in [
        ("libs-local/a", "r"),
        ("bob-local/a", "w"),
        ("ops-local/a", "r"),
    ] {
        expect(&node, &transient, path, action, false);
    }
    let transient_dev =
        token_of(&node.admin_token(&[("username", "ghost"), ("scope", "member-of-groups:dev")]));
    expect(&node, &transient_dev, "libs-local/a", "r", true);
    expect(&node, &transient_dev, "bob-local/a", "w", false);
}

#[test]
fn artifact_scopes_and_admin_tokens() {
    let node = TestNode::start();
    let admin = Admin::new(&node);
    admin.group("CI");
    admin.create(&group_perm("ci-perm", "generic-local", "CI", &["READ"]));

    // An artifact: scope grants exactly its paths and actions, whatever the permissions say.
    let scoped = token_of(&node.admin_token(&[("scope", "artifact:generic-local/docs/**:r,a")]));
    for action in ["r", "a"] {
        let body = expect(
            &node,
            &scoped,
            "generic-local/docs/guide/intro.md",
            action,
            true,
        );
        assert_eq!(
            body["granted_by"], "scope 'artifact:generic-local/docs/**:r,a'",
            "{body}"
        );
    }
    expect(
        &node,
        &scoped,
        "generic-local/docs/guide/intro.md",
        "w",
        false,
    );
    expect(&node, &scoped, "generic-local/src/main.rs", "r", false);
    expect(&node, &scoped, "other-local/docs/x", "r", false);

    // Admin: everything, every repo, every action, by admin scope, admin password or an admin
    // user's own token.
    let admin_token = token_of(&node.admin_token(&[("scope", "applied-permissions/admin")]));
    let admin_user = token_of(&node.admin_token(&[]));
    for token in [&admin_token, &admin_user] {
        for (path, action) in [
            ("generic-local/a", "r"),
            ("anything-remote/deep/x.tgz", "d"),
            ("whatever-local/x", "m"),
            ("whatever-local/x", "manage"),
        ] {
            let body = expect(&node, token, path, action, true);
            assert_eq!(body["granted_by"], "admin", "{body}");
        }
    }
    let body = check_with(node.admin(node.get(CHECK)), "nope-local/x", "m");
    assert_eq!(body["allowed"], true, "{body}");
    assert_eq!(body["granted_by"], "admin", "{body}");

    // The check needs a caller.
    let (status, body) = json_of(
        node.get(CHECK)
            .query(&[("path", "generic-local/a"), ("action", "r")])
            .send()
            .unwrap(),
    );
    assert_eq!(status, 401, "{body}");
}

#[test]
fn exclude_patterns_win_within_a_target_and_any_keys_match_repos() {
    let node = TestNode::start();
    let admin = Admin::new(&node);
    for g in ["g", "any", "locals", "remotes"] {
        admin.group(g);
    }
    admin.create(&json!({"name": "inc-exc", "resources": {"artifact": {
        "actions": {"groups": {"g": ["READ"]}},
        "targets": {
            "generic-local": {"include_patterns": ["**"], "exclude_patterns": ["secret/**", "**/*.key"]},
            "narrow-local": {"include_patterns": ["org/**"]},
        },
    }}}));
    let g =
        token_of(&node.admin_token(&[("username", "jenkins"), ("scope", "member-of-groups:g")]));
    expect(&node, &g, "generic-local/pub/a.txt", "r", true);
    expect(&node, &g, "generic-local/secret/a.txt", "r", false);
    expect(&node, &g, "generic-local/secret/deeper/b.txt", "r", false);
    expect(&node, &g, "generic-local/pub/id.key", "r", false);
    expect(&node, &g, "narrow-local/org/a.jar", "r", true);
    expect(&node, &g, "narrow-local/com/a.jar", "r", false);
    // Other spellings of an excluded path do not get round the exclude: denied or 400.
    for path in [
        "generic-local//secret/a.txt",
        "/generic-local/secret/a.txt",
        "generic-local/./secret/a.txt",
        "generic-local/pub/../secret/a.txt",
        "generic-local/pub/../../generic-local/secret/a.txt",
    ] {
        let (status, body) = json_of(
            node.get(CHECK)
                .query(&[("path", path), ("action", "r")])
                .bearer_auth(&g)
                .send()
                .unwrap(),
        );
        assert!(
            status == 400 || (status == 200 && body["allowed"] == false),
            "{path}: {status} {body}"
        );
    }
    // Exclusion is per target: another permission including secret/** grants it.
    admin.create(&json!({"name": "secret-read", "resources": {"artifact": {
        "actions": {"groups": {"g": ["READ"]}},
        "targets": {"generic-local": {"include_patterns": ["secret/**"]}},
    }}}));
    let body = expect(&node, &g, "generic-local/secret/a.txt", "r", true);
    assert_eq!(
        body["granted_by"], "permission 'secret-read' via group 'g'",
        "{body}"
    );
    expect(&node, &g, "generic-local/pub/id.key", "r", false);

    // ANY, ANY LOCAL, ANY REMOTE (remote = names ending -remote or -cache).
    admin.create(&group_perm("any-read", "ANY", "any", &["READ"]));
    admin.create(&group_perm(
        "local-write",
        "ANY LOCAL",
        "locals",
        &["WRITE"],
    ));
    admin.create(&json!({"name": "remote-delete", "resources": {"artifact": {
        "actions": {"groups": {"remotes": ["DELETE"]}},
        "targets": {"ANY REMOTE": {"include_patterns": ["**"], "exclude_patterns": ["private/**"]}},
    }}}));
    let tok = |group: &str| {
        token_of(&node.admin_token(&[
            ("username", "jenkins"),
            ("scope", &format!("member-of-groups:{group}")),
        ]))
    };
    let (any, locals, remotes) = (tok("any"), tok("locals"), tok("remotes"));
    for repo in ["libs-local", "npm-remote", "maven-cache", "plain"] {
        let body = expect(&node, &any, &format!("{repo}/a/b"), "r", true);
        assert_eq!(
            body["granted_by"], "permission 'any-read' via group 'any'",
            "{body}"
        );
        expect(&node, &any, &format!("{repo}/a/b"), "w", false);
    }
    for (repo, local) in [
        ("libs-local", true),
        ("plain", true),
        ("remote-things", true),
        ("npm-remote", false),
        ("maven-cache", false),
    ] {
        expect(&node, &locals, &format!("{repo}/x"), "w", local);
        expect(&node, &remotes, &format!("{repo}/x"), "d", !local);
    }
    expect(&node, &remotes, "npm-remote/private/x", "d", false);
    expect(&node, &remotes, "npm-remote/x", "r", false);

    // Both forms name the special keys the same way.
    let art = admin.art_permission("local-write");
    assert_eq!(art["repo"]["repositories"], json!(["ANY LOCAL"]), "{art}");
    let (status, body) = admin.put(
        &format!("{ART}/art-any-remote"),
        &json!({"name": "art-any-remote", "repo": {
            "repositories": ["ANY REMOTE"],
            "actions": {"groups": {"locals": ["annotate"]}},
        }}),
    );
    assert_eq!(status, 201, "{body}");
    expect(&node, &locals, "npm-remote/x", "a", true);
    expect(&node, &locals, "libs-local/x", "a", false);
}

/// Matching many `**` against a long path must not take exponential time: the path is the
/// caller's, so a slow match is a denial of service by any authenticated caller.
#[test]
fn the_check_stays_fast_with_many_double_stars_and_a_long_path() {
    let node = TestNode::start();
    let admin = Admin::new(&node);
    admin.group("g");
    let deep = "**/**/**/**/**/**/**/**/z";
    let (status, body) = admin.post(
        V2,
        &json!({"name": "deep", "resources": {"artifact": {
            "actions": {"groups": {"g": ["READ"]}},
            "targets": {"generic-local": {"include_patterns": [deep]}},
        }}}),
    );
    if status == 400 {
        // Refusing such a pattern is fine too.
        return;
    }
    assert_eq!(status, 201, "{body}");
    let token =
        token_of(&node.admin_token(&[("username", "jenkins"), ("scope", "member-of-groups:g")]));
    let path = format!("generic-local/{}b", "a/".repeat(60));
    // The request timeout only keeps a hang from stalling the suite: speed is for the bench.
    let (status, body) = json_of(
        node.get(CHECK)
            .query(&[("path", path.as_str()), ("action", "r")])
            .bearer_auth(&token)
            .timeout(std::time::Duration::from_secs(10))
            .send()
            .expect("the check answers within 10 s"),
    );
    assert!(status == 200 || status == 400, "{status} {body}");
    assert!(!body["allowed"].as_bool().unwrap_or(false), "{body}");
    expect(
        &node,
        &token,
        &format!("generic-local/{}z", "a/".repeat(60)),
        "r",
        true,
    );
}
