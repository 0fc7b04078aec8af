//! Applying key commands: bootstrap, certificate reset, the circle of trust.

use super::federation_certs::{bind_trusted, drop_federated_certs};
use super::journal::{cluster_format, local_cert};
use super::tx::{tx_get, tx_put, Tx, TxResult};
use crate::crypto::KeyMaterial;
use crate::domain::accounts::UserRecord;
use crate::domain::trust::TrustedCert;
use crate::domain::version::FIRST_FORMAT;
use crate::raft::command::CommandResponse;
use crate::store::trees::key::{ACTIVE_KEY, FORMAT, RETIRED_KEYS, SERVICE_ID};
use crate::store::trees::StateTree::{Keys, Meta, Trusted, Users};

/// Initialise the cluster once: identity, first keypair, bootstrap admin.
pub(super) fn bootstrap(
    tx: &Tx<'_>,
    service_id: &str,
    key: &KeyMaterial,
    admin: &UserRecord,
    format: u32,
) -> TxResult<CommandResponse> {
    if tx.t(Meta).get(SERVICE_ID)?.is_some() {
        return Ok(CommandResponse::AlreadyBootstrapped);
    }
    tx_put(tx.t(Meta), SERVICE_ID, &service_id)?;
    tx_put(tx.t(Meta), FORMAT, &format.max(FIRST_FORMAT))?;
    tx_put(tx.t(Keys), ACTIVE_KEY, key)?;
    tx_put(tx.t(Users), admin.username.as_bytes(), admin)?;
    Ok(CommandResponse::Bootstrapped)
}

/// The cluster moves to format `version`; a lower one changes nothing.
pub(super) fn raise_format(tx: &Tx<'_>, version: u32) -> TxResult<CommandResponse> {
    let current: u32 = tx_get(tx.t(Meta), FORMAT)?.unwrap_or(FIRST_FORMAT);
    if version > current {
        tx_put(tx.t(Meta), FORMAT, &version)?;
    }
    Ok(CommandResponse::Ok)
}

pub(super) fn put_trusted(tx: &Tx<'_>, cert: &TrustedCert) -> TxResult<CommandResponse> {
    if let Some(old) = tx_get::<TrustedCert>(tx.t(Trusted), cert.name.as_bytes())? {
        bind_trusted(tx, &old, false)?;
    }
    if !cert.federated && cluster_format(tx)? > FIRST_FORMAT {
        // The admin's word on a site's key wins over what the federation taught us (from
        // format 2: releases before it kept both, and a cluster's nodes must apply alike).
        drop_federated_certs(tx, &cert.service_id)?;
    }
    tx_put(tx.t(Trusted), cert.name.as_bytes(), cert)?;
    bind_trusted(tx, cert, true)?;
    Ok(CommandResponse::Ok)
}

pub(super) fn remove_trusted(tx: &Tx<'_>, name: &str) -> TxResult<CommandResponse> {
    Ok(
        match tx_get::<TrustedCert>(tx.t(Trusted), name.as_bytes())? {
            Some(old) => {
                tx.t(Trusted).remove(name.as_bytes())?;
                bind_trusted(tx, &old, false)?;
                CommandResponse::Ok
            }
            None => CommandResponse::NotFound,
        },
    )
}

/// A new signing key. With `keep_old` the previous certificate stays trusted as retired;
/// without it every earlier key stops being trusted: a full reset.
pub(super) fn rotate(
    tx: &Tx<'_>,
    key: &KeyMaterial,
    keep_old: bool,
    endorsement: Option<&String>,
) -> TxResult<CommandResponse> {
    let old: Option<KeyMaterial> = tx_get(tx.t(Keys), ACTIVE_KEY)?;
    let mut retired: Vec<String> = match keep_old {
        true => tx_get(tx.t(Keys), RETIRED_KEYS)?.unwrap_or_default(),
        false => Vec::new(),
    };
    if let Some(old) = old.filter(|o| o.kid != key.kid && keep_old) {
        if !retired.contains(&old.certificate_pem) {
            retired.push(old.certificate_pem);
        }
    }
    tx_put(tx.t(Keys), RETIRED_KEYS, &retired)?;
    tx_put(tx.t(Keys), ACTIVE_KEY, key)?;
    local_cert(
        tx,
        &key.kid,
        &key.certificate_pem,
        &retired,
        endorsement,
        key.created_at * 1000,
    )?;
    Ok(CommandResponse::Ok)
}
