//! Skewed clocks for node processes: libfaketime (Debian's `faketime` package, installed by
//! `scripts/test`) preloaded with a fixed offset. Only the wall clock moves: timers and
//! timeouts (the monotonic clock) stay true, as on a machine whose NTP is off.

use std::path::PathBuf;

use crate::node::TestNode;

/// Where Debian puts libfaketime, whatever the architecture.
pub fn libfaketime() -> PathBuf {
    let found = std::fs::read_dir("/usr/lib")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("faketime/libfaketime.so.1"))
        .find(|p| p.exists());
    found.expect("libfaketime is missing: ./scripts/test installs Debian's faketime")
}

/// Run `node` with its wall clock `offset` away from the machine's ("-30s", "+2s").
pub fn skew(node: &mut TestNode, offset: &str) {
    node.set_env("LD_PRELOAD", &libfaketime().to_string_lossy());
    node.set_env("FAKETIME", offset);
    node.set_env("FAKETIME_DONT_FAKE_MONOTONIC", "1");
}
