//! Key material and certificates: RSA key generation (`rsa` crate), the self-signed
//! root.crt (`rcgen`), certificate parsing, RFC 7638 thumbprints, and RSA public keys parsed
//! once for RS256 verification (aws-lc-rs).

use aws_lc_rs::signature::{ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rsa::pkcs1::EncodeRsaPublicKey;
use rsa::pkcs8::{EncodePrivateKey, LineEnding};
use rsa::traits::PublicKeyParts;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::error::CryptoError;

fn parse_pem_certificate(pem: &str) -> Result<x509_parser::pem::Pem, CryptoError> {
    let bad = |m: &str| CryptoError::BadCertificate(m.to_string());
    let (_, parsed) = x509_parser::pem::parse_x509_pem(pem.as_bytes())
        .map_err(|_| bad("no PEM certificate found"))?;
    if parsed.label != "CERTIFICATE" {
        return Err(bad("PEM block is not a CERTIFICATE"));
    }
    Ok(parsed)
}

/// Check a certificate offered for the circle of trust: parseable, RSA, currently valid.
/// Returns the kid of its key.
pub fn check_trusted_certificate(pem: &str) -> Result<String, CryptoError> {
    let parsed = parse_pem_certificate(pem)?;
    let cert = parsed
        .parse_x509()
        .map_err(|e| CryptoError::BadCertificate(format!("malformed X.509: {e}")))?;
    if !cert.validity().is_valid() {
        return Err(CryptoError::BadCertificate(
            "certificate is expired or not yet valid".into(),
        ));
    }
    let (n, e) = rsa_public_key_of_certificate(pem)?;
    Ok(rsa_thumbprint(&n, &e))
}

/// The kid of a certificate's RSA key, whatever its validity dates: for the log's apply,
/// which must not depend on the clock of the node applying it.
pub fn certificate_kid(pem: &str) -> Result<String, CryptoError> {
    let (n, e) = rsa_public_key_of_certificate(pem)?;
    Ok(rsa_thumbprint(&n, &e))
}

/// The DER bytes of a PEM certificate.
pub fn certificate_der(pem: &str) -> Result<Vec<u8>, CryptoError> {
    Ok(parse_pem_certificate(pem)?.contents)
}

/// The common name of a certificate's subject, when it has one.
pub fn certificate_common_name(pem: &str) -> Option<String> {
    let parsed = parse_pem_certificate(pem).ok()?;
    let cert = parsed.parse_x509().ok()?;
    let cn = cert
        .subject()
        .iter_common_name()
        .next()?
        .as_str()
        .ok()?
        .to_string();
    Some(cn)
}

/// RSA public key (big-endian modulus and exponent, no leading zeros) of a PEM X.509
/// certificate. Validity dates are not checked here (clock skew must not break our own key).
pub fn rsa_public_key_of_certificate(pem: &str) -> Result<(Vec<u8>, Vec<u8>), CryptoError> {
    use x509_parser::public_key::PublicKey;
    let bad = |m: &str| CryptoError::BadCertificate(m.to_string());
    let parsed = parse_pem_certificate(pem)?;
    let cert = parsed
        .parse_x509()
        .map_err(|e| bad(&format!("malformed X.509: {e}")))?;
    match cert.public_key().parsed() {
        Ok(PublicKey::RSA(rsa)) => {
            let strip = |b: &[u8]| {
                let first = b.iter().position(|x| *x != 0).unwrap_or(b.len());
                b[first..].to_vec()
            };
            Ok((strip(rsa.modulus), strip(rsa.exponent)))
        }
        Ok(_) => Err(bad("only RSA certificates can sign RS256 tokens")),
        Err(e) => Err(bad(&format!("unreadable public key: {e}"))),
    }
}

/// One signing keypair as the replicated store keeps it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyMaterial {
    /// RFC 7638 SHA-256 thumbprint of the public key, base64url (43 characters).
    pub kid: String,
    /// PKCS#8 PEM, as written to etc/keys/private.key.
    pub private_key_pem: String,
    /// Self-signed X.509 PEM, as written to etc/keys/root.crt.
    pub certificate_pem: String,
    pub created_at: u64,
}

impl std::fmt::Debug for KeyMaterial {
    // Never print the private key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyMaterial")
            .field("kid", &self.kid)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

/// RFC 7638 thumbprint of an RSA public key given as big-endian modulus and exponent.
pub fn rsa_thumbprint(n: &[u8], e: &[u8]) -> String {
    let jwk = format!(
        r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#,
        URL_SAFE_NO_PAD.encode(e),
        URL_SAFE_NO_PAD.encode(n)
    );
    URL_SAFE_NO_PAD.encode(Sha256::digest(jwk.as_bytes()))
}

/// Make a fresh keypair and its self-signed certificate. Slow (≈0.2 s+): never on a request
/// path's async thread.
pub fn generate_key_material(
    bits: usize,
    common_name: &str,
    now: u64,
) -> Result<KeyMaterial, CryptoError> {
    let key = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, bits)
        .map_err(|e| CryptoError::KeyGen(e.to_string()))?;
    let pem = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| CryptoError::KeyGen(e.to_string()))?
        .to_string();
    let kid = rsa_thumbprint(&key.n().to_bytes_be(), &key.e().to_bytes_be());
    let certificate_pem = self_signed_certificate(&pem, common_name, now)?;
    Ok(KeyMaterial {
        kid,
        private_key_pem: pem,
        certificate_pem,
        created_at: now,
    })
}

fn self_signed_certificate(
    private_key_pem: &str,
    common_name: &str,
    now: u64,
) -> Result<String, CryptoError> {
    let key_pair =
        rcgen::KeyPair::from_pkcs8_pem_and_sign_algo(private_key_pem, &rcgen::PKCS_RSA_SHA256)
            .map_err(|e| CryptoError::Cert(e.to_string()))?;
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new())
        .map_err(|e| CryptoError::Cert(e.to_string()))?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, common_name);
    let start = time::OffsetDateTime::from_unix_timestamp(now as i64)
        .map_err(|e| CryptoError::Cert(e.to_string()))?;
    // Backdated a day so a peer with a slightly slow clock still sees it as valid.
    params.not_before = start - time::Duration::days(1);
    params.not_after = start + time::Duration::days(3650);
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let cert = params
        .self_signed(&key_pair)
        .map_err(|e| CryptoError::Cert(e.to_string()))?;
    Ok(cert.pem())
}

/// An RSA public key (big-endian modulus and exponent) parsed once for RS256 verification.
pub fn parsed_public_key(n: &[u8], e: &[u8]) -> Result<ParsedPublicKey, CryptoError> {
    let bad = |m: String| CryptoError::BadKey(m);
    let der = rsa::RsaPublicKey::new(
        rsa::BigUint::from_bytes_be(n),
        rsa::BigUint::from_bytes_be(e),
    )
    .and_then(|k| k.to_pkcs1_der().map_err(rsa::Error::Pkcs1))
    .map_err(|e| bad(e.to_string()))?;
    ParsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, der.as_bytes())
        .map_err(|e| bad(e.to_string()))
}
