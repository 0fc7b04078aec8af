//! RS256 signing with a parsed aws-lc-rs key pair (not the `rsa` crate: RUSTSEC-2023-0071),
//! parsed once per key; the header's base64 is computed once per key too.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{RsaKeyPair, RSA_PKCS1_SHA256};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use serde::Serialize;

use super::error::CryptoError;
use super::keys::KeyMaterial;
use crate::domain::token::Claims;

/// JFrog's header shape: `{"ver":"2","typ":"JWT","alg":"RS256","kid":"..."}`.
#[derive(Serialize)]
struct Header<'a> {
    ver: &'a str,
    typ: &'a str,
    alg: &'a str,
    kid: &'a str,
}

pub struct SigningKey {
    pub kid: String,
    key_pair: RsaKeyPair,
    /// base64url of the header, computed once per key.
    header_b64: String,
    rng: SystemRandom,
}

impl SigningKey {
    pub fn from_material(m: &KeyMaterial) -> Result<SigningKey, CryptoError> {
        let der = rsa::RsaPrivateKey::from_pkcs8_pem(&m.private_key_pem)
            .and_then(|k| k.to_pkcs8_der())
            .map_err(|e| CryptoError::BadKey(e.to_string()))?;
        let key_pair = RsaKeyPair::from_pkcs8(der.as_bytes())
            .map_err(|e| CryptoError::BadKey(e.to_string()))?;
        let header = serde_json::to_vec(&Header {
            ver: "2",
            typ: "JWT",
            alg: "RS256",
            kid: &m.kid,
        })
        .map_err(|_| CryptoError::Sign)?;
        Ok(SigningKey {
            kid: m.kid.clone(),
            key_pair,
            header_b64: URL_SAFE_NO_PAD.encode(header),
            rng: SystemRandom::new(),
        })
    }

    pub fn sign(&self, claims: &Claims) -> Result<String, CryptoError> {
        self.sign_json(claims)
    }

    /// Sign any JSON payload as a compact JWS with this key's header.
    pub fn sign_json<T: Serialize>(&self, claims: &T) -> Result<String, CryptoError> {
        self.sign_with_header(&self.header_b64, claims)
    }

    /// Sign a JSON payload with a header carrying `x5c`: the certificate chain (standard
    /// base64 DER, leaf first) that vouches for this key, as Docker registries verify it
    /// against their root bundle. `kid` stays for verifiers that look keys up by it.
    pub fn sign_json_with_x5c<T: Serialize>(
        &self,
        claims: &T,
        x5c: &[String],
    ) -> Result<String, CryptoError> {
        #[derive(Serialize)]
        struct X5cHeader<'a> {
            typ: &'a str,
            alg: &'a str,
            kid: &'a str,
            x5c: &'a [String],
        }
        let header = serde_json::to_vec(&X5cHeader {
            typ: "JWT",
            alg: "RS256",
            kid: &self.kid,
            x5c,
        })
        .map_err(|_| CryptoError::Sign)?;
        self.sign_with_header(&URL_SAFE_NO_PAD.encode(header), claims)
    }

    fn sign_with_header<T: Serialize>(
        &self,
        header_b64: &str,
        claims: &T,
    ) -> Result<String, CryptoError> {
        let payload = serde_json::to_vec(claims).map_err(|_| CryptoError::Sign)?;
        let mut out = String::with_capacity(header_b64.len() + payload.len() * 4 / 3 + 360);
        out.push_str(header_b64);
        out.push('.');
        URL_SAFE_NO_PAD.encode_string(&payload, &mut out);
        let mut signature = vec![0u8; self.key_pair.public_modulus_len()];
        self.key_pair
            .sign(&RSA_PKCS1_SHA256, &self.rng, out.as_bytes(), &mut signature)
            .map_err(|_| CryptoError::Sign)?;
        out.push('.');
        URL_SAFE_NO_PAD.encode_string(&signature, &mut out);
        Ok(out)
    }
}
