//! Integration tests of clusters under operation: replication, membership and snapshots
//! (`cluster`), faults (`faults`: kill -9, partitions, pauses, skewed clocks; root, nginx,
//! iproute2, iptables and faketime), and the operator CLI with backup and restore (`ops`).
//! One suite a module (`tests/<suite>/`), a file per behaviour, over the shared harness.
#![allow(clippy::unwrap_used)]

mod cluster;
mod faults;
mod ops;
