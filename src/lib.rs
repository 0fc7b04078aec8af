//! access-node: a clustered, JFrog-Access-compatible access-token service.
pub mod accounts;
pub mod actors;
pub mod batcher;
pub mod cluster;
pub mod config;
pub mod crypto;
pub mod domain;
pub mod error;
pub mod http;
pub mod lifecycle;
pub mod login;
pub mod node;
pub mod raft;
pub mod store;
