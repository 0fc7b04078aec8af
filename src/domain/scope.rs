//! Token scope grammar (JFrog Access compatible) and the artifact-path permission check.
//!
//! Grammar, space separated, at most 500 characters:
//! `applied-permissions/user`, `applied-permissions/admin`, `applied-permissions/groups:a,b`,
//! `member-of-groups:a,b`, `api:*`, `system:<name>:<actions>`, `artifact:<repo>/<path>:<actions>`
//! where actions are a comma list of r,w,d,a,m,x,s or `*`.

use std::fmt;

use super::names::valid_name;
use super::path_pattern::path_matches;

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
        // `r,w`, or the letters run together (`rw`, as in `system:scim:rw`).
        for part in s.split(',') {
            let bad = || ScopeError::BadAction {
                item: item.to_string(),
                action: part.to_string(),
            };
            if part.is_empty() {
                return Err(bad());
            }
            for letter in part.split_inclusive(|_| true) {
                mask |= Action::parse(letter).ok_or_else(bad)?.bit();
            }
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

#[cfg(test)]
#[path = "scope_tests.rs"]
mod tests;
