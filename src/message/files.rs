//! The session's `messages/` folder: every saved draft and every message sent, one file
//! each (`007-during.txt`), written whole and synced before the journal refers to it.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
#[error("cannot write the message file {path}: {source}")]
pub struct FileError {
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

/// Writes `text` as the next message file of `phase` and returns its name (relative to
/// `dir`). Never overwrites: a name already taken (a crash between the file and its
/// journal record) moves on to the next number.
pub fn write(dir: &Path, n: u32, phase: &str, text: &str) -> Result<String, FileError> {
    let err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| FileError { path, source }
    };
    crate::session::store::mkdir_private(dir).map_err(err(dir))?;
    // Saved drafts and sent messages are kept: a secret typed into one is kept masked.
    let text = crate::runbook::secrets::active().mask(text);
    let mut n = n.max(1);
    loop {
        let name = format!("{n:03}-{phase}.txt");
        let path = dir.join(&name);
        let opened = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path);
        let mut file = match opened {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && n < 100_000 => {
                n += 1;
                continue;
            }
            Err(e) => return Err(err(&path)(e)),
        };
        file.write_all(text.as_bytes()).map_err(err(&path))?;
        file.sync_all().map_err(err(&path))?;
        // The directory entry too, or a crash could keep the journal's reference to a
        // file that is gone.
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(err(dir))?;
        return Ok(name);
    }
}

/// Reads a message file back (a saved draft, on resume).
pub fn read(dir: &Path, name: &str) -> Result<String, FileError> {
    // Names come from the journal; one naming another directory is not ours to read.
    if name.contains('/') || name.starts_with('.') {
        return Err(FileError {
            path: dir.join(name),
            source: std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "not a message file name",
            ),
        });
    }
    let path = dir.join(name);
    std::fs::read_to_string(&path).map_err(|source| FileError { path, source })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn files_are_private_numbered_and_never_overwritten() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("messages");
        let a = write(&dir, 1, "during", "one").unwrap();
        assert_eq!(a, "001-during.txt");
        let b = write(&dir, 1, "during", "two").unwrap();
        assert_eq!(b, "002-during.txt");
        assert_eq!(read(&dir, &a).unwrap(), "one");
        assert_eq!(read(&dir, &b).unwrap(), "two");
        let mode = std::fs::metadata(dir.join(&a))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        assert!(read(&dir, "../journal.jsonl").is_err());
    }
}
