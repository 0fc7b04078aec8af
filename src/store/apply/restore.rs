//! Restore: a backup replayed through the log in chunks.

use super::tx::{Tx, TxResult};
use crate::domain::backup::BackupRecord;
use crate::raft::command::CommandResponse;
use crate::store::due::{self, Due};
use crate::store::trees::{is_state_key, StateTree};

/// The first chunk removes `clear` (every state key found before the transaction) and
/// `clear_due` (the expiry index, rebuilt from the records as they come); then
/// every chunk inserts its records. Records of unknown trees and Raft's own keys are skipped
/// (the proposer refuses them already), so a bad record can never stop the state machine. The
/// cluster's format is the running cluster's own, neither cleared nor taken from the backup
/// (a backup says its format with it; `Backup::restore` checks that).
pub(super) fn restore_chunk(
    tx: &Tx<'_>,
    first: bool,
    records: &[BackupRecord],
    clear: &[(u8, sled::IVec)],
    clear_due: &[Vec<u8>],
) -> TxResult<CommandResponse> {
    if first {
        for (tree, key) in clear {
            if let Some(which) = StateTree::ALL.get(usize::from(*tree)) {
                if is_state_key(*which, key) && !is_format_key(*which, key) {
                    tx.t(*which).remove(key)?;
                }
            }
        }
        for key in clear_due {
            tx.due().remove(key.as_slice())?;
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
        let replaced = tx.t(*which).insert(&r.key, r.value.clone())?;
        let kind = match which {
            StateTree::Tokens => Some(Due::Token),
            StateTree::Revoked => Some(Due::Revocation),
            _ => None,
        };
        if let Some(kind) = kind {
            let id = String::from_utf8_lossy(&r.key);
            due::replace(tx.due(), kind, replaced, due::expiry_of(&r.value), &id)?;
        }
        inserted += 1;
    }
    Ok(CommandResponse::Restored(inserted))
}

fn is_format_key(tree: StateTree, key: &[u8]) -> bool {
    tree == StateTree::Meta && key == crate::store::trees::key::FORMAT
}
