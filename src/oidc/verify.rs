//! Verifying an ID token: RS256 or ES256 only, with the issuer's key for its `kid`; `iss` the
//! provider's issuer, `aud` the provider's audience; `exp`, `nbf` and `iat` against the
//! cluster's clock with a small leeway. Every refusal names its reason.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::Algorithm;
use serde_json::{Map, Value};

use super::keys::IssuerKey;
use crate::domain::oidc::{issuer_key, OidcProvider};

/// Why an ID token was refused (the text is what the caller reads).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdTokenError {
    #[error("Malformed token: {0}")]
    Malformed(&'static str),
    #[error("Unsupported token algorithm: only RS256 and ES256 are accepted")]
    Algorithm,
    #[error("Failed to get public key: the issuer has no key {0:?}")]
    UnknownKey(String),
    #[error("Invalid signature")]
    Signature,
    #[error("Invalid issuer")]
    Issuer,
    #[error("Invalid audience")]
    Audience,
    #[error("Token expired")]
    Expired,
    #[error("Token not yet valid")]
    NotYetValid,
    #[error("Token issued in the future")]
    IssuedInFuture,
}

/// Time checks: the cluster's clock and the slack allowed, in seconds.
#[derive(Debug, Clone, Copy)]
pub struct TimeRules {
    pub now: u64,
    pub leeway: u64,
}

/// The header's algorithm and key id, before any key is looked up.
pub fn token_header(token: &str) -> Result<(Algorithm, Option<String>), IdTokenError> {
    if token.len() > 16 * 1024 {
        return Err(IdTokenError::Malformed("longer than 16 KiB"));
    }
    // The algorithm first, from the raw header: `none` or an unknown one is named as such
    // (the JWT library's parser would only say "not a JWT").
    let raw = token
        .split('.')
        .next()
        .and_then(|h| URL_SAFE_NO_PAD.decode(h.trim_end_matches('=')).ok())
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .ok_or(IdTokenError::Malformed("not a JWT"))?;
    if !matches!(raw["alg"].as_str(), Some("RS256" | "ES256")) {
        return Err(IdTokenError::Algorithm);
    }
    let header =
        jsonwebtoken::decode_header(token).map_err(|_| IdTokenError::Malformed("not a JWT"))?;
    match header.alg {
        Algorithm::RS256 | Algorithm::ES256 => Ok((header.alg, header.kid)),
        _ => Err(IdTokenError::Algorithm),
    }
}

/// The claims of `token` when it verifies for `provider` with `jwk`.
pub fn verify_id_token(
    token: &str,
    provider: &OidcProvider,
    key: &IssuerKey,
    time: TimeRules,
) -> Result<Map<String, Value>, IdTokenError> {
    let (alg, _) = token_header(token)?;
    // The key must be of the algorithm's family (an RSA key for RS256, a P-256 key for ES256).
    if key.alg != alg {
        return Err(IdTokenError::Signature);
    }
    let (signing_input, signature) = token
        .rsplit_once('.')
        .ok_or(IdTokenError::Malformed("not a JWT"))?;
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| IdTokenError::Malformed("signature is not base64url"))?;
    key.verifier
        .verify_sig(signing_input.as_bytes(), &signature)
        .map_err(|_| IdTokenError::Signature)?;
    let payload = signing_input
        .split_once('.')
        .map(|(_, p)| p)
        .and_then(|p| URL_SAFE_NO_PAD.decode(p).ok())
        .ok_or(IdTokenError::Malformed("payload is not base64url"))?;
    let claims: Map<String, Value> = serde_json::from_slice(&payload)
        .map_err(|_| IdTokenError::Malformed("claims are not a JSON object"))?;
    let iss = claims.get("iss").and_then(Value::as_str);
    if iss.map(issuer_key) != Some(issuer_key(&provider.issuer_url)) {
        return Err(IdTokenError::Issuer);
    }
    let aud_ok = match claims.get("aud") {
        Some(Value::String(a)) => *a == provider.audience,
        Some(Value::Array(all)) => all.iter().any(|a| a.as_str() == Some(&provider.audience)),
        _ => false,
    };
    if !aud_ok {
        return Err(IdTokenError::Audience);
    }
    // Whole seconds; some issuers write fractions.
    let number = |name: &str| {
        let v = claims.get(name)?;
        v.as_u64()
            .or_else(|| v.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
    };
    let Some(exp) = number("exp") else {
        return Err(IdTokenError::Malformed("no exp claim"));
    };
    if time.now > exp.saturating_add(time.leeway) {
        return Err(IdTokenError::Expired);
    }
    if number("nbf").is_some_and(|nbf| nbf > time.now.saturating_add(time.leeway)) {
        return Err(IdTokenError::NotYetValid);
    }
    if number("iat").is_some_and(|iat| iat > time.now.saturating_add(time.leeway)) {
        return Err(IdTokenError::IssuedInFuture);
    }
    Ok(claims)
}
