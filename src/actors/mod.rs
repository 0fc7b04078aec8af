//! Actors that own long-lived state and background work.
pub mod clock_probe;
pub mod federation_link;
pub mod janitor;
pub mod key_files;
pub mod trust_watcher;
