//! Reaching OIDC issuers: their discovery documents and signing keys (cached per provider),
//! and verifying ID tokens with them. What a verified token then grants is decided in
//! `domain::oidc`; the exchange itself is the `Oidc` use case (`service/oidc.rs`).

pub mod issuer;
pub mod keys;
pub mod verify;

pub use issuer::{IssuerClient, IssuerError};
pub use keys::IssuerKeys;
pub use verify::{verify_id_token, IdTokenError, TimeRules};
