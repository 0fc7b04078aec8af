//! What key handling and token verification fail with.

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

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("token is not a well-formed JWT")]
    Malformed,
    #[error("token is signed with an unsupported algorithm")]
    Algorithm,
    #[error("token is signed by an unknown key")]
    UnknownKey,
    #[error("token signature is invalid")]
    BadSignature,
    #[error("token has expired")]
    Expired,
    #[error("token is not meant for this service (audience)")]
    Audience,
    #[error("token's issuer does not match the key that signed it")]
    Issuer,
}
