//! access-node: a clustered, JFrog-Access-compatible access-token service.
//!
//! Layers, in the order a request travels: `http` (routes, the caller, rendering) →
//! `service` (use cases: policy, signing, commands) → `raft` (the one writer: propose, forward,
//! batch) → `store` (apply, state, snapshots). `domain` is the pure core, `crypto` the keys and
//! tokens, `actors` the background work, `app` the composition root, `cli` the operator
//! commands that talk to a node's HTTP API.
pub mod actors;
pub mod app;
pub mod cli;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod domain;
pub mod federation;
pub mod http;
pub mod oidc;
pub mod raft;
pub mod service;
pub mod store;
pub mod telemetry;
pub mod tls;
