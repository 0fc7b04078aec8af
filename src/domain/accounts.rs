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
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupRecord {
    pub name: String,
    pub description: Option<String>,
    pub created_at: u64,
}
