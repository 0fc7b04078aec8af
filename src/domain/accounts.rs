//! The account records the replicated store keeps: users and groups.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRecord {
    pub username: String,
    /// argon2 PHC string; None for users that cannot log in with a password.
    pub password_hash: Option<String>,
    pub email: Option<String>,
    pub admin: bool,
    pub groups: Vec<String>,
    pub created_at: u64,
    /// Deprovisioned (JFrog's `status: disabled`, SCIM's `active: false`): no password login,
    /// no new token; its tokens were cut off when it was disabled.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub disabled: bool,
    /// Set for users an identity provider manages (SCIM).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scim: Option<ScimUser>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupRecord {
    pub name: String,
    pub description: Option<String>,
    pub created_at: u64,
    /// Set for groups an identity provider manages (SCIM).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scim: Option<ScimGroup>,
}

/// What an identity provider manages of a user beyond our own fields (RFC 7643 §4.1). A user
/// that has one is SCIM-managed (`realm: scim`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScimUser {
    /// The identity provider's own id for the user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<PersonName>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub emails: Vec<ScimEmail>,
    /// When an identity provider last wrote the user (Unix ms, decided by the proposer).
    #[serde(default)]
    pub updated_ms: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonName {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub formatted: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScimEmail {
    pub value: String,
    /// `work`, `home`, `other`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary: Option<bool>,
}

/// What an identity provider manages of a group: its display name (any text; the group's
/// name, its id, is a valid name made from it) and its own id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScimGroup {
    pub display_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    #[serde(default)]
    pub updated_ms: u64,
}

impl UserRecord {
    /// `scim` for users an identity provider manages, `internal` for the rest.
    pub fn realm(&self) -> &'static str {
        if self.scim.is_some() {
            "scim"
        } else {
            "internal"
        }
    }
}
