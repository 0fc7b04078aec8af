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
}

impl StateTree {
    pub fn index(self) -> usize {
        self as usize
    }
}

/// The opened trees, indexed by [`StateTree`].
#[derive(Clone)]
pub struct Trees(Vec<sled::Tree>);

impl Trees {
    pub fn open(db: &sled::Db) -> Result<Trees, sled::Error> {
        StateTree::ALL
            .iter()
            .map(|t| db.open_tree(t.name()))
            .collect::<Result<Vec<_>, _>>()
            .map(Trees)
    }

    pub fn get(&self, which: StateTree) -> &sled::Tree {
        &self.0[which.index()]
    }

    /// All trees in snapshot order.
    pub fn all(&self) -> &[sled::Tree] {
        &self.0
    }

    pub fn refs(&self) -> Vec<&sled::Tree> {
        self.0.iter().collect()
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
}
