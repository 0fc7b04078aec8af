//! Writes `etc/keys/private.key` (0600) and `etc/keys/root.crt` whenever the applied active
//! key changes, as the state machine's "applied" notification tells. This is the only way key
//! files reach disk: they follow the replicated log, never a copy between hosts.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::sync::watch;

use crate::crypto::KeyMaterial;
use crate::store::Applied;

/// The running writer: which key's files are on disk.
pub struct KeyFiles {
    written: watch::Receiver<Option<String>>,
}

/// Atomic replace (temp file + rename) so readers never see half a key; skipped when the
/// content is already there.
fn write(dir: &Path, name: &str, contents: &str, mode: u32) -> std::io::Result<bool> {
    let path = dir.join(name);
    if std::fs::read_to_string(&path).is_ok_and(|c| c == contents) {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))?;
        return Ok(false);
    }
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".{name}.tmp"));
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)?;
    f.write_all(contents.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, &path)?;
    Ok(true)
}

fn write_key(dir: &Path, key: &KeyMaterial) -> std::io::Result<bool> {
    let k = write(dir, "private.key", &key.private_key_pem, 0o600)?;
    let c = write(dir, "root.crt", &key.certificate_pem, 0o644)?;
    Ok(k || c)
}

impl KeyFiles {
    /// Start following `applied` (on the current Tokio runtime).
    pub fn new(home: &Path, mut applied: watch::Receiver<Applied>) -> KeyFiles {
        let dir: PathBuf = home.join("etc").join("keys");
        let (done, written) = watch::channel(None);
        tokio::spawn(async move {
            loop {
                let key = applied.borrow_and_update().active_key.clone();
                if let Some(key) = key.filter(|k| done.borrow().as_deref() != Some(k.kid.as_str()))
                {
                    let target = dir.clone();
                    let material = key.clone();
                    match tokio::task::spawn_blocking(move || write_key(&target, &material)).await {
                        Ok(Ok(changed)) => {
                            if changed {
                                tracing::info!(kid = %key.kid, dir = %dir.display(), "key files written from the applied log");
                            }
                            done.send_replace(Some(key.kid.clone()));
                        }
                        Ok(Err(e)) => {
                            tracing::error!(error = %e, dir = %dir.display(), "cannot write key files")
                        }
                        Err(e) => tracing::error!(error = %e, "key file writer failed"),
                    }
                }
                if applied.changed().await.is_err() {
                    return;
                }
            }
        });
        KeyFiles { written }
    }

    /// Wait (up to `timeout`) until the files of key `kid` are on disk.
    pub async fn wait_written(&self, kid: &str, timeout: Duration) {
        let mut written = self.written.clone();
        let done = written.wait_for(|w| w.as_deref() == Some(kid));
        if tokio::time::timeout(timeout, done).await.is_err() {
            tracing::warn!(kid, "key files not written in time");
        }
    }
}
