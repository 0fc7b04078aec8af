//! Integration tests of Access Federation between sites, each site a cluster of real
//! processes (`tests/federation/`, a file per behaviour), over the shared harness.
#![allow(clippy::unwrap_used)]

mod federation;
