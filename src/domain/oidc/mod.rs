//! OIDC providers and identity mappings: the records, their checks, which mapping an ID
//! token's claims select, and what token that mapping grants. No I/O: verifying the ID token
//! against the issuer's keys happens in `oidc/`, before anything here is asked.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::names::valid_name;

/// Longest `expires_in` a mapping may grant (and the default when it names none).
pub const MAX_EXCHANGE_EXPIRY_SECS: u64 = 86_400;
pub const DEFAULT_EXCHANGE_EXPIRY_SECS: u64 = 3_600;
/// Scope a mapping grants when it names none: the user's own rights.
pub const DEFAULT_EXCHANGE_SCOPE: &str = "applied-permissions/user";

/// Where an OIDC identity provider's ID tokens come from (JFrog's names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProviderType {
    GitHub,
    Azure,
    #[serde(rename = "Generic OpenID Connect")]
    Generic,
}

/// A trusted OIDC issuer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OidcProvider {
    pub name: String,
    /// As the admin gave it; compared with `iss` without a trailing slash.
    pub issuer_url: String,
    pub provider_type: ProviderType,
    /// What `aud` of every accepted ID token must be.
    pub audience: String,
    #[serde(default)]
    pub description: String,
    /// Reach the issuer through the proxy of the environment (`HTTPS_PROXY`).
    #[serde(default)]
    pub use_default_proxy: bool,
}

/// What token a mapping grants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// A user name made from claims: `{{claim}}` is replaced by the claim's value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username_pattern: Option<String>,
    /// Comma separated group names made from claims, granted as
    /// `applied-permissions/groups:<names>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups_pattern: Option<String>,
    #[serde(default = "default_scope")]
    pub scope: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
    #[serde(default = "default_expiry")]
    pub expires_in: u64,
    /// Exchanged tokens are never refreshable unless the mapping says so.
    #[serde(default)]
    pub refreshable: bool,
}

fn default_scope() -> String {
    DEFAULT_EXCHANGE_SCOPE.to_string()
}

fn default_expiry() -> u64 {
    DEFAULT_EXCHANGE_EXPIRY_SECS
}

/// Which ID tokens of a provider get which token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityMapping {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub provider_name: String,
    /// Among the mappings that match, the lowest number wins.
    #[serde(default)]
    pub priority: u32,
    /// Claim name to what it must be: a string (`*` matches any run of characters), a
    /// number or boolean, a list (any of), or an object (its own claims, recursively).
    pub claims: Map<String, Value>,
    pub token_spec: TokenSpec,
}

/// A refused record: which field, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: &'static str,
    pub why: String,
}

fn refuse(field: &'static str, why: impl Into<String>) -> FieldError {
    FieldError {
        field,
        why: why.into(),
    }
}

/// Provider and mapping names: lower-case letters, digits and `-`, starting with a letter,
/// 2 to 64 characters.
pub fn valid_oidc_name(s: &str) -> bool {
    (2..=64).contains(&s.len())
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// The issuer without trailing slashes: how `iss` and the provider's URL are compared.
pub fn issuer_key(url: &str) -> &str {
    url.trim_end_matches('/')
}

/// The scheme and host of an issuer URL, when it is `http(s)://host[:port][/path]`.
pub fn issuer_parts(url: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next()?,
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
    };
    (matches!(scheme, "https" | "http") && !host.is_empty() && !authority.contains('@'))
        .then_some((scheme, host))
}

/// Whether an issuer URL names this machine (plain http is allowed there).
pub fn is_loopback_issuer(url: &str) -> bool {
    // An address, not a prefix: `127.0.0.1.evil.example` is someone else's host.
    issuer_parts(url).is_some_and(|(_, host)| {
        host == "localhost"
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    })
}

impl OidcProvider {
    pub fn check(&self) -> Result<(), FieldError> {
        if !valid_oidc_name(&self.name) || self.name == "token" {
            return Err(refuse(
                "name",
                "must match ^[a-z][a-z0-9-]+$ (at most 64 characters, not 'token')",
            ));
        }
        if self.issuer_url.len() > 2048
            || self
                .issuer_url
                .chars()
                .any(|c| c.is_whitespace() || c.is_control())
            || issuer_parts(&self.issuer_url).is_none()
            || self.issuer_url.contains(['?', '#'])
        {
            return Err(refuse(
                "issuer_url",
                "must be an http(s) URL without query or fragment",
            ));
        }
        if self.audience.is_empty() || self.audience.len() > 1024 {
            return Err(refuse(
                "audience",
                "is required (1 to 1024 characters): the aud that ID tokens for this service carry",
            ));
        }
        if self.description.len() > 1024 {
            return Err(refuse("description", "is longer than 1024 characters"));
        }
        Ok(())
    }
}

impl IdentityMapping {
    pub fn check(&self) -> Result<(), FieldError> {
        if !valid_oidc_name(&self.name) {
            return Err(refuse(
                "name",
                "must match ^[a-z][a-z0-9-]+$ (at most 64 characters)",
            ));
        }
        if self.description.len() > 1024 {
            return Err(refuse("description", "is longer than 1024 characters"));
        }
        if self.claims.is_empty() {
            return Err(refuse(
                "claims",
                "must name at least one claim: a mapping that matches every ID token of the \
                 provider is almost never what is meant",
            ));
        }
        if serde_json::to_string(&self.claims).map_or(true, |s| s.len() > 8192) {
            return Err(refuse("claims", "are larger than 8 KiB"));
        }
        let spec = &self.token_spec;
        match (&spec.username, &spec.username_pattern) {
            (Some(_), Some(_)) => {
                return Err(refuse(
                    "token_spec",
                    "give username or username_pattern, not both",
                ))
            }
            (None, None) if spec.groups_pattern.is_none() => {
                return Err(refuse(
                    "token_spec",
                    "give username, username_pattern or groups_pattern",
                ))
            }
            _ => {}
        }
        if spec.username.as_deref().is_some_and(|u| !valid_name(u)) {
            return Err(refuse("token_spec.username", "is not a valid user name"));
        }
        for (field, pattern) in [
            ("token_spec.username_pattern", &spec.username_pattern),
            ("token_spec.groups_pattern", &spec.groups_pattern),
        ] {
            if let Some(p) = pattern {
                check_pattern(p).map_err(|why| refuse(field, why))?;
            }
        }
        if spec.expires_in == 0 || spec.expires_in > MAX_EXCHANGE_EXPIRY_SECS {
            return Err(refuse(
                "token_spec.expires_in",
                format!("must be 1 to {MAX_EXCHANGE_EXPIRY_SECS} seconds"),
            ));
        }
        if spec
            .audience
            .as_deref()
            .is_some_and(|a| a.len() > 1024 || a.split_whitespace().any(|a| !a.contains('@')))
        {
            return Err(refuse(
                "token_spec.audience",
                "must be space separated service ids like jfrt@<id> or *@*",
            ));
        }
        Ok(())
    }
}

/// A pattern is text with `{{claim}}` placeholders; braces are balanced and names non-empty.
fn check_pattern(p: &str) -> Result<(), String> {
    if p.is_empty() || p.len() > 256 {
        return Err("must be 1 to 256 characters".into());
    }
    let mut rest = p;
    while let Some(open) = rest.find("{{") {
        let after = &rest[open + 2..];
        let close = after.find("}}").ok_or("has a '{{' without '}}'")?;
        let name = after[..close].trim();
        if name.is_empty() || name.contains(['{', '}']) {
            return Err("names an empty or malformed claim".into());
        }
        rest = &after[close + 2..];
    }
    if rest.contains(['{', '}']) {
        return Err("has a stray brace".into());
    }
    Ok(())
}

mod grant;
pub use grant::{
    claims_match, fill_pattern, glob_match, grant, select_mapping, Grant, PatternError,
};

#[cfg(test)]
mod tests;
