//! The channel's memory through Linux's sram driver: the binary sysfs file it exports for `channel@0`
//! (`/sys/bus/platform/devices/IPA.sram/IPA.sram`, root only), read and written at offsets with `pread` and
//! `pwrite` (the driver has no `mmap`).
//!
//! The driver copies with `memcpy_fromio`/`memcpy_toio` over its write-combining mapping: one 64-bit access per
//! aligned 8-byte chunk on arm64, 32-bit ones on arm, which is what the ring's [`Memory`] contract needs for its
//! index slots. A read-only channel's file is opened read-only, so that no bug here can write it: the write would
//! be a stage-2 fault that stops the whole partition.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use pv_drivers::ring::{check_range, Memory};

/// A channel's sram file.
#[derive(Debug)]
pub struct SramFile {
    file: File,
    size: usize,
    writable: bool,
    path: PathBuf,
}

impl SramFile {
    /// Opens the file at `path` for a channel of `size` bytes, for writing too when `writable`. A file of
    /// another size is refused: it is not this channel's (sysfs gives a binary attribute its size).
    pub fn open(path: &Path, size: u64, writable: bool) -> io::Result<Self> {
        let file = OpenOptions::new().read(true).write(writable).open(path)?;
        let actual = file.metadata()?.len();
        if actual != size {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{} has {actual:#x} bytes, the channel {size:#x}", path.display()),
            ));
        }
        let size = usize::try_from(size)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "channel larger than the address space"))?;
        Ok(Self { file, size, writable, path: path.to_path_buf() })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn check(&self, offset: usize, len: usize) -> io::Result<u64> {
        check_range(offset, len, self.size).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
        // Inside `size`, which came from a u64.
        u64::try_from(offset).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))
    }
}

impl Memory for SramFile {
    type Error = io::Error;

    fn size(&self) -> usize {
        self.size
    }

    /// One `pread` per page at most (sysfs serves binary files a page per call); an aligned 8-byte read is one
    /// call, so one access.
    fn read(&self, offset: usize, buf: &mut [u8]) -> io::Result<()> {
        let at = self.check(offset, buf.len())?;
        self.file.read_exact_at(buf, at)
    }

    fn write(&self, offset: usize, data: &[u8]) -> io::Result<()> {
        let at = self.check(offset, data.len())?;
        if !self.writable {
            return Err(io::Error::new(io::ErrorKind::PermissionDenied, "the channel is mapped read-only"));
        }
        self.file.write_all_at(data, at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdir::TempDir;

    #[test]
    fn reads_and_writes_at_offsets_within_the_channel() {
        let dir = TempDir::new("sram");
        let path = dir.path().join("10000000.sram");
        std::fs::write(&path, vec![0; 0x1000]).unwrap();
        let m = SramFile::open(&path, 0x1000, true).unwrap();
        m.write(0xffc, b"tail").unwrap();
        let mut b = [0; 6];
        m.read(0xffa, &mut b).unwrap();
        assert_eq!(&b, b"\0\0tail");
        assert_eq!(m.read(0xffe, &mut [0; 4]).unwrap_err().kind(), io::ErrorKind::InvalidInput);
        let ro = SramFile::open(&path, 0x1000, false).unwrap();
        assert_eq!(ro.write(0, b"x").unwrap_err().kind(), io::ErrorKind::PermissionDenied);
        assert_eq!(SramFile::open(&path, 0x2000, false).unwrap_err().kind(), io::ErrorKind::InvalidData);
    }
}
