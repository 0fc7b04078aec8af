//! Permission targets (JFrog's model, pure) and the one function that says what a caller may
//! do on a repository path, and why.
//!
//! A target names resources (`artifact`, `build`, `release_bundle`, `destination`); each has
//! repositories with include/exclude patterns, and the actions users and groups hold there.
//! What a caller holds is the union of what its credential carries:
//! - admin (an admin password login, or `applied-permissions/admin`): everything;
//! - `applied-permissions/user` (and a non-admin password login): the user's own permissions
//!   and its groups';
//! - `applied-permissions/groups:a,b`, `member-of-groups:a,b`: those groups' permissions;
//! - `artifact:<repo>/<path>:<actions>`: exactly those paths.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::names::valid_name;
use super::path_pattern::path_matches;
use super::scope::{Action, Scope, ScopeItem};

/// Resource types a target may name. Only `artifact` is evaluated by the check.
pub const RESOURCE_TYPES: [&str; 4] = ["artifact", "build", "release_bundle", "destination"];

/// JFrog's action names, canonical form (upper case).
pub const ACTIONS: [&str; 9] = [
    "READ",
    "WRITE",
    "ANNOTATE",
    "DELETE",
    "MANAGE",
    "EXECUTE",
    "MANAGED_XRAY_META",
    "DISTRIBUTE",
    "SCAN",
];

/// Limits that keep one document small.
const MAX_PATTERNS: usize = 100;
const MAX_PATTERN_LEN: usize = 512;
const MAX_ENTRIES: usize = 1000;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holders {
    #[serde(default)]
    pub users: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub groups: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    pub include_patterns: Vec<String>,
    pub exclude_patterns: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resource {
    pub actions: Holders,
    /// Repository name (or `ANY`, `ANY LOCAL`, `ANY REMOTE`) → patterns.
    pub targets: BTreeMap<String, Target>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PermissionTarget {
    pub name: String,
    pub resources: BTreeMap<String, Resource>,
}

/// A refusal naming the field at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct PermError {
    pub field: String,
    pub message: String,
}

fn bad(field: impl Into<String>, message: impl Into<String>) -> PermError {
    PermError {
        field: field.into(),
        message: message.into(),
    }
}

/// The canonical name of an action given in any case, JFrog's Artifactory spelling included.
pub fn canonical_action(s: &str) -> Option<&'static str> {
    let upper = match s {
        "managedXrayMeta" => "MANAGED_XRAY_META".to_string(),
        other => other.to_ascii_uppercase(),
    };
    ACTIONS.into_iter().find(|a| *a == upper)
}

/// Artifactory v2's spelling of an action.
pub fn artifactory_action(canonical: &str) -> String {
    match canonical {
        "MANAGED_XRAY_META" => "managedXrayMeta".into(),
        other => other.to_ascii_lowercase(),
    }
}

/// The scope action an action name grants on paths (None: not a path action).
fn path_action(canonical: &str) -> Option<Action> {
    Some(match canonical {
        "READ" => Action::Read,
        "WRITE" => Action::Write,
        "ANNOTATE" => Action::Annotate,
        "DELETE" => Action::Delete,
        "MANAGE" => Action::Manage,
        "EXECUTE" => Action::Execute,
        _ => return None,
    })
}

fn check_pattern(field: &str, p: &str) -> Result<(), PermError> {
    let segments_ok = p
        .split('/')
        .all(|s| s != ".." && s != "." && !s.contains('\\'));
    if p.trim().is_empty() || p.len() > MAX_PATTERN_LEN || !segments_ok || p.contains('\0') {
        return Err(bad(field, format!("invalid pattern '{p}'")));
    }
    Ok(())
}

fn check_repo_key(field: &str, key: &str) -> Result<(), PermError> {
    let ok = matches!(key, "ANY" | "ANY LOCAL" | "ANY REMOTE")
        || (!key.is_empty()
            && key.len() <= 128
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')));
    if ok {
        Ok(())
    } else {
        Err(bad(field, format!("invalid repository '{key}'")))
    }
}

impl PermissionTarget {
    /// Check every field and put actions in canonical form (sorted, no duplicates).
    pub fn validated(mut self) -> Result<PermissionTarget, PermError> {
        if !valid_name(&self.name) {
            return Err(bad("name", format!("invalid name '{}'", self.name)));
        }
        if self.resources.is_empty() {
            return Err(bad("resources", "at least one resource type is required"));
        }
        for (kind, res) in self.resources.iter_mut() {
            if !RESOURCE_TYPES.contains(&kind.as_str()) {
                return Err(bad(
                    format!("resources.{kind}"),
                    format!("unknown resource type (use {})", RESOURCE_TYPES.join(", ")),
                ));
            }
            let base = format!("resources.{kind}");
            if res.targets.len() > MAX_ENTRIES
                || res.actions.users.len() + res.actions.groups.len() > MAX_ENTRIES
            {
                return Err(bad(base, "too many entries"));
            }
            for (who, holders) in [
                ("users", &mut res.actions.users),
                ("groups", &mut res.actions.groups),
            ] {
                for (name, actions) in holders.iter_mut() {
                    let field = format!("{base}.actions.{who}.{name}");
                    if !valid_name(name) {
                        return Err(bad(field, format!("invalid name '{name}'")));
                    }
                    let mut canonical = Vec::new();
                    for a in actions.iter() {
                        let c = canonical_action(a)
                            .ok_or_else(|| bad(&field, format!("unknown action '{a}'")))?;
                        canonical.push(c.to_string());
                    }
                    canonical.sort_by_key(|a| ACTIONS.iter().position(|x| x == a));
                    canonical.dedup();
                    *actions = canonical;
                }
            }
            for (repo, target) in &res.targets {
                let field = format!("{base}.targets.{repo}");
                check_repo_key(&field, repo)?;
                if target.include_patterns.len() + target.exclude_patterns.len() > MAX_PATTERNS {
                    return Err(bad(field, "too many patterns"));
                }
                for p in &target.include_patterns {
                    check_pattern(&format!("{field}.include_patterns"), p)?;
                }
                for p in &target.exclude_patterns {
                    check_pattern(&format!("{field}.exclude_patterns"), p)?;
                }
            }
        }
        Ok(self)
    }

    /// User and group names this target gives actions to.
    pub fn holders(&self) -> (Vec<String>, Vec<String>) {
        let mut users: Vec<String> = Vec::new();
        let mut groups: Vec<String> = Vec::new();
        for r in self.resources.values() {
            users.extend(r.actions.users.keys().cloned());
            groups.extend(r.actions.groups.keys().cloned());
        }
        users.sort();
        users.dedup();
        groups.sort();
        groups.dedup();
        (users, groups)
    }

    /// Drop a user (`group` false) or group from every resource's actions.
    pub fn without(&mut self, name: &str, group: bool) {
        for r in self.resources.values_mut() {
            match group {
                true => r.actions.groups.remove(name),
                false => r.actions.users.remove(name),
            };
        }
    }
}

/// Remote repositories by JFrog's naming: `<name>-remote`, and their `-cache`.
pub fn is_remote_repo(repo: &str) -> bool {
    repo.ends_with("-remote") || repo.ends_with("-cache")
}

fn repo_matches(key: &str, repo: &str) -> bool {
    match key {
        "ANY" => true,
        "ANY LOCAL" => !is_remote_repo(repo),
        "ANY REMOTE" => is_remote_repo(repo),
        name => name == repo,
    }
}

impl Target {
    /// Whether `path` (inside the repository) is covered: an include matches, no exclude does.
    pub fn covers(&self, path: &str) -> bool {
        self.include_patterns.iter().any(|p| path_matches(p, path))
            && !self.exclude_patterns.iter().any(|p| path_matches(p, path))
    }
}

/// Who is asking, as the check needs it.
pub struct Caller<'a> {
    pub username: &'a str,
    /// The credential carries admin rights here.
    pub admin: bool,
    /// The token's scope; None for a password login.
    pub scope: Option<&'a Scope>,
    /// The caller is a local user whose own permissions and groups may apply (not a foreign
    /// token, not a transient user): its groups.
    pub user_groups: Option<&'a [String]>,
}

/// The check's answer and the reason for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub allowed: bool,
    pub granted_by: Option<String>,
    pub reason: String,
}

fn denied(reason: impl Into<String>) -> Decision {
    Decision {
        allowed: false,
        granted_by: None,
        reason: reason.into(),
    }
}

fn granted(by: String) -> Decision {
    Decision {
        allowed: true,
        reason: format!("granted by {by}"),
        granted_by: Some(by),
    }
}

/// What `caller` may do with `action` on `<repo>/<path>`, and why.
pub fn decide(
    caller: &Caller<'_>,
    targets: &[PermissionTarget],
    repo_path: &str,
    action: Action,
) -> Decision {
    let trimmed = repo_path.trim_matches('/');
    if trimmed.is_empty() || trimmed.split('/').any(|s| s == ".." || s == ".") {
        return denied("invalid path");
    }
    if caller.admin {
        return granted("admin".into());
    }
    let (repo, path) = trimmed.split_once('/').unwrap_or((trimmed, ""));
    let items = caller.scope.map(|s| s.items()).unwrap_or(&[]);
    for item in items {
        if let ScopeItem::Artifact { pattern, actions } = item {
            if actions.contains(action) && path_matches(pattern, trimmed) {
                return granted(format!("scope '{item}'"));
            }
        }
    }
    // Whose permissions apply: the user's own (password logins and user-scoped tokens of a
    // local user), and the groups the credential carries.
    let applies_user = caller.scope.is_none_or(|s| s.applies_user());
    let user_groups = caller.user_groups.filter(|_| applies_user);
    let mut groups: Vec<&str> = caller.scope.map(|s| s.groups()).unwrap_or_default();
    groups.extend(user_groups.into_iter().flatten().map(String::as_str));
    let mut names: Vec<&PermissionTarget> = targets.iter().collect();
    names.sort_by(|a, b| a.name.cmp(&b.name));
    for t in names {
        let Some(res) = t.resources.get("artifact") else {
            continue;
        };
        if !res
            .targets
            .iter()
            .any(|(k, tg)| repo_matches(k, repo) && tg.covers(path))
        {
            continue;
        }
        let holds = |actions: &Vec<String>| actions.iter().any(|a| path_action(a) == Some(action));
        if user_groups.is_some() {
            if let Some(actions) = res.actions.users.get(caller.username) {
                if holds(actions) {
                    return granted(format!(
                        "permission '{}' via user '{}'",
                        t.name, caller.username
                    ));
                }
            }
        }
        for g in &groups {
            if res.actions.groups.get(*g).is_some_and(holds) {
                return granted(format!("permission '{}' via group '{g}'", t.name));
            }
        }
    }
    denied(format!(
        "no permission or scope of '{}' grants '{}' on this path",
        caller.username,
        action.letter()
    ))
}

#[cfg(test)]
#[path = "permissions_tests.rs"]
mod tests;
