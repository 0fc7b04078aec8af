//! Token scope grammar (JFrog Access compatible) and the artifact-path permission check.
//!
//! Grammar, space separated, at most 500 characters:
//! `applied-permissions/user`, `applied-permissions/admin`, `applied-permissions/groups:a,b`,
//! `member-of-groups:a,b`, `api:*`, `system:<name>:<actions>`, `artifact:<repo>/<path>:<actions>`
//! where actions are a comma list of r,w,d,a,m,x,s or `*`.

use std::fmt;

pub const MAX_SCOPE_LEN: usize = 500;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    #[error("scope is longer than {MAX_SCOPE_LEN} characters")]
    TooLong,
    #[error("scope is empty")]
    Empty,
    #[error("unknown scope '{0}'")]
    Unknown(String),
    #[error("invalid action '{action}' in scope '{item}' (allowed: r,w,d,a,m,x,s or *)")]
    BadAction { item: String, action: String },
    #[error("scope '{0}' names no group")]
    NoGroups(String),
    #[error("invalid group name in scope '{0}'")]
    BadGroupName(String),
    #[error("invalid path in scope '{0}'")]
    BadPath(String),
}

/// One permission an artifact scope can grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Read,
    Write,
    Delete,
    Annotate,
    Manage,
    Execute,
    Synchronize,
}

impl Action {
    const ALL: [Action; 7] = [
        Action::Read,
        Action::Write,
        Action::Delete,
        Action::Annotate,
        Action::Manage,
        Action::Execute,
        Action::Synchronize,
    ];

    pub fn letter(self) -> char {
        match self {
            Action::Read => 'r',
            Action::Write => 'w',
            Action::Delete => 'd',
            Action::Annotate => 'a',
            Action::Manage => 'm',
            Action::Execute => 'x',
            Action::Synchronize => 's',
        }
    }

    /// Accepts the one-letter form and the long names resource servers tend to send.
    pub fn parse(s: &str) -> Option<Action> {
        Some(match s.to_ascii_lowercase().as_str() {
            "r" | "read" => Action::Read,
            "w" | "write" | "deploy" => Action::Write,
            "d" | "delete" => Action::Delete,
            "a" | "annotate" => Action::Annotate,
            "m" | "manage" => Action::Manage,
            "x" | "execute" => Action::Execute,
            "s" | "synchronize" => Action::Synchronize,
            _ => return None,
        })
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// A set of actions, kept as a bitmask; `*` is every action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Actions(u8);

impl Actions {
    pub const ALL: Actions = Actions(0b111_1111);

    pub fn contains(self, a: Action) -> bool {
        self.0 & a.bit() != 0
    }

    /// Every action of `self` is also in `other`.
    pub fn within(self, other: Actions) -> bool {
        self.0 & !other.0 == 0
    }

    fn parse(item: &str, s: &str) -> Result<Actions, ScopeError> {
        if s == "*" {
            return Ok(Actions::ALL);
        }
        let mut mask = 0u8;
        for part in s.split(',') {
            let action = match part.len() {
                1 => Action::parse(part),
                _ => None,
            }
            .ok_or_else(|| ScopeError::BadAction {
                item: item.to_string(),
                action: part.to_string(),
            })?;
            mask |= action.bit();
        }
        Ok(Actions(mask))
    }
}

impl fmt::Display for Actions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if *self == Actions::ALL {
            return f.write_str("*");
        }
        let letters: Vec<String> = Action::ALL
            .iter()
            .filter(|a| self.contains(**a))
            .map(|a| a.letter().to_string())
            .collect();
        f.write_str(&letters.join(","))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScopeItem {
    AppliedUser,
    AppliedAdmin,
    AppliedGroups(Vec<String>),
    MemberOfGroups(Vec<String>),
    Api,
    System { name: String, actions: Actions },
    Artifact { pattern: String, actions: Actions },
}

impl fmt::Display for ScopeItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScopeItem::AppliedUser => f.write_str("applied-permissions/user"),
            ScopeItem::AppliedAdmin => f.write_str("applied-permissions/admin"),
            ScopeItem::AppliedGroups(g) => write!(f, "applied-permissions/groups:{}", g.join(",")),
            ScopeItem::MemberOfGroups(g) => write!(f, "member-of-groups:{}", g.join(",")),
            ScopeItem::Api => f.write_str("api:*"),
            ScopeItem::System { name, actions } => write!(f, "system:{name}:{actions}"),
            ScopeItem::Artifact { pattern, actions } => write!(f, "artifact:{pattern}:{actions}"),
        }
    }
}

/// A parsed, validated scope. Displays in canonical form, items in the order given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    items: Vec<ScopeItem>,
}

use super::names::valid_name;

fn parse_groups(item: &str, list: &str) -> Result<Vec<String>, ScopeError> {
    if list.is_empty() {
        return Err(ScopeError::NoGroups(item.to_string()));
    }
    list.split(',')
        .map(|g| {
            if g == "*" || valid_name(g) {
                Ok(g.to_string())
            } else {
                Err(ScopeError::BadGroupName(item.to_string()))
            }
        })
        .collect()
}

fn parse_item(item: &str) -> Result<ScopeItem, ScopeError> {
    match item {
        "applied-permissions/user" => return Ok(ScopeItem::AppliedUser),
        "applied-permissions/admin" => return Ok(ScopeItem::AppliedAdmin),
        "api:*" => return Ok(ScopeItem::Api),
        _ => {}
    }
    if let Some(list) = item.strip_prefix("applied-permissions/groups:") {
        return Ok(ScopeItem::AppliedGroups(parse_groups(item, list)?));
    }
    if let Some(list) = item.strip_prefix("member-of-groups:") {
        return Ok(ScopeItem::MemberOfGroups(parse_groups(item, list)?));
    }
    if let Some(rest) = item.strip_prefix("system:") {
        let (name, actions) = rest
            .split_once(':')
            .ok_or_else(|| ScopeError::Unknown(item.to_string()))?;
        if !valid_name(name) {
            return Err(ScopeError::Unknown(item.to_string()));
        }
        return Ok(ScopeItem::System {
            name: name.to_string(),
            actions: Actions::parse(item, actions)?,
        });
    }
    if let Some(rest) = item.strip_prefix("artifact:") {
        // The path may itself hold ':' only in theory; actions are after the last one.
        let (pattern, actions) = rest
            .rsplit_once(':')
            .ok_or_else(|| ScopeError::Unknown(item.to_string()))?;
        let repo = pattern.split('/').next().unwrap_or("");
        if !valid_name(repo)
            || pattern.contains("//")
            || pattern.split('/').any(|seg| seg == "..")
            || pattern.chars().any(|c| c.is_control())
        {
            return Err(ScopeError::BadPath(item.to_string()));
        }
        return Ok(ScopeItem::Artifact {
            pattern: pattern.trim_end_matches('/').to_string(),
            actions: Actions::parse(item, actions)?,
        });
    }
    Err(ScopeError::Unknown(item.to_string()))
}

impl Scope {
    pub fn parse(s: &str) -> Result<Scope, ScopeError> {
        if s.len() > MAX_SCOPE_LEN {
            return Err(ScopeError::TooLong);
        }
        let items = s
            .split_whitespace()
            .map(parse_item)
            .collect::<Result<Vec<_>, _>>()?;
        if items.is_empty() {
            return Err(ScopeError::Empty);
        }
        Ok(Scope { items })
    }

    pub fn items(&self) -> &[ScopeItem] {
        &self.items
    }

    pub fn is_admin(&self) -> bool {
        self.items.contains(&ScopeItem::AppliedAdmin)
    }

    pub fn applies_user(&self) -> bool {
        self.items.contains(&ScopeItem::AppliedUser)
    }

    /// Groups named by `applied-permissions/groups` and `member-of-groups`.
    pub fn groups(&self) -> Vec<&str> {
        let mut out = Vec::new();
        for item in &self.items {
            if let ScopeItem::AppliedGroups(g) | ScopeItem::MemberOfGroups(g) = item {
                out.extend(g.iter().map(String::as_str));
            }
        }
        out
    }

    pub fn has_resource_scopes(&self) -> bool {
        self.items
            .iter()
            .any(|i| matches!(i, ScopeItem::System { .. } | ScopeItem::Artifact { .. }))
    }

    /// Appends `api:*` when absent (legacy Artifactory endpoint behaviour, seed 002).
    pub fn with_api(mut self) -> Scope {
        if !self.items.contains(&ScopeItem::Api) {
            self.items.push(ScopeItem::Api);
        }
        self
    }

    /// Whether this scope lets its holder perform `action` on `<repo>/<path>`.
    /// Admin scope allows everything; otherwise only artifact path scopes grant access.
    pub fn allows(&self, repo_path: &str, action: Action) -> bool {
        if self.is_admin() {
            return true;
        }
        let path = repo_path.trim_matches('/');
        if path.split('/').any(|s| s == ".." || s == ".") {
            return false;
        }
        self.items.iter().any(|item| match item {
            ScopeItem::Artifact { pattern, actions } => {
                actions.contains(action) && path_matches(pattern, path)
            }
            _ => false,
        })
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.items.iter().map(|i| i.to_string()).collect();
        f.write_str(&parts.join(" "))
    }
}

/// Ant-style matching by path segment: `**` matches any number of segments (including none),
/// `*` and `?` match within one segment.
pub fn path_matches(pattern: &str, path: &str) -> bool {
    let pat: Vec<&str> = pattern.split('/').filter(|s| !s.is_empty()).collect();
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match_segments(&pat, &segs)
}

/// Table over (pattern position, path position), filled from the end: linear in the table's
/// size whatever the number of `**` (a recursive search is exponential in them, and the path
/// comes from the caller).
fn match_segments(pat: &[&str], segs: &[&str]) -> bool {
    let (p, s) = (pat.len(), segs.len());
    // row[j]: pat[i..] matches segs[j..], for the current i; next: the same for i + 1.
    let mut next = vec![false; s + 1];
    next[s] = true;
    for i in (0..p).rev() {
        let mut row = vec![false; s + 1];
        for j in (0..=s).rev() {
            row[j] = match pat[i] {
                // `**` matches nothing (skip it) or one more segment.
                "**" => next[j] || (j < s && row[j + 1]),
                one => j < s && segment_matches(one, segs[j]) && next[j + 1],
            };
        }
        next = row;
    }
    next[0]
}

fn segment_matches(pat: &str, s: &str) -> bool {
    let p: Vec<char> = pat.chars().collect();
    let t: Vec<char> = s.chars().collect();
    // Classic wildcard DP: '*' any run, '?' one char.
    let mut dp = vec![false; t.len() + 1];
    dp[0] = true;
    for pc in &p {
        let mut next = vec![false; t.len() + 1];
        match pc {
            '*' => {
                let mut seen = false;
                for j in 0..=t.len() {
                    seen |= dp[j];
                    next[j] = seen;
                }
            }
            _ => {
                for j in 1..=t.len() {
                    next[j] = dp[j - 1] && (*pc == '?' || *pc == t[j - 1]);
                }
            }
        }
        dp = next;
    }
    dp[t.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

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
            Scope::parse("artifact:repo/x/**:rw"),
            Err(ScopeError::BadAction { .. })
        ));
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
}
