//! Who follows each applied entry (the audit trail of replicated changes): told in log
//! order, inside the apply, as each run of entries is applied.

use std::sync::RwLock;

use openraft::{BasicNode, StoredMembership};

use crate::raft::command::{Command, CommandResponse};
use crate::raft::NodeId;

/// One log entry the state machine applied, as [`StateMachine::subscribe_entries`]
/// observers see it.
pub struct AppliedEntry<'a> {
    /// The command (None for blank and membership entries).
    pub cmd: Option<&'a Command>,
    /// A membership change: the members after it.
    pub membership: Option<&'a StoredMembership<NodeId, BasicNode>>,
    pub response: &'a CommandResponse,
}

pub(super) type EntryObserver = Box<dyn Fn(&AppliedEntry<'_>) + Send + Sync>;

/// The observers `StateMachine::subscribe_entries` added.
#[derive(Default)]
pub(super) struct EntryObservers(RwLock<Vec<EntryObserver>>);

impl EntryObservers {
    pub(super) fn add(&self, observer: EntryObserver) {
        self.0.write().expect("entry observers lock").push(observer);
    }

    /// Tell every observer of each entry, in order.
    pub(super) fn tell<'a>(&self, entries: impl Iterator<Item = AppliedEntry<'a>>) {
        let observers = self.0.read().expect("entry observers lock");
        for entry in entries {
            for observe in observers.iter() {
                observe(&entry);
            }
        }
    }
}
