//! Partition images a boot loader puts in place, so hv-static need not copy them at boot.
//!
//! hv-static copies each partition's kernel, ramdisk and device tree from the boot image's payload into partition
//! RAM before the partition starts (`hv-static/src/core/partition.rs`). Under QEMU's TCG that copy emulates every load
//! and store: 76-190 ms for a 31 MiB arm64 `Image` (docs/performance-boot.md), where QEMU's own loader puts the
//! same bytes in memory at host speed. So `run` passes each image to QEMU as a `-device loader` at its destination
//! and tells hv-static so with `hv-static.preloaded=<token>` on the command line QEMU writes into the board's device
//! tree. The token is a checksum of exactly the bytes and destinations this build copies, compiled into hv-static
//! ([`token`]): a command line from another build does not match, and hv-static copies as before. The payload keeps
//! the images either way: restarts copy from it, and a boot loader that does not preload needs it.
//!
//! The files are the payload's own bytes (`out/NAME/preload/`), written by [`write`]; a boot loader on a board does
//! the same with one `load` per file at the address [`Preloaded::files`] gives.

use std::path::{Path, PathBuf};

use crate::layout::{Layout, Placement};

/// The command-line word hv-static looks for (`hv-static/src/core/preload.rs`).
pub const BOOTARG: &str = "hv-static.preloaded";

/// One image a boot loader puts in place.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct File {
    pub path: PathBuf,
    /// Host-physical address it goes to.
    pub pa: u64,
}

/// The images of a build and the token that vouches for them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Preloaded {
    pub files: Vec<File>,
    pub token: u32,
}

impl Preloaded {
    /// The command-line word that tells hv-static the images are in place.
    pub fn bootarg(&self) -> String {
        format!("{BOOTARG}={:#x}", self.token)
    }

    /// QEMU's arguments: one generic loader per file (raw bytes at its address, no CPU touched), and the command
    /// line QEMU puts in `/chosen/bootargs` of the device tree it hands the hypervisor.
    pub fn qemu_args(&self) -> Vec<String> {
        let mut args = Vec::new();
        for f in &self.files {
            // QEMU's option syntax doubles a comma inside a value.
            let path = f.path.display().to_string().replace(',', ",,");
            args.push("-device".into());
            args.push(format!("loader,file={path},addr={:#x},force-raw=on", f.pa));
        }
        args.push("-append".into());
        args.push(self.bootarg());
        args
    }
}

/// Every copy hv-static makes when it starts each partition, in its order: kernel, ramdisk, device tree.
fn copies(layout: &Layout) -> impl Iterator<Item = (usize, &'static str, Placement)> + '_ {
    layout.partitions.iter().enumerate().flat_map(|(i, p)| {
        let mut v = vec![(i, "kernel", p.kernel)];
        v.extend(p.ramdisk.map(|r| (i, "ramdisk", r)));
        v.push((i, "dtb", p.dtb));
        v
    })
}

/// The bytes of `copy` inside `payload` (the payload's bytes, `layout.payload.size` long).
fn bytes<'a>(layout: &Layout, payload: &'a [u8], copy: &Placement) -> &'a [u8] {
    let at = (copy.src_pa - layout.payload.base) as usize;
    &payload[at..at + copy.size as usize]
}

/// The checksum hv-static compares with the command line's: CRC-32 of each copy's destination, length and bytes,
/// in order. Never 0 (hv-static trusts no 0).
pub fn token(layout: &Layout, payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    for (_, _, c) in copies(layout) {
        h.update(&c.dst_pa.to_le_bytes());
        h.update(&c.size.to_le_bytes());
        h.update(bytes(layout, payload, &c));
    }
    h.finalize().max(1)
}

/// Writes each copy's bytes to `dir` (`PARTITION.kernel`, `.ramdisk`, `.dtb`), rewriting only what changed.
/// `names` are the partitions' names in layout order.
pub fn write(dir: &Path, layout: &Layout, payload: &[u8], names: &[&str]) -> crate::Result<Preloaded> {
    let mut files = Vec::new();
    for (i, what, c) in copies(layout) {
        let path = dir.join(format!("{}.{what}", names[i]));
        crate::files::write_if_changed(&path, bytes(layout, payload, &c))?;
        files.push(File { path, pa: c.dst_pa });
    }
    Ok(Preloaded { files, token: token(layout, payload) })
}
