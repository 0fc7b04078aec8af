//! Actors that own long-lived state and background work.
pub mod janitor;
pub mod key_files;
pub mod trust_watcher;
