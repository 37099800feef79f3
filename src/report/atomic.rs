//! Report files appear whole or not at all: each is written to a temporary file beside its
//! final path and renamed into place once complete (a rename within a directory is atomic), so
//! a crash, a full disk or a kill mid-write never leaves half a `summary.json` for `gauntlet
//! report`, `merge` or a CI step to read.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// A file being written; it takes its name only at [`AtomicFile::commit`], and a file dropped
/// before that is removed.
#[derive(Debug)]
pub(crate) struct AtomicFile {
    path: PathBuf,
    tmp: PathBuf,
    file: Option<BufWriter<File>>,
}

/// The temporary name beside `path`: hidden, and ending in the same extension, since some
/// writers (the PNG encoder) choose the format by it.
pub(crate) fn temporary_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map_or_else(|| "report".into(), |n| n.to_string_lossy().into_owned());
    path.with_file_name(format!(".{}.{name}", std::process::id()))
}

impl AtomicFile {
    /// Starts writing what will become `path`.
    pub(crate) fn create(path: &Path) -> io::Result<Self> {
        let tmp = temporary_path(path);
        let file = File::create(&tmp)?;
        Ok(Self {
            path: path.to_path_buf(),
            tmp,
            file: Some(BufWriter::new(file)),
        })
    }

    /// Flushes the file to disk and gives it its name.
    pub(crate) fn commit(mut self) -> io::Result<()> {
        if let Some(file) = self.file.take() {
            let file = file.into_inner().map_err(|e| e.into_error())?;
            file.sync_all()?;
        }
        std::fs::rename(&self.tmp, &self.path)
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.file {
            Some(f) => f.write(buf),
            None => Err(io::Error::other("the file was committed")),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.file {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Writes `bytes` to `path` atomically.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut f = AtomicFile::create(path)?;
    f.write_all(bytes)?;
    f.commit()
}

/// Lets `draw` write a file (a chart through plotters' bitmap backend, which opens the path
/// itself) under the temporary name, then renames it into place.
pub(crate) fn with_temporary<E: From<io::Error>>(
    path: &Path,
    draw: impl FnOnce(&Path) -> Result<(), E>,
) -> Result<(), E> {
    let tmp = temporary_path(path);
    match draw(&tmp) {
        Ok(()) => Ok(std::fs::rename(&tmp, path)?),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("gauntlet-atomic-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn the_file_appears_only_when_committed() {
        let d = dir("commit");
        let path = d.join("summary.json");
        std::fs::write(&path, "old").unwrap();
        let mut f = AtomicFile::create(&path).unwrap();
        f.write_all(b"new, whole").unwrap();
        f.flush().unwrap();
        // Until the rename, a reader still sees the old file, whole.
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "old");
        f.commit().unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new, whole");
        assert_eq!(
            std::fs::read_dir(&d).unwrap().count(),
            1,
            "no temporary file is left"
        );
    }

    #[test]
    fn an_abandoned_file_leaves_nothing() {
        let d = dir("drop");
        let path = d.join("timeseries.csv");
        let mut f = AtomicFile::create(&path).unwrap();
        f.write_all(b"half a ro").unwrap();
        drop(f);
        assert!(!path.exists());
        assert_eq!(std::fs::read_dir(&d).unwrap().count(), 0);
    }

    #[test]
    fn the_temporary_name_keeps_the_extension() {
        let tmp = temporary_path(Path::new("/r/latency.png"));
        assert_eq!(tmp.extension().unwrap(), "png");
        assert!(tmp.file_name().unwrap().to_string_lossy().starts_with('.'));
    }
}
