//! Docker Registry v2 token authentication, the pure part: the `scope` parameter's grammar
//! (`repository:<name>:pull,push`), the registry actions and the rights they need, and the
//! token's `access` claim.

use serde::Serialize;

use super::scope::Action;

/// Most scopes one request may name (each costs a permission check per action).
pub const MAX_SCOPES: usize = 64;

/// One requested (or granted) resource: `type`, `name` and actions, as the `access` claim
/// carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResourceAccess {
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    pub actions: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid scope '{scope}': {reason}")]
pub struct RegistryScopeError {
    pub scope: String,
    pub reason: &'static str,
}

/// Parse `scope` parameters: each `<type>:<name>:<actions>`, several per parameter when
/// separated by spaces (the OAuth2 form). A type may carry a class, `repository(plugin)`,
/// which is dropped. The name may itself hold colons (`host:port/name`): the type ends at the
/// first colon, the actions start after the last.
pub fn parse_scopes<'a>(
    params: impl IntoIterator<Item = &'a str>,
) -> Result<Vec<ResourceAccess>, RegistryScopeError> {
    let mut out = Vec::new();
    for one in params.into_iter().flat_map(str::split_whitespace) {
        let bad = |reason| RegistryScopeError {
            scope: one.chars().take(200).collect(),
            reason,
        };
        let (kind, rest) = one.split_once(':').ok_or_else(|| bad("no type"))?;
        let (name, actions) = rest.rsplit_once(':').ok_or_else(|| bad("no actions"))?;
        let kind = kind.split_once('(').map_or(kind, |(k, _)| k);
        if kind.is_empty() || name.is_empty() {
            return Err(bad("empty type or name"));
        }
        if name.len() > 512
            || name
                .split('/')
                .any(|s| s.is_empty() || s == "." || s == "..")
        {
            return Err(bad("malformed name"));
        }
        let actions: Vec<String> = actions
            .split(',')
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(String::from)
            .collect();
        out.push(ResourceAccess {
            kind: kind.to_string(),
            name: name.to_string(),
            actions,
        });
        if out.len() > MAX_SCOPES {
            return Err(bad("too many scopes"));
        }
    }
    Ok(out)
}

/// The right a registry action on a repository needs: pull reads, push writes, delete
/// deletes. Other actions (`*` included) are granted to admins only.
pub fn repository_action(action: &str) -> Option<Action> {
    match action {
        "pull" => Some(Action::Read),
        "push" => Some(Action::Write),
        "delete" => Some(Action::Delete),
        _ => None,
    }
}

/// Merge entries naming the same resource, keeping the first order seen and dropping
/// duplicate actions and entries left with none.
pub fn merge(entries: Vec<ResourceAccess>) -> Vec<ResourceAccess> {
    let mut out: Vec<ResourceAccess> = Vec::new();
    for e in entries {
        match out
            .iter_mut()
            .find(|o| o.kind == e.kind && o.name == e.name)
        {
            Some(o) => {
                for a in e.actions {
                    if !o.actions.contains(&a) {
                        o.actions.push(a);
                    }
                }
            }
            None => {
                let mut actions = Vec::new();
                for a in e.actions {
                    if !actions.contains(&a) {
                        actions.push(a);
                    }
                }
                out.push(ResourceAccess { actions, ..e });
            }
        }
    }
    out.retain(|e| !e.actions.is_empty());
    out
}

/// RFC 3339 in UTC (`2024-01-02T03:04:05Z`) of a Unix time in seconds.
pub fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn access(kind: &str, name: &str, actions: &[&str]) -> ResourceAccess {
        ResourceAccess {
            kind: kind.into(),
            name: name.into(),
            actions: actions.iter().map(|a| a.to_string()).collect(),
        }
    }

    #[test]
    fn scopes_parse_in_every_form() {
        let s = parse_scopes([
            "repository:generic-local/app:pull,push",
            "repository:a/b:pull repository(plugin):host:5000/c:push",
            "registry:catalog:*",
        ])
        .unwrap();
        assert_eq!(
            s,
            vec![
                access("repository", "generic-local/app", &["pull", "push"]),
                access("repository", "a/b", &["pull"]),
                access("repository", "host:5000/c", &["push"]),
                access("registry", "catalog", &["*"]),
            ]
        );
        assert_eq!(parse_scopes([""]).unwrap(), vec![]);
        for bad in ["repository", "repository:x", ":x:pull", "repository::pull"] {
            assert!(parse_scopes([bad]).is_err(), "{bad}");
        }
        assert!(parse_scopes(["repository:a/../b:pull"]).is_err());
        assert!(parse_scopes(["repository:a//b:pull"]).is_err());
        let many = vec!["repository:a:pull"; MAX_SCOPES + 1];
        assert!(parse_scopes(many).is_err());
    }

    #[test]
    fn actions_map_to_rights() {
        assert_eq!(repository_action("pull"), Some(Action::Read));
        assert_eq!(repository_action("push"), Some(Action::Write));
        assert_eq!(repository_action("delete"), Some(Action::Delete));
        assert_eq!(repository_action("*"), None);
    }

    #[test]
    fn merge_unions_and_drops_empty() {
        let merged = merge(vec![
            access("repository", "a", &["pull"]),
            access("repository", "b", &[]),
            access("repository", "a", &["push", "pull"]),
        ]);
        assert_eq!(merged, vec![access("repository", "a", &["pull", "push"])]);
    }

    #[test]
    fn rfc3339_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
    }
}
