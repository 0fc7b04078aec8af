//! Restore: a backup replayed through the log in chunks.

use super::tx::{Tx, TxResult};
use crate::domain::backup::BackupRecord;
use crate::raft::command::CommandResponse;
use crate::store::trees::{is_state_key, StateTree};

/// The first chunk removes `clear` (every state key found before the transaction); then
/// every chunk inserts its records. Records of unknown trees and Raft's own keys are skipped
/// (the proposer refuses them already), so a bad record can never stop the state machine. The
/// cluster's format is the running cluster's own, neither cleared nor taken from the backup
/// (a backup says its format with it; `Backup::restore` checks that).
pub(super) fn restore_chunk(
    tx: &Tx<'_>,
    first: bool,
    records: &[BackupRecord],
    clear: &[(u8, sled::IVec)],
) -> TxResult<CommandResponse> {
    if first {
        for (tree, key) in clear {
            if let Some(which) = StateTree::ALL.get(usize::from(*tree)) {
                if is_state_key(*which, key) && !is_format_key(*which, key) {
                    tx.t(*which).remove(key)?;
                }
            }
        }
    }
    let mut inserted = 0u64;
    for r in records {
        let Some(which) = StateTree::ALL.get(usize::from(r.tree)) else {
            continue;
        };
        if !is_state_key(*which, &r.key) || is_format_key(*which, &r.key) {
            continue;
        }
        tx.t(*which).insert(&r.key, r.value.clone())?;
        inserted += 1;
    }
    Ok(CommandResponse::Restored(inserted))
}

fn is_format_key(tree: StateTree, key: &[u8]) -> bool {
    tree == StateTree::Meta && key == crate::store::trees::key::FORMAT
}
