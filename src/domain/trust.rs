//! The circle of trust: certificates of other clusters whose tokens this one accepts.

use serde::{Deserialize, Serialize};

/// A certificate of another cluster in the circle of trust.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustedCert {
    pub name: String,
    pub certificate_pem: String,
    pub kid: String,
    pub added_at: u64,
    /// Service id of the cluster this certificate speaks for: tokens it verifies must name it
    /// as `iss`. Empty only in records from before issuer binding, which verify nothing.
    #[serde(default)]
    pub service_id: String,
    /// Learned from a federated site (else an admin installed it): only such certificates
    /// does the federation replace or remove.
    #[serde(default)]
    pub federated: bool,
    /// Its own site rotated away from it (endorsed by the key it used): still listed as the
    /// admin installed it, but it verifies nothing until re-added.
    #[serde(default)]
    pub withdrawn: bool,
}
