//! Random secrets and ids, their hashes, and the shape checks of bearer tokens.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

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
