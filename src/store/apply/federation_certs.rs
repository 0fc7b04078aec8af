//! Site certificates in the federated state: a certificate speaks only for its own site,
//! admin-installed ones are never replaced or removed by a peer, and the index of trusted
//! certificate names per service id.

use super::tx::{tx_get, tx_put, Tx, TxResult};
use crate::domain::federation::SiteCert;
use crate::domain::trust::TrustedCert;
use crate::federation::admission::Refusal;
use crate::federation::message::endorsed_by;
use crate::store::trees::fed_key;
use crate::store::trees::StateTree::{FedEntities, Trusted};

/// Forget the certificates the federation taught us for `service_id`: an admin installs one.
pub(super) fn drop_federated_certs(tx: &Tx<'_>, service_id: &str) -> TxResult<()> {
    let key = fed_key::bound(service_id);
    let names: Vec<String> = tx_get(tx.t(FedEntities), &key)?.unwrap_or_default();
    let mut still = Vec::new();
    for name in names {
        match tx_get::<TrustedCert>(tx.t(Trusted), name.as_bytes())? {
            Some(t) if t.federated => {
                tx.t(Trusted).remove(name.as_bytes())?;
            }
            Some(_) => still.push(name),
            None => {}
        }
    }
    tx_put(tx.t(FedEntities), &key, &still)?;
    tx.t(FedEntities)
        .remove(fed_key::cert(service_id).as_slice())?;
    Ok(())
}

/// Keep the index of trusted-certificate names per service id current.
pub(super) fn bind_trusted(tx: &Tx<'_>, cert: &TrustedCert, bound: bool) -> TxResult<()> {
    let key = fed_key::bound(&cert.service_id);
    let mut names: Vec<String> = tx_get(tx.t(FedEntities), &key)?.unwrap_or_default();
    names.retain(|n| n != &cert.name);
    if bound {
        names.push(cert.name.clone());
    }
    tx_put(tx.t(FedEntities), &key, &names)
}

/// Another site's certificate. It speaks only for itself: a certificate for a site we
/// already trust a key of must carry that key's endorsement (a rotation); the first one we
/// learn must endorse itself. Admin-installed certificates are never replaced or removed.
pub(super) fn merge_cert(tx: &Tx<'_>, cert: &SiteCert, own: &str) -> TxResult<Result<(), Refusal>> {
    if cert.service_id == own || cert.service_id.is_empty() {
        return Ok(Err(Refusal::OwnCertificate));
    }
    // A certificate that does not parse, or whose kid is not its key's, is refused the same
    // on every node (its dates are not read: they would depend on the applying node's clock).
    match crate::crypto::certificate_kid(&cert.certificate_pem) {
        Ok(kid) if kid == cert.kid => {}
        _ => return Ok(Err(Refusal::Unendorsed)),
    }
    let bound_key = fed_key::bound(&cert.service_id);
    let names: Vec<String> = tx_get(tx.t(FedEntities), &bound_key)?.unwrap_or_default();
    let mut trusted: Vec<TrustedCert> = Vec::new();
    for name in &names {
        if let Some(t) = tx_get::<TrustedCert>(tx.t(Trusted), name.as_bytes())? {
            trusted.push(t);
        }
    }
    // The keys the site signs with now, as far as we know (not those it rotated away from).
    let current: Vec<&TrustedCert> = trusted.iter().filter(|t| !t.withdrawn).collect();
    let endorsed = if trusted.is_empty() {
        cert.self_endorsement
            .as_deref()
            .is_some_and(|e| endorsed_by(e, &cert.certificate_pem, cert))
    } else if current.iter().any(|t| t.kid == cert.kid) {
        true
    } else {
        cert.endorsement.as_deref().is_some_and(|e| {
            current
                .iter()
                .any(|t| endorsed_by(e, &t.certificate_pem, cert))
        })
    };
    if !endorsed {
        return Ok(Err(Refusal::Unendorsed));
    }
    let key = fed_key::cert(&cert.service_id);
    let known: Option<SiteCert> = tx_get(tx.t(FedEntities), &key)?;
    if !cert.supersedes(known.as_ref()) {
        return Ok(Ok(()));
    }
    tx_put(tx.t(FedEntities), &key, cert)?;
    // The new certificate, and those it keeps that we trusted already for that site: no key
    // enters through `retired`.
    let mut keep: Vec<(String, String)> = vec![(cert.kid.clone(), cert.certificate_pem.clone())];
    for pem in &cert.retired {
        if let Some(t) = trusted.iter().find(|t| &t.certificate_pem == pem) {
            keep.push((t.kid.clone(), pem.clone()));
        }
    }
    let mut still = Vec::new();
    for mut t in trusted {
        let kept = keep.iter().any(|(kid, _)| kid == &t.kid);
        if t.federated && !kept {
            tx.t(Trusted).remove(t.name.as_bytes())?;
            continue;
        }
        if !t.federated && t.withdrawn == kept {
            // The site itself stopped (or resumed) using the key an admin installed.
            t.withdrawn = !kept;
            tx_put(tx.t(Trusted), t.name.as_bytes(), &t)?;
        }
        still.push(t.name);
    }
    for (kid, pem) in keep {
        let name = format!("federation-{kid}");
        // Held already, or taken by an admin's certificate or another site's: left alone.
        if still.contains(&name) || tx.t(Trusted).get(name.as_bytes())?.is_some() {
            continue;
        }
        tx_put(
            tx.t(Trusted),
            name.as_bytes(),
            &TrustedCert {
                name: name.clone(),
                certificate_pem: pem,
                kid,
                added_at: cert.stamp.ms / 1000,
                service_id: cert.service_id.clone(),
                federated: true,
                withdrawn: false,
            },
        )?;
        still.push(name);
    }
    tx_put(tx.t(FedEntities), &bound_key, &still)?;
    Ok(Ok(()))
}
