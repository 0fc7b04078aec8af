//! Applying commands: one small function per command, each deterministic (it depends only on
//! the command and the state before it), inside the transaction of its log entry.
//!
//! The modules import one way, lowest first: `tx` (the transaction), `journal` (local
//! changes to the outbound journal), `subjects` (cut-offs), `permissions`, `tokens`,
//! `accounts`, `federation_certs`, `keys`, `federation`, `federation_change`,
//! `federation_merge`, `restore`; this module dispatches to them.

mod accounts;
#[cfg(test)]
mod command_tests;
#[cfg(test)]
mod due_tests;
pub mod federation;
#[cfg(test)]
mod federation_admission_tests;
mod federation_certs;
mod federation_change;
pub mod federation_merge;
#[cfg(test)]
mod federation_tests;
pub mod journal;
mod keys;
mod oidc;
#[cfg(test)]
mod oidc_tests;
mod permissions;
#[cfg(test)]
mod permissions_tests;
mod restore;
mod subjects;
#[cfg(test)]
mod sweep_tests;
#[cfg(test)]
mod tests;
mod tokens;
mod tx;

use tx::TxResult;
pub(super) use tx::{tx_put, Expired, Recorded, Tx};

use super::trees::StateTree;
use crate::federation::protocol::Change;
use crate::raft::command::{Command, CommandResponse};

/// Apply one command. `expired` serves an `ExpireBefore`, which always comes alone.
pub(super) fn apply(tx: &Tx<'_>, cmd: &Command, expired: &Expired) -> TxResult<CommandResponse> {
    match cmd {
        Command::Bootstrap {
            service_id,
            key,
            admin,
            format,
        } => keys::bootstrap(tx, service_id, key, admin, *format),
        Command::RaiseFormat { version } => keys::raise_format(tx, *version),
        Command::Batch { commands } => Ok(CommandResponse::Batch(
            commands
                .iter()
                .map(|c| apply(tx, c, expired))
                .collect::<TxResult<Vec<_>>>()?,
        )),
        Command::IssueToken { record } => tokens::issue(tx, record),
        Command::RefreshToken {
            old_token_id,
            refresh_hash,
            now,
            grace_secs,
            new_record,
        } => tokens::refresh(
            tx,
            old_token_id,
            refresh_hash,
            *now,
            *grace_secs,
            new_record,
        ),
        Command::RevokeToken {
            token_id,
            revoked_at,
        } => tokens::revoke_by_id(tx, token_id, *revoked_at),
        Command::IssuePairing { hash, record } => tokens::issue_pairing(tx, hash, record),
        Command::ConsumePairing { hash, now } => tokens::consume_pairing(tx, hash, *now),
        Command::ExpireBefore { .. } => tokens::expire(tx, expired),
        Command::PutUser {
            user,
            create_only,
            at_ms,
        } => accounts::put_user(tx, user, *create_only, *at_ms),
        Command::DeleteUser {
            username,
            revoked_at,
            at_ms,
        } => accounts::delete_user(tx, username, *revoked_at, ms_or(*at_ms, *revoked_at)),
        Command::UpdateUser {
            username,
            password_hash,
            email,
            admin,
            groups,
            disabled,
            scim,
            at,
            at_ms,
        } => accounts::update_user(
            tx,
            username,
            accounts::UserFields {
                password_hash,
                email,
                admin: *admin,
                groups,
                disabled: *disabled,
                scim,
            },
            *at,
            ms_or(*at_ms, *at),
        ),
        Command::UpdateGroupMembers {
            group,
            add,
            remove,
            record,
            at_ms,
        } => accounts::update_group_members(tx, group, add, remove, record.as_ref(), *at_ms),
        Command::PutGroup {
            group,
            create_only,
            at_ms,
        } => accounts::put_group(tx, group, *create_only, *at_ms),
        Command::DeleteGroup { name, at_ms } => accounts::delete_group(tx, name, *at_ms),
        Command::RevokeSubject {
            subject,
            revoked_at,
        } => subjects::revoke_subject(tx, subject, *revoked_at),
        Command::LoginFailed {
            keys,
            at_ms,
            reset_after_secs,
        } => accounts::login_failed(tx, keys, *at_ms, *reset_after_secs),
        Command::LoginSucceeded { keys } => accounts::login_succeeded(tx, keys),
        Command::PutTrusted { cert } => keys::put_trusted(tx, cert),
        Command::RemoveTrusted { name } => keys::remove_trusted(tx, name),
        Command::RotateKey {
            key,
            keep_old,
            endorsement,
        } => keys::rotate(tx, key, *keep_old, endorsement.as_ref()),
        Command::RestoreChunk { first, records } => {
            restore::restore_chunk(tx, *first, records, &expired.restore_clear, &expired.due)
        }
        Command::SetDefaultExpiry { secs } => {
            tx_put(
                tx.t(StateTree::Meta),
                crate::store::trees::key::DEFAULT_EXPIRY,
                secs,
            )?;
            Ok(CommandResponse::Ok)
        }
        Command::PutPermission {
            target,
            create_only,
            at_ms,
        } => permissions::put(tx, target, *create_only, *at_ms),
        Command::DeletePermission { name, at_ms } => permissions::delete(tx, name, *at_ms),
        Command::PutOidcProvider {
            provider,
            create_only,
            at_ms,
        } => oidc::put_provider(tx, provider, *create_only, *at_ms),
        Command::DeleteOidcProvider { name, at_ms } => oidc::delete_provider(tx, name, *at_ms),
        Command::PutIdentityMapping {
            mapping,
            create_only,
            at_ms,
        } => oidc::put_mapping(tx, mapping, *create_only, *at_ms),
        Command::DeleteIdentityMapping {
            provider,
            name,
            at_ms,
        } => oidc::delete_mapping(tx, provider, name, *at_ms),
        Command::FederationPeer { peer } => federation::put_peer(tx, peer),
        Command::FederationRemovePeer { name } => federation::remove_peer(tx, name),
        Command::FederationReceive {
            from,
            peer,
            after,
            upto,
            events,
            unsigned,
            times,
        } => {
            let sender = federation_merge::Sender {
                service_id: from,
                entry: peer,
            };
            federation_merge::receive(tx, sender, *after, *upto, events, unsigned, times)
        }
        Command::FederationSync {
            from,
            peer,
            sync_id,
            chunk,
            changes,
            done,
            times,
        } => {
            let sender = federation_merge::Sender {
                service_id: from,
                entry: peer,
            };
            federation_merge::sync(tx, sender, sync_id, *chunk, changes, done.as_ref(), times)
        }
        Command::FederationAck {
            peer,
            cursor,
            synced_epoch,
            held,
        } => federation::ack(tx, peer, *cursor, *synced_epoch, *held),
        Command::FederationResync { peer } => federation::resync(tx, peer),
        Command::FederationTrim { below } => federation::trim(tx, *below),
    }
}

/// A command's wall time in ms: `ms` when it carries one, else its time in seconds.
fn ms_or(ms: u64, secs: u64) -> u64 {
    if ms > 0 {
        ms
    } else {
        secs * 1000
    }
}

/// Whether applying `cmd` may change the key set (active, retired or trusted keys).
pub(super) fn touches_keys(cmd: &Command) -> bool {
    if let Some(mut changes) = federated_changes(cmd) {
        return changes.any(|c| matches!(c, Change::Cert { .. }));
    }
    matches!(
        cmd,
        Command::Bootstrap { .. }
            | Command::RotateKey { .. }
            | Command::PutTrusted { .. }
            | Command::RemoveTrusted { .. }
            | Command::RestoreChunk { .. }
    )
}

/// The changes a federation batch or sync chunk carries (None for other commands): only
/// those that need it republish the key set (which empties the verified-token cache) or
/// reload the subject cut-offs.
fn federated_changes(cmd: &Command) -> Option<Box<dyn Iterator<Item = &Change> + '_>> {
    match cmd {
        Command::FederationReceive { events, .. } => {
            Some(Box::new(events.iter().map(|e| &e.change)))
        }
        Command::FederationSync { changes, .. } => Some(Box::new(changes.iter())),
        _ => None,
    }
}

/// Whether applying `cmd` may move a subject cut-off.
pub(super) fn touches_subjects(cmd: &Command) -> bool {
    match cmd {
        Command::DeleteUser { .. }
        | Command::UpdateUser { .. }
        | Command::RevokeSubject { .. }
        | Command::RestoreChunk { .. } => true,
        Command::FederationReceive { .. } | Command::FederationSync { .. } => {
            // A user deleted by a peer revokes its local subject too.
            federated_changes(cmd).is_some_and(|mut c| {
                c.any(|c| matches!(c, Change::Subject { .. } | Change::User { .. }))
            })
        }
        Command::Batch { commands } => commands.iter().any(touches_subjects),
        _ => false,
    }
}

/// Whether applying `cmd` may change what a token lets its holder act as: users, groups,
/// subject cut-offs, keys, trust, or anything restored or federated. Only token records
/// and login throttling are known not to; everything else counts (see
/// `StateView::principals_generation`).
pub(super) fn may_change_principals(cmd: &Command) -> bool {
    match cmd {
        Command::IssueToken { .. }
        | Command::RefreshToken { .. }
        | Command::RevokeToken { .. }
        | Command::LoginFailed { .. }
        | Command::LoginSucceeded { .. }
        | Command::IssuePairing { .. }
        | Command::ConsumePairing { .. } => false,
        Command::Batch { commands } => commands.iter().any(may_change_principals),
        _ => true,
    }
}
