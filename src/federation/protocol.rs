//! What sites exchange: journal entries (one change each, with its origin and origin
//! sequence), the changes themselves, and the peer-site configuration. Types only.

use serde::{Deserialize, Serialize};

use crate::domain::federation::{
    GroupState, OidcState, PermissionState, SiteCert, UserState, Vector,
};
use crate::domain::token::{Revocation, TokenRecord};

/// One federated change. Events and full-sync records are both changes, merged the same way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Change {
    /// A stored token record: inserted unless revoked or held already.
    Token {
        record: TokenRecord,
    },
    /// Final: the record goes, the revocation stays until the token would have expired.
    Revoke {
        revocation: Revocation,
    },
    /// Tokens of `subject` issued at or before `at` are revoked (moves forward only).
    Subject {
        subject: String,
        at: u64,
    },
    User {
        name: String,
        state: UserState,
    },
    Group {
        name: String,
        state: GroupState,
    },
    Permission {
        name: String,
        state: PermissionState,
    },
    /// An OIDC provider and its identity mappings.
    Oidc {
        name: String,
        state: OidcState,
    },
    /// A site's signing certificate (and the earlier ones it keeps trusted).
    Cert {
        cert: SiteCert,
    },
    /// Left out by a link's entity selection: counts as delivered, keeps sequences contiguous.
    Skip,
}

/// The entity kinds a link carries, with JFrog's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Entity {
    Users,
    Groups,
    Permissions,
    Tokens,
    Oidc,
}

impl Entity {
    pub const ALL: [Entity; 5] = [
        Entity::Users,
        Entity::Groups,
        Entity::Permissions,
        Entity::Tokens,
        Entity::Oidc,
    ];

    pub fn parse(s: &str) -> Option<Entity> {
        Entity::ALL
            .into_iter()
            .find(|e| format!("{e:?}").eq_ignore_ascii_case(s))
    }
}

impl Change {
    /// The entity kind a change belongs to; None for what always crosses (certificates).
    pub fn entity(&self) -> Option<Entity> {
        match self {
            Change::Token { .. } | Change::Revoke { .. } | Change::Subject { .. } => {
                Some(Entity::Tokens)
            }
            Change::User { .. } => Some(Entity::Users),
            Change::Group { .. } => Some(Entity::Groups),
            Change::Permission { .. } => Some(Entity::Permissions),
            Change::Oidc { .. } => Some(Entity::Oidc),
            Change::Cert { .. } | Change::Skip => None,
        }
    }
}

/// Changes a link left out because the peer site's format cannot take them yet: the
/// highest format they need, and how many. They reach the peer in a full sync once its
/// format does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Held {
    pub format: u32,
    pub count: u64,
}

impl Held {
    /// `self` and `more` together.
    pub fn and(self, more: Held) -> Held {
        Held {
            format: self.format.max(more.format),
            count: self.count + more.count,
        }
    }
}

/// One entry of a site's outbound journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalEntry {
    /// Service id of the site where the change was made.
    pub origin: String,
    /// The origin's sequence number for it: 1, 2, 3… with no gaps.
    pub seq: u64,
    /// When this site journaled it (Unix ms): for lag figures.
    pub at_ms: u64,
    pub change: Change,
    /// The origin's signature of (origin, seq, the change's hash), added by the origin when
    /// it sends the event and relayed unchanged: no relay can forge or renumber it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sig: Option<String>,
}

/// A federated site this site pushes to (when `active`) and accepts events from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerSite {
    pub name: String,
    pub url: String,
    pub service_id: String,
    pub entities: Vec<Entity>,
    pub active: bool,
    pub exclude_users: Vec<String>,
    pub created_at: u64,
}

impl PeerSite {
    /// Whether this link carries `change` (else it travels as a `Skip`).
    pub fn carries(&self, change: &Change) -> bool {
        match change {
            Change::User { name, .. } if self.exclude_users.iter().any(|u| u == name) => {
                return false;
            }
            // Web sessions are site-local (journaled only at the first format).
            Change::Token { record } if record.kind == crate::domain::token::TokenKind::Session => {
                return false;
            }
            _ => {}
        }
        change.entity().is_none_or(|e| self.entities.contains(&e))
    }
}

/// The last chunk of a full sync: where the receiver stands afterwards.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncDone {
    /// The sender's journal position the sync covers: streaming resumes from here.
    pub position: u64,
    /// What the sender had applied of every origin when the sync started.
    pub vector: Vector,
    /// For each origin but the sender: that origin's signature of its sequence in `vector`.
    #[serde(default)]
    pub proofs: std::collections::BTreeMap<String, String>,
}

/// A batch of the sender's journal: positions `(after, upto]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EventBatch {
    pub after: u64,
    pub upto: u64,
    pub events: Vec<JournalEntry>,
    /// The highest format its changes need (absent from senders before formats: 1).
    #[serde(default = "first_format")]
    pub format: u32,
}

fn first_format() -> u32 {
    crate::domain::version::FIRST_FORMAT
}

/// One chunk of a full sync; chunks of one `sync_id` come in order from 0.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SyncChunk {
    pub sync_id: String,
    pub chunk: u64,
    pub changes: Vec<Change>,
    pub done: Option<SyncDone>,
    /// The highest format its changes need (absent from senders before formats: 1).
    #[serde(default = "first_format")]
    pub format: u32,
}

/// A site saying hello (validate_server, link start): signed like any batch.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Hello {}

/// What a receiver answers a batch, a sync chunk or a hello with.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Answer {
    /// Where the receiver stands in the sender's journal.
    pub position: u64,
    /// "ok", "out_of_order" (resend from `position`) or "gap" (send a full sync).
    pub status: String,
    #[serde(default)]
    pub service_id: String,
    #[serde(default)]
    pub version: String,
    /// For a hello: whether the receiver has a federation entry for the sender.
    #[serde(default)]
    pub knows_you: bool,
    /// The receiver's clock (Unix ms) when it answered: the sender reads its offset.
    #[serde(default)]
    pub now_ms: u64,
    /// The receiving site's cluster format: the newest changes it takes (absent from
    /// receivers before formats: 1).
    #[serde(default = "first_format")]
    pub format: u32,
}
