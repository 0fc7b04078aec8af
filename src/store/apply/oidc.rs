//! Applying OIDC providers and their identity mappings. A provider's mappings are kept as one
//! list under its name, so deleting the provider takes them in the same apply. Every change
//! made here is journaled for federated sites as the provider with all its mappings; one
//! from a site is merged the same way (last writer wins, `journal::local_oidc`).

use super::journal::local_oidc;
use super::tx::{tx_get, tx_put, Tx, TxResult};
use crate::domain::federation::OidcState;
use crate::domain::oidc::{IdentityMapping, OidcProvider};
use crate::raft::command::CommandResponse;
use crate::store::trees::fed_key;
use crate::store::trees::StateTree::{FedEntities, OidcMappings, OidcProviders};

pub(super) fn put_provider(
    tx: &Tx<'_>,
    provider: &OidcProvider,
    create_only: bool,
    at_ms: u64,
) -> TxResult<CommandResponse> {
    let key = provider.name.as_bytes();
    let existing: Option<OidcProvider> = tx_get(tx.t(OidcProviders), key)?;
    if create_only && existing.is_some() {
        return Ok(CommandResponse::Conflict);
    }
    tx_put(tx.t(OidcProviders), key, provider)?;
    local_oidc(tx, &provider.name, at_ms)?;
    Ok(CommandResponse::Ok)
}

pub(super) fn delete_provider(tx: &Tx<'_>, name: &str, at_ms: u64) -> TxResult<CommandResponse> {
    if tx.t(OidcProviders).get(name.as_bytes())?.is_none() {
        return Ok(CommandResponse::NotFound);
    }
    store(tx, name, None, &[])?;
    local_oidc(tx, name, at_ms)?;
    Ok(CommandResponse::Ok)
}

pub(super) fn put_mapping(
    tx: &Tx<'_>,
    mapping: &IdentityMapping,
    create_only: bool,
    at_ms: u64,
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
    local_oidc(tx, &mapping.provider_name, at_ms)?;
    Ok(CommandResponse::Ok)
}

pub(super) fn delete_mapping(
    tx: &Tx<'_>,
    provider: &str,
    name: &str,
    at_ms: u64,
) -> TxResult<CommandResponse> {
    let key = provider.as_bytes();
    let mut all: Vec<IdentityMapping> = tx_get(tx.t(OidcMappings), key)?.unwrap_or_default();
    let before = all.len();
    all.retain(|m| m.name != name);
    if all.len() == before {
        return Ok(CommandResponse::NotFound);
    }
    let provider_record: Option<OidcProvider> = tx_get(tx.t(OidcProviders), key)?;
    store(tx, provider, provider_record.as_ref(), &all)?;
    local_oidc(tx, provider, at_ms)?;
    Ok(CommandResponse::Ok)
}

/// Write a provider and its mappings as they now are (`None`: gone, with its mappings).
fn store(
    tx: &Tx<'_>,
    name: &str,
    provider: Option<&OidcProvider>,
    mappings: &[IdentityMapping],
) -> TxResult<()> {
    let key = name.as_bytes();
    match provider {
        Some(p) => tx_put(tx.t(OidcProviders), key, p)?,
        None => {
            tx.t(OidcProviders).remove(key)?;
        }
    }
    if provider.is_none() || mappings.is_empty() {
        tx.t(OidcMappings).remove(key)?;
    } else {
        tx_put(tx.t(OidcMappings), key, &mappings.to_vec())?;
    }
    Ok(())
}

/// A provider (with its mappings) as a federated site last wrote it: taken when its stamp is
/// later than ours.
pub(super) fn merge(tx: &Tx<'_>, name: &str, change: &OidcState) -> TxResult<()> {
    let key = fed_key::oidc(name);
    let mut state: OidcState = tx_get(tx.t(FedEntities), &key)?.unwrap_or_default();
    if change.stamp <= state.stamp {
        return Ok(());
    }
    state.merge(change);
    tx_put(tx.t(FedEntities), &key, &state)?;
    store(tx, name, state.provider.as_ref(), &state.mappings)
}
