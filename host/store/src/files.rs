//! Content-addressed files beside the database (plugin components, prompt audio).
//!
//! The database holds metadata; the bytes live in files named by their SHA-256, written
//! once. A crash mid-write must never leave a truncated file under the final name, since the
//! name claims the content: so the bytes go to a temporary name, are synced, then renamed.

use std::io::Write as _;

use cap_std::fs::Dir;

/// Writes `bytes` as `name` in `dir` atomically (temporary file, `fsync`, rename). Does
/// nothing when `name` already exists: the caller names files by their content, so an
/// existing file already holds these bytes.
pub fn write_content_addressed(dir: &Dir, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    if dir.exists(name) {
        return Ok(());
    }
    let tmp = format!("{name}.tmp{}", std::process::id());
    let written = dir
        .create(&tmp)
        .and_then(|mut f| f.write_all(bytes).and_then(|()| f.sync_all()))
        .and_then(|()| dir.rename(&tmp, dir, name));
    if written.is_err() {
        let _ = dir.remove_file(&tmp);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;
    use cap_std::ambient_authority;

    #[test]
    fn writes_once_and_leaves_no_temporary_file() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = Dir::open_ambient_dir(tmp.path(), ambient_authority()).unwrap();
        write_content_addressed(&dir, "abc.wasm", b"first").unwrap();
        // Same name again: the existing file is kept as it is.
        write_content_addressed(&dir, "abc.wasm", b"second").unwrap();
        assert_eq!(dir.read("abc.wasm").unwrap(), b"first");
        let names: Vec<String> = dir
            .entries()
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, ["abc.wasm"]);
    }

    #[test]
    fn a_failed_write_reports_the_error() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = Dir::open_ambient_dir(tmp.path(), ambient_authority()).unwrap();
        // A name inside a missing folder cannot be created.
        let err = write_content_addressed(&dir, "missing/abc.wav", b"x").unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
        assert!(!dir.exists("missing"));
    }
}
