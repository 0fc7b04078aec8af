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

/// A certificate of another cluster in the circle of trust.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustedCert {
    pub name: String,
    pub certificate_pem: String,
    pub kid: String,
    pub added_at: u64,
}

/// A one-time pairing token, stored under the SHA-256 of its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairingRecord {
    pub token_id: String,
    pub username: String,
    pub purpose: Option<String>,
    pub issued_at: u64,
    pub expiry: u64,
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
    PutTrusted {
        cert: TrustedCert,
    },
    RemoveTrusted {
        name: String,
    },
    /// Certificate reset: a new signing key. With `keep_old` the previous certificate stays
    /// trusted (as retired) so tokens it signed keep validating; without it every earlier key
    /// is dropped.
    RotateKey {
        key: KeyMaterial,
        keep_old: bool,
    },
    IssuePairing {
        hash: String,
        record: PairingRecord,
    },
    /// Conditional: succeeds once, while the pairing token exists and has not expired.
    ConsumePairing {
        hash: String,
        now: u64,
    },
    /// Several independent commands committed as one entry (see `batcher`); each is applied
    /// in order exactly as if it had its own entry. Holds only token issues and revocations.
    Batch {
        commands: Vec<Command>,
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
    Paired(PairingRecord),
    PairingRejected(String),
    /// One response per command of a `Batch`, in order.
    Batch(Vec<CommandResponse>),
}
