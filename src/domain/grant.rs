//! Scope containment: what a token minted with another token's credentials may carry.
//! A derived token holds at most the rights of the token that asked for it.

use super::scope::{Scope, ScopeItem};

/// The first requested item that the held rights do not cover.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is more than the calling token carries")]
pub struct NotWithin(pub String);

/// Whether every right `requested` grants is also granted by `held`, whose holder acts with
/// `held_groups` (the groups its scope names, plus its user's groups when the scope applies
/// the user's permissions). An admin scope holds everything; otherwise:
/// - `applied-permissions/admin` only from admin;
/// - `applied-permissions/user` only from a scope that has it;
/// - groups only among `held_groups` (`*` only from `*`);
/// - `api:*` from `api:*` or `applied-permissions/user`;
/// - system and artifact items only inside a held item with at least their actions
///   (artifact paths by glob containment).
pub fn within(requested: &Scope, held: &Scope, held_groups: &[String]) -> Result<(), NotWithin> {
    if held.is_admin() {
        return Ok(());
    }
    let has_group = |g: &str| held_groups.iter().any(|h| h == "*" || h == g);
    for item in requested.items() {
        let ok = match item {
            ScopeItem::AppliedAdmin => false,
            ScopeItem::AppliedUser => held.applies_user(),
            ScopeItem::AppliedGroups(gs) | ScopeItem::MemberOfGroups(gs) => {
                gs.iter().all(|g| has_group(g))
            }
            ScopeItem::Api => held
                .items()
                .iter()
                .any(|h| matches!(h, ScopeItem::Api | ScopeItem::AppliedUser)),
            ScopeItem::System { name, actions } => held.items().iter().any(|h| {
                matches!(h, ScopeItem::System { name: n, actions: a } if n == name && actions.within(*a))
            }),
            ScopeItem::Artifact { pattern, actions } => held.items().iter().any(|h| {
                matches!(h, ScopeItem::Artifact { pattern: p, actions: a }
                    if actions.within(*a) && pattern_within(pattern, p))
            }),
        };
        if !ok {
            return Err(NotWithin(item.to_string()));
        }
    }
    Ok(())
}

/// Whether every path matched by the glob `inner` is matched by the glob `outer` (segments
/// split on `/`; `**` any number of segments, `*` and `?` within one). Sound: a `true` is
/// always right; a rare contained pair may be answered `false`, which only refuses a mint.
pub fn pattern_within(inner: &str, outer: &str) -> bool {
    let i: Vec<&str> = inner.split('/').filter(|s| !s.is_empty()).collect();
    let o: Vec<&str> = outer.split('/').filter(|s| !s.is_empty()).collect();
    // contains[a][b]: o[a..] covers i[b..]. Filled from the ends.
    let mut covers = vec![vec![false; i.len() + 1]; o.len() + 1];
    covers[o.len()][i.len()] = true;
    for a in (0..o.len()).rev() {
        for b in (0..=i.len()).rev() {
            covers[a][b] = if o[a] == "**" {
                // `**` matches nothing more, or swallows the next inner segment (even a `**`).
                covers[a + 1][b] || (b < i.len() && covers[a][b + 1])
            } else {
                b < i.len() && i[b] != "**" && segment_within(i[b], o[a]) && covers[a + 1][b + 1]
            };
        }
    }
    covers[0][0]
}

/// Whether every segment matched by the wildcard pattern `inner` is matched by `outer`
/// (`*` any run of characters, `?` exactly one).
fn segment_within(inner: &str, outer: &str) -> bool {
    let i: Vec<char> = inner.chars().collect();
    let o: Vec<char> = outer.chars().collect();
    let mut covers = vec![vec![false; i.len() + 1]; o.len() + 1];
    covers[o.len()][i.len()] = true;
    for a in (0..o.len()).rev() {
        for b in (0..=i.len()).rev() {
            covers[a][b] = match o[a] {
                '*' => covers[a + 1][b] || (b < i.len() && covers[a][b + 1]),
                '?' => b < i.len() && i[b] != '*' && covers[a + 1][b + 1],
                c => b < i.len() && i[b] == c && covers[a + 1][b + 1],
            };
        }
    }
    covers[0][0]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::scope::Action;
    use proptest::prelude::*;

    fn s(text: &str) -> Scope {
        Scope::parse(text).unwrap()
    }

    fn groups(g: &[&str]) -> Vec<String> {
        g.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn examples() {
        let held = s("member-of-groups:dev artifact:repo/a/**:r,w system:logs:r");
        let hg = groups(&["dev"]);
        assert_eq!(within(&s("member-of-groups:dev"), &held, &hg), Ok(()));
        assert_eq!(within(&s("artifact:repo/a/b/*.jar:r"), &held, &hg), Ok(()));
        assert_eq!(within(&s("system:logs:r"), &held, &hg), Ok(()));
        for bad in [
            "applied-permissions/user",
            "applied-permissions/admin",
            "member-of-groups:ops",
            "member-of-groups:*",
            "artifact:repo/**:r",
            "artifact:repo/a/**:d",
            "system:logs:w",
            "api:*",
        ] {
            assert!(within(&s(bad), &held, &hg).is_err(), "{bad}");
        }
        let admin = s("applied-permissions/admin");
        assert_eq!(within(&s("applied-permissions/admin"), &admin, &[]), Ok(()));
        let user = s("applied-permissions/user");
        assert_eq!(
            within(&s("applied-permissions/user api:*"), &user, &[]),
            Ok(())
        );
        assert!(within(&s("applied-permissions/admin"), &user, &[]).is_err());
    }

    #[test]
    fn glob_containment_examples() {
        assert!(pattern_within("r/a/**", "r/**"));
        assert!(pattern_within("r/**", "r/**"));
        assert!(pattern_within("r/a/x.jar", "r/*/*.jar"));
        assert!(pattern_within("r/a?", "r/a*"));
        assert!(!pattern_within("r/**", "r/a/**"));
        assert!(!pattern_within("r/*", "r/?"));
        assert!(!pattern_within("r/a*", "r/a?"));
        assert!(!pattern_within("r/**/x", "r/*/x"));
        assert!(!pattern_within("r2/**", "r/**"));
    }

    // Random scopes over a small alphabet, so containment and matching meet often.
    fn segment() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("a".to_string()),
            Just("b".to_string()),
            Just("ab".to_string()),
            Just("*".to_string()),
            Just("a*".to_string()),
            Just("?".to_string()),
            Just("**".to_string()),
        ]
    }

    fn actions() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("r".to_string()),
            Just("w".to_string()),
            Just("r,w".to_string()),
            Just("*".to_string()),
            Just("r,d".to_string()),
        ]
    }

    fn item() -> impl Strategy<Value = String> {
        prop_oneof![
            3 => (
                prop_oneof![Just("r1"), Just("r2")],
                prop::collection::vec(segment(), 0..4),
                actions()
            )
                .prop_map(|(repo, segs, acts)| {
                    let mut p = repo.to_string();
                    for s in segs {
                        p.push('/');
                        p.push_str(&s);
                    }
                    format!("artifact:{p}:{acts}")
                }),
            1 => prop_oneof![Just("g1"), Just("g2"), Just("*")]
                .prop_map(|g| format!("member-of-groups:{g}")),
            1 => prop_oneof![Just("g1"), Just("g2")]
                .prop_map(|g| format!("applied-permissions/groups:{g}")),
            1 => (prop_oneof![Just("logs"), Just("metrics")], actions())
                .prop_map(|(n, a)| format!("system:{n}:{a}")),
            1 => Just("applied-permissions/user".to_string()),
            1 => Just("api:*".to_string()),
        ]
    }

    fn scope() -> impl Strategy<Value = Scope> {
        prop::collection::vec(item(), 1..4).prop_map(|items| s(&items.join(" ")))
    }

    fn path() -> impl Strategy<Value = String> {
        (
            prop_oneof![Just("r1"), Just("r2")],
            prop::collection::vec(
                prop_oneof![Just("a"), Just("b"), Just("ab"), Just("ba")],
                0..5,
            ),
        )
            .prop_map(|(repo, segs)| {
                let mut p = repo.to_string();
                for s in segs {
                    p.push('/');
                    p.push_str(s);
                }
                p
            })
    }

    fn action() -> impl Strategy<Value = Action> {
        prop_oneof![
            Just(Action::Read),
            Just(Action::Write),
            Just(Action::Delete)
        ]
    }

    fn own_groups(scope: &Scope) -> Vec<String> {
        scope.groups().into_iter().map(String::from).collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Whatever passes containment grants no path, action or group the holder lacks.
        #[test]
        fn contained_scopes_grant_nothing_more(
            requested in scope(),
            held in scope(),
            paths in prop::collection::vec((path(), action()), 20),
        ) {
            let hg = own_groups(&held);
            if within(&requested, &held, &hg).is_ok() {
                for (p, a) in &paths {
                    prop_assert!(!requested.allows(p, *a) || held.allows(p, *a),
                        "{requested} allows {a:?} {p} but {held} does not");
                }
                for g in requested.groups() {
                    prop_assert!(hg.iter().any(|h| h == "*" || h == g));
                }
                prop_assert!(!requested.applies_user() || held.applies_user());
                prop_assert!(!requested.is_admin() || held.is_admin());
            }
        }

        /// Every scope is within itself, and within an admin scope.
        #[test]
        fn reflexive_and_admin_holds_all(scope in scope()) {
            prop_assert_eq!(within(&scope, &scope, &own_groups(&scope)), Ok(()));
            prop_assert_eq!(within(&scope, &s("applied-permissions/admin"), &[]), Ok(()));
        }

        /// Containment is transitive: delegating twice never gains rights.
        #[test]
        fn transitive(a in scope(), b in scope(), c in scope(),
                      paths in prop::collection::vec((path(), action()), 20)) {
            if within(&a, &b, &own_groups(&b)).is_ok() && within(&b, &c, &own_groups(&c)).is_ok() {
                for (p, act) in &paths {
                    prop_assert!(!a.allows(p, *act) || c.allows(p, *act));
                }
            }
        }

        /// Glob containment agrees with matching on concrete paths.
        #[test]
        fn pattern_containment_is_sound(
            inner in prop::collection::vec(segment(), 0..4),
            outer in prop::collection::vec(segment(), 0..4),
            concrete in prop::collection::vec(prop_oneof![Just("a"), Just("b"), Just("ab"), Just("ba"), Just("")], 0..5),
        ) {
            let inner = format!("r/{}", inner.join("/"));
            let outer = format!("r/{}", outer.join("/"));
            let path = format!("r/{}", concrete.join("/"));
            if pattern_within(&inner, &outer) && crate::domain::path_pattern::path_matches(&inner, &path) {
                prop_assert!(crate::domain::path_pattern::path_matches(&outer, &path),
                    "{inner} within {outer} but {path} escapes");
            }
        }
    }
}
