//! The sled trees that make up the replicated state, declared once. Snapshot files name a
//! tree by its position here: add new trees at the end, never reorder.

macro_rules! state_trees {
    ($($variant:ident => $name:literal: $what:literal,)*) => {
        /// One tree of the replicated state.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum StateTree {
            $(#[doc = $what] $variant,)*
        }

        impl StateTree {
            /// Every tree, in snapshot order.
            pub const ALL: &'static [StateTree] = &[$(StateTree::$variant,)*];

            /// The sled tree name.
            pub fn name(self) -> &'static str {
                match self {
                    $(StateTree::$variant => $name,)*
                }
            }
        }
    };
}

state_trees! {
    Meta => "sm_meta": "Service id, last applied log id, membership.",
    Keys => "keys": "Active signing key and retired certificates.",
    Tokens => "tokens": "Stored token records by id.",
    Revoked => "revoked": "Revocations kept until the token would have expired.",
    Users => "users": "Users by name.",
    Groups => "groups": "Groups by name.",
    Trusted => "trusted": "Trusted certificates (circle of trust) by name.",
    Refs => "refs": "Reference-token hash to token id.",
    Pairing => "pairing": "Pairing-token hash to pairing record.",
    Subjects => "subjects": "Subject to revocation cut-off (Unix seconds).",
    Logins => "logins": "Failed-login counts by `user:<name>` / `addr:<ip>`.",
    FedPeers => "fed_peers": "Federated peer sites by name.",
    FedJournal => "fed_journal": "Outbound federation journal by position (big-endian u64).",
    FedState => "fed_state": "Federation clock, sequences, version vector, cursors (see `fed_key`).",
    FedEntities => "fed_entities": "Federation merge state of users, groups and site certificates.",
    Permissions => "permissions": "Permission targets by name.",
    PermRefs => "perm_refs": "`u/<user>` / `g/<group>` to the permission targets naming it.",
    OidcProviders => "oidc_providers": "OIDC identity providers by name.",
    OidcMappings => "oidc_mappings": "Per OIDC provider name, its identity mappings (a list).",
}

impl StateTree {
    pub fn index(self) -> usize {
        self as usize
    }
}

/// Whether a record of `tree` under `key` belongs in a backup (Raft's own keys do not).
pub fn is_state_key(tree: StateTree, key: &[u8]) -> bool {
    !(tree == StateTree::Meta && (key == key::LAST_APPLIED || key == key::MEMBERSHIP))
}

/// The sled tree of the expiry index (`store::due`): derived from the state, kept by every
/// apply, never in a snapshot or a backup.
pub const DUE_TREE: &str = "due";

/// The opened trees, indexed by [`StateTree`], and after them the expiry index.
#[derive(Clone)]
pub struct Trees(Vec<sled::Tree>);

impl Trees {
    pub fn open(db: &sled::Db) -> Result<Trees, sled::Error> {
        StateTree::ALL
            .iter()
            .map(|t| db.open_tree(t.name()))
            .chain(std::iter::once(db.open_tree(DUE_TREE)))
            .collect::<Result<Vec<_>, _>>()
            .map(Trees)
    }

    pub fn get(&self, which: StateTree) -> &sled::Tree {
        &self.0[which.index()]
    }

    /// The expiry index.
    pub fn due(&self) -> &sled::Tree {
        &self.0[StateTree::ALL.len()]
    }

    /// All state trees in snapshot order.
    pub fn all(&self) -> &[sled::Tree] {
        &self.0[..StateTree::ALL.len()]
    }

    /// The state trees and the expiry index: what an apply's transaction writes.
    pub fn transactional(&self) -> &[sled::Tree] {
        &self.0
    }

    pub fn refs(&self) -> Vec<&sled::Tree> {
        self.all().iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::StateTree;

    #[test]
    fn snapshot_order_is_declaration_order() {
        for (i, t) in StateTree::ALL.iter().enumerate() {
            assert_eq!(t.index(), i);
        }
        assert_eq!(StateTree::ALL[0].name(), "sm_meta");
        assert_eq!(StateTree::ALL[10].name(), "logins");
    }
}

/// Fixed keys in the `Meta` and `Keys` trees.
pub mod key {
    pub const LAST_APPLIED: &[u8] = b"last_applied";
    pub const MEMBERSHIP: &[u8] = b"membership";
    pub const SERVICE_ID: &[u8] = b"service_id";
    pub const ACTIVE_KEY: &[u8] = b"active";
    pub const RETIRED_KEYS: &[u8] = b"retired";
    /// The cluster's format (`domain::version`); absent: the first format.
    pub const FORMAT: &[u8] = b"format";
    /// Cluster-wide default token lifetime, when an admin set one (`Meta`).
    pub const DEFAULT_EXPIRY: &[u8] = b"default_expiry";
}

/// Keys in the `FedState` and `FedEntities` trees.
pub mod fed_key {
    /// The site's hybrid logical clock.
    pub const CLOCK: &[u8] = b"clock";
    /// Our own last origin sequence.
    pub const SEQ: &[u8] = b"seq";
    /// Next journal position, and the first one still kept.
    pub const HEAD: &[u8] = b"head";
    pub const TAIL: &[u8] = b"tail";
    /// How many peers are configured (journaling is off without any).
    pub const PEERS: &[u8] = b"peers";
    /// Bumped when a full sync brought news: every link then resyncs its peer.
    pub const EPOCH: &[u8] = b"epoch";

    /// Highest sequence applied of an origin.
    pub fn vector(origin: &str) -> Vec<u8> {
        format!("vv/{origin}").into_bytes()
    }
    /// Where the last batch from a sender ended (its journal position).
    pub fn inbound(sender: &str) -> Vec<u8> {
        format!("in/{sender}").into_bytes()
    }
    /// The full sync being received from a sender: (sync id, next chunk).
    pub fn sync_in(sender: &str) -> Vec<u8> {
        format!("sync/{sender}").into_bytes()
    }
    /// Per peer name: next journal position to send, forced resync flag, the epoch it last
    /// fully synced at, and how many full syncs it had.
    pub fn cursor(peer: &str) -> Vec<u8> {
        format!("out/{peer}").into_bytes()
    }
    pub fn user(name: &str) -> Vec<u8> {
        format!("u/{name}").into_bytes()
    }
    pub fn group(name: &str) -> Vec<u8> {
        format!("g/{name}").into_bytes()
    }
    pub fn permission(name: &str) -> Vec<u8> {
        format!("p/{name}").into_bytes()
    }
    /// An OIDC provider with its identity mappings.
    pub fn oidc(provider: &str) -> Vec<u8> {
        format!("o/{provider}").into_bytes()
    }
    pub fn cert(service_id: &str) -> Vec<u8> {
        format!("c/{service_id}").into_bytes()
    }
    /// What was refused from a sender: count and the last one (`RefusalStats`).
    pub fn refused(sender: &str) -> Vec<u8> {
        format!("refused/{sender}").into_bytes()
    }
    /// The origin's signature of the highest sequence applied of it: a full sync we send
    /// proves our vector with these.
    pub fn proof(origin: &str) -> Vec<u8> {
        format!("proof/{origin}").into_bytes()
    }
    /// An origin's event that reached us only as a `Skip` (a link that did not carry it): its
    /// real content, arriving later by another path, is still taken.
    pub fn hole(origin: &str, seq: u64) -> Vec<u8> {
        format!("hole/{origin}/{seq:020}").into_bytes()
    }
    /// How many holes of an origin are open.
    pub fn holes(origin: &str) -> Vec<u8> {
        format!("holes/{origin}").into_bytes()
    }
    /// Names of the trusted certificates bound to a service id.
    pub fn bound(service_id: &str) -> Vec<u8> {
        format!("b/{service_id}").into_bytes()
    }
}
