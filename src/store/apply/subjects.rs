//! Subject cut-offs: every token of a subject issued up to a time is revoked. A subject
//! revoked here journals the change, so federated sites learn it.

use super::journal::journal;
use super::tx::{tx_get, tx_put, Tx, TxResult};
use crate::domain::token::subject_for;
use crate::federation::protocol::Change;
use crate::raft::command::CommandResponse;
use crate::store::trees::key::SERVICE_ID;
use crate::store::trees::StateTree::{Meta, Subjects};

/// Whether tokens of `subject` issued at `issued_at` are revoked by a subject cut-off.
pub(super) fn subject_cut_off(tx: &Tx<'_>, subject: &str, issued_at: u64) -> TxResult<bool> {
    let cut: Option<u64> = tx_get(tx.t(Subjects), subject.as_bytes())?;
    Ok(cut.is_some_and(|c| issued_at <= c))
}

/// The same for a local user name.
pub(super) fn user_cut_off(tx: &Tx<'_>, username: &str, issued_at: u64) -> TxResult<bool> {
    match local_subject(tx, username)? {
        Some(subject) => subject_cut_off(tx, &subject, issued_at),
        None => Ok(false),
    }
}

fn local_subject(tx: &Tx<'_>, username: &str) -> TxResult<Option<String>> {
    let service_id: Option<String> = tx_get(tx.t(Meta), SERVICE_ID)?;
    Ok(service_id.map(|sid| subject_for(&sid, username)))
}

/// Move the subject's cut-off forward to `at` (never back).
pub(super) fn move_cut_off(tx: &Tx<'_>, subject: &str, at: u64) -> TxResult<()> {
    let cut: Option<u64> = tx_get(tx.t(Subjects), subject.as_bytes())?;
    tx_put(
        tx.t(Subjects),
        subject.as_bytes(),
        &cut.unwrap_or(0).max(at),
    )
}

/// A subject revoked here: federated sites learn it from the journal.
pub(super) fn revoke_subject(tx: &Tx<'_>, subject: &str, at: u64) -> TxResult<CommandResponse> {
    move_cut_off(tx, subject, at)?;
    journal(
        tx,
        Change::Subject {
            subject: subject.to_string(),
            at,
        },
        at * 1000,
    )?;
    Ok(CommandResponse::Ok)
}

pub(super) fn revoke_user(tx: &Tx<'_>, username: &str, at: u64) -> TxResult<()> {
    if let Some(subject) = local_subject(tx, username)? {
        revoke_subject(tx, &subject, at)?;
    }
    Ok(())
}
