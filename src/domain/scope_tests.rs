use super::*;
use crate::domain::path_pattern::path_matches;

/// Many `**` against a long path: a recursive search would take longer than the universe.
#[test]
fn double_stars_match_in_polynomial_time() {
    let pattern = "**/**/**/**/**/**/**/**/**/**/**/**/z";
    let long = format!("{}b", "a/".repeat(300));
    assert!(!path_matches(pattern, &long));
    assert!(path_matches(pattern, &format!("{}z", "a/".repeat(300))));
    assert!(path_matches("**", ""));
    assert!(path_matches("a/**/b/**", "a/b"));
    assert!(!path_matches("a/**/b/*", "a/b"));
}

#[test]
fn parses_every_documented_form() {
    let s = Scope::parse(
        "applied-permissions/user applied-permissions/groups:readers,ci member-of-groups:CI api:* \
         system:livelogs:r artifact:example-repo-local/test1/com/**:r,w",
    )
    .unwrap();
    assert_eq!(s.items().len(), 6);
    assert_eq!(s.groups(), vec!["readers", "ci", "CI"]);
    assert!(!s.is_admin());
    assert!(Scope::parse("applied-permissions/admin")
        .unwrap()
        .is_admin());
}

#[test]
fn canonical_display_round_trips() {
    let text = "member-of-groups:CI api:* artifact:repo/a/**:*";
    assert_eq!(Scope::parse(text).unwrap().to_string(), text);
    assert_eq!(
        Scope::parse("  api:*   applied-permissions/user ")
            .unwrap()
            .to_string(),
        "api:* applied-permissions/user"
    );
}

#[test]
fn rejects_bad_scopes() {
    assert_eq!(Scope::parse(""), Err(ScopeError::Empty));
    assert!(matches!(
        Scope::parse("bogus:scope"),
        Err(ScopeError::Unknown(_))
    ));
    assert!(matches!(
        Scope::parse("applied-permissions/root"),
        Err(ScopeError::Unknown(_))
    ));
    assert!(matches!(
        Scope::parse("member-of-groups:"),
        Err(ScopeError::NoGroups(_))
    ));
    assert!(matches!(
        Scope::parse("member-of-groups:a;b"),
        Err(ScopeError::BadGroupName(_))
    ));
    assert!(matches!(
        Scope::parse("artifact:repo/x/**:q"),
        Err(ScopeError::BadAction { .. })
    ));
    assert!(matches!(
        Scope::parse("artifact:repo/x/**:rq"),
        Err(ScopeError::BadAction { .. })
    ));
    assert!(matches!(
        Scope::parse("artifact:repo/x/**:r,,w"),
        Err(ScopeError::BadAction { .. })
    ));
    // Letters run together name the same actions (`system:scim:rw`).
    assert_eq!(
        Scope::parse("system:scim:rw").unwrap().to_string(),
        "system:scim:r,w"
    );
    assert!(matches!(
        Scope::parse("artifact:repo/x"),
        Err(ScopeError::Unknown(_))
    ));
    assert!(matches!(
        Scope::parse("artifact:repo/../x:r"),
        Err(ScopeError::BadPath(_))
    ));
    assert!(matches!(
        Scope::parse("system:livelogs"),
        Err(ScopeError::Unknown(_))
    ));
    assert_eq!(
        Scope::parse(&"api:* ".repeat(120)),
        Err(ScopeError::TooLong)
    );
}

#[test]
fn seed_003_path_scope() {
    let s = Scope::parse("artifact:example-repo-local/test1/com/**:r").unwrap();
    assert!(s.allows("example-repo-local/test1/com/test6.zip", Action::Read));
    assert!(s.allows("example-repo-local/test1/com/a/b/c.jar", Action::Read));
    assert!(!s.allows("example-repo-local/test1/comm/x", Action::Read));
    assert!(!s.allows("example-repo-local/test1/com/test6.zip", Action::Write));
    assert!(!s.allows("other-repo/test1/com/test6.zip", Action::Read));
    assert!(!s.allows("example-repo-local/test1/com/../comm/x", Action::Read));
}

#[test]
fn multiple_repos_and_actions() {
    let s = Scope::parse("artifact:r1/p/**:r,w artifact:r2/**:*").unwrap();
    assert!(s.allows("r1/p/x", Action::Write));
    assert!(!s.allows("r1/p/x", Action::Delete));
    assert!(s.allows("r2/anything/deep", Action::Delete));
    assert!(!s.allows("r3/x", Action::Read));
}

#[test]
fn glob_semantics() {
    assert!(path_matches("repo/**", "repo"));
    assert!(path_matches("repo/**/x.jar", "repo/a/b/x.jar"));
    assert!(path_matches("repo/**/x.jar", "repo/x.jar"));
    assert!(path_matches("repo/*.zip", "repo/a.zip"));
    assert!(!path_matches("repo/*.zip", "repo/d/a.zip"));
    assert!(path_matches("repo/a?c", "repo/abc"));
    assert!(!path_matches("repo/a", "repo/a/b"));
}

#[test]
fn admin_allows_everything_and_actions_display() {
    let s = Scope::parse("applied-permissions/admin").unwrap();
    assert!(s.allows("any/where", Action::Manage));
    assert_eq!(Actions::parse("x", "r,w,d").unwrap().to_string(), "r,w,d");
    assert_eq!(Actions::parse("x", "*").unwrap().to_string(), "*");
    assert_eq!(Action::parse("deploy"), Some(Action::Write));
}
