//! How the CLI writes a file it is told to (`backup --out`): never through a link or into a
//! file someone else prepared. It writes a new 0600 file with a random name beside the
//! destination (`O_CREAT | O_EXCL | O_NOFOLLOW`), then renames it over the destination.

use std::fs::{File, OpenOptions, Permissions};
use std::io;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// A file being written to `dest`; removed unless [`OutFile::commit`] renames it there.
#[derive(Debug)]
pub struct OutFile {
    file: File,
    tmp: PathBuf,
    dest: PathBuf,
    committed: bool,
}

impl OutFile {
    /// Create `<dest>.<random>.partial`, new (a name already there, a link included, is an
    /// error: nothing is opened through it), readable and writable by its owner only.
    pub fn create(dest: &Path) -> io::Result<OutFile> {
        let Some(name) = dest.file_name() else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the output path names no file",
            ));
        };
        let mut tmp_name = name.to_os_string();
        tmp_name.push(format!(".{:016x}.partial", rand::random::<u64>()));
        let tmp = dest.with_file_name(tmp_name);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .custom_flags(libc::O_NOFOLLOW)
            .mode(0o600)
            .open(&tmp)?;
        let out = OutFile {
            file,
            tmp,
            dest: dest.to_path_buf(),
            committed: false,
        };
        // The umask may have taken bits away; on the descriptor, so no path is followed.
        out.file.set_permissions(Permissions::from_mode(0o600))?;
        Ok(out)
    }

    pub fn file(&mut self) -> &mut File {
        &mut self.file
    }

    /// The temporary path, for error messages.
    pub fn tmp(&self) -> &Path {
        &self.tmp
    }

    /// Flush to disk and rename over the destination. The rename replaces whatever entry is
    /// at the destination, a link included, and never writes through it. It is refused if
    /// the temporary name no longer holds the file written (someone swapped it).
    pub fn commit(mut self) -> io::Result<()> {
        self.file.sync_all()?;
        let written = self.file.metadata()?;
        let named = std::fs::symlink_metadata(&self.tmp)?;
        if (written.dev(), written.ino()) != (named.dev(), named.ino()) {
            return Err(io::Error::other(
                "the file was replaced while being written",
            ));
        }
        std::fs::rename(&self.tmp, &self.dest)?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for OutFile {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::os::unix::fs::symlink;

    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::symlink_metadata(path).unwrap().mode() & 0o7777
    }

    #[test]
    fn writes_a_private_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("state.backup");
        let mut out = OutFile::create(&dest).unwrap();
        assert_eq!(mode(out.tmp()), 0o600);
        out.file().write_all(b"secret").unwrap();
        out.commit().unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"secret");
        assert_eq!(mode(&dest), 0o600);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_link_at_the_destination_is_replaced_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "untouched").unwrap();
        let dest = dir.path().join("state.backup");
        symlink(&victim, &dest).unwrap();
        let mut out = OutFile::create(&dest).unwrap();
        out.file().write_all(b"secret").unwrap();
        out.commit().unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "untouched");
        assert!(!std::fs::symlink_metadata(&dest).unwrap().is_symlink());
        assert_eq!(std::fs::read(&dest).unwrap(), b"secret");
        assert_eq!(mode(&dest), 0o600);
    }

    #[test]
    fn nothing_is_opened_through_a_planted_link() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "untouched").unwrap();
        let tmp = dir.path().join("planted.partial");
        symlink(&victim, &tmp).unwrap();
        // The random name cannot be planted in advance; the flags refuse one that is.
        let opened = OpenOptions::new()
            .write(true)
            .create_new(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&tmp);
        assert_eq!(opened.unwrap_err().kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "untouched");
    }

    #[test]
    fn a_swapped_temporary_is_not_renamed_and_nothing_is_left() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("state.backup");
        let out = OutFile::create(&dest).unwrap();
        let tmp = out.tmp().to_path_buf();
        std::fs::remove_file(&tmp).unwrap();
        std::fs::write(&tmp, "planted").unwrap();
        assert!(out.commit().is_err());
        assert!(!dest.exists());
        assert!(!tmp.exists());
    }

    #[test]
    fn an_abandoned_file_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        let out = OutFile::create(&dir.path().join("state.backup")).unwrap();
        let tmp = out.tmp().to_path_buf();
        drop(out);
        assert!(!tmp.exists());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
