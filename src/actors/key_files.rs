//! Writes `etc/keys/private.key` (0600) and `etc/keys/root.crt` whenever the applied key set
//! changes. This is the only way key files reach disk: they follow the replicated log.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use actix::{Actor, Context, Handler};

use crate::store::state::KeysChanged;

pub struct KeyFiles {
    dir: PathBuf,
}

impl KeyFiles {
    pub fn new(home: &Path) -> KeyFiles {
        KeyFiles {
            dir: home.join("etc").join("keys"),
        }
    }

    /// Atomic replace (temp file + rename) so readers never see half a key; skipped when the
    /// content is already there.
    fn write(&self, name: &str, contents: &str, mode: u32) -> std::io::Result<bool> {
        let path = self.dir.join(name);
        if std::fs::read_to_string(&path).is_ok_and(|c| c == contents) {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))?;
            return Ok(false);
        }
        std::fs::create_dir_all(&self.dir)?;
        let tmp = self.dir.join(format!(".{name}.tmp"));
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
}

impl Actor for KeyFiles {
    type Context = Context<Self>;
}

impl Handler<KeysChanged> for KeyFiles {
    type Result = ();

    fn handle(&mut self, msg: KeysChanged, _ctx: &mut Context<Self>) {
        let key = self.write("private.key", &msg.active.private_key_pem, 0o600);
        let cert = self.write("root.crt", &msg.active.certificate_pem, 0o644);
        match (key, cert) {
            (Ok(k), Ok(c)) => {
                if k || c {
                    tracing::info!(kid = %msg.active.kid, dir = %self.dir.display(), "key files written from the applied log");
                }
            }
            (Err(e), _) | (_, Err(e)) => {
                tracing::error!(error = %e, dir = %self.dir.display(), "cannot write key files");
            }
        }
    }
}
