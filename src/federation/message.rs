//! Messages between sites: a compact JWS signed with the sending site's active key and
//! verified with the receiver's trusted certificate bound to the sender's service id. Never
//! the cluster join key: sites do not share one.
//!
//! After a certificate reset the sender signs with a key the receiver does not know yet. The
//! batch that carries the new certificate also carries its endorsement (the new kid signed by
//! the key it replaced); a receiver that trusts the old key takes the new one from it.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::crypto::jws::Parts;
use crate::crypto::{CryptoError, KeyMaterial, KeySet, VerifyError};
use crate::domain::federation::SiteCert;
use crate::federation::protocol::{Change, JournalEntry};
use sha2::Digest as _;

/// How long a message is good for: replays later than this are refused outright, earlier
/// ones by the receiver's position check.
pub const MESSAGE_TTL_SECS: u64 = 60;
/// Clock skew tolerated on `iat`.
const SKEW_SECS: u64 = 60;

#[derive(Debug, Serialize, Deserialize)]
pub struct Sealed<T> {
    pub iss: String,
    pub aud: String,
    pub iat: u64,
    pub exp: u64,
    pub jti: String,
    #[serde(flatten)]
    pub body: T,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    #[error("not a signed site message")]
    Malformed,
    #[error("{0}")]
    Verify(#[from] VerifyError),
    #[error("the message's issuer does not match the key that signed it")]
    Issuer,
    #[error("the message is not for this site")]
    Audience,
    #[error("the message has expired or is not valid yet")]
    Expired,
}

/// Sign `body` for the site `aud`.
pub fn seal<T: Serialize>(
    keys: &KeySet,
    aud: &str,
    body: T,
    now: u64,
) -> Result<String, CryptoError> {
    keys.active.sign_json(&Sealed {
        iss: keys.service_id.clone(),
        aud: aud.to_string(),
        iat: now,
        exp: now + MESSAGE_TTL_SECS,
        jti: crate::crypto::random_secret(),
        body,
    })
}

#[derive(Serialize, Deserialize)]
struct Endorsement {
    iss: String,
    /// The new key's kid.
    sub: String,
    purpose: String,
}

const ENDORSE_PURPOSE: &str = "federation-key";

/// The endorsement of `new` by the current active key (proposed with a certificate reset).
pub fn endorse(keys: &KeySet, new: &KeyMaterial) -> Result<String, CryptoError> {
    endorse_kid(keys, &new.kid)
}

fn endorse_kid(keys: &KeySet, kid: &str) -> Result<String, CryptoError> {
    keys.active.sign_json(&Endorsement {
        iss: keys.service_id.clone(),
        sub: kid.to_string(),
        purpose: ENDORSE_PURPOSE.into(),
    })
}

/// Our certificate as we send it: endorsed by its own key while it is our active one, so a
/// site that knows no key of ours yet can take it (see `merge_cert`).
pub fn self_endorsed(keys: &KeySet, mut cert: SiteCert) -> Result<SiteCert, CryptoError> {
    if cert.service_id == keys.service_id
        && cert.kid == keys.active.kid
        && cert.self_endorsement.is_none()
    {
        cert.self_endorsement = Some(endorse_kid(keys, &cert.kid)?);
    }
    Ok(cert)
}

/// Our own event as it leaves: own certificate self-endorsed, then signed as its origin.
/// Another origin's event leaves as it came, with that origin's signature.
pub fn as_origin(keys: &KeySet, mut e: JournalEntry) -> Result<JournalEntry, CryptoError> {
    if e.origin != keys.service_id || e.sig.is_some() {
        return Ok(e);
    }
    if let Change::Cert { cert } = e.change {
        e.change = Change::Cert {
            cert: self_endorsed(keys, cert)?,
        };
    }
    e.sig = Some(sign_origin(keys, e.seq, Some(&e.change))?);
    Ok(e)
}

/// Whether `endorsement` is `cert`'s kid endorsed for its service id by the key of `pem`.
pub fn endorsed_by(endorsement: &str, pem: &str, cert: &SiteCert) -> bool {
    let Ok(parts) = Parts::split(endorsement) else {
        return false;
    };
    let Ok(payload) = parts.verify_with_certificate(pem) else {
        return false;
    };
    serde_json::from_slice::<Endorsement>(&payload).is_ok_and(|e| {
        e.iss == cert.service_id && e.sub == cert.kid && e.purpose == ENDORSE_PURPOSE
    })
}

/// Open a message: signature by a key trusted for the issuer (or a key the message itself
/// introduces, endorsed by one), issuer, audience, time.
pub fn open<T: DeserializeOwned>(
    keys: &KeySet,
    token: &str,
    now: u64,
) -> Result<Sealed<T>, OpenError> {
    if token.len() > 64 * 1024 * 1024 {
        return Err(OpenError::Malformed);
    }
    let (payload, signer) = match keys.verify_site_message(token) {
        Ok(v) => v,
        Err(VerifyError::UnknownKey) => introduced(keys, token)?,
        Err(e) => return Err(e.into()),
    };
    let sealed: Sealed<T> = serde_json::from_slice(&payload).map_err(|_| OpenError::Malformed)?;
    if sealed.iss != signer {
        return Err(OpenError::Issuer);
    }
    if sealed.aud != keys.service_id {
        return Err(OpenError::Audience);
    }
    if sealed.exp <= now || sealed.iat > now + SKEW_SECS {
        return Err(OpenError::Expired);
    }
    Ok(sealed)
}

/// Verify with a certificate carried in the message, endorsed by a key trusted for its issuer.
fn introduced(keys: &KeySet, token: &str) -> Result<(Vec<u8>, String), OpenError> {
    let parts = Parts::split(token)?;
    let unverified: serde_json::Value =
        serde_json::from_slice(&parts.payload()?).map_err(|_| OpenError::Malformed)?;
    let iss = unverified["iss"].as_str().unwrap_or_default();
    for cert in carried_certs(&unverified) {
        if cert.service_id != iss || cert.kid != parts.kid {
            continue;
        }
        let Some(endorsement) = &cert.endorsement else {
            continue;
        };
        let Ok((payload, endorser)) = keys.verify_site_message(endorsement) else {
            continue;
        };
        let Ok(e) = serde_json::from_slice::<Endorsement>(&payload) else {
            continue;
        };
        if endorser == iss && e.iss == iss && e.sub == cert.kid && e.purpose == ENDORSE_PURPOSE {
            let payload = parts.verify_with_certificate(&cert.certificate_pem)?;
            return Ok((payload, endorser));
        }
    }
    Err(VerifyError::UnknownKey.into())
}

/// Site certificates a batch (`events[].change`) or sync chunk (`changes[]`) carries.
fn carried_certs(payload: &serde_json::Value) -> Vec<SiteCert> {
    let events = payload["events"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| &e["change"]);
    let changes = payload["changes"].as_array().into_iter().flatten();
    events
        .chain(changes)
        .filter(|c| c["kind"] == "cert")
        .filter_map(|c| serde_json::from_value(c["cert"].clone()).ok())
        .collect()
}

/// What an origin signs of each of its events (and, with an empty hash, of the sequence a
/// full sync claims for it).
#[derive(Serialize, Deserialize)]
struct OriginClaims {
    iss: String,
    seq: u64,
    /// SHA-256 (hex) of the change's JSON; empty in a vector proof.
    h: String,
    purpose: String,
}

const ORIGIN_PURPOSE: &str = "federation-event";

/// SHA-256 (hex) of a change as it travels.
pub fn change_hash(change: &Change) -> String {
    let bytes = serde_json::to_vec(change).unwrap_or_default();
    hex::encode(sha2::Sha256::digest(bytes))
}

/// Our signature of our event `seq` (of `change`; None: a vector proof).
pub fn sign_origin(
    keys: &KeySet,
    seq: u64,
    change: Option<&Change>,
) -> Result<String, CryptoError> {
    keys.active.sign_json(&OriginClaims {
        iss: keys.service_id.clone(),
        seq,
        h: change.map(change_hash).unwrap_or_default(),
        purpose: ORIGIN_PURPOSE.into(),
    })
}

/// Keys a batch introduces for an origin before its later events: certificates it carries
/// that the store would take (see `merge_cert`): self-endorsed for a site we know no key of,
/// endorsed by a key trusted for it otherwise.
#[derive(Default)]
pub struct Introduced(Vec<(String, String)>);

impl Introduced {
    /// `known(id)`: the certificates trusted (and not withdrawn) for service id `id`.
    pub fn learn(&mut self, known: impl Fn(&str) -> Vec<String>, change: &Change) {
        let Change::Cert { cert } = change else {
            return;
        };
        let known = known(&cert.service_id);
        let ok = if known.is_empty() {
            cert.self_endorsement
                .as_deref()
                .is_some_and(|e| endorsed_by(e, &cert.certificate_pem, cert))
        } else {
            cert.endorsement
                .as_deref()
                .is_some_and(|e| known.iter().any(|pem| endorsed_by(e, pem, cert)))
        };
        if ok {
            self.0
                .push((cert.service_id.clone(), cert.certificate_pem.clone()));
        }
    }
}

/// Whether `sig` is `origin`'s signature of its event `seq` (of `change`, unless the event
/// travels as a `Skip`, or `change` is None: a vector proof).
pub fn origin_signed(
    keys: &KeySet,
    introduced: &Introduced,
    sig: &str,
    origin: &str,
    seq: u64,
    change: Option<&Change>,
) -> bool {
    let payload = match keys.verify_site_message(sig) {
        Ok((payload, signer)) if signer == origin => payload,
        Ok(_) => return false,
        Err(VerifyError::UnknownKey) => {
            let Ok(parts) = Parts::split(sig) else {
                return false;
            };
            let carried = introduced
                .0
                .iter()
                .filter(|(id, _)| id == origin)
                .find_map(|(_, pem)| parts.verify_with_certificate(pem).ok());
            match carried {
                Some(p) => p,
                None => return false,
            }
        }
        Err(_) => return false,
    };
    let Ok(c) = serde_json::from_slice::<OriginClaims>(&payload) else {
        return false;
    };
    let hash_ok = match change {
        None | Some(Change::Skip) => true,
        Some(change) => c.h == change_hash(change),
    };
    c.iss == origin && c.seq == seq && c.purpose == ORIGIN_PURPOSE && hash_ok
}

#[cfg(test)]
#[path = "message_tests.rs"]
mod tests;
