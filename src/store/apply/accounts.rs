//! Applying account commands: users and groups, group membership, subject revocation and
//! login failures.

use super::journal::{local_group, local_user};
use super::subjects::revoke_user;
use super::tx::{tx_get, tx_put, Tx, TxResult};
use crate::domain::accounts::{GroupRecord, ScimUser, UserRecord};
use crate::domain::throttle::{record_failure, LoginFailures};
use crate::raft::command::CommandResponse;
use crate::store::trees::StateTree::{Groups, Logins, Users};

/// Create (or, unless `create_only`, replace) a user. Re-proposing the same record is a
/// success, so a retried write is idempotent.
pub(super) fn put_user(
    tx: &Tx<'_>,
    user: &UserRecord,
    create_only: bool,
    at_ms: u64,
) -> TxResult<CommandResponse> {
    let existing: Option<UserRecord> = tx_get(tx.t(Users), user.username.as_bytes())?;
    if existing.as_ref() == Some(user) {
        return Ok(CommandResponse::Ok);
    }
    if create_only && existing.is_some() {
        return Ok(CommandResponse::Conflict);
    }
    tx_put(tx.t(Users), user.username.as_bytes(), user)?;
    local_user(
        tx,
        &user.username,
        existing.as_ref(),
        Some(user),
        true,
        at_ms,
    )?;
    Ok(CommandResponse::Ok)
}

/// Remove the user and revoke every token of its subject issued until `revoked_at`.
pub(super) fn delete_user(
    tx: &Tx<'_>,
    username: &str,
    revoked_at: u64,
    at_ms: u64,
) -> TxResult<CommandResponse> {
    match tx_get::<UserRecord>(tx.t(Users), username.as_bytes())? {
        Some(before) => {
            tx.t(Users).remove(username.as_bytes())?;
            revoke_user(tx, username, revoked_at)?;
            super::permissions::remove_holder(tx, username, false)?;
            local_user(tx, username, Some(&before), None, true, at_ms)?;
            Ok(CommandResponse::Ok)
        }
        None => Ok(CommandResponse::NotFound),
    }
}

/// The fields an update may change (None = unchanged).
pub(super) struct UserFields<'a> {
    pub password_hash: &'a Option<String>,
    pub email: &'a Option<Option<String>>,
    pub admin: Option<bool>,
    pub groups: &'a Option<Vec<String>>,
    pub disabled: Option<bool>,
    pub scim: &'a Option<ScimUser>,
}

/// Change the given fields; taking admin away revokes the user's tokens issued until `at`.
pub(super) fn update_user(
    tx: &Tx<'_>,
    username: &str,
    fields: UserFields<'_>,
    at: u64,
    at_ms: u64,
) -> TxResult<CommandResponse> {
    let Some(mut user) = tx_get::<UserRecord>(tx.t(Users), username.as_bytes())? else {
        return Ok(CommandResponse::NotFound);
    };
    let before = user.clone();
    if let Some(hash) = fields.password_hash {
        user.password_hash = Some(hash.clone());
    }
    if let Some(email) = fields.email {
        user.email = email.clone();
    }
    if let Some(groups) = fields.groups {
        user.groups = groups.clone();
    }
    if let Some(admin) = fields.admin {
        if user.admin && !admin {
            revoke_user(tx, username, at)?;
        }
        user.admin = admin;
    }
    if let Some(disabled) = fields.disabled {
        // Deprovisioned: every token of the user issued until now stops, on every node.
        if disabled && !user.disabled {
            revoke_user(tx, username, at)?;
        }
        user.disabled = disabled;
    }
    if let Some(scim) = fields.scim {
        user.scim = Some(scim.clone());
    }
    tx_put(tx.t(Users), username.as_bytes(), &user)?;
    let fields_changed = before.password_hash != user.password_hash
        || before.email != user.email
        || before.disabled != user.disabled
        || before.scim != user.scim;
    local_user(
        tx,
        username,
        Some(&before),
        Some(&user),
        fields_changed,
        at_ms,
    )?;
    Ok(CommandResponse::Ok)
}

/// Add users to and remove users from a group (missing users are skipped), and replace the
/// group's record when one is given.
pub(super) fn update_group_members(
    tx: &Tx<'_>,
    group: &str,
    add: &[String],
    remove: &[String],
    record: Option<&GroupRecord>,
    at_ms: u64,
) -> TxResult<CommandResponse> {
    let Some(existing) = tx_get::<GroupRecord>(tx.t(Groups), group.as_bytes())? else {
        return Ok(CommandResponse::NotFound);
    };
    if let Some(record) = record.filter(|r| r.name == group && **r != existing) {
        tx_put(tx.t(Groups), group.as_bytes(), record)?;
        local_group(tx, group, Some(record), at_ms)?;
    }
    let mut names: Vec<&String> = add.iter().chain(remove).collect();
    names.sort();
    names.dedup();
    for name in names {
        let Some(mut user) = tx_get::<UserRecord>(tx.t(Users), name.as_bytes())? else {
            continue;
        };
        let before = user.clone();
        user.groups.retain(|g| g != group || !remove.contains(name));
        if add.contains(name) && !user.groups.iter().any(|g| g == group) {
            user.groups.push(group.to_string());
        }
        tx_put(tx.t(Users), name.as_bytes(), &user)?;
        local_user(tx, name, Some(&before), Some(&user), false, at_ms)?;
    }
    Ok(CommandResponse::Ok)
}

pub(super) fn put_group(
    tx: &Tx<'_>,
    group: &GroupRecord,
    create_only: bool,
    at_ms: u64,
) -> TxResult<CommandResponse> {
    let existing: Option<GroupRecord> = tx_get(tx.t(Groups), group.name.as_bytes())?;
    if existing.as_ref() == Some(group) {
        return Ok(CommandResponse::Ok);
    }
    if create_only && existing.is_some() {
        return Ok(CommandResponse::Conflict);
    }
    tx_put(tx.t(Groups), group.name.as_bytes(), group)?;
    local_group(tx, &group.name, Some(group), at_ms)?;
    Ok(CommandResponse::Ok)
}

pub(super) fn delete_group(tx: &Tx<'_>, name: &str, at_ms: u64) -> TxResult<CommandResponse> {
    Ok(match tx.t(Groups).remove(name.as_bytes())? {
        Some(_) => {
            super::permissions::remove_holder(tx, name, true)?;
            local_group(tx, name, None, at_ms)?;
            CommandResponse::Ok
        }
        None => CommandResponse::NotFound,
    })
}

/// Count one more failed login under each key.
pub(super) fn login_failed(
    tx: &Tx<'_>,
    keys: &[String],
    at_ms: u64,
    reset_after_secs: u64,
) -> TxResult<CommandResponse> {
    for key in keys {
        let rec: Option<LoginFailures> = tx_get(tx.t(Logins), key.as_bytes())?;
        tx_put(
            tx.t(Logins),
            key.as_bytes(),
            &record_failure(rec, at_ms, reset_after_secs),
        )?;
    }
    Ok(CommandResponse::Ok)
}

pub(super) fn login_succeeded(tx: &Tx<'_>, keys: &[String]) -> TxResult<CommandResponse> {
    for key in keys {
        tx.t(Logins).remove(key.as_bytes())?;
    }
    Ok(CommandResponse::Ok)
}
