//! `<home>/db/format`: the newest format this data directory holds (its cluster's, or an
//! entry's in its log), kept as a plain file so a binary that reads less refuses the
//! directory before opening sled (opening sled rewrites sled's own files). Raised, never
//! lowered: when an entry or snapshot of a newer format arrives, and at start from the state.
//! A directory written before formats has none: it is at the first format.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use crate::domain::version::FIRST_FORMAT;

pub struct FormatMark {
    path: PathBuf,
    known: AtomicU32,
}

impl FormatMark {
    /// The mark of the data directory `db_dir` (the first format when it has none).
    pub fn open(db_dir: &Path) -> std::io::Result<FormatMark> {
        let path = db_dir.join("format");
        let known = match std::fs::read_to_string(&path) {
            Ok(text) => text.trim().parse::<u32>().map_err(|_| {
                std::io::Error::other(format!("{}: not a format number", path.display()))
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => FIRST_FORMAT,
            Err(e) => return Err(e),
        };
        Ok(FormatMark {
            path,
            known: AtomicU32::new(known),
        })
    }

    pub fn get(&self) -> u32 {
        self.known.load(Ordering::SeqCst)
    }

    /// Record that the directory now holds `format` (a no-op unless it is newer). Written
    /// and synced before the caller goes on, through a temporary file and a rename.
    pub fn raise(&self, format: u32) -> std::io::Result<()> {
        if self.known.fetch_max(format, Ordering::SeqCst) >= format {
            return Ok(());
        }
        let tmp = self.path.with_extension("tmp");
        let mut file = std::fs::File::create(&tmp)?;
        writeln!(file, "{format}")?;
        file.sync_all()?;
        std::fs::rename(&tmp, &self.path)?;
        if let Some(dir) = self.path.parent() {
            std::fs::File::open(dir)?.sync_all()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mark_only_moves_forward_and_survives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let mark = FormatMark::open(dir.path()).unwrap();
        assert_eq!(mark.get(), FIRST_FORMAT, "a directory without one");
        mark.raise(2).unwrap();
        mark.raise(1).unwrap();
        assert_eq!(mark.get(), 2);
        assert_eq!(FormatMark::open(dir.path()).unwrap().get(), 2);
        std::fs::write(dir.path().join("format"), "garbage").unwrap();
        assert!(FormatMark::open(dir.path()).is_err());
    }
}
