//! Keys and tokens: RSA key generation (`rsa` crate), the self-signed root.crt (`rcgen`),
//! RS256 signing with a parsed aws-lc-rs key (not the `rsa` crate: RUSTSEC-2023-0071) in
//! `signing`, verification with parsed aws-lc-rs public keys in `jwt`, and site messages
//! (`jws`, whose header `jsonwebtoken` reads).

pub mod jws;
mod jwt;
mod password;
mod signing;

pub use jwt::{KeyOrigin, KeySet, PublicKeyInfo, TrustedKey, Verified, VerifyError};
pub use password::{hash_password, verify_password};
pub use signing::SigningKey;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rsa::pkcs8::{EncodePrivateKey, LineEnding};
use rsa::traits::PublicKeyParts;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("RSA key generation failed: {0}")]
    KeyGen(String),
    #[error("bad key material: {0}")]
    BadKey(String),
    #[error("certificate generation failed: {0}")]
    Cert(String),
    #[error("signing failed")]
    Sign,
    #[error("not a usable certificate: {0}")]
    BadCertificate(String),
    #[error("password hashing failed: {0}")]
    Password(String),
}

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

/// SHA-256 hex of a secret (refresh and reference tokens are high-entropy random strings,
/// so a fast hash is enough to keep them useless if the store leaks).
pub fn secret_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// A random opaque secret: 32 bytes, base64url.
pub fn random_secret() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// JFrog-style reference token: base64 of `reftkn:01:<expiry>:<random>` (starts `cmVmdGtu`).
pub fn new_reference_token(expiry: Option<u64>) -> String {
    use base64::Engine;
    let raw = format!("reftkn:01:{}:{}", expiry.unwrap_or(0), random_secret());
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(raw)
}

/// Exactly two dots, as a compact JWS has. Every request with a bearer token asks this of a
/// kilobyte of text, so it uses vectorised search and stops at a third dot.
pub fn has_three_parts(token: &str) -> bool {
    memchr::memchr_iter(b'.', token.as_bytes()).take(3).count() == 2
}

pub fn looks_like_reference_token(s: &str) -> bool {
    s.starts_with("cmVmdGtu") && s.len() < 256
}

/// A ULID-like lower-case id (Crockford base32 of 16 random bytes, 26 characters), as JFrog
/// uses in service ids.
pub fn random_service_suffix() -> String {
    use rand::RngCore;
    const ALPHABET: &[u8] = b"0123456789abcdefghjkmnpqrstvwxyz";
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let mut value = u128::from_be_bytes(bytes);
    let mut out = [0u8; 26];
    for slot in out.iter_mut().rev() {
        *slot = ALPHABET[(value & 31) as usize];
        value >>= 5;
    }
    String::from_utf8(out.to_vec()).expect("ascii alphabet")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_suffix_shape() {
        let s = random_service_suffix();
        assert_eq!(s.len(), 26);
        assert!(s
            .chars()
            .all(|c| c.is_ascii_digit() || c.is_ascii_lowercase()));
        assert_ne!(s, random_service_suffix());
    }

    #[test]
    fn three_parts_means_exactly_two_dots() {
        for (s, want) in [
            ("a.b.c", true),
            ("..", true),
            ("a.b", false),
            ("a.b.c.d", false),
            ("", false),
            ("abc", false),
        ] {
            assert_eq!(has_three_parts(s), want, "{s:?}");
            assert_eq!(has_three_parts(s), s.matches('.').count() == 2, "{s:?}");
        }
        let long = format!(
            "{}.{}.{}",
            "x".repeat(300),
            "y".repeat(500),
            "z".repeat(342)
        );
        assert!(has_three_parts(&long));
        assert!(!has_three_parts(&format!("{long}.")));
    }

    #[test]
    fn rfc7638_example_thumbprint() {
        // RFC 7638 section 3.1 example key.
        let n = URL_SAFE_NO_PAD
            .decode("0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw")
            .unwrap();
        let e = URL_SAFE_NO_PAD.decode("AQAB").unwrap();
        assert_eq!(
            rsa_thumbprint(&n, &e),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn certificates_yield_their_public_key_and_kid() {
        let m = generate_key_material(2048, "jfac@t", now_for_tests()).unwrap();
        let (n, e) = rsa_public_key_of_certificate(&m.certificate_pem).unwrap();
        assert_eq!(rsa_thumbprint(&n, &e), m.kid);
        assert_eq!(
            check_trusted_certificate(&m.certificate_pem).unwrap(),
            m.kid
        );
        assert!(rsa_public_key_of_certificate("junk").is_err());
        assert!(check_trusted_certificate(
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
        )
        .is_err());
        assert!(rsa_public_key_of_certificate(&m.private_key_pem).is_err());
    }

    fn now_for_tests() -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            - 60
    }

    #[test]
    fn secrets_and_hashes() {
        let a = random_secret();
        assert_eq!(a.len(), 43);
        assert_eq!(secret_hash(&a).len(), 64);
        assert_ne!(secret_hash(&a), secret_hash(&random_secret()));
    }
}
