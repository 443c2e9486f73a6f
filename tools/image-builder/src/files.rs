//! Build outputs written only when their bytes change, so cargo, QEMU's caches and the user's tools see an
//! unchanged file as unchanged. Shared by every step that writes into `out/` (the pipeline, the SD card, the
//! preloaded images).

use std::fs;
use std::io::Read;
use std::path::Path;

use crate::{Error, Result};

/// Whether the file at `path` holds exactly `bytes`, compared a chunk at a time (images run to tens of MiB).
pub(crate) fn same_contents(path: &Path, bytes: &[u8]) -> bool {
    let Ok(mut file) = fs::File::open(path) else { return false };
    if file.metadata().map_or(true, |m| m.len() != bytes.len() as u64) {
        return false;
    }
    let mut chunk = vec![0u8; (1 << 20).min(bytes.len())];
    let mut rest = bytes;
    while !rest.is_empty() {
        let n = chunk.len().min(rest.len());
        if file.read_exact(&mut chunk[..n]).is_err() || chunk[..n] != rest[..n] {
            return false;
        }
        rest = &rest[n..];
    }
    // Nothing may follow (the file could have grown since `metadata`).
    file.read(&mut [0u8; 1]).is_ok_and(|n| n == 0)
}

/// Writes a file unless it already has these bytes (so cargo does not rebuild for nothing).
pub(crate) fn write_if_changed(path: &Path, bytes: &[u8]) -> Result<()> {
    if same_contents(path, bytes) {
        return Ok(());
    }
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(|source| Error::Write { path: dir.to_owned(), source })?;
    }
    fs::write(path, bytes).map_err(|source| Error::Write { path: path.to_owned(), source })
}
