//! The outbound journal and the merge state of local changes: a change made here stamps its
//! entity's merge state and appends the event peers learn it from, in the same apply that
//! makes it.

use super::tx::{tx_get, tx_put, Tx, TxResult};
use crate::domain::accounts::{GroupRecord, UserRecord};
use crate::domain::federation::{
    membership_change, Clock, GroupFields, GroupState, OidcState, PermissionState, SiteCert, Stamp,
    UserFields, UserState,
};
use crate::domain::oidc::{IdentityMapping, OidcProvider};
use crate::domain::permissions::PermissionTarget;
use crate::federation::protocol::{Change, JournalEntry};
use crate::store::trees::fed_key;
use crate::store::trees::key::SERVICE_ID;
use crate::store::trees::StateTree::{
    FedEntities, FedJournal, FedState, Meta, OidcMappings, OidcProviders,
};

pub(super) fn get_u64(tx: &Tx<'_>, key: &[u8]) -> TxResult<u64> {
    Ok(tx_get(tx.t(FedState), key)?.unwrap_or(0))
}

pub(super) fn own_site(tx: &Tx<'_>) -> TxResult<String> {
    Ok(tx_get(tx.t(Meta), SERVICE_ID)?.unwrap_or_default())
}

/// The cluster's format (`domain::version`): a behaviour that differs from releases before
/// it waits for it, so every node of a cluster in a rolling upgrade applies alike.
pub(super) fn cluster_format(tx: &Tx<'_>) -> TxResult<u32> {
    Ok(tx_get(tx.t(Meta), crate::store::trees::key::FORMAT)?
        .unwrap_or(crate::domain::version::FIRST_FORMAT))
}

pub(super) fn append(tx: &Tx<'_>, entry: &JournalEntry) -> TxResult<()> {
    let head = get_u64(tx, fed_key::HEAD)?;
    tx_put(tx.t(FedJournal), &head.to_be_bytes(), entry)?;
    tx_put(tx.t(FedState), fed_key::HEAD, &(head + 1))
}

/// Journal a change made here, as the next event of our origin (nothing without peers).
pub(super) fn journal(tx: &Tx<'_>, change: Change, at_ms: u64) -> TxResult<()> {
    if get_u64(tx, fed_key::PEERS)? == 0 {
        return Ok(());
    }
    let origin = own_site(tx)?;
    let seq = get_u64(tx, fed_key::SEQ)? + 1;
    tx_put(tx.t(FedState), fed_key::SEQ, &seq)?;
    tx_put(tx.t(FedState), &fed_key::vector(&origin), &seq)?;
    append(
        tx,
        &JournalEntry {
            origin,
            seq,
            at_ms,
            change,
            sig: None,
        },
    )
}

/// A fresh stamp for a local change at wall time `now_ms`.
fn stamp(tx: &Tx<'_>, now_ms: u64, own: &str) -> TxResult<Stamp> {
    let clock: Clock = tx_get(tx.t(FedState), fed_key::CLOCK)?.unwrap_or_default();
    let clock = clock.tick(now_ms);
    tx_put(tx.t(FedState), fed_key::CLOCK, &clock)?;
    Ok(clock.stamp(own))
}

pub(super) fn observe(tx: &Tx<'_>, remote: &Stamp) -> TxResult<()> {
    let clock: Clock = tx_get(tx.t(FedState), fed_key::CLOCK)?.unwrap_or_default();
    tx_put(tx.t(FedState), fed_key::CLOCK, &clock.observe(remote))
}

pub fn user_fields(r: &UserRecord) -> UserFields {
    UserFields {
        password_hash: r.password_hash.clone(),
        email: r.email.clone(),
        created_at: r.created_at,
        disabled: r.disabled,
        scim: r.scim.clone(),
    }
}

/// The merge state of a user, seeded from its record when it has none yet (a user from
/// before federation was set up).
pub(super) fn user_state(
    tx: &Tx<'_>,
    name: &str,
    record: Option<&UserRecord>,
    own: &str,
) -> TxResult<UserState> {
    if let Some(s) = tx_get(tx.t(FedEntities), &fed_key::user(name))? {
        return Ok(s);
    }
    Ok(match record {
        Some(r) => UserState::seeded(
            user_fields(r),
            &r.groups,
            &Stamp {
                ms: r.created_at * 1000,
                n: 0,
                site: own.to_string(),
            },
        ),
        None => UserState::default(),
    })
}

/// A user written here (`after` None: deleted). `fields_changed` is false when only the
/// membership (or the site-local admin flag) changed, so the fields keep their stamp.
pub(super) fn local_user(
    tx: &Tx<'_>,
    name: &str,
    before: Option<&UserRecord>,
    after: Option<&UserRecord>,
    fields_changed: bool,
    at_ms: u64,
) -> TxResult<()> {
    let own = own_site(tx)?;
    let mut state = user_state(tx, name, before, &own)?;
    let stamp = stamp(tx, at_ms, &own)?;
    let before_groups = before.map(|r| r.groups.clone()).unwrap_or_default();
    let after_groups = after.map(|r| r.groups.clone()).unwrap_or_default();
    let change = match after {
        None => UserState::local_change(&before_groups, None, Some(&[]), &stamp),
        Some(r) => UserState {
            stamp: fields_changed.then(|| stamp.clone()),
            fields: fields_changed.then(|| user_fields(r)),
            deleted_at: None,
            members: membership_change(&before_groups, &after_groups, &stamp),
        },
    };
    if change.stamp.is_none() && change.members.is_empty() {
        return Ok(());
    }
    state.merge(&change);
    tx_put(tx.t(FedEntities), &fed_key::user(name), &state)?;
    journal(
        tx,
        Change::User {
            name: name.to_string(),
            state: change,
        },
        at_ms,
    )
}

/// A group written here (`after` None: deleted).
pub(super) fn local_group(
    tx: &Tx<'_>,
    name: &str,
    after: Option<&GroupRecord>,
    at_ms: u64,
) -> TxResult<()> {
    let own = own_site(tx)?;
    let change = GroupState {
        stamp: Some(stamp(tx, at_ms, &own)?),
        fields: after.map(|g| GroupFields {
            description: g.description.clone(),
            created_at: g.created_at,
            scim: g.scim.clone(),
        }),
    };
    let mut state: GroupState =
        tx_get(tx.t(FedEntities), &fed_key::group(name))?.unwrap_or_default();
    state.merge(&change);
    tx_put(tx.t(FedEntities), &fed_key::group(name), &state)?;
    journal(
        tx,
        Change::Group {
            name: name.to_string(),
            state: change,
        },
        at_ms,
    )
}

/// A permission target written here (`target` None: deleted).
pub(super) fn local_permission(
    tx: &Tx<'_>,
    name: &str,
    target: Option<&PermissionTarget>,
    at_ms: u64,
) -> TxResult<()> {
    let own = own_site(tx)?;
    let change = PermissionState {
        stamp: Some(stamp(tx, at_ms, &own)?),
        target: target.cloned(),
    };
    let key = fed_key::permission(name);
    let mut state: PermissionState = tx_get(tx.t(FedEntities), &key)?.unwrap_or_default();
    state.merge(&change);
    tx_put(tx.t(FedEntities), &key, &state)?;
    journal(
        tx,
        Change::Permission {
            name: name.to_string(),
            state: change,
        },
        at_ms,
    )
}

/// A target lost a deleted user or group: its merge state says the same, stamp unchanged
/// (every site removes it when it applies that delete).
pub(super) fn restate_permission(tx: &Tx<'_>, target: &PermissionTarget) -> TxResult<()> {
    let key = fed_key::permission(&target.name);
    if let Some(mut state) = tx_get::<PermissionState>(tx.t(FedEntities), &key)? {
        state.target = Some(target.clone());
        tx_put(tx.t(FedEntities), &key, &state)?;
    }
    Ok(())
}

/// Our own certificate changed (a reset): peers learn it through the journal.
pub(super) fn local_cert(
    tx: &Tx<'_>,
    kid: &str,
    certificate_pem: &str,
    retired: &[String],
    endorsement: Option<&String>,
    at_ms: u64,
) -> TxResult<()> {
    let own = own_site(tx)?;
    let cert = SiteCert {
        service_id: own.clone(),
        stamp: stamp(tx, at_ms, &own)?,
        kid: kid.to_string(),
        certificate_pem: certificate_pem.to_string(),
        retired: retired.to_vec(),
        endorsement: endorsement.cloned(),
        // Added by the link when it sends the certificate (signed with the key itself).
        self_endorsement: None,
    };
    tx_put(tx.t(FedEntities), &fed_key::cert(&own), &cert)?;
    journal(tx, Change::Cert { cert }, at_ms)
}

/// An OIDC provider, or one of its mappings, changed here: the provider with all its
/// mappings, as they now are, is the change peers merge (a deleted provider has none).
pub(super) fn local_oidc(tx: &Tx<'_>, name: &str, at_ms: u64) -> TxResult<()> {
    let own = own_site(tx)?;
    let key = name.as_bytes();
    let provider: Option<OidcProvider> = tx_get(tx.t(OidcProviders), key)?;
    let mappings: Vec<IdentityMapping> = match provider {
        Some(_) => tx_get(tx.t(OidcMappings), key)?.unwrap_or_default(),
        None => Vec::new(),
    };
    let change = OidcState {
        stamp: Some(stamp(tx, at_ms, &own)?),
        provider,
        mappings,
    };
    tx_put(tx.t(FedEntities), &fed_key::oidc(name), &change)?;
    journal(
        tx,
        Change::Oidc {
            name: name.to_string(),
            state: change,
        },
        at_ms,
    )
}
