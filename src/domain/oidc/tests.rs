use proptest::prelude::*;
use serde_json::{json, Map, Value};

use super::*;

fn claims(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

fn mapping(name: &str, priority: u32, want: Value, spec: Value) -> IdentityMapping {
    serde_json::from_value(json!({
        "name": name, "provider_name": "github", "priority": priority,
        "claims": want, "token_spec": spec,
    }))
    .unwrap()
}

fn github() -> Map<String, Value> {
    claims(json!({
        "iss": "https://token.actions.githubusercontent.com",
        "sub": "repo:my-org/app:ref:refs/heads/main",
        "repository": "my-org/app",
        "repository_owner": "my-org",
        "actor": "octocat",
        "run_number": 17,
        "groups": ["dev", "ops"],
        "ref_protected": true,
    }))
}

#[test]
fn claims_match_exactly_by_wildcard_and_as_lists() {
    let c = github();
    for want in [
        json!({"repository": "my-org/app"}),
        json!({"sub": "repo:my-org/*"}),
        json!({"sub": "repo:*:ref:refs/heads/main"}),
        json!({"sub": "*main"}),
        json!({"repository": ["other/x", "my-org/app"]}),
        json!({"groups": "ops"}),
        json!({"groups": ["qa", "dev"]}),
        json!({"run_number": 17}),
        json!({"run_number": "1*"}),
        json!({"ref_protected": true}),
        json!({"repository_owner": "my-org", "actor": "octo*"}),
    ] {
        assert!(claims_match(want.as_object().unwrap(), &c), "{want}");
    }
    for want in [
        json!({"repository": "my-org/ap"}),
        json!({"repository": "my-org/app2"}),
        json!({"sub": "repo:other/*"}),
        json!({"missing": "*"}),
        json!({"groups": "admins"}),
        json!({"run_number": 18}),
        json!({"ref_protected": false}),
        json!({"repository_owner": "my-org", "actor": "someone"}),
    ] {
        assert!(!claims_match(want.as_object().unwrap(), &c), "{want}");
    }
}

#[test]
fn the_lowest_priority_among_matching_mappings_wins() {
    let spec = json!({"username": "ci"});
    let all = vec![
        mapping(
            "broad",
            5,
            json!({"repository_owner": "my-org"}),
            spec.clone(),
        ),
        mapping(
            "exact",
            1,
            json!({"repository": "my-org/app"}),
            spec.clone(),
        ),
        mapping("other", 0, json!({"repository": "other/app"}), spec.clone()),
    ];
    assert_eq!(select_mapping(&all, &github()).unwrap().name, "exact");
    let none = claims(json!({"repository": "x/y", "repository_owner": "x"}));
    assert!(select_mapping(&all, &none).is_none());
}

#[test]
fn patterns_take_claim_values_that_can_be_names_and_nothing_else() {
    let c = github();
    assert_eq!(fill_pattern("gh-{{actor}}", &c).unwrap(), "gh-octocat");
    assert_eq!(
        fill_pattern("{{ repository_owner }}-ci-{{run_number}}", &c).unwrap(),
        "my-org-ci-17"
    );
    assert_eq!(
        fill_pattern("{{nope}}", &c),
        Err(PatternError::MissingClaim("nope".into()))
    );
    // `/`, `,` and spaces never pass: a claim cannot name a second group or a path.
    assert_eq!(
        fill_pattern("{{repository}}", &c),
        Err(PatternError::UnusableClaim("repository".into()))
    );
    let sneaky = claims(json!({"team": "dev,admins", "org": "a b", "list": ["x"]}));
    for p in ["{{team}}", "{{org}}", "{{list}}"] {
        assert!(fill_pattern(p, &sneaky).is_err(), "{p}");
    }
}

#[test]
fn grants_follow_the_token_spec() {
    let c = github();
    let m = mapping(
        "m",
        0,
        json!({"repository": "my-org/*"}),
        json!({"username_pattern": "gh-{{actor}}", "expires_in": 600}),
    );
    let g = grant("github", &m, &c).unwrap();
    assert_eq!(g.username, "gh-octocat");
    assert!(g.from_claims);
    assert_eq!(g.scope, DEFAULT_EXCHANGE_SCOPE);
    assert_eq!(g.expires_in, 600);
    assert!(
        !g.refreshable,
        "never refreshable unless the mapping says so"
    );
    let groups = mapping(
        "g",
        0,
        json!({"repository": "my-org/*"}),
        json!({"groups_pattern": "{{repository_owner}}-ci, readers"}),
    );
    let g = grant("github", &groups, &c).unwrap();
    assert_eq!(g.username, "oidc-github");
    assert!(!g.from_claims);
    assert_eq!(g.scope, "applied-permissions/groups:my-org-ci,readers");
    assert_eq!(g.expires_in, DEFAULT_EXCHANGE_EXPIRY_SECS);
}

#[test]
fn records_are_checked_field_by_field() {
    let provider = |name: &str, url: &str, aud: &str| OidcProvider {
        name: name.into(),
        issuer_url: url.into(),
        provider_type: ProviderType::GitHub,
        audience: aud.into(),
        description: String::new(),
        use_default_proxy: false,
    };
    assert!(provider(
        "github",
        "https://token.actions.githubusercontent.com/",
        "jfrog-github"
    )
    .check()
    .is_ok());
    let field = |p: OidcProvider| p.check().unwrap_err().field;
    assert_eq!(field(provider("GitHub", "https://x", "a")), "name");
    assert_eq!(field(provider("g", "https://x", "a")), "name");
    assert_eq!(field(provider("token", "https://x", "a")), "name");
    assert_eq!(field(provider("gh", "ftp://x", "a")), "issuer_url");
    assert_eq!(field(provider("gh", "https://", "a")), "issuer_url");
    assert_eq!(field(provider("gh", "https://u:p@x", "a")), "issuer_url");
    assert_eq!(field(provider("gh", "https://x?a=b", "a")), "issuer_url");
    assert_eq!(field(provider("gh", "https://x", "")), "audience");
    assert!(is_loopback_issuer("http://127.0.0.1:8080/issuer"));
    assert!(is_loopback_issuer("http://localhost/"));
    assert!(is_loopback_issuer("http://[::1]:99"));
    assert!(!is_loopback_issuer("http://127.0.0.1.evil.example/"));
    assert!(!is_loopback_issuer("http://example.com/127.0.0.1"));
    assert_eq!(issuer_key("https://x/y//"), "https://x/y");

    let spec = |s: Value| mapping("main", 0, json!({"sub": "*"}), s).check();
    assert!(spec(json!({"username": "ci"})).is_ok());
    assert_eq!(spec(json!({})).unwrap_err().field, "token_spec");
    assert_eq!(
        spec(json!({"username": "a", "username_pattern": "{{b}}"}))
            .unwrap_err()
            .field,
        "token_spec"
    );
    assert_eq!(
        spec(json!({"username_pattern": "{{b"})).unwrap_err().field,
        "token_spec.username_pattern"
    );
    assert_eq!(
        spec(json!({"username": "ci", "expires_in": MAX_EXCHANGE_EXPIRY_SECS + 1}))
            .unwrap_err()
            .field,
        "token_spec.expires_in"
    );
    let no_claims = mapping("main", 0, json!({}), json!({"username": "ci"}));
    assert_eq!(no_claims.check().unwrap_err().field, "claims");
}

proptest! {
    /// A pattern without `*` matches only itself; `*` matches everything; a prefix, suffix
    /// or infix glob matches exactly the strings that contain those parts in that order.
    #[test]
    fn globs_agree_with_plain_string_tests(a in "[a-z/:]{0,6}", b in "[a-z/:]{0,6}", s in "[a-z/:]{0,12}") {
        prop_assert_eq!(glob_match(&s, &s), true);
        prop_assert_eq!(glob_match(&a, &s), a == s);
        prop_assert!(glob_match("*", &s));
        prop_assert_eq!(glob_match(&format!("{a}*"), &s), s.starts_with(&a));
        prop_assert_eq!(glob_match(&format!("*{a}"), &s), s.ends_with(&a));
        prop_assert_eq!(
            glob_match(&format!("{a}*{b}"), &s),
            s.len() >= a.len() + b.len() && s.starts_with(&a) && s.ends_with(&b)
        );
    }

    /// The chosen mapping does not depend on the order mappings are stored or listed in.
    #[test]
    fn the_choice_does_not_depend_on_order(
        prios in proptest::collection::vec(0u32..4, 1..6),
        owners in proptest::collection::vec(prop_oneof![Just("my-org"), Just("other"), Just("*")], 1..6),
        rotate in 0usize..6,
    ) {
        let all: Vec<IdentityMapping> = prios
            .iter()
            .zip(owners.iter().cycle())
            .enumerate()
            .map(|(i, (p, o))| {
                mapping(&format!("m{i}"), *p, json!({"repository_owner": o}), json!({"username": "ci"}))
            })
            .collect();
        let mut turned = all.clone();
        turned.rotate_left(rotate % all.len());
        turned.reverse();
        let c = github();
        prop_assert_eq!(
            select_mapping(&all, &c).map(|m| m.name.clone()),
            select_mapping(&turned, &c).map(|m| m.name.clone())
        );
    }
}

#[test]
fn federated_records_are_checked_as_ours_and_need_https() {
    use crate::domain::federation::OidcState;
    let provider = |url: &str| OidcProvider {
        name: "github".into(),
        issuer_url: url.into(),
        provider_type: ProviderType::GitHub,
        audience: "aud".into(),
        description: String::new(),
        use_default_proxy: false,
    };
    let state = |url: &str, mappings: Vec<IdentityMapping>| OidcState {
        stamp: None,
        provider: Some(provider(url)),
        mappings,
    };
    let good = mapping("main", 0, json!({"sub": "*"}), json!({"username": "ci"}));
    assert!(state("https://x.example", vec![good.clone()])
        .check("github")
        .is_ok());
    assert!(state("http://127.0.0.1:9", vec![]).check("github").is_ok());
    let field = |s: OidcState, name: &str| s.check(name).unwrap_err().field;
    assert_eq!(
        field(state("http://x.example", vec![]), "github"),
        "issuer_url"
    );
    assert_eq!(field(state("https://x.example", vec![]), "other"), "name");
    let mut elsewhere = good.clone();
    elsewhere.provider_name = "other".into();
    assert_eq!(
        field(state("https://x.example", vec![elsewhere]), "github"),
        "provider_name"
    );
    let mut bad_scope = good.clone();
    bad_scope.token_spec.scope = "nonsense".into();
    assert_eq!(
        field(state("https://x.example", vec![bad_scope]), "github"),
        "token_spec.scope"
    );
    let mut bad_name = good;
    bad_name.name = "Bad".into();
    assert_eq!(
        field(state("https://x.example", vec![bad_name]), "github"),
        "name"
    );
    let deleted = OidcState {
        stamp: None,
        provider: None,
        mappings: vec![],
    };
    assert!(deleted.check("github").is_ok());
}
