//! Actors that own long-lived state and background work.
pub mod key_files;
pub mod janitor;
