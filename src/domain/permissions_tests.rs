use proptest::prelude::*;
use serde_json::json;

use super::*;
use crate::domain::permission_forms::{from_access, from_artifactory, to_access, to_artifactory};

/// Seed 002: group "CI" holds Delete/Overwrite, Deploy/Cache, Annotate and Read on a repo.
fn seed_002() -> PermissionTarget {
    from_access(
        &json!({"name": "ci-perm", "resources": {"artifact": {
            "actions": {"groups": {"CI": ["READ", "WRITE", "ANNOTATE", "DELETE"]}},
            "targets": {"generic-local": {"include_patterns": ["**"]}}}}}),
        None,
    )
    .unwrap()
}

fn caller<'a>(scope: Option<&'a Scope>, groups: Option<&'a [String]>) -> Caller<'a> {
    Caller {
        username: "jenkins",
        admin: false,
        scope,
        user_groups: groups,
    }
}

#[test]
fn seed_002_member_of_groups_acts_with_exactly_the_groups_rights() {
    let targets = [seed_002()];
    let scope = Scope::parse("member-of-groups:CI api:*").unwrap();
    let c = caller(Some(&scope), None);
    for a in [
        Action::Read,
        Action::Write,
        Action::Delete,
        Action::Annotate,
    ] {
        let d = decide(&c, &targets, "generic-local/org/app/1.0/app.jar", a);
        assert!(d.allowed, "{a:?}: {d:?}");
        assert_eq!(
            d.granted_by.as_deref(),
            Some("permission 'ci-perm' via group 'CI'")
        );
    }
    assert!(!decide(&c, &targets, "generic-local/app.jar", Action::Manage).allowed);
    assert!(!decide(&c, &targets, "other-local/app.jar", Action::Read).allowed);
    // Without the group in its scope the same user gets nothing.
    let plain = Scope::parse("api:*").unwrap();
    assert!(
        !decide(
            &caller(Some(&plain), None),
            &targets,
            "generic-local/a",
            Action::Read
        )
        .allowed
    );
}

#[test]
fn user_scope_brings_the_users_own_and_its_groups_permissions() {
    let mut own = seed_002();
    own.name = "own".into();
    own.resources.get_mut("artifact").unwrap().actions = Holders {
        users: [("jenkins".to_string(), vec!["MANAGE".to_string()])].into(),
        groups: Default::default(),
    };
    let targets = [seed_002(), own];
    let groups = vec!["CI".to_string()];
    let user = Scope::parse("applied-permissions/user").unwrap();
    let c = caller(Some(&user), Some(&groups));
    assert!(decide(&c, &targets, "generic-local/x", Action::Manage).allowed);
    assert!(decide(&c, &targets, "generic-local/x", Action::Write).allowed);
    // A group-scoped token of the same user does not carry the user's own permissions.
    let g = Scope::parse("applied-permissions/groups:CI").unwrap();
    let c = caller(Some(&g), Some(&groups));
    assert!(!decide(&c, &targets, "generic-local/x", Action::Manage).allowed);
    assert!(decide(&c, &targets, "generic-local/x", Action::Read).allowed);
    // A password login (no scope) is the user itself.
    assert!(
        decide(
            &caller(None, Some(&groups)),
            &targets,
            "generic-local/x",
            Action::Manage
        )
        .allowed
    );
}

#[test]
fn excludes_win_and_any_keys_follow_repository_kinds() {
    let t = from_access(
        &json!({"name": "p", "resources": {"artifact": {
            "actions": {"groups": {"g": ["READ"]}},
            "targets": {"ANY REMOTE": {"include_patterns": ["org/**"], "exclude_patterns": ["org/secret/**"]},
                        "ANY LOCAL": {"include_patterns": ["libs/*.jar"]}}}}}),
        None,
    )
    .unwrap();
    let s = Scope::parse("member-of-groups:g").unwrap();
    let c = caller(Some(&s), None);
    let allowed = |p: &str| decide(&c, std::slice::from_ref(&t), p, Action::Read).allowed;
    assert!(allowed("maven-remote/org/a/b.jar"));
    assert!(allowed("maven-remote-cache/org/a/b.jar"));
    assert!(!allowed("maven-remote/org/secret/key"));
    assert!(!allowed("maven-local/org/a/b.jar"));
    assert!(allowed("maven-local/libs/a.jar"));
    assert!(!allowed("maven-remote/libs/a.jar"));
    assert!(!allowed("maven-local/../x"));
}

#[test]
fn artifact_scopes_and_admin_name_what_granted() {
    let s = Scope::parse("artifact:docker-local/team/**:r").unwrap();
    let d = decide(
        &caller(Some(&s), None),
        &[],
        "docker-local/team/img",
        Action::Read,
    );
    assert_eq!(
        d.granted_by.as_deref(),
        Some("scope 'artifact:docker-local/team/**:r'")
    );
    assert!(
        !decide(
            &caller(Some(&s), None),
            &[],
            "docker-local/team/img",
            Action::Write
        )
        .allowed
    );
    let admin = Caller {
        admin: true,
        ..caller(None, None)
    };
    assert_eq!(
        decide(&admin, &[], "any/thing", Action::Manage)
            .granted_by
            .as_deref(),
        Some("admin")
    );
}

#[test]
fn both_forms_round_trip_and_bad_input_names_the_field() {
    let t = seed_002();
    assert_eq!(from_access(&to_access(&t), None).unwrap(), t);
    assert_eq!(from_artifactory(&to_artifactory(&t), "ci-perm").unwrap(), t);
    let art = to_artifactory(&t);
    assert_eq!(
        art["repo"]["actions"]["groups"]["CI"],
        json!(["read", "write", "annotate", "delete"])
    );
    let cases = [
        (
            json!({"name": "p", "resources": {"artifact": {"actions": {"groups": {"g": ["FLY"]}}}}}),
            "resources.artifact.actions.groups.g",
        ),
        (
            json!({"name": "p", "resources": {"pipelines": {}}}),
            "resources.pipelines",
        ),
        (
            json!({"name": "p", "resources": {"artifact": {"targets": {"r": {"include_patterns": ["a/../b"]}}}}}),
            "resources.artifact.targets.r.include_patterns",
        ),
        (
            json!({"name": "p", "resources": {"artifact": {"targets": {"r": {"include_patterns": [""]}}}}}),
            "resources.artifact.targets.r.include_patterns",
        ),
        (
            json!({"name": "bad name!", "resources": {"artifact": {}}}),
            "name",
        ),
        (json!({"name": "p"}), "resources"),
        (
            json!({"name": "p", "resources": {"artifact": {"actions": {"users": {"u": "READ"}}}}}),
            "resources.artifact.actions.users.u",
        ),
    ];
    for (body, field) in cases {
        assert_eq!(from_access(&body, None).unwrap_err().field, field, "{body}");
    }
}

fn arb_target() -> impl Strategy<Value = PermissionTarget> {
    let repo = prop::sample::select(vec![
        "a-local",
        "b-remote",
        "ANY",
        "ANY LOCAL",
        "ANY REMOTE",
    ]);
    let pat = prop::sample::select(vec!["**", "x/**", "x/*.jar", "y/**", "*"]);
    let action = prop::sample::select(vec!["READ", "WRITE", "DELETE", "MANAGE"]);
    let group = prop::sample::select(vec!["g1", "g2"]);
    (repo, pat, prop::option::of(pat_strategy()), group, prop::collection::vec(action, 1..3)).prop_map(
        |(repo, inc, exc, group, actions)| {
            from_access(
                &json!({"name": format!("t-{repo}-{inc}").replace([' ', '*', '/'], "_"), "resources": {"artifact": {
                    "actions": {"groups": {group: actions}},
                    "targets": {repo: {"include_patterns": [inc], "exclude_patterns": exc.into_iter().collect::<Vec<_>>()}}}}}),
                None,
            )
            .unwrap()
        },
    )
}

fn pat_strategy() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec!["x/secret/**", "**/*.tmp"])
}

fn arb_path() -> impl Strategy<Value = String> {
    let repo = prop::sample::select(vec!["a-local", "b-remote", "c-cache"]);
    let rest = prop::sample::select(vec![
        "x/a.jar",
        "x/secret/k",
        "y/z/a.tmp",
        "a.jar",
        "x/y/b.jar",
    ]);
    (repo, rest).prop_map(|(r, p)| format!("{r}/{p}"))
}

fn arb_action() -> impl Strategy<Value = Action> {
    prop::sample::select(vec![
        Action::Read,
        Action::Write,
        Action::Delete,
        Action::Manage,
    ])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    /// More targets never take a right away; without the group in the credential, a target
    /// that only names that group grants nothing; an excluded path is never granted by the
    /// target that excludes it.
    #[test]
    fn rights_are_monotonic_and_follow_groups(
        targets in prop::collection::vec(arb_target(), 0..5),
        extra in arb_target(),
        path in arb_path(),
        action in arb_action(),
    ) {
        let s = Scope::parse("member-of-groups:g1").unwrap();
        let c = caller(Some(&s), None);
        let before = decide(&c, &targets, &path, action).allowed;
        let mut more = targets.clone();
        more.push(extra.clone());
        prop_assert!(!before || decide(&c, &more, &path, action).allowed);
        let res = &extra.resources["artifact"];
        if !res.actions.groups.contains_key("g1") {
            prop_assert_eq!(decide(&c, std::slice::from_ref(&extra), &path, action).allowed, false);
        }
        let (repo, inner) = path.split_once('/').unwrap();
        let excluded = res.targets.values().all(|t| !t.covers(inner));
        let repo_hit = res.targets.keys().any(|k| repo_matches(k, repo));
        if excluded || !repo_hit {
            prop_assert_eq!(decide(&c, std::slice::from_ref(&extra), &path, action).allowed, false);
        }
        // Admin holds everything.
        let admin = Caller { admin: true, ..caller(None, None) };
        prop_assert!(decide(&admin, &targets, &path, action).allowed);
    }
}
