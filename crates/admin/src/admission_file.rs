//! Admission files on disk: read bounded, written new and owner-only, or
//! written beside the file they replace and renamed over it.

use std::path::{Path, PathBuf};

use tacnode_messaging::MAX_ADMISSION_FILE_BYTES;

use crate::error::AdminError;

/// The text of an admission file: a regular file of at most
/// [`MAX_ADMISSION_FILE_BYTES`].
pub(crate) fn read_text(path: &Path) -> Result<String, AdminError> {
    let read = |source| AdminError::Read {
        path: path.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(read)?;
    if !meta.is_file() || meta.len() > MAX_ADMISSION_FILE_BYTES as u64 {
        return Err(AdminError::NotAdmissionFile(path.to_path_buf()));
    }
    std::fs::read_to_string(path).map_err(read)
}

/// Writes `text` to a new file readable by its owner only.
pub(crate) fn write_new(path: &Path, text: &str) -> Result<(), AdminError> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|source| AdminError::Create {
            path: path.to_path_buf(),
            source,
        })?;
    f.write_all(text.as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(|source| AdminError::Write {
            path: path.to_path_buf(),
            source,
        })
}

/// Writes `text` to `fresh` (a leftover of an interrupted run is removed
/// first), then renames it over `target`; a failed rename is `failed`.
pub(crate) fn replace(
    fresh: &Path,
    target: &Path,
    text: &str,
    failed: fn(PathBuf, std::io::Error) -> AdminError,
) -> Result<(), AdminError> {
    let _ = std::fs::remove_file(fresh);
    write_new(fresh, text)?;
    std::fs::rename(fresh, target).map_err(|e| failed(target.to_path_buf(), e))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    #[test]
    fn written_new_and_owner_only_and_never_over_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a");
        write_new(&path, "x\n").unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let again = write_new(&path, "y\n").unwrap_err();
        assert!(matches!(again, AdminError::Create { .. }), "{again}");
        assert!(again.to_string().ends_with("(it must not exist yet)"));
        assert_eq!(read_text(&path).unwrap(), "x\n");
    }

    #[test]
    fn a_directory_or_an_oversized_file_is_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let e = read_text(dir.path()).unwrap_err();
        assert!(matches!(e, AdminError::NotAdmissionFile(_)), "{e}");
        let big = dir.path().join("big");
        std::fs::write(&big, vec![b'a'; MAX_ADMISSION_FILE_BYTES + 1]).unwrap();
        let e = read_text(&big).unwrap_err();
        assert!(matches!(e, AdminError::NotAdmissionFile(_)), "{e}");
        let e = read_text(&dir.path().join("missing")).unwrap_err();
        assert!(matches!(e, AdminError::Read { .. }), "{e}");
    }

    #[test]
    fn a_replacement_takes_the_place_of_the_old_file_and_of_a_leftover() {
        let dir = tempfile::tempdir().unwrap();
        let (fresh, target) = (dir.path().join("t.new"), dir.path().join("t"));
        std::fs::write(&target, "old\n").unwrap();
        std::fs::write(&fresh, "leftover\n").unwrap();
        replace(&fresh, &target, "new\n", AdminError::Update).unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "new\n");
        assert!(!fresh.exists());
    }
}
