//! Applying permission targets, with the index of the users and groups each names, so that
//! deleting a user or group removes it from every target in the same apply.

use super::journal::{local_permission, restate_permission};
use super::tx::{tx_get, tx_put, Tx, TxResult};
use crate::domain::permissions::PermissionTarget;
use crate::raft::command::CommandResponse;
use crate::store::trees::StateTree::{PermRefs, Permissions};

fn ref_key(name: &str, group: bool) -> Vec<u8> {
    match group {
        true => format!("g/{name}").into_bytes(),
        false => format!("u/{name}").into_bytes(),
    }
}

fn index(tx: &Tx<'_>, t: &PermissionTarget, add: bool) -> TxResult<()> {
    let (users, groups) = t.holders();
    let keys = users
        .iter()
        .map(|u| ref_key(u, false))
        .chain(groups.iter().map(|g| ref_key(g, true)));
    for key in keys {
        let mut names: Vec<String> = tx_get(tx.t(PermRefs), &key)?.unwrap_or_default();
        names.retain(|n| n != &t.name);
        if add {
            names.push(t.name.clone());
        }
        match names.is_empty() {
            true => {
                tx.t(PermRefs).remove(key.as_slice())?;
            }
            false => tx_put(tx.t(PermRefs), &key, &names)?,
        }
    }
    Ok(())
}

/// Make the stored target `name` be `target` (None: gone), keeping the index right.
pub(super) fn store(tx: &Tx<'_>, name: &str, target: Option<&PermissionTarget>) -> TxResult<()> {
    if let Some(old) = tx_get::<PermissionTarget>(tx.t(Permissions), name.as_bytes())? {
        index(tx, &old, false)?;
    }
    match target {
        Some(t) => {
            tx_put(tx.t(Permissions), name.as_bytes(), t)?;
            index(tx, t, true)
        }
        None => {
            tx.t(Permissions).remove(name.as_bytes())?;
            Ok(())
        }
    }
}

pub(super) fn put(
    tx: &Tx<'_>,
    target: &PermissionTarget,
    create_only: bool,
    at_ms: u64,
) -> TxResult<CommandResponse> {
    let existing: Option<PermissionTarget> = tx_get(tx.t(Permissions), target.name.as_bytes())?;
    if existing.as_ref() == Some(target) {
        return Ok(CommandResponse::Ok);
    }
    if create_only && existing.is_some() {
        return Ok(CommandResponse::Conflict);
    }
    store(tx, &target.name, Some(target))?;
    local_permission(tx, &target.name, Some(target), at_ms)?;
    Ok(CommandResponse::Ok)
}

pub(super) fn delete(tx: &Tx<'_>, name: &str, at_ms: u64) -> TxResult<CommandResponse> {
    if tx.t(Permissions).get(name.as_bytes())?.is_none() {
        return Ok(CommandResponse::NotFound);
    }
    store(tx, name, None)?;
    local_permission(tx, name, None, at_ms)?;
    Ok(CommandResponse::Ok)
}

/// A user (`group` false) or group is gone: drop it from every target naming it. Each site
/// does this when it applies the delete, so the targets agree without a change of their own.
pub(super) fn remove_holder(tx: &Tx<'_>, name: &str, group: bool) -> TxResult<()> {
    let key = ref_key(name, group);
    let names: Vec<String> = tx_get(tx.t(PermRefs), &key)?.unwrap_or_default();
    for perm in names {
        if let Some(mut t) = tx_get::<PermissionTarget>(tx.t(Permissions), perm.as_bytes())? {
            t.without(name, group);
            store(tx, &perm, Some(&t))?;
            restate_permission(tx, &t)?;
        }
    }
    tx.t(PermRefs).remove(key.as_slice())?;
    Ok(())
}
