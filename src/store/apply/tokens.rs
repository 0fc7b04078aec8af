//! Applying token commands: issue, refresh (conditional), revoke, pairing, expiry.

use super::journal::{cluster_format, journal, own_site};
use super::subjects::{subject_cut_off, user_cut_off};
use super::tx::{tx_get, tx_put, tx_replace, Expired, Tx, TxResult};
use crate::domain::token::{PairingRecord, Revocation, TokenKind, TokenRecord};
use crate::domain::version::FIRST_FORMAT;
use crate::federation::protocol::Change;
use crate::raft::command::CommandResponse;
use crate::store::due::{self, Due};
use crate::store::trees::StateTree::{Pairing, Refs, Revoked, Tokens};

pub(super) fn store(tx: &Tx<'_>, record: &TokenRecord) -> TxResult<()> {
    let replaced = tx_replace(tx.t(Tokens), record.token_id.as_bytes(), record)?;
    due::replace(
        tx.due(),
        Due::Token,
        replaced,
        record.expiry,
        &record.token_id,
    )?;
    if let Some(hash) = &record.reference_hash {
        tx.t(Refs)
            .insert(hash.as_bytes(), record.token_id.as_bytes())?;
    }
    Ok(())
}

/// Drop a stored token and its reference.
pub(super) fn drop_record(tx: &Tx<'_>, record: &TokenRecord) -> TxResult<()> {
    tx.t(Tokens).remove(record.token_id.as_bytes())?;
    due::remove(tx.due(), Due::Token, record.expiry, &record.token_id)?;
    if let Some(hash) = &record.reference_hash {
        tx.t(Refs).remove(hash.as_bytes())?;
    }
    Ok(())
}

/// Drop a stored token; revocable ones leave a revocation behind, which federated sites
/// learn from the journal.
fn revoke(tx: &Tx<'_>, record: &TokenRecord, revoked_at: u64) -> TxResult<()> {
    drop_record(tx, record)?;
    if record.revocable {
        let revocation = Revocation {
            token_id: record.token_id.clone(),
            revoked_at,
            expiry: record.expiry,
        };
        put_revocation(tx, &revocation)?;
        journal(tx, Change::Revoke { revocation }, revoked_at * 1000)?;
    }
    Ok(())
}

/// Keep a revocation until the token would have expired anyway.
pub(super) fn put_revocation(tx: &Tx<'_>, revocation: &Revocation) -> TxResult<()> {
    let replaced = tx_replace(tx.t(Revoked), revocation.token_id.as_bytes(), revocation)?;
    due::replace(
        tx.due(),
        Due::Revocation,
        replaced,
        revocation.expiry,
        &revocation.token_id,
    )?;
    Ok(())
}

pub(super) fn issue(tx: &Tx<'_>, record: &TokenRecord) -> TxResult<CommandResponse> {
    store(tx, record)?;
    // Web sessions are site-local: never federated. At the first format they are journaled
    // as releases before formats did (every node's journal must number alike); the link
    // never sends them (`PeerSite::carries`).
    if record.kind == TokenKind::Session && cluster_format(tx)? > FIRST_FORMAT {
        return Ok(CommandResponse::Issued);
    }
    journal(
        tx,
        Change::Token {
            record: record.clone(),
        },
        record.issued_at * 1000,
    )?;
    Ok(CommandResponse::Issued)
}

/// Conditional: applies only while the old record still holds this unused refresh hash,
/// within its refresh deadline and after its subject's cut-off.
pub(super) fn refresh(
    tx: &Tx<'_>,
    old_token_id: &str,
    refresh_hash: &str,
    now: u64,
    grace_secs: u64,
    new_record: &TokenRecord,
) -> TxResult<CommandResponse> {
    let rejected = |why: &str| Ok(CommandResponse::RefreshRejected(why.into()));
    let old: Option<TokenRecord> = tx_get(tx.t(Tokens), old_token_id.as_bytes())?;
    let Some(old) = old else {
        // A retried proposal (forwarded write whose answer was lost) is a success.
        if tx.t(Tokens).get(new_record.token_id.as_bytes())?.is_some() {
            return Ok(CommandResponse::Refreshed);
        }
        return rejected("token is revoked or unknown");
    };
    // A federated site's record never refreshes here (the service refuses it before this;
    // at the first format an older leader may still propose it, and its nodes apply it).
    if old.issuer != own_site(tx)? && cluster_format(tx)? > FIRST_FORMAT {
        return rejected("token is revoked or unknown");
    }
    if old.refresh_hash.as_deref() != Some(refresh_hash) {
        return rejected("refresh token is invalid or already used");
    }
    if old.refresh_deadline(grace_secs).is_some_and(|d| now > d) {
        return rejected("refresh grace period is over");
    }
    if subject_cut_off(tx, &old.subject, old.issued_at)? {
        return rejected("every token of this user was revoked");
    }
    revoke(tx, &old, now)?;
    issue(tx, new_record)?;
    Ok(CommandResponse::Refreshed)
}

pub(super) fn revoke_by_id(
    tx: &Tx<'_>,
    token_id: &str,
    revoked_at: u64,
) -> TxResult<CommandResponse> {
    match tx_get::<TokenRecord>(tx.t(Tokens), token_id.as_bytes())? {
        Some(record) => {
            revoke(tx, &record, revoked_at)?;
            Ok(CommandResponse::Revoked(record))
        }
        None if tx.t(Revoked).get(token_id.as_bytes())?.is_some() => {
            Ok(CommandResponse::AlreadyRevoked)
        }
        None => Ok(CommandResponse::NotFound),
    }
}

pub(super) fn issue_pairing(
    tx: &Tx<'_>,
    hash: &str,
    record: &PairingRecord,
) -> TxResult<CommandResponse> {
    tx_put(tx.t(Pairing), hash.as_bytes(), record)?;
    Ok(CommandResponse::Issued)
}

/// Conditional: succeeds once, while the pairing token exists, has not expired and was
/// issued after its user's cut-off.
pub(super) fn consume_pairing(tx: &Tx<'_>, hash: &str, now: u64) -> TxResult<CommandResponse> {
    let rejected = |why: &str| Ok(CommandResponse::PairingRejected(why.into()));
    let Some(p) = tx_get::<PairingRecord>(tx.t(Pairing), hash.as_bytes())? else {
        return rejected("pairing token is unknown or already used");
    };
    tx.t(Pairing).remove(hash.as_bytes())?;
    if p.expiry < now {
        return rejected("pairing token has expired");
    }
    if user_cut_off(tx, &p.username, p.issued_at)? {
        return rejected("every token of this user was revoked");
    }
    Ok(CommandResponse::Paired(p))
}

/// Remove what the pre-apply scan found expired.
pub(super) fn expire(tx: &Tx<'_>, expired: &Expired) -> TxResult<CommandResponse> {
    use crate::store::trees::StateTree::Logins;
    for (tree, keys) in [
        (Tokens, &expired.tokens),
        (Refs, &expired.refs),
        (Pairing, &expired.pairings),
        (Revoked, &expired.revocations),
        (Logins, &expired.logins),
    ] {
        for key in keys {
            tx.t(tree).remove(key.as_bytes())?;
        }
    }
    for key in &expired.due {
        tx.due().remove(key.as_slice())?;
    }
    Ok(CommandResponse::Expired {
        tokens: expired.tokens.len() as u64,
        revocations: expired.revocations.len() as u64,
        next: expired.next.clone(),
    })
}
