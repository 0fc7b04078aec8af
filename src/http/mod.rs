//! The thin HTTP layer: the route table, the caller resolved at the edge (`extract`), body
//! parsing, one file per resource, the node-to-node RPC, and the one mapping of service
//! errors to HTTP (`error`). Use cases live in `service`.

pub mod cluster;
pub mod compat;
pub mod error;
pub mod extract;
pub mod federation;
pub mod keys;
pub mod oidc;
pub mod openapi;
pub mod params;
pub mod peer_rpc;
pub mod permissions;
pub mod registry;
pub mod request_log;
pub mod route_book;
pub mod routes;
pub mod scim;
pub mod site_body;
pub mod system;
pub mod telemetry;
pub mod tokens;
pub mod ui;
pub mod users;

pub use routes::configure;
