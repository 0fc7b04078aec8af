//! Applying OIDC providers and their identity mappings. A provider's mappings are kept as one
//! list under its name, so deleting the provider takes them in the same apply.

use super::tx::{tx_get, tx_put, Tx, TxResult};
use crate::domain::oidc::{IdentityMapping, OidcProvider};
use crate::raft::command::CommandResponse;
use crate::store::trees::StateTree::{OidcMappings, OidcProviders};

pub(super) fn put_provider(
    tx: &Tx<'_>,
    provider: &OidcProvider,
    create_only: bool,
) -> TxResult<CommandResponse> {
    let key = provider.name.as_bytes();
    let existing: Option<OidcProvider> = tx_get(tx.t(OidcProviders), key)?;
    if create_only && existing.is_some() {
        return Ok(CommandResponse::Conflict);
    }
    tx_put(tx.t(OidcProviders), key, provider)?;
    Ok(CommandResponse::Ok)
}

pub(super) fn delete_provider(tx: &Tx<'_>, name: &str) -> TxResult<CommandResponse> {
    if tx.t(OidcProviders).get(name.as_bytes())?.is_none() {
        return Ok(CommandResponse::NotFound);
    }
    tx.t(OidcProviders).remove(name.as_bytes())?;
    tx.t(OidcMappings).remove(name.as_bytes())?;
    Ok(CommandResponse::Ok)
}

pub(super) fn put_mapping(
    tx: &Tx<'_>,
    mapping: &IdentityMapping,
    create_only: bool,
) -> TxResult<CommandResponse> {
    let key = mapping.provider_name.as_bytes();
    if tx.t(OidcProviders).get(key)?.is_none() {
        return Ok(CommandResponse::NotFound);
    }
    let mut all: Vec<IdentityMapping> = tx_get(tx.t(OidcMappings), key)?.unwrap_or_default();
    match all.iter_mut().find(|m| m.name == mapping.name) {
        Some(_) if create_only => return Ok(CommandResponse::Conflict),
        Some(old) => *old = mapping.clone(),
        None => all.push(mapping.clone()),
    }
    all.sort_by(|a, b| a.name.cmp(&b.name));
    tx_put(tx.t(OidcMappings), key, &all)?;
    Ok(CommandResponse::Ok)
}

pub(super) fn delete_mapping(tx: &Tx<'_>, provider: &str, name: &str) -> TxResult<CommandResponse> {
    let key = provider.as_bytes();
    let mut all: Vec<IdentityMapping> = tx_get(tx.t(OidcMappings), key)?.unwrap_or_default();
    let before = all.len();
    all.retain(|m| m.name != name);
    if all.len() == before {
        return Ok(CommandResponse::NotFound);
    }
    match all.is_empty() {
        true => {
            tx.t(OidcMappings).remove(key)?;
        }
        false => tx_put(tx.t(OidcMappings), key, &all)?,
    }
    Ok(CommandResponse::Ok)
}
