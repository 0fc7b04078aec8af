//! Small pieces the storage files share: error conversions, key encoding, snapshot file names,
//! and a low-priority thread for long background reads.

use openraft::{AnyError, StorageIOError};

use super::view::StoreError;
use crate::raft::StorageError;

pub(crate) fn any_err<E: std::error::Error + 'static>(e: E) -> AnyError {
    AnyError::new(&e)
}

/// Big-endian index keys keep sled's ordering equal to log order.
pub(crate) fn index_key(index: u64) -> [u8; 8] {
    index.to_be_bytes()
}

/// Key of the current snapshot's meta in the `sm_snapshot` tree.
pub(super) const SNAPSHOT_META: &[u8] = b"meta";

/// Nanoseconds since the epoch: makes snapshot file names unique.
pub(super) fn file_stamp() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default()
}

/// Delete the files of the snapshot directory whose names `doomed` picks (best effort).
pub(super) fn remove_snapshot_files(dir: &std::path::Path, doomed: impl Fn(&str) -> bool) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if doomed(&entry.file_name().to_string_lossy()) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

pub(super) fn write_err(e: impl std::error::Error + 'static) -> StorageError {
    StorageIOError::write_state_machine(any_err(e)).into()
}

pub(super) fn read_err(e: impl std::error::Error + 'static) -> StorageError {
    StorageIOError::read_state_machine(any_err(e)).into()
}

pub(super) fn get_json<T: serde::de::DeserializeOwned>(
    tree: &sled::Tree,
    key: &[u8],
) -> Result<Option<T>, StoreError> {
    match tree.get(key)? {
        Some(bytes) => Ok(Some(serde_json::from_slice(&bytes)?)),
        None => Ok(None),
    }
}

/// Run `work` on a thread of its own at a lower CPU priority (nice 10) and await its result.
/// For long background reads (a snapshot of the whole state): on a busy node the scheduler
/// then serves the request and apply threads first, and the background work takes the rest.
/// A thread of its own, because a thread cannot raise its priority again without privileges.
pub(super) async fn in_background<T: Send + 'static>(
    name: &str,
    work: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> std::io::Result<T> {
    let (done, result) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            lower_priority();
            let _ = done.send(work());
        })?;
    result
        .await
        .map_err(|_| std::io::Error::other("background thread ended without a result"))?
}

/// Nice 10 for the calling thread (on Linux the nice value is per thread). Best effort.
fn lower_priority() {
    // SAFETY: setpriority only reads its plain integer arguments; 0 means the calling thread.
    let rc = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, 10) };
    if rc != 0 {
        tracing::debug!(error = %std::io::Error::last_os_error(), "could not lower the priority of a background thread");
    }
}

#[cfg(test)]
mod background_tests {
    #[tokio::test]
    async fn background_work_runs_at_nice_10_and_returns_its_result() {
        let (nice, name) = super::in_background("bg-test", || {
            // SAFETY: getpriority only reads its plain integer arguments.
            let nice = unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) };
            Ok((nice, std::thread::current().name().map(String::from)))
        })
        .await
        .unwrap();
        assert_eq!(nice, 10);
        assert_eq!(name.as_deref(), Some("bg-test"));
        // SAFETY: as above.
        let here = unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) };
        assert_ne!(here, 10, "the caller's own priority is untouched");
        let failed = super::in_background("bg-test", || -> std::io::Result<()> {
            Err(std::io::Error::other("boom"))
        })
        .await;
        assert_eq!(failed.unwrap_err().to_string(), "boom");
    }
}
