//! Each provider's signing keys, cached: fetched on first use, again when older than
//! `oidc.jwks-max-age-secs`, and on an unknown key id at most once per
//! `oidc.jwks-refetch-min-secs`. A fetch replaces the set, so keys the issuer dropped stop
//! verifying. Fetches of one provider are serialised: a burst of exchanges makes one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_lc_rs::signature::{ParsedPublicKey, ECDSA_P256_SHA256_FIXED};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet, KeyAlgorithm};
use jsonwebtoken::Algorithm;

use super::issuer::{IssuerClient, IssuerError};
use crate::config::OidcConfig;
use crate::domain::oidc::OidcProvider;

/// One of an issuer's keys, parsed once when fetched (not on every exchange): the algorithm
/// it verifies and the verifier.
pub struct IssuerKey {
    pub jwk: Jwk,
    pub alg: Algorithm,
    pub verifier: ParsedPublicKey,
}

/// A fetched key set: the keys we can use (an RSA key for RS256, a P-256 key for ES256;
/// others, or keys the issuer meant for other algorithms, are left out).
type KeySet = Vec<Arc<IssuerKey>>;

fn parse(jwk: Jwk) -> Option<IssuerKey> {
    let bytes = |b64: &str| URL_SAFE_NO_PAD.decode(b64.trim_end_matches('=')).ok();
    let (alg, verifier) = match &jwk.algorithm {
        AlgorithmParameters::RSA(rsa) => {
            let key = crate::crypto::parsed_public_key(&bytes(&rsa.n)?, &bytes(&rsa.e)?).ok()?;
            (Algorithm::RS256, key)
        }
        AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P256 => {
            let mut point = vec![0x04];
            point.extend(bytes(&ec.x)?);
            point.extend(bytes(&ec.y)?);
            let key = ParsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &point).ok()?;
            (Algorithm::ES256, key)
        }
        _ => return None,
    };
    let meant = match jwk.common.key_algorithm {
        None => true,
        Some(KeyAlgorithm::RS256) => alg == Algorithm::RS256,
        Some(KeyAlgorithm::ES256) => alg == Algorithm::ES256,
        Some(_) => false,
    };
    meant.then_some(IssuerKey { jwk, alg, verifier })
}

fn decode(set: JwkSet) -> KeySet {
    set.keys
        .into_iter()
        .filter_map(|jwk| parse(jwk).map(Arc::new))
        .collect()
}

#[derive(Default)]
struct Cached {
    /// The issuer the set came from: a provider whose URL changed starts over.
    issuer: String,
    set: Option<(KeySet, Instant)>,
    /// The last fetch attempt, successful or not.
    tried: Option<Instant>,
    last_error: Option<IssuerError>,
}

/// What finding a key did, for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fetch {
    /// Served from the cache.
    None,
    Fetched,
    Failed,
}

/// The providers' key sets.
pub struct IssuerKeys {
    client: IssuerClient,
    max_age: Duration,
    refetch_min: Duration,
    cache: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Cached>>>>,
}

impl IssuerKeys {
    pub fn new(cfg: &OidcConfig) -> Result<IssuerKeys, String> {
        Ok(IssuerKeys {
            client: IssuerClient::new(cfg)?,
            max_age: Duration::from_secs(cfg.jwks_max_age_secs),
            refetch_min: Duration::from_secs(cfg.jwks_refetch_min_secs),
            cache: Mutex::new(HashMap::new()),
        })
    }

    fn slot(&self, provider: &str) -> Arc<tokio::sync::Mutex<Cached>> {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache.entry(provider.to_string()).or_default().clone()
    }

    /// Forget a provider's keys (it was deleted or changed).
    pub fn forget(&self, provider: &str) {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache.remove(provider);
    }

    /// The provider's key `kid` (or its only key when the token names none), and whether
    /// the issuer was asked. `Ok(None)`: the issuer has no such key.
    pub async fn key(
        &self,
        provider: &OidcProvider,
        kid: Option<&str>,
    ) -> Result<(Option<Arc<IssuerKey>>, Fetch), IssuerError> {
        let slot = self.slot(&provider.name);
        let mut cached = slot.lock().await;
        if cached.issuer != provider.issuer_url {
            *cached = Cached {
                issuer: provider.issuer_url.clone(),
                ..Cached::default()
            };
        }
        let now = Instant::now();
        let fresh = cached
            .set
            .as_ref()
            .is_some_and(|(_, at)| now.duration_since(*at) < self.max_age);
        if fresh {
            if let Some(jwk) = find(cached.set.as_ref().map(|(s, _)| s), kid) {
                return Ok((Some(jwk), Fetch::None));
            }
        }
        // Stale, missing, or an unknown kid: ask the issuer, unless it was asked just now.
        let recently = cached
            .tried
            .is_some_and(|t| now.duration_since(t) < self.refetch_min);
        if recently {
            return match (&cached.set, &cached.last_error) {
                (Some((set, _)), _) => Ok((find(Some(set), kid), Fetch::None)),
                (None, Some(e)) => Err(e.clone()),
                (None, None) => Ok((None, Fetch::None)),
            };
        }
        cached.tried = Some(now);
        match self
            .client
            .fetch_keys(&provider.issuer_url, provider.use_default_proxy)
            .await
        {
            Ok(set) => {
                let set = decode(set);
                let jwk = find(Some(&set), kid);
                cached.set = Some((set, Instant::now()));
                cached.last_error = None;
                Ok((jwk, Fetch::Fetched))
            }
            Err(e) => {
                tracing::warn!(provider = %provider.name, error = %e, "OIDC issuer keys not fetched");
                cached.last_error = Some(e.clone());
                // An issuer down for a while: the keys it last served still verify, up to
                // ten times their usual age.
                match &cached.set {
                    Some((set, at)) if now.duration_since(*at) < self.max_age * 10 => {
                        Ok((find(Some(set), kid), Fetch::Failed))
                    }
                    _ => Err(e),
                }
            }
        }
    }
}

fn find(set: Option<&KeySet>, kid: Option<&str>) -> Option<Arc<IssuerKey>> {
    let keys = set?;
    match kid {
        Some(kid) => keys
            .iter()
            .find(|k| k.jwk.common.key_id.as_deref() == Some(kid))
            .cloned(),
        // No kid in the token: only an issuer with a single key is unambiguous.
        None if keys.len() == 1 => keys.first().cloned(),
        None => None,
    }
}
