//! Commands replicated through the log. Everything non-deterministic (times, ids, keys, hashes)
//! is decided by the proposer before `client_write`, so every node applies the same thing.

use serde::{Deserialize, Serialize};

use crate::crypto::KeyMaterial;
use crate::domain::accounts::{GroupRecord, ScimUser, UserRecord};
use crate::domain::backup::BackupRecord;
use crate::domain::oidc::{IdentityMapping, OidcProvider};
use crate::domain::permissions::PermissionTarget;
use crate::domain::token::{PairingRecord, TokenRecord};
use crate::domain::trust::TrustedCert;
use crate::federation::protocol::{Change, JournalEntry, PeerSite, SyncDone};

/// Time as the proposer of a federation batch or sync chunk read it, decided before
/// proposing so every node applies the same. Zero in entries from before a field existed:
/// no future check, no local cut-off.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiveTimes {
    /// The leader's clock (Unix ms).
    #[serde(default)]
    pub now_ms: u64,
    /// The proposer's cut-off for "every token until now" (`Service::cut_off_now`).
    #[serde(default)]
    pub cut_off: u64,
    /// `federation.maximum-future-time-diff-millis` of the proposer.
    #[serde(default)]
    pub max_future_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Command {
    /// Initialise the cluster once: identity, first keypair, bootstrap admin.
    /// Ignored (answering `AlreadyBootstrapped`) when the cluster already has an identity.
    Bootstrap {
        service_id: String,
        key: KeyMaterial,
        admin: UserRecord,
        /// The cluster's format from the start (`domain::version`); 0 in entries written
        /// before formats had numbers: the first format.
        #[serde(default)]
        format: u32,
    },
    /// The cluster moves to format `version` (never back): every voter runs a binary that
    /// reads it. Proposed by the leader (`Cluster::raise_format`).
    RaiseFormat {
        version: u32,
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
        /// Wall time of the write (Unix ms), for the federation clock.
        #[serde(default)]
        at_ms: u64,
    },
    /// Removes the user and revokes every token of its subject issued until `revoked_at`.
    DeleteUser {
        username: String,
        #[serde(default)]
        revoked_at: u64,
        /// Wall time in ms, for the federation clock (0: `revoked_at` in ms).
        #[serde(default)]
        at_ms: u64,
    },
    /// Changes the given fields of an existing user (`NotFound` otherwise). Taking admin
    /// away revokes the user's tokens issued until `at` (they may carry admin scope).
    UpdateUser {
        username: String,
        password_hash: Option<String>,
        email: Option<Option<String>>,
        admin: Option<bool>,
        groups: Option<Vec<String>>,
        /// Disable (deprovision: the user's tokens issued until `at` are cut off) or enable.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        disabled: Option<bool>,
        /// What an identity provider manages of the user (making it SCIM-managed).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        scim: Option<ScimUser>,
        at: u64,
        /// Wall time in ms, for the federation clock (0: `at` in ms).
        #[serde(default)]
        at_ms: u64,
    },
    /// Adds users to and removes users from a group (`NotFound` when the group is missing;
    /// missing users are skipped).
    UpdateGroupMembers {
        group: String,
        add: Vec<String>,
        remove: Vec<String>,
        /// The group's new record, written in the same entry (a SCIM replace or modify).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        record: Option<GroupRecord>,
        #[serde(default)]
        at_ms: u64,
    },
    /// Every token of `subject` issued at or before `revoked_at` stops validating, on every
    /// node, revocable or not. A later call moves the cut-off forward, never back.
    RevokeSubject {
        subject: String,
        revoked_at: u64,
    },
    /// A failed password login, counted under each key (`user:<name>`, `addr:<ip>`); a key
    /// quiet for `reset_after_secs` starts again from zero.
    LoginFailed {
        keys: Vec<String>,
        /// Unix milliseconds.
        at_ms: u64,
        reset_after_secs: u64,
    },
    /// A successful login clears the failures of these keys.
    LoginSucceeded {
        keys: Vec<String>,
    },
    PutGroup {
        group: GroupRecord,
        create_only: bool,
        #[serde(default)]
        at_ms: u64,
    },
    DeleteGroup {
        name: String,
        #[serde(default)]
        at_ms: u64,
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
        /// The new kid signed by the key it replaces, for federated sites (see
        /// `domain::federation::SiteCert`).
        #[serde(default)]
        endorsement: Option<String>,
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
    /// One chunk of a restore (`access-node restore`): the first chunk empties every state
    /// tree (Raft's own keys excepted), then each chunk inserts its records, so every node
    /// ends with the backup's state.
    RestoreChunk {
        first: bool,
        records: Vec<BackupRecord>,
    },
    /// Drop token records and revocations whose expiry (plus refresh grace) is before `now`,
    /// and login failure records quiet since before `logins_before_ms`.
    ExpireBefore {
        now: u64,
        grace_secs: u64,
        #[serde(default)]
        logins_before_ms: u64,
        /// A sweep goes in slices, each looking at no more than `limit` records from
        /// `from` on, so no apply holds up the log for a scan of the whole state. Both
        /// absent: everything at once (entries written before slices existed).
        #[serde(default)]
        from: Option<SweepFrom>,
        #[serde(default)]
        limit: Option<u64>,
    },
    /// The cluster-wide default token lifetime (overrides `token.default-expiry`).
    SetDefaultExpiry {
        secs: u64,
    },
    /// Create (or, unless `create_only`, replace) a permission target.
    PutPermission {
        target: PermissionTarget,
        create_only: bool,
        at_ms: u64,
    },
    DeletePermission {
        name: String,
        at_ms: u64,
    },
    /// Create (or, unless `create_only`, replace) an OIDC identity provider.
    /// `at_ms` stamps the change for federated sites (decided before proposing).
    PutOidcProvider {
        provider: OidcProvider,
        create_only: bool,
        at_ms: u64,
    },
    /// Remove an OIDC provider with its identity mappings.
    DeleteOidcProvider {
        name: String,
        at_ms: u64,
    },
    /// Create (or, unless `create_only`, replace) an identity mapping of an existing provider
    /// (`NotFound` without it).
    PutIdentityMapping {
        mapping: IdentityMapping,
        create_only: bool,
        at_ms: u64,
    },
    DeleteIdentityMapping {
        provider: String,
        name: String,
        at_ms: u64,
    },
    /// Add or replace a federated peer site.
    FederationPeer {
        peer: PeerSite,
    },
    FederationRemovePeer {
        name: String,
    },
    /// A batch of a peer site's journal, `(after, upto]` of its positions. Conditional:
    /// applies only when `after` is where the last batch from `from` ended, and only events
    /// next in line for their origin; a duplicate is skipped, a gap refuses the whole batch.
    FederationReceive {
        from: String,
        /// Our entry for `from`, as the proposer found it.
        #[serde(default)]
        peer: String,
        after: u64,
        upto: u64,
        events: Vec<JournalEntry>,
        /// Indexes of relayed events whose origin signature did not verify: refused.
        #[serde(default)]
        unsigned: Vec<usize>,
        #[serde(flatten)]
        times: ReceiveTimes,
    },
    /// One chunk of a full sync from `from`; chunks of one sync come in order from 0. The
    /// last carries `done`: streaming resumes from its position.
    FederationSync {
        from: String,
        #[serde(default)]
        peer: String,
        sync_id: String,
        chunk: u64,
        changes: Vec<Change>,
        done: Option<SyncDone>,
        #[serde(flatten)]
        times: ReceiveTimes,
    },
    /// A peer has everything before `cursor` of our journal. `synced_epoch` (after a full
    /// sync) records the resync epoch it covered and clears a forced resync.
    FederationAck {
        peer: String,
        cursor: u64,
        synced_epoch: Option<u64>,
        /// Changes sent as `Skip` (or left out of the sync) because the peer's format cannot
        /// take them yet: the link resyncs once it can.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        held: Option<crate::federation::protocol::Held>,
    },
    /// Force a full sync to `peer` (`full_broadcast`).
    FederationResync {
        peer: String,
    },
    /// Drop journal entries before `below` (at most `TRIM_MAX` per entry).
    FederationTrim {
        below: u64,
    },
}

impl Command {
    /// The command's name, for logs (never its contents: some carry password hashes).
    pub fn kind(&self) -> &'static str {
        match self {
            Command::Bootstrap { .. } => "Bootstrap",
            Command::RaiseFormat { .. } => "RaiseFormat",
            Command::IssueToken { .. } => "IssueToken",
            Command::RefreshToken { .. } => "RefreshToken",
            Command::RevokeToken { .. } => "RevokeToken",
            Command::PutUser { .. } => "PutUser",
            Command::DeleteUser { .. } => "DeleteUser",
            Command::UpdateUser { .. } => "UpdateUser",
            Command::UpdateGroupMembers { .. } => "UpdateGroupMembers",
            Command::RevokeSubject { .. } => "RevokeSubject",
            Command::LoginFailed { .. } => "LoginFailed",
            Command::LoginSucceeded { .. } => "LoginSucceeded",
            Command::PutGroup { .. } => "PutGroup",
            Command::DeleteGroup { .. } => "DeleteGroup",
            Command::PutTrusted { .. } => "PutTrusted",
            Command::RemoveTrusted { .. } => "RemoveTrusted",
            Command::RotateKey { .. } => "RotateKey",
            Command::IssuePairing { .. } => "IssuePairing",
            Command::ConsumePairing { .. } => "ConsumePairing",
            Command::Batch { .. } => "Batch",
            Command::ExpireBefore { .. } => "ExpireBefore",
            Command::RestoreChunk { .. } => "RestoreChunk",
            Command::SetDefaultExpiry { .. } => "SetDefaultExpiry",
            Command::PutPermission { .. } => "PutPermission",
            Command::DeletePermission { .. } => "DeletePermission",
            Command::PutOidcProvider { .. } => "PutOidcProvider",
            Command::DeleteOidcProvider { .. } => "DeleteOidcProvider",
            Command::PutIdentityMapping { .. } => "PutIdentityMapping",
            Command::DeleteIdentityMapping { .. } => "DeleteIdentityMapping",
            Command::FederationPeer { .. } => "FederationPeer",
            Command::FederationRemovePeer { .. } => "FederationRemovePeer",
            Command::FederationReceive { .. } => "FederationReceive",
            Command::FederationSync { .. } => "FederationSync",
            Command::FederationAck { .. } => "FederationAck",
            Command::FederationResync { .. } => "FederationResync",
            Command::FederationTrim { .. } => "FederationTrim",
        }
    }
}

/// Where a slice of an expiry sweep starts: after this key of the token records, or of the
/// revocations, or (format 2) of the expiry index (`None`: at the first). Logins and
/// pairings go with the first slice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SweepFrom {
    Tokens(Option<String>),
    Revocations(Option<String>),
    Due(Option<Vec<u8>>),
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
        /// Where the sweep's next slice starts; None when this one finished it.
        #[serde(default)]
        next: Option<SweepFrom>,
    },
    /// A restore chunk applied: how many records it inserted.
    Restored(u64),
    Paired(PairingRecord),
    PairingRejected(String),
    /// One response per command of a `Batch`, in order.
    Batch(Vec<CommandResponse>),
    /// A federation batch or sync chunk applied: the sender's position we now stand at.
    FedReceived {
        position: u64,
        /// Changes our entry for the sender (or the store) refused; they count as delivered.
        #[serde(default)]
        refused: Vec<crate::federation::admission::Refused>,
    },
    /// Refused: not the batch that follows what we have from this sender (replayed,
    /// out of order, or from before a restore). Nothing applied.
    FedOutOfOrder {
        position: u64,
    },
    /// Refused: events of an origin are missing before this batch. Nothing applied.
    FedGap,
}
