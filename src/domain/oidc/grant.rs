//! Which identity mapping an ID token's claims select, and what token it grants: claim
//! matching (`*` globs, lists, nested objects), `{{claim}}` patterns and the grant.

use serde_json::{Map, Value};

use super::{IdentityMapping, MAX_EXCHANGE_EXPIRY_SECS};
use crate::domain::names::valid_name;

/// Whether a string matches a glob where `*` stands for any run of characters.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if text.len() < first.len() + last.len() || !text.starts_with(first) || !text.ends_with(last) {
        return false;
    }
    let mut middle = &text[first.len()..text.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match middle.find(part) {
            Some(i) => middle = &middle[i + part.len()..],
            None => return false,
        }
    }
    true
}

/// Whether one claim value satisfies what a mapping expects of it.
fn value_matches(expected: &Value, actual: &Value) -> bool {
    match (expected, actual) {
        // A list in the mapping: any of its values.
        (Value::Array(any), _) => any.iter().any(|e| value_matches(e, actual)),
        // A list in the token (groups, say): any of its elements.
        (_, Value::Array(items)) => items.iter().any(|a| value_matches(expected, a)),
        (Value::String(p), Value::String(s)) => glob_match(p, s),
        (Value::String(p), Value::Number(n)) => glob_match(p, &n.to_string()),
        (Value::String(p), Value::Bool(b)) => glob_match(p, &b.to_string()),
        (Value::Object(want), Value::Object(have)) => claims_match(want, have),
        (e, a) => e == a,
    }
}

/// Whether every claim a mapping names is present and matches.
pub fn claims_match(expected: &Map<String, Value>, claims: &Map<String, Value>) -> bool {
    expected
        .iter()
        .all(|(k, e)| claims.get(k).is_some_and(|a| value_matches(e, a)))
}

/// The mapping that decides an ID token: among those that match, the lowest priority
/// number, then the first name (so the choice never depends on storage order).
pub fn select_mapping<'a>(
    mappings: &'a [IdentityMapping],
    claims: &Map<String, Value>,
) -> Option<&'a IdentityMapping> {
    mappings
        .iter()
        .filter(|m| claims_match(&m.claims, claims))
        .min_by(|a, b| (a.priority, &a.name).cmp(&(b.priority, &b.name)))
}

/// Why claims could not fill a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatternError {
    MissingClaim(String),
    /// A claim value with characters a name cannot carry (`/`, `,`, spaces, …): never
    /// passed through, so a claim cannot add a group or reach another name.
    UnusableClaim(String),
}

impl std::fmt::Display for PatternError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PatternError::MissingClaim(c) => write!(f, "the ID token has no claim '{c}'"),
            PatternError::UnusableClaim(c) => {
                write!(f, "the value of claim '{c}' cannot be part of a name")
            }
        }
    }
}

/// Fill `{{claim}}` placeholders with claim values (strings, numbers or booleans made only
/// of letters, digits and `-_.@`).
pub fn fill_pattern(pattern: &str, claims: &Map<String, Value>) -> Result<String, PatternError> {
    let mut out = String::new();
    let mut rest = pattern;
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open]);
        let after = &rest[open + 2..];
        let Some(close) = after.find("}}") else {
            break;
        };
        let name = after[..close].trim();
        let value = match claims.get(name) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            Some(Value::Bool(b)) => b.to_string(),
            Some(_) => return Err(PatternError::UnusableClaim(name.to_string())),
            None => return Err(PatternError::MissingClaim(name.to_string())),
        };
        if value.is_empty()
            || !value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@'))
        {
            return Err(PatternError::UnusableClaim(name.to_string()));
        }
        out.push_str(&value);
        rest = &after[close + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// What an exchange grants, decided from the mapping and the claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub username: String,
    /// Whether the user name came from the token's claims (then it may not be an admin).
    pub from_claims: bool,
    pub scope: String,
    pub expires_in: u64,
    pub refreshable: bool,
    pub audience: Option<String>,
}

/// The token a mapping grants for these claims.
pub fn grant(
    provider: &str,
    mapping: &IdentityMapping,
    claims: &Map<String, Value>,
) -> Result<Grant, PatternError> {
    let spec = &mapping.token_spec;
    let (username, from_claims) = match (&spec.username, &spec.username_pattern) {
        (Some(u), _) => (u.clone(), false),
        (None, Some(p)) => (fill_pattern(p, claims)?, true),
        // Groups only: a user of no one, named after the provider.
        (None, None) => (format!("oidc-{provider}"), false),
    };
    if !valid_name(&username) {
        return Err(PatternError::UnusableClaim("username_pattern".into()));
    }
    let scope = match &spec.groups_pattern {
        Some(p) => {
            let groups = fill_pattern(p, claims)?;
            let names: Vec<&str> = groups.split(',').map(str::trim).collect();
            if names.iter().any(|g| !valid_name(g)) {
                return Err(PatternError::UnusableClaim("groups_pattern".into()));
            }
            format!("applied-permissions/groups:{}", names.join(","))
        }
        None => spec.scope.clone(),
    };
    Ok(Grant {
        username,
        from_claims,
        scope,
        expires_in: spec.expires_in.min(MAX_EXCHANGE_EXPIRY_SECS),
        refreshable: spec.refreshable,
        audience: spec.audience.clone(),
    })
}
