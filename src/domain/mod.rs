//! Pure domain core: scopes, token claims and records, who may mint what, login throttling,
//! the client address behind trusted proxies.
//! No I/O here.
pub mod accounts;
pub mod backup;
pub mod clock;
pub mod federation;
pub mod forwarded;
pub mod grant;
pub mod names;
pub mod oidc;
pub mod path_pattern;
pub mod permission_forms;
pub mod permissions;
pub mod policy;
pub mod registry;
pub mod scim;
pub mod scope;
pub mod throttle;
pub mod token;
pub mod trust;
pub mod version;
