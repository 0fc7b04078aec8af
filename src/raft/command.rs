//! Commands replicated through the log. Everything non-deterministic (times, ids, keys, hashes)
//! is decided by the proposer before `client_write`, so every node applies the same thing.

use serde::{Deserialize, Serialize};

use crate::crypto::KeyMaterial;
use crate::domain::token::TokenRecord;

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

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Command {
    /// Initialise the cluster once: identity, first keypair, bootstrap admin.
    /// Ignored (answering `AlreadyBootstrapped`) when the cluster already has an identity.
    Bootstrap {
        service_id: String,
        key: KeyMaterial,
        admin: UserRecord,
    },
    IssueToken {
        record: TokenRecord,
    },
    /// Conditional: applies only while the old record still holds this unused refresh hash
    /// and `now` is within its refresh deadline, so concurrent refreshes cannot both win.
    RefreshToken {
        old_token_id: String,
        refresh_hash: String,
        now: u64,
        grace_secs: u64,
        new_record: TokenRecord,
    },
    RevokeToken {
        token_id: String,
        revoked_at: u64,
    },
    PutUser {
        user: UserRecord,
        /// Fail with `Conflict` instead of replacing an existing user.
        create_only: bool,
    },
    DeleteUser {
        username: String,
    },
    PutGroup {
        group: GroupRecord,
        create_only: bool,
    },
    DeleteGroup {
        name: String,
    },
    /// Drop token records and revocations whose expiry (plus refresh grace) is before `now`.
    ExpireBefore {
        now: u64,
        grace_secs: u64,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CommandResponse {
    Ok,
    /// Membership change or blank entries.
    None,
    Bootstrapped,
    AlreadyBootstrapped,
    Issued,
    Refreshed,
    RefreshRejected(String),
    Revoked(TokenRecord),
    AlreadyRevoked,
    NotFound,
    Conflict,
    Expired {
        tokens: u64,
        revocations: u64,
    },
}
