//! RS256 JWT verification with parsed aws-lc-rs public keys, kept for the life of the key
//! set (building an RSA key costs more than the verify itself), and the key set itself:
//! the active signing key, our other keys and the trusted sites' keys.

use std::collections::HashMap;
use std::sync::Arc;

use aws_lc_rs::signature::ParsedPublicKey;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::error::{CryptoError, VerifyError};
use super::jws::Parts;
use super::keys::{parsed_public_key, rsa_public_key_of_certificate, rsa_thumbprint, KeyMaterial};
use super::secrets::has_three_parts;
use super::signing::SigningKey;
use crate::domain::token::{audience_admits, Claims};

/// A compact JWS of sane size: three parts.
fn well_formed(token: &str) -> Result<(), VerifyError> {
    if token.len() <= 16 * 1024 && has_three_parts(token) {
        Ok(())
    } else {
        Err(VerifyError::Malformed)
    }
}

/// The two header fields verification reads. Cheaper than a full JOSE header: every distinct
/// token's header is read before its signature is checked.
#[derive(Deserialize)]
struct JoseHeader {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
}

impl JoseHeader {
    fn read(token: &str) -> Result<JoseHeader, VerifyError> {
        let (encoded, _) = token.split_once('.').ok_or(VerifyError::Malformed)?;
        URL_SAFE_NO_PAD
            .decode(encoded)
            .ok()
            .and_then(|json| serde_json::from_slice(&json).ok())
            .ok_or(VerifyError::Malformed)
    }
}

/// A token whose signature, issuer, expiry and audience checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub claims: Claims,
    /// Signed by one of this cluster's own keys (active or retired). Otherwise a trusted
    /// cluster's key signed it, and `claims.iss` is that cluster's bound service id.
    pub local: bool,
}

/// Whose key a verification key is: the issuer its tokens must name.
#[derive(Debug, Clone, PartialEq, Eq)]
enum KeyOwner {
    Local,
    Trusted { service_id: String },
}

/// Why a key is trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyOrigin {
    /// Signs new tokens.
    Active,
    /// A previous key of this cluster kept trusted across a certificate reset.
    Retired,
    /// Another cluster's root.crt in the circle of trust.
    Trusted,
}

/// A verification key, as published in the JWKS.
#[derive(Debug, Clone)]
pub struct PublicKeyInfo {
    pub kid: String,
    pub n: Vec<u8>,
    pub e: Vec<u8>,
    pub origin: KeyOrigin,
    /// Trusted certificate name, for trusted keys.
    pub name: Option<String>,
    /// Service id a trusted key speaks for (tokens it verifies must name it as `iss`).
    pub service_id: String,
}

/// A trusted cluster's certificate as the key set takes it.
pub struct TrustedKey<'a> {
    pub name: &'a str,
    pub certificate_pem: &'a str,
    pub service_id: &'a str,
}

/// Everything needed to sign and verify: the active key and all keys whose signatures
/// are accepted. Published as an immutable snapshot; replaced whole when keys change.
pub struct KeySet {
    pub service_id: String,
    pub active: Arc<SigningKey>,
    verifiers: HashMap<String, (ParsedPublicKey, KeyOwner)>,
    pub public_keys: Vec<PublicKeyInfo>,
    /// SHA-256 of a token whose signature checked out → its claims. Skips the RSA verify for
    /// tokens seen before; expiry and audience are still checked on every use, revocation by
    /// the caller. Dies with this key set, so a key change empties it.
    verified: Option<quick_cache::sync::Cache<[u8; 32], Arc<Verified>>>,
}

/// Verified tokens remembered per key set, unless configured otherwise.
const VERIFIED_CACHE_ENTRIES: usize = 100_000;

impl KeySet {
    pub fn new(service_id: String, active: &KeyMaterial) -> Result<KeySet, CryptoError> {
        Self::with_trust(service_id, active, &[], &[])
    }

    /// `retired`: certificates of earlier keys still trusted; `trusted`: other clusters'
    /// certificates, each bound to its service id. A certificate that no longer parses is
    /// skipped with a log line.
    pub fn with_trust(
        service_id: String,
        active: &KeyMaterial,
        retired: &[String],
        trusted: &[TrustedKey<'_>],
    ) -> Result<KeySet, CryptoError> {
        let signing = SigningKey::from_material(active)?;
        let mut keys = vec![(active.certificate_pem.as_str(), KeyOrigin::Active, None, "")];
        keys.extend(
            retired
                .iter()
                .map(|c| (c.as_str(), KeyOrigin::Retired, None, "")),
        );
        keys.extend(trusted.iter().map(|t| {
            (
                t.certificate_pem,
                KeyOrigin::Trusted,
                Some(t.name.to_string()),
                t.service_id,
            )
        }));
        let mut verifiers = HashMap::new();
        let mut public_keys = Vec::new();
        for (pem, origin, name, bound) in keys {
            let (n, e) = match rsa_public_key_of_certificate(pem) {
                Ok(k) => k,
                Err(err) if origin == KeyOrigin::Active => return Err(err),
                Err(err) => {
                    tracing::warn!(?origin, ?name, error = %err, "skipping a trusted certificate");
                    continue;
                }
            };
            let kid = rsa_thumbprint(&n, &e);
            if verifiers.contains_key(&kid) {
                continue;
            }
            let verifier = match parsed_public_key(&n, &e) {
                Ok(v) => v,
                Err(err) if origin == KeyOrigin::Active => return Err(err),
                Err(err) => {
                    tracing::warn!(?origin, ?name, error = %err, "skipping a trusted certificate");
                    continue;
                }
            };
            let (owner, bound) = match origin {
                KeyOrigin::Trusted => (
                    KeyOwner::Trusted {
                        service_id: bound.to_string(),
                    },
                    bound.to_string(),
                ),
                _ => (KeyOwner::Local, service_id.clone()),
            };
            verifiers.insert(kid.clone(), (verifier, owner));
            public_keys.push(PublicKeyInfo {
                kid,
                n,
                e,
                origin,
                name,
                service_id: bound,
            });
        }
        Ok(KeySet {
            service_id,
            active: Arc::new(signing),
            verifiers,
            public_keys,
            verified: Some(quick_cache::sync::Cache::new(VERIFIED_CACHE_ENTRIES)),
        })
    }

    /// Size the verified-token cache (`token.verified-cache-entries`); 0 turns it off.
    pub fn with_verified_cache(mut self, entries: usize) -> KeySet {
        self.verified = (entries > 0).then(|| quick_cache::sync::Cache::new(entries));
        self
    }

    /// Check signature, issuer, audience and (unless `allow_expired`) expiry. The key that
    /// verified the signature decides whose token it is: our own keys speak only for our
    /// service id, a trusted key only for the service id bound to its certificate.
    /// Revocation is the caller's business: it needs the store. Also says whether the
    /// verified-token cache answered (`Some(true)`), was asked in vain (`Some(false)`) or was
    /// not asked (`None`: no cache, or a malformed token), for the caller to count.
    pub fn verify_noting_cache(
        &self,
        token: &str,
        now: u64,
        allow_expired: bool,
    ) -> (Result<Verified, VerifyError>, Option<bool>) {
        if let Err(e) = well_formed(token) {
            return (Err(e), None);
        }
        let Some(cache) = &self.verified else {
            let result = self
                .verify_signature(token)
                .and_then(|v| self.check_claims(v, now, allow_expired));
            return (result, None);
        };
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if let Some(verified) = cache.get(&digest) {
            let result = self.check_claims(Verified::clone(&verified), now, allow_expired);
            return (result, Some(true));
        }
        let result = self.verify_signature(token).and_then(|verified| {
            cache.insert(digest, Arc::new(verified.clone()));
            self.check_claims(verified, now, allow_expired)
        });
        (result, Some(false))
    }

    /// [`KeySet::verify_noting_cache`] of an unexpired token without the verified-token cache, for callers
    /// that remember what they derive from a token themselves (a second cache would only add
    /// a hash and a copy).
    pub fn verify_uncached(&self, token: &str, now: u64) -> Result<Verified, VerifyError> {
        well_formed(token)?;
        self.check_claims(self.verify_signature(token)?, now, false)
    }

    /// The signature and whose key made it; the claims are left to [`KeySet::check_claims`]
    /// (`token` has exactly two dots).
    fn verify_signature(&self, token: &str) -> Result<Verified, VerifyError> {
        let header = JoseHeader::read(token)?;
        if header.alg != "RS256" {
            return Err(VerifyError::Algorithm);
        }
        let candidates: Vec<&(ParsedPublicKey, KeyOwner)> = match header.kid.as_deref() {
            Some(kid) => vec![self.verifiers.get(kid).ok_or(VerifyError::UnknownKey)?],
            None => self.verifiers.values().collect(),
        };
        let (signed, signature) = token.rsplit_once('.').ok_or(VerifyError::Malformed)?;
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| VerifyError::Malformed)?;
        let owner = candidates
            .iter()
            .find(|(key, _)| key.verify_sig(signed.as_bytes(), &signature).is_ok())
            .map(|(_, owner)| owner)
            .ok_or(VerifyError::BadSignature)?;
        // The signature covers the payload: only now are the claims worth reading.
        let payload = signed
            .split_once('.')
            .map(|(_, p)| p)
            .ok_or(VerifyError::Malformed)?;
        let claims: Claims = URL_SAFE_NO_PAD
            .decode(payload)
            .ok()
            .and_then(|json| serde_json::from_slice(&json).ok())
            .ok_or(VerifyError::Malformed)?;
        let (local, issuer) = match owner {
            KeyOwner::Local => (true, self.service_id.as_str()),
            KeyOwner::Trusted { service_id } => (false, service_id.as_str()),
        };
        if claims.iss != issuer || issuer.is_empty() {
            return Err(VerifyError::Issuer);
        }
        Ok(Verified { claims, local })
    }

    /// Check a compact JWS signed by a trusted site's key: its payload, and the service id
    /// the verifying key is bound to. Our own keys do not count: a site message is never ours.
    pub fn verify_site_message(&self, token: &str) -> Result<(Vec<u8>, String), VerifyError> {
        let parts = Parts::split(token)?;
        let (key, owner) = self
            .verifiers
            .get(&parts.kid)
            .ok_or(VerifyError::UnknownKey)?;
        let KeyOwner::Trusted { service_id } = owner else {
            return Err(VerifyError::UnknownKey);
        };
        key.verify_sig(parts.signed.as_bytes(), &parts.signature)
            .map_err(|_| VerifyError::BadSignature)?;
        Ok((parts.payload()?, service_id.clone()))
    }

    fn check_claims(
        &self,
        verified: Verified,
        now: u64,
        allow_expired: bool,
    ) -> Result<Verified, VerifyError> {
        let claims = &verified.claims;
        if !allow_expired && claims.exp.is_some_and(|exp| exp <= now) {
            return Err(VerifyError::Expired);
        }
        if !audience_admits(&claims.aud, &self.service_id) {
            return Err(VerifyError::Audience);
        }
        Ok(verified)
    }
}

#[cfg(test)]
#[path = "jwt_tests.rs"]
mod tests;
