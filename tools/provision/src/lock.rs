//! A lock shared by threads and processes: one `apt-get`, one fixture fetch, one rustup at a time.
//!
//! `flock(2)` locks belong to an open file description, so two opens of one path conflict even inside a process;
//! std's `File::lock` is that lock on Linux. The lock is released when the guard's file is closed, also when the
//! process dies, so a killed test run never leaves a stale lock behind.

use std::fs::{self, File, OpenOptions};
use std::path::Path;

use crate::{Error, Result};

/// Held while it lives.
pub struct Guard {
    _file: File,
}

/// Waits for the lock at `path` (created, with its directory, if missing).
pub fn acquire(path: &Path) -> Result<Guard> {
    let err = |e: std::io::Error| Error::Io(format!("cannot lock {}: {e}", path.display()));
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(err)?;
    }
    let file = OpenOptions::new().create(true).truncate(false).write(true).open(path).map_err(err)?;
    file.lock().map_err(err)?;
    Ok(Guard { _file: file })
}

/// The lock directory for machine-wide steps (apt-get, rustup): the system temporary directory.
pub fn machine_lock(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("hv-static-{name}.lock"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[test]
    fn threads_take_turns() {
        let path = std::env::temp_dir().join(format!("hv-lock-test-{}.lock", std::process::id()));
        let inside = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let (path, inside, most) = (path.clone(), inside.clone(), most.clone());
                std::thread::spawn(move || {
                    let _g = acquire(&path).unwrap();
                    let n = inside.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(n, Ordering::SeqCst);
                    std::thread::sleep(std::time::Duration::from_millis(30));
                    inside.fetch_sub(1, Ordering::SeqCst);
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(most.load(Ordering::SeqCst), 1, "two holders at once");
        let _ = fs::remove_file(&path);
    }
}
