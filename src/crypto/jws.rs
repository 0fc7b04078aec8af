//! Compact JWS pieces for messages between sites (tokens go through `KeySet::verify`).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::Algorithm;

use super::error::VerifyError;
use super::keys::{parsed_public_key, rsa_public_key_of_certificate, rsa_thumbprint};
use super::secrets::has_three_parts;

/// A compact JWS split up; nothing verified yet.
pub struct Parts<'a> {
    pub kid: String,
    /// `header.payload`, the signed text.
    pub signed: &'a str,
    pub signature: Vec<u8>,
}

impl<'a> Parts<'a> {
    pub fn split(token: &'a str) -> Result<Parts<'a>, VerifyError> {
        if !has_three_parts(token) {
            return Err(VerifyError::Malformed);
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| VerifyError::Malformed)?;
        if header.alg != Algorithm::RS256 {
            return Err(VerifyError::Algorithm);
        }
        let kid = header.kid.ok_or(VerifyError::UnknownKey)?;
        let (signed, signature) = token.rsplit_once('.').ok_or(VerifyError::Malformed)?;
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| VerifyError::Malformed)?;
        Ok(Parts {
            kid,
            signed,
            signature,
        })
    }

    /// The payload bytes (only worth reading once the signature checked out).
    pub fn payload(&self) -> Result<Vec<u8>, VerifyError> {
        let (_, payload) = self.signed.split_once('.').ok_or(VerifyError::Malformed)?;
        URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| VerifyError::Malformed)
    }

    /// Verify against one certificate (a key a message itself introduces, see federation).
    pub fn verify_with_certificate(&self, pem: &str) -> Result<Vec<u8>, VerifyError> {
        let (n, e) = rsa_public_key_of_certificate(pem).map_err(|_| VerifyError::UnknownKey)?;
        if rsa_thumbprint(&n, &e) != self.kid {
            return Err(VerifyError::UnknownKey);
        }
        let key = parsed_public_key(&n, &e).map_err(|_| VerifyError::UnknownKey)?;
        key.verify_sig(self.signed.as_bytes(), &self.signature)
            .map_err(|_| VerifyError::BadSignature)?;
        self.payload()
    }
}
