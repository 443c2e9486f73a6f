//! Opening the files a config names (and the config itself) as hostile input.
//!
//! A path in a config can name anything: a FIFO (reading it waits for a writer that never comes), a character
//! device (`/dev/zero` never ends), a directory, or a file under `/proc` that claims size 0 and then streams. Every
//! input is therefore checked *before it is opened*: it must be a regular file, outside the kernel's pseudo file
//! systems, and no larger than the caller's limit. Reads then stop at that limit even if the file grows meanwhile.

use std::fmt;
use std::fs;
use std::io::{self, Read};
use std::path::{Component, Path};

/// Why an input file was refused. Its `Display` is plain language for a diagnostic (`cannot read X: {reason}`).
#[derive(Debug)]
pub enum InputError {
    NotFound,
    /// Exists, but is a directory.
    Directory,
    /// Exists, but is a FIFO, socket or device: reading it could wait forever or never end.
    Special(&'static str),
    /// Under /proc, /sys or /dev: pseudo files whose size says nothing about their contents.
    PseudoFs,
    /// Larger than the caller accepts.
    TooLarge {
        len: u64,
        limit: u64,
    },
    /// Any other I/O problem (permissions, ...).
    Io(io::Error),
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InputError::NotFound => f.write_str("no such file"),
            InputError::Directory => f.write_str("it is a directory, not a file"),
            InputError::Special(what) => write!(f, "it is a {what}, not a regular file"),
            InputError::PseudoFs => f.write_str("files under /proc, /sys and /dev are not accepted as inputs"),
            InputError::TooLarge { len, limit } => {
                write!(f, "it is {} bytes, more than the {} bytes accepted here", len, limit)
            }
            InputError::Io(e) if e.kind() == io::ErrorKind::PermissionDenied => f.write_str("permission denied"),
            InputError::Io(e) => write!(f, "{}", plain_io(e)),
        }
    }
}

impl std::error::Error for InputError {}

impl InputError {
    /// Whether the file simply is not there (the case a fetch hint can fix).
    pub fn is_not_found(&self) -> bool {
        matches!(self, InputError::NotFound)
    }
}

/// An I/O error's text without the `(os error N)` suffix.
fn plain_io(e: &io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_owned(),
        None => s,
    }
}

/// Whether `path` (absolute or not) lies under a pseudo file system.
fn under_pseudo_fs(path: &Path) -> bool {
    let abs = path.canonicalize().unwrap_or_else(|_| path.to_owned());
    let mut parts = abs.components();
    matches!(parts.next(), Some(Component::RootDir))
        && matches!(parts.next(), Some(Component::Normal(top)) if top == "proc" || top == "sys" || top == "dev")
}

/// Checks that `path` is a regular file no larger than `limit` bytes, without opening it. Returns its length.
pub fn check_regular(path: &Path, limit: u64) -> Result<u64, InputError> {
    let meta = match fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(InputError::NotFound),
        Err(e) => return Err(InputError::Io(e)),
    };
    let ft = meta.file_type();
    if ft.is_dir() {
        return Err(InputError::Directory);
    }
    if !ft.is_file() {
        use std::os::unix::fs::FileTypeExt;
        let what = if ft.is_fifo() {
            "named pipe (FIFO)"
        } else if ft.is_socket() {
            "socket"
        } else if ft.is_char_device() {
            "character device"
        } else if ft.is_block_device() {
            "block device"
        } else {
            "special file"
        };
        return Err(InputError::Special(what));
    }
    if under_pseudo_fs(path) {
        return Err(InputError::PseudoFs);
    }
    if meta.len() > limit {
        return Err(InputError::TooLarge { len: meta.len(), limit });
    }
    Ok(meta.len())
}

/// Opens `path` after [`check_regular`], for reading at most `limit` bytes.
pub fn open(path: &Path, limit: u64) -> Result<io::Take<fs::File>, InputError> {
    check_regular(path, limit)?;
    let file = fs::File::open(path).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => InputError::NotFound,
        _ => InputError::Io(e),
    })?;
    // One byte over the limit, so a file that grew after the check is noticed rather than cut silently.
    Ok(file.take(limit.saturating_add(1)))
}

/// Reads the whole of `path` (a regular file of at most `limit` bytes).
pub fn read(path: &Path, limit: u64) -> Result<Vec<u8>, InputError> {
    let mut bytes = Vec::new();
    open(path, limit)?.read_to_end(&mut bytes).map_err(InputError::Io)?;
    let len = bytes.len() as u64;
    if len > limit {
        return Err(InputError::TooLarge { len, limit });
    }
    Ok(bytes)
}

/// Reads the first `n` bytes of `path` (fewer when it is shorter), after the same checks.
pub fn read_head(path: &Path, n: usize, limit: u64) -> Result<Vec<u8>, InputError> {
    let mut head = Vec::with_capacity(n);
    open(path, limit)?.take(n as u64).read_to_end(&mut head).map_err(InputError::Io)?;
    Ok(head)
}

/// The largest config file accepted: far beyond any real system, small enough to check in well under a second.
pub const CONFIG_LIMIT: u64 = 1 << 20;
/// The largest kernel, ramdisk, overlay or disk image accepted: larger than any board's RAM.
pub const IMAGE_LIMIT: u64 = 16 << 30;

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("hv-input-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn regular_files_read_and_limits_hold() {
        let dir = tmp("regular");
        let f = dir.join("a.bin");
        fs::write(&f, b"hello").unwrap();
        assert_eq!(read(&f, 5).unwrap(), b"hello");
        assert_eq!(read_head(&f, 2, 5).unwrap(), b"he");
        assert!(matches!(read(&f, 4), Err(InputError::TooLarge { len: 5, limit: 4 })));
        assert!(matches!(read(&dir.join("nope"), 9), Err(InputError::NotFound)));
        assert!(matches!(read(&dir, 9), Err(InputError::Directory)));
    }

    #[test]
    fn special_files_are_refused_before_opening() {
        let dir = tmp("fifo");
        let fifo = dir.join("pipe");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if made.is_ok_and(|s| s.success()) {
            // Opening a FIFO with no writer would block this test forever: it must be refused first.
            let e = read(&fifo, 1 << 20).unwrap_err();
            assert!(matches!(e, InputError::Special(w) if w.contains("FIFO")), "{e}");
        }
        assert!(matches!(read(Path::new("/dev/zero"), 1 << 20), Err(InputError::Special(_))));
        assert!(matches!(read(Path::new("/proc/self/status"), 1 << 20), Err(InputError::PseudoFs)));
        let e = read(Path::new("/dev/null"), 1).unwrap_err().to_string();
        assert!(e.contains("character device"), "{e}");
    }
}
