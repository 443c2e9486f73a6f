//! The board's own disk on QEMU (`backing = "host"`): a raw file that `run` attaches as a virtio-blk device, which
//! hv-static slices among the host-backed disks ([`Layout::host_disk_slices`]).
//!
//! The file is `out/NAME/host-disk.img` unless `run --host-disk PATH` names another. When it does not exist it is
//! created with room for every slice (rounded up to 1 MiB), zeroed, and each host-backed disk's `image` written
//! into its slice. An existing file is used as it is: that is what makes the partitions' writes persist from one
//! run to the next. Delete it to start over from the images.

use std::fs::{self, File};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::config::{DiskBacking, System};
use crate::layout::{HostSlice, Layout, HOST_SLICE_ALIGN};
use crate::units::{align_up, size};
use crate::{display_path, Error, Result};

/// The file `run` uses when no `--host-disk` is given.
pub fn default_path(system: &System) -> PathBuf {
    crate::out_dir(&system.name).join("host-disk.img")
}

/// What [`prepare`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Prepared {
    /// Created with this many bytes, the images written into their slices.
    Created(u64),
    /// An existing file of this many bytes, kept as it is.
    Kept(u64),
}

/// Makes sure `path` is a board disk for `system`: creates it when missing, refuses one too small for the slices.
/// `None` when the system has no host-backed disk (nothing is attached).
pub fn prepare(system: &System, layout: &Layout, path: &Path) -> Result<Option<Prepared>> {
    let host_disks = system.disks.iter().filter(|d| d.backing == DiskBacking::Host);
    let slices: Vec<(HostSlice, Option<&Path>)> =
        layout.host_disk_slices.iter().zip(host_disks).map(|(s, d)| (*s, d.image.as_deref())).collect();
    prepare_slices(&slices, path)
}

/// [`prepare`] for these slices, each with the image it starts with.
pub fn prepare_slices(slices: &[(HostSlice, Option<&Path>)], path: &Path) -> Result<Option<Prepared>> {
    let Some(needed) = slices.iter().map(|(s, _)| s.offset + s.size).max() else { return Ok(None) };
    let io = |what: &str, e: std::io::Error| Error::Tool(format!("{what} {}: {e}", display_path(path)));
    match fs::metadata(path) {
        Ok(m) if m.len() < needed => Err(Error::Tool(format!(
            "the board disk {} has {}, but the host-backed disks need {}: delete it to create a new one from the \
             disks' images (its contents are lost), or give another with --host-disk",
            display_path(path),
            size(m.len()),
            size(needed)
        ))),
        Ok(m) => Ok(Some(Prepared::Kept(m.len()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                fs::create_dir_all(dir).map_err(|e| io("cannot create the directory of", e))?;
            }
            let total = align_up(needed, HOST_SLICE_ALIGN);
            // Written to a temporary file and renamed, so that a failure leaves no half-written disk to be kept.
            let tmp = path.with_extension("img.tmp");
            let mut f = File::create(&tmp).map_err(|e| io("cannot create", e))?;
            f.set_len(total).map_err(|e| io("cannot size", e))?;
            for (slice, image) in slices {
                let Some(image) = image else { continue };
                let bytes =
                    fs::read(image).map_err(|e| Error::Tool(format!("cannot read {}: {e}", display_path(image))))?;
                // `check` sized the disk from this file; it may have grown since.
                let len = bytes.len().min(usize::try_from(slice.size).unwrap_or(usize::MAX));
                f.seek(SeekFrom::Start(slice.offset)).map_err(|e| io("cannot write", e))?;
                f.write_all(&bytes[..len]).map_err(|e| io("cannot write", e))?;
            }
            f.sync_all().map_err(|e| io("cannot write", e))?;
            drop(f);
            fs::rename(&tmp, path).map_err(|e| io("cannot create", e))?;
            Ok(Some(Prepared::Created(total)))
        }
        Err(e) => Err(io("cannot read", e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("hostdisk-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_new_disk_holds_each_image_in_its_slice_and_an_existing_one_is_kept() {
        let dir = temp_dir("new");
        let image = dir.join("a.img");
        fs::write(&image, [0xAB; 1000]).unwrap();
        let disk = dir.join("sub/host-disk.img");
        let slices = [
            (HostSlice { offset: 0, size: 4096 }, None),
            (HostSlice { offset: MIB, size: 1024 }, Some(image.as_path())),
        ];
        assert_eq!(prepare_slices(&slices, &disk).unwrap(), Some(Prepared::Created(2 * MIB)));
        let bytes = fs::read(&disk).unwrap();
        assert_eq!(bytes.len() as u64, 2 * MIB);
        assert!(bytes[..MIB as usize].iter().all(|&b| b == 0));
        assert!(bytes[MIB as usize..MIB as usize + 1000].iter().all(|&b| b == 0xAB));
        assert!(bytes[MIB as usize + 1000..].iter().all(|&b| b == 0));
        assert!(!dir.join("sub/host-disk.img.tmp").exists());

        // Written by a partition, then prepared again: kept, not rewritten from the image.
        let mut written = bytes.clone();
        written[MIB as usize] = 0x42;
        fs::write(&disk, &written).unwrap();
        assert_eq!(prepare_slices(&slices, &disk).unwrap(), Some(Prepared::Kept(2 * MIB)));
        assert_eq!(fs::read(&disk).unwrap(), written);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_disk_too_small_is_refused_and_no_slices_attach_nothing() {
        let dir = temp_dir("small");
        let disk = dir.join("host-disk.img");
        fs::write(&disk, [0; 512]).unwrap();
        let e = prepare_slices(&[(HostSlice { offset: 0, size: 1024 }, None)], &disk).unwrap_err();
        assert!(e.to_string().contains("has 512 B, but the host-backed disks need 1 KiB: delete it"), "{e}");
        assert_eq!(prepare_slices(&[], &dir.join("none.img")).unwrap(), None);
        assert!(!dir.join("none.img").exists());
        fs::remove_dir_all(&dir).unwrap();
    }
}
