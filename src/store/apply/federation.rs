//! Applying federation: peers, link cursors and journal trimming live here, so any node that
//! becomes leader resumes every link where the cluster left it, and so do the merges of a
//! peer's users, groups and permission targets. Local changes reach the outbound journal
//! through `journal`; what peer sites send is admitted in `federation_change` and
//! `federation_merge`.

use serde::{Deserialize, Serialize};

use super::journal::{get_u64, user_state};
use super::tx::{tx_get, tx_put, Tx, TxResult};
use super::{permissions, subjects};
use crate::domain::accounts::{GroupRecord, UserRecord};
use crate::domain::clock::received_cut_off;
use crate::domain::federation::{GroupState, PermissionState, UserState};
use crate::federation::protocol::{Held, PeerSite};
use crate::raft::command::{CommandResponse, ReceiveTimes};
use crate::store::trees::fed_key;
use crate::store::trees::StateTree::{FedEntities, FedJournal, FedPeers, FedState, Groups, Users};

/// Most journal entries one `FederationTrim` removes.
pub const TRIM_MAX: u64 = 10_000;

/// Per peer: where its link stands.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkCursor {
    /// Next journal position to send; None until the first full sync.
    pub next: Option<u64>,
    /// `full_broadcast` asked for a full sync.
    pub resync: bool,
    /// The resync epoch the last full sync covered.
    pub synced_epoch: u64,
    pub full_syncs: u64,
    /// Changes the peer's format could not take yet (see `Held`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held: Option<Held>,
}

pub(super) fn put_peer(tx: &Tx<'_>, peer: &PeerSite) -> TxResult<CommandResponse> {
    let existed = tx.t(FedPeers).get(peer.name.as_bytes())?.is_some();
    tx_put(tx.t(FedPeers), peer.name.as_bytes(), peer)?;
    if !existed {
        let n = get_u64(tx, fed_key::PEERS)?;
        tx_put(tx.t(FedState), fed_key::PEERS, &(n + 1))?;
    }
    Ok(CommandResponse::Ok)
}

pub(super) fn remove_peer(tx: &Tx<'_>, name: &str) -> TxResult<CommandResponse> {
    if tx.t(FedPeers).remove(name.as_bytes())?.is_none() {
        return Ok(CommandResponse::NotFound);
    }
    let n = get_u64(tx, fed_key::PEERS)?;
    tx_put(tx.t(FedState), fed_key::PEERS, &n.saturating_sub(1))?;
    tx.t(FedState).remove(fed_key::cursor(name).as_slice())?;
    Ok(CommandResponse::Ok)
}

fn update_cursor(
    tx: &Tx<'_>,
    peer: &str,
    f: impl FnOnce(&mut LinkCursor),
) -> TxResult<CommandResponse> {
    if tx.t(FedPeers).get(peer.as_bytes())?.is_none() {
        return Ok(CommandResponse::NotFound);
    }
    let mut cursor: LinkCursor =
        tx_get(tx.t(FedState), &fed_key::cursor(peer))?.unwrap_or_default();
    f(&mut cursor);
    tx_put(tx.t(FedState), &fed_key::cursor(peer), &cursor)?;
    Ok(CommandResponse::Ok)
}

pub(super) fn ack(
    tx: &Tx<'_>,
    peer: &str,
    next: u64,
    synced_epoch: Option<u64>,
    held: Option<Held>,
) -> TxResult<CommandResponse> {
    update_cursor(tx, peer, |c| {
        c.next = Some(next);
        match synced_epoch {
            // A full sync sent the current state of everything: only what it left out waits.
            Some(epoch) => {
                c.synced_epoch = c.synced_epoch.max(epoch);
                c.resync = false;
                c.full_syncs += 1;
                c.held = held;
            }
            None => {
                c.held = match (c.held, held) {
                    (Some(a), Some(b)) => Some(a.and(b)),
                    (a, b) => a.or(b),
                }
            }
        }
    })
}

pub(super) fn resync(tx: &Tx<'_>, peer: &str) -> TxResult<CommandResponse> {
    update_cursor(tx, peer, |c| c.resync = true)
}

pub(super) fn trim(tx: &Tx<'_>, below: u64) -> TxResult<CommandResponse> {
    let tail = get_u64(tx, fed_key::TAIL)?;
    let head = get_u64(tx, fed_key::HEAD)?;
    let end = below.min(head).min(tail + TRIM_MAX);
    for pos in tail..end {
        tx.t(FedJournal).remove(&pos.to_be_bytes())?;
    }
    if end > tail {
        tx_put(tx.t(FedState), fed_key::TAIL, &end)?;
    }
    Ok(CommandResponse::Ok)
}

// Merging a peer's change to a user, group or permission target (admitted already, see
// `federation_change`): the merge rules of `domain::federation`, then the record itself.

pub(super) fn merge_permission(tx: &Tx<'_>, name: &str, change: &PermissionState) -> TxResult<()> {
    let key = fed_key::permission(name);
    let mut state: PermissionState = tx_get(tx.t(FedEntities), &key)?.unwrap_or_default();
    state.merge(change);
    tx_put(tx.t(FedEntities), &key, &state)?;
    permissions::store(tx, name, state.target.as_ref())
}

pub(super) fn merge_user(
    tx: &Tx<'_>,
    name: &str,
    change: &UserState,
    own: &str,
    times: &ReceiveTimes,
) -> TxResult<()> {
    let record: Option<UserRecord> = tx_get(tx.t(Users), name.as_bytes())?;
    let mut state = user_state(tx, name, record.as_ref(), own)?;
    state.merge(change);
    tx_put(tx.t(FedEntities), &fed_key::user(name), &state)?;
    // Admin rights are site-local: the federated record moves on, but no peer changes (or
    // deletes) a local admin's account.
    if record.as_ref().is_some_and(|r| r.admin) {
        return Ok(());
    }
    match (&state.fields, record) {
        (Some(f), before) => {
            let user = UserRecord {
                username: name.to_string(),
                password_hash: f.password_hash.clone(),
                email: f.email.clone(),
                admin: false,
                groups: state.groups(),
                created_at: f.created_at,
                disabled: f.disabled,
                scim: f.scim.clone(),
            };
            tx_put(tx.t(Users), name.as_bytes(), &user)?;
            // Disabled at another site: our tokens of the user go too, every one we issued
            // before we applied it, whatever that site's clock said.
            if f.disabled && !before.is_some_and(|b| b.disabled) {
                let stamped = state.stamp.as_ref().map_or(0, |s| s.ms / 1000);
                let at = received_cut_off(stamped, times.cut_off);
                subjects::revoke_user(tx, name, at)?;
            }
        }
        (None, Some(_)) => {
            tx.t(Users).remove(name.as_bytes())?;
            permissions::remove_holder(tx, name, false)?;
            let at = state.deleted_at.as_ref().map(|s| s.ms / 1000).unwrap_or(0);
            // Our tokens of this user go too, and the peers learn it as our change: every
            // token we issued before we applied the delete, whatever the deleting site's
            // clock said (`domain::clock::received_cut_off`).
            let at = received_cut_off(at, times.cut_off);
            subjects::revoke_user(tx, name, at)?;
        }
        (None, None) => {}
    }
    Ok(())
}

pub(super) fn merge_group(tx: &Tx<'_>, name: &str, change: &GroupState) -> TxResult<()> {
    let mut state: GroupState =
        tx_get(tx.t(FedEntities), &fed_key::group(name))?.unwrap_or_default();
    state.merge(change);
    tx_put(tx.t(FedEntities), &fed_key::group(name), &state)?;
    match &state.fields {
        Some(f) => tx_put(
            tx.t(Groups),
            name.as_bytes(),
            &GroupRecord {
                name: name.to_string(),
                description: f.description.clone(),
                created_at: f.created_at,
                scim: f.scim.clone(),
            },
        ),
        None => {
            if tx.t(Groups).remove(name.as_bytes())?.is_some() {
                permissions::remove_holder(tx, name, true)?;
            }
            Ok(())
        }
    }
}
