//! Merging one change a peer site sent (a journal event or a full-sync item), unless our
//! entry for the sender, or the store, refuses it: tokens and revocations, subject cut-offs,
//! users, groups, permission targets and site certificates.

use super::federation::{merge_group, merge_permission, merge_user};
use super::federation_certs::merge_cert;
use super::journal::observe;
use super::subjects::move_cut_off;
use super::tokens;
use super::tx::{tx_get, Tx, TxResult};
use crate::domain::clock::{received_cut_off, too_far_ahead};
use crate::domain::token::{Revocation, TokenRecord};
use crate::federation::admission::Refusal;
use crate::federation::protocol::{Change, PeerSite};
use crate::raft::command::ReceiveTimes;
use crate::store::trees::StateTree::{Refs, Revoked, Subjects, Tokens};

/// A token record of another site (admitted already): stored unless revoked or held. Its
/// reference never displaces one we resolve already.
fn merge_token(tx: &Tx<'_>, record: &TokenRecord) -> TxResult<()> {
    let id = record.token_id.as_bytes();
    if tx.t(Revoked).get(id)?.is_some() || tx.t(Tokens).get(id)?.is_some() {
        return Ok(());
    }
    match &record.reference_hash {
        Some(h) if tx.t(Refs).get(h.as_bytes())?.is_some() => tokens::store(
            tx,
            &TokenRecord {
                reference_hash: None,
                ..record.clone()
            },
        ),
        _ => tokens::store(tx, record),
    }
}

/// A token record we hold or revoked, or a cut-off we have already: nothing to merge (a full
/// sync brings back what we sent), so nothing to refuse either.
fn no_news(tx: &Tx<'_>, change: &Change) -> TxResult<bool> {
    Ok(match change {
        Change::Token { record } => {
            let id = record.token_id.as_bytes();
            tx.t(Revoked).get(id)?.is_some() || tx.t(Tokens).get(id)?.is_some()
        }
        Change::Subject { subject, at } => {
            let cut: Option<u64> = tx_get(tx.t(Subjects), subject.as_bytes())?;
            cut.is_some_and(|c| c >= *at)
        }
        _ => false,
    })
}

/// Merge one change from `peer`, unless our entry for it (or the store) refuses it.
pub(super) fn merge(
    tx: &Tx<'_>,
    peer: &PeerSite,
    change: &Change,
    own: &str,
    origin: Option<&str>,
    times: &ReceiveTimes,
) -> TxResult<Result<(), Refusal>> {
    // A full sync repeats what we hold: quietly nothing, not a refusal.
    if origin.is_none() && no_news(tx, change)? {
        return Ok(Ok(()));
    }
    if let Err(r) = peer.admits(change, own, origin) {
        return Ok(Err(r));
    }
    let future = change.latest_stamp_ms().is_some_and(|ms| {
        times.max_future_ms > 0 && too_far_ahead(ms, times.now_ms, times.max_future_ms)
    });
    if future {
        return Ok(Err(Refusal::FutureStamp));
    }
    match change {
        Change::Token { record } => merge_token(tx, record)?,
        Change::Revoke { revocation } => return merge_revocation(tx, peer, revocation, own),
        Change::Subject { subject, at } => {
            // A cut-off of one of our subjects holds for every token we issued until now.
            let ours = subject.starts_with(own) && subject[own.len()..].starts_with("/users/");
            let at = match ours {
                true => received_cut_off(*at, times.cut_off),
                false => *at,
            };
            move_cut_off(tx, subject, at)?
        }
        Change::User { name, state } => {
            for s in state
                .stamp
                .iter()
                .chain(state.members.values().map(|m| &m.stamp))
            {
                observe(tx, s)?;
            }
            merge_user(tx, name, state, own, times)?
        }
        Change::Group { name, state } => {
            if let Some(s) = &state.stamp {
                observe(tx, s)?;
            }
            merge_group(tx, name, state)?
        }
        Change::Permission { name, state } => {
            if let Some(s) = &state.stamp {
                observe(tx, s)?;
            }
            merge_permission(tx, name, state)?
        }
        Change::Oidc { name, state } => {
            if let Some(s) = &state.stamp {
                observe(tx, s)?;
            }
            super::oidc::merge(tx, name, state)?
        }
        Change::Cert { cert } => return merge_cert(tx, cert, own),
        Change::Skip => {}
    }
    Ok(Ok(()))
}

/// Revocations are final: the record goes (if we hold it) and the revocation stays. A
/// token of ours whose user our entry for the sender excludes is not the sender's to revoke.
fn merge_revocation(
    tx: &Tx<'_>,
    peer: &PeerSite,
    revocation: &Revocation,
    own: &str,
) -> TxResult<Result<(), Refusal>> {
    let id = revocation.token_id.as_bytes();
    if let Some(record) = tx_get::<TokenRecord>(tx.t(Tokens), id)? {
        if record.issuer == own && peer.exclude_users.contains(&record.username) {
            return Ok(Err(Refusal::ExcludedUser));
        }
        tokens::drop_record(tx, &record)?;
    }
    if tx.t(Revoked).get(id)?.is_none() {
        tokens::put_revocation(tx, revocation)?;
    }
    Ok(Ok(()))
}
