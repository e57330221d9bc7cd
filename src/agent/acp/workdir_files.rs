//! The agent's `fs/*` calls, served inside the workdir only. Blocking file
//! I/O: the session runs these on the blocking pool, never on its task.
//!
//! A path is inside when, with `.` and `..` resolved and every existing
//! ancestor's symlinks followed, it is below the canonical workdir: neither
//! `../x` nor a symlink pointing out lets an agent reach a file outside.

use std::io::ErrorKind;
use std::path::{Component, Path, PathBuf};
use thiserror::Error;

/// Largest file read or replaced through these calls; the answer travels as
/// one line, and the old text as one event.
pub const MAX_FILE_BYTES: usize = 8 * 1024 * 1024;

#[derive(Debug, Error)]
pub enum FileError {
    #[error("{0} is outside the project folder")]
    Outside(PathBuf),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0} is larger than {MAX_FILE_BYTES} bytes")]
    TooLarge(PathBuf),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> FileError + '_ {
    move |source| FileError::Io {
        path: path.to_owned(),
        source,
    }
}

/// `path` made absolute against `workdir`, checked to be inside it.
pub fn inside(workdir: &Path, path: &Path) -> Result<PathBuf, FileError> {
    let root = workdir.canonicalize().map_err(io(workdir))?;
    let mut lexical = PathBuf::new();
    for c in workdir.join(path).components() {
        match c {
            Component::ParentDir => {
                if !lexical.pop() {
                    return Err(FileError::Outside(path.to_owned()));
                }
            }
            Component::CurDir => {}
            other => lexical.push(other),
        }
    }
    // The longest existing ancestor, with its links followed, must be the
    // root or below it; what does not exist yet cannot be a link.
    let mut existing = lexical.as_path();
    let mut rest = Vec::new();
    let real = loop {
        match existing.canonicalize() {
            Ok(p) => break p,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                let (Some(parent), Some(name)) = (existing.parent(), existing.file_name()) else {
                    return Err(FileError::Outside(path.to_owned()));
                };
                rest.push(name.to_owned());
                existing = parent;
            }
            Err(e) => return Err(io(path)(e)),
        }
    };
    if !real.starts_with(&root) {
        return Err(FileError::Outside(path.to_owned()));
    }
    Ok(rest.into_iter().rev().fold(real, |p, name| p.join(name)))
}

fn read_capped(path: &Path) -> Result<Option<String>, FileError> {
    match std::fs::metadata(path) {
        Ok(m) if m.len() > MAX_FILE_BYTES as u64 => Err(FileError::TooLarge(path.to_owned())),
        Ok(_) => std::fs::read(path)
            .map(|b| Some(String::from_utf8_lossy(&b).into_owned()))
            .map_err(io(path)),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io(path)(e)),
    }
}

/// `fs/read_text_file`: the text from 1-based `line`, at most `limit` lines.
pub fn read(
    workdir: &Path,
    path: &Path,
    line: Option<u32>,
    limit: Option<u32>,
) -> Result<String, FileError> {
    let path = inside(workdir, path)?;
    let text = read_capped(&path)?.ok_or_else(|| FileError::Io {
        path: path.clone(),
        source: ErrorKind::NotFound.into(),
    })?;
    if line.is_none() && limit.is_none() {
        return Ok(text);
    }
    let skip = line.unwrap_or(1).saturating_sub(1) as usize;
    let take = limit.map_or(usize::MAX, |l| l as usize);
    Ok(text.split_inclusive('\n').skip(skip).take(take).collect())
}

/// What a write replaced, for the session's diff.
#[derive(Debug, PartialEq, Eq)]
pub struct Written {
    pub path: PathBuf,
    /// None: the file is new.
    pub old_text: Option<String>,
}

/// `fs/write_text_file`: replaces (or creates) the file, and its folders.
pub fn write(workdir: &Path, path: &Path, content: &str) -> Result<Written, FileError> {
    let path = inside(workdir, path)?;
    if content.len() > MAX_FILE_BYTES {
        return Err(FileError::TooLarge(path));
    }
    let old_text = read_capped(&path)?;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io(parent))?;
    }
    std::fs::write(&path, content).map_err(io(&path))?;
    Ok(Written { path, old_text })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_outside_the_workdir_are_refused_however_spelled() {
        let dir = tempfile::tempdir().unwrap();
        let work = dir.path().join("work");
        std::fs::create_dir_all(work.join("src")).unwrap();
        std::fs::write(dir.path().join("secret"), "s").unwrap();
        std::os::unix::fs::symlink(dir.path(), work.join("out")).unwrap();
        for hostile in [
            dir.path().join("secret"),
            work.join("../secret"),
            work.join("src/../../secret"),
            work.join("out/secret"),
            work.join("out/new-file"),
            PathBuf::from("/etc/passwd"),
            PathBuf::from("../secret"),
        ] {
            assert!(
                matches!(inside(&work, &hostile), Err(FileError::Outside(_))),
                "{hostile:?} was let through"
            );
            assert!(write(&work, &hostile, "x").is_err());
        }
        assert_eq!(
            std::fs::read_to_string(dir.path().join("secret")).unwrap(),
            "s"
        );
        let real = work.canonicalize().unwrap();
        assert_eq!(
            inside(&work, Path::new("src/./a.rs")).unwrap(),
            real.join("src/a.rs")
        );
        assert_eq!(
            inside(&work, &work.join("new/deeper/b.rs")).unwrap(),
            real.join("new/deeper/b.rs")
        );
    }

    #[test]
    fn writes_report_what_they_replaced_and_reads_take_line_ranges() {
        let dir = tempfile::tempdir().unwrap();
        let w = write(dir.path(), Path::new("a/b.txt"), "one\ntwo\nthree\n").unwrap();
        assert_eq!(w.old_text, None);
        let w = write(dir.path(), Path::new("a/b.txt"), "1\n2\n3\n4\n").unwrap();
        assert_eq!(w.old_text.as_deref(), Some("one\ntwo\nthree\n"));
        assert_eq!(
            read(dir.path(), Path::new("a/b.txt"), Some(2), Some(2)).unwrap(),
            "2\n3\n"
        );
        assert_eq!(
            read(dir.path(), Path::new("a/b.txt"), None, None).unwrap(),
            "1\n2\n3\n4\n"
        );
        assert!(read(dir.path(), Path::new("missing"), None, None).is_err());
    }
}
