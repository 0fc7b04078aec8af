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
    keys.active.sign_json(&Endorsement {
        iss: keys.service_id.clone(),
        sub: new.kid.clone(),
        purpose: ENDORSE_PURPOSE.into(),
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

#[cfg(test)]
#[path = "message_tests.rs"]
mod tests;
