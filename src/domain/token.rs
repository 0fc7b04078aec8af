//! Token claims (what is signed), token records (what the replicated store keeps) and
//! the rules that connect them: subjects, audiences, revocability.

use serde::{Deserialize, Serialize};

/// Longest `expires_in` anyone may ask for: 100 years, in seconds. Keeps every `exp` far
/// inside what signed 64-bit JWT libraries read. 0 (never expires) is separate.
pub const MAX_EXPIRES_IN: u64 = 100 * 365 * 86_400;

/// A one-time pairing token, stored under the SHA-256 of its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairingRecord {
    pub token_id: String,
    pub username: String,
    pub purpose: Option<String>,
    pub issued_at: u64,
    pub expiry: u64,
}

/// Claims of an access token, JFrog field names and order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub scp: String,
    pub aud: String,
    pub iss: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub exp: Option<u64>,
    pub iat: u64,
    pub jti: String,
    /// JSON text of extra data, as newer JFrog versions send (`{"revocable":"true"}`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub ext: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Ext {
    revocable: Option<String>,
}

impl Claims {
    /// The user name in `jfac@<id>/users/<name>`; None for other subject shapes.
    pub fn username(&self) -> Option<&str> {
        username_of(&self.sub)
    }

    /// Whether this token must be checked against a store: the `ext` flag when present,
    /// else the rule (no expiry, or lifetime at or above the threshold).
    pub fn revocable(&self, threshold_secs: u64) -> bool {
        if let Some(ext) = self.ext.as_deref() {
            // The two forms we write ourselves, without a JSON parse on every validation.
            match ext {
                r#"{"revocable":"true"}"# => return true,
                r#"{"revocable":"false"}"# => return false,
                _ => {}
            }
            if let Ok(Ext { revocable: Some(v) }) = serde_json::from_str::<Ext>(ext) {
                return v == "true";
            }
        }
        is_revocable(self.exp.map(|e| e.saturating_sub(self.iat)), threshold_secs)
    }

    /// Seconds this token was issued for (None: never expires).
    pub fn lifetime(&self) -> Option<u64> {
        self.exp.map(|e| e.saturating_sub(self.iat))
    }
}

/// A token is revocable iff it never expires or lives at least `threshold` seconds.
pub fn is_revocable(lifetime_secs: Option<u64>, threshold_secs: u64) -> bool {
    match lifetime_secs {
        None => true,
        Some(l) => l >= threshold_secs,
    }
}

pub fn subject_for(service_id: &str, username: &str) -> String {
    format!("{service_id}/users/{username}")
}

pub fn username_of(sub: &str) -> Option<&str> {
    let (_, name) = sub.split_once("/users/")?;
    (!name.is_empty()).then_some(name)
}

/// Whether a token's audience (space separated `type@id`, `*` wildcards) admits `service_id`.
/// A node serves the whole platform, so any service type is accepted for our id.
pub fn audience_admits(aud: &str, service_id: &str) -> bool {
    let our_id = service_id
        .split_once('@')
        .map(|(_, id)| id)
        .unwrap_or(service_id);
    aud.split_whitespace()
        .any(|entry| match entry.split_once('@') {
            Some((_, id)) => id == "*" || id == our_id,
            None => entry == "*",
        })
}

/// What kind of token a record is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum TokenKind {
    #[default]
    Access,
    Pairing,
    Identity,
    /// A signed-in session of the admin web page: stored hashed, never a bearer token.
    Session,
}

impl TokenKind {
    /// The kind's name, as serialized (metrics labels, audit fields).
    pub fn name(self) -> &'static str {
        match self {
            TokenKind::Access => "access",
            TokenKind::Pairing => "pairing",
            TokenKind::Identity => "identity",
            TokenKind::Session => "session",
        }
    }
}

/// What the replicated store keeps about an issued token. Revocable tokens are stored so
/// validation can look them up; a non-revocable refreshable token is stored only for its
/// refresh grant. Secrets are kept as SHA-256 hashes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    pub token_id: String,
    pub username: String,
    pub subject: String,
    pub scope: String,
    pub audience: String,
    pub issuer: String,
    pub issued_at: u64,
    /// Unix seconds; None = never expires.
    pub expiry: Option<u64>,
    pub revocable: bool,
    pub refreshable: bool,
    /// SHA-256 (hex) of the refresh token; None once used or for non-refreshable tokens.
    pub refresh_hash: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub kind: TokenKind,
    /// SHA-256 (hex) of the reference token, when one was issued.
    #[serde(default)]
    pub reference_hash: Option<String>,
}

impl TokenRecord {
    /// Last moment the refresh token may be used: expiry plus the grace period.
    pub fn refresh_deadline(&self, grace_secs: u64) -> Option<u64> {
        self.expiry.map(|e| e.saturating_add(grace_secs))
    }
}

/// A revocation kept after the token record is gone: answers "already revoked" and is
/// dropped once the token would have expired anyway.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revocation {
    pub token_id: String,
    pub revoked_at: u64,
    pub expiry: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: Option<u64>, ext: Option<&str>) -> Claims {
        Claims {
            sub: "jfac@01abc/users/jenkins".into(),
            scp: "api:*".into(),
            aud: "*@*".into(),
            iss: "jfac@01abc".into(),
            exp,
            iat: 1000,
            jti: "id".into(),
            ext: ext.map(str::to_string),
        }
    }

    #[test]
    fn revocability_follows_threshold_and_ext() {
        assert!(claims(None, None).revocable(21600));
        assert!(claims(Some(1000 + 21600), None).revocable(21600));
        assert!(!claims(Some(1000 + 3600), None).revocable(21600));
        assert!(!claims(None, Some(r#"{"revocable":"false"}"#)).revocable(21600));
        assert!(claims(Some(1001), Some(r#"{"revocable":"true"}"#)).revocable(21600));
        assert!(!claims(Some(1001), Some("not json")).revocable(21600));
    }

    #[test]
    fn subjects_and_usernames() {
        assert_eq!(subject_for("jfac@x", "bob"), "jfac@x/users/bob");
        assert_eq!(claims(None, None).username(), Some("jenkins"));
        assert_eq!(username_of("jfac@x/users/"), None);
        assert_eq!(username_of("nonsense"), None);
    }

    #[test]
    fn audience_rules() {
        assert!(audience_admits("*@*", "jfac@01abc"));
        assert!(audience_admits("jfrt@01abc", "jfac@01abc"));
        assert!(audience_admits("jfrt@zzz jfac@*", "jfac@01abc"));
        assert!(!audience_admits("jfrt@zzz", "jfac@01abc"));
        assert!(!audience_admits("", "jfac@01abc"));
    }

    #[test]
    fn claims_serialize_without_absent_exp() {
        let json = serde_json::to_string(&claims(None, None)).unwrap();
        assert!(!json.contains("exp"));
        assert!(json.starts_with(r#"{"sub":"#));
    }
}
