//! Keys and tokens: RSA key generation (`rsa` crate) and the self-signed root.crt (`rcgen`)
//! in `keys`, RS256 signing with a parsed aws-lc-rs key (not the `rsa` crate:
//! RUSTSEC-2023-0071) in `signing`, verification with parsed aws-lc-rs public keys in `jwt`,
//! site messages (`jws`, whose header `jsonwebtoken` reads), random secrets in `secrets`.
//! Modules import one way: `error`, `keys`, `secrets` below `jws`, `signing` below `jwt`.

mod error;
pub mod jws;
mod jwt;
mod keys;
mod password;
mod secrets;
mod signing;

pub use error::{CryptoError, VerifyError};
pub use jwt::{KeyOrigin, KeySet, PublicKeyInfo, TrustedKey, Verified};
pub use keys::{
    certificate_common_name, certificate_der, certificate_kid, check_trusted_certificate,
    generate_key_material, parsed_public_key, rsa_public_key_of_certificate, rsa_thumbprint,
    KeyMaterial,
};
pub use password::{hash_password, verify_password};
pub use secrets::{
    has_three_parts, looks_like_reference_token, new_reference_token, random_secret,
    random_service_suffix, secret_hash,
};
pub use signing::SigningKey;

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;

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
