//! Integration tests of one node, or a small cluster, as its callers see it: the token API
//! and the third-party clients, the security review's findings, Docker registry tokens, the
//! OIDC token exchange, telemetry, TLS, the circle of trust and the admin web page. One suite a module
//! (`tests/<suite>/`), a file per behaviour, over the shared harness (`tests/harness`).
#![allow(clippy::unwrap_used)]

mod api;
mod docker;
mod oidc;
mod security;
mod telemetry;
mod tls;
mod trust;
mod ui;
