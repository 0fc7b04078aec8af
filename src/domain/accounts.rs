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
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupRecord {
    pub name: String,
    pub description: Option<String>,
    pub created_at: u64,
}
