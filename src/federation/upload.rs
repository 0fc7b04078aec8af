//! The upload header of a site message: a small JWS, signed like the message itself, that
//! names the body's length and SHA-256. A receiver reads a body larger than
//! `server.max-body-bytes` only after this header has authenticated a federated site, so
//! anyone else is refused before their bytes take memory.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::message::{self, OpenError, Sealed};
use super::protocol::Change;
use crate::crypto::{CryptoError, KeySet};
use crate::domain::federation::SiteCert;

/// The request header that carries it.
pub const HEADER: &str = "x-access-site-auth";
/// Longest header accepted: the claims, and at most one certificate with its endorsement.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;
/// Largest message `message::open` accepts, so the ceiling of `federation.max-message-bytes`.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;
const PURPOSE: &str = "federation-upload";

/// The header's claims beside `iss`, `aud`, `iat`, `exp` and `jti`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Upload {
    /// Keeps a header from passing for any other site message, and the other way round.
    purpose: String,
    /// The body's exact length in bytes.
    pub len: u64,
    /// Hex SHA-256 of the body.
    pub sha256: String,
    /// After a certificate reset: the sender's new certificate with its endorsement by the key
    /// it replaced, where `message::open` looks for one (as in a sync chunk), so a receiver
    /// that knows only the old key still verifies the header of the batch that introduces it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    changes: Vec<Change>,
}

impl Upload {
    /// Whether `body` is the one the header was signed for.
    pub fn matches(&self, body: &[u8]) -> bool {
        body.len() as u64 == self.len && digest(body) == self.sha256
    }
}

fn digest(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

/// The header for `body`, a sealed message to site `aud`. `cert`: our certificate, when the
/// active key is new and carries an endorsement.
pub fn sign(
    keys: &KeySet,
    aud: &str,
    body: &[u8],
    cert: Option<SiteCert>,
    now: u64,
) -> Result<String, CryptoError> {
    let upload = Upload {
        purpose: PURPOSE.into(),
        len: body.len() as u64,
        sha256: digest(body),
        changes: cert.into_iter().map(|cert| Change::Cert { cert }).collect(),
    };
    message::seal(keys, aud, upload, now)
}

/// Open a header: as a site message (trusted key for its issuer, audience, time), and an
/// upload header at that.
pub fn open(keys: &KeySet, header: &str, now: u64) -> Result<Sealed<Upload>, OpenError> {
    if header.len() > MAX_HEADER_BYTES {
        return Err(OpenError::Malformed);
    }
    let sealed: Sealed<Upload> = message::open(keys, header.trim(), now)?;
    if sealed.body.purpose != PURPOSE {
        return Err(OpenError::Malformed);
    }
    Ok(sealed)
}

#[cfg(test)]
#[path = "upload_tests.rs"]
mod tests;
