//! Small pieces the storage files share: error conversions, key encoding, snapshot file names.

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
