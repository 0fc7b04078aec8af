//! Pure domain core: scopes, token claims and records, who may mint what. No I/O here.
pub mod policy;
pub mod scope;
pub mod token;
