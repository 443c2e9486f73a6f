//! The step that reads what the config names: every partition's kernel (guests are built with cargo first),
//! ramdisk and disk image, and for `check` only their sizes. The config's checks opened each file a moment ago;
//! each is checked again before it is read (it may have been replaced since), and a refusal is a diagnostic on the
//! key that names the file, as `check`'s would be.

use std::fs;
use std::path::Path;

use super::{config_error, read};
use crate::cargo::Cargo;
use crate::config::{self, KernelSource};
use crate::diag::{Diag, Span};
use crate::image::{self, BootFormat, Format, ImageHeader};
use crate::prepared::{Checked, ImageSizes, KernelImage};
use crate::progress::Progress;
use crate::{display_path, Error, Result};

/// Every partition's image sizes without reading whole files: an Image's header and length, a ramdisk's length.
/// Guests still to be built count as empty. `check` lays memory out with these, building nothing.
pub(super) fn measure(checked: &Checked) -> Result<Vec<ImageSizes>> {
    let mut estimates = Vec::new();
    for p in &checked.system.partitions {
        let (kernel_len, header) = match &p.kernel.source {
            KernelSource::File(path) => file_kernel_size(checked, p.id.into(), path)?,
            KernelSource::Guest { .. } => (0, ImageHeader { text_offset: 0, image_size: 0 }),
        };
        let ramdisk_len = match &p.ramdisk {
            Some(rd) => {
                Some(fs::metadata(&rd.path).map_err(|source| Error::Read { path: rd.path.clone(), source })?.len())
            }
            None => None,
        };
        estimates.push(ImageSizes { kernel_len, header, ramdisk_len });
    }
    Ok(estimates)
}

/// Length and header of a kernel file, reading only its header unless it is an ELF (which is flattened). The file
/// was checked a moment ago; it is checked again before every read (it may have been replaced by a FIFO since).
fn file_kernel_size(checked: &Checked, index: usize, path: &Path) -> Result<(u64, ImageHeader)> {
    use crate::input::{self, IMAGE_LIMIT};
    let p = &checked.system.partitions[index];
    let field = format!("partition[{index}].kernel");
    let refused = |e| input_error(checked, field.clone(), &p.kernel.span, path, e);
    let head = input::read_head(path, image::HEADER_PROBE_LEN, IMAGE_LIMIT).map_err(refused)?;
    if image::sniff(&head) == Format::Elf {
        let bytes = input::read(path, IMAGE_LIMIT).map_err(refused)?;
        let k = kernel_from_bytes(checked, index, bytes, display_path(path))?;
        return Ok((k.bytes.len() as u64, k.header));
    }
    let len = input::check_regular(path, IMAGE_LIMIT).map_err(refused)?;
    let k = kernel_from_bytes(checked, index, head, display_path(path))?;
    Ok((len, k.header))
}

/// Every disk's image, read whole (RAM-backed disks start as a copy of it).
pub fn load_disk_images(checked: &Checked) -> Result<Vec<Option<Vec<u8>>>> {
    checked
        .system
        .disks
        .iter()
        .enumerate()
        .map(|(i, d)| {
            d.image.as_ref().map(|path| read_input(checked, format!("disk[{i}].image"), &d.span, path)).transpose()
        })
        .collect()
}

/// Every partition's ramdisk, read whole (it is copied into the payload).
pub fn load_ramdisks(checked: &Checked) -> Result<Vec<Option<Vec<u8>>>> {
    let s = &checked.system;
    let field = |i: usize| format!("partition[{i}].ramdisk");
    s.partitions
        .iter()
        .enumerate()
        .map(|(i, p)| p.ramdisk.as_ref().map(|rd| read_input(checked, field(i), &rd.span, &rd.path)).transpose())
        .collect()
}

/// Reads a file the config names (a kernel, ramdisk or disk image checked a moment ago), refusing it before it
/// is opened when it is no longer a regular file: the error points at the config, as `check`'s would.
fn read_input(checked: &Checked, field: String, span: &Span, path: &Path) -> Result<Vec<u8>> {
    crate::input::read(path, crate::input::IMAGE_LIMIT).map_err(|e| input_error(checked, field, span, path, e))
}

/// A file the config names that [`crate::input`] refused, as a diagnostic on the key that names it: "missing" only
/// when it is not there, with the fetch hint for fixture files.
fn input_error(checked: &Checked, field: String, span: &Span, path: &Path, e: crate::input::InputError) -> Error {
    let (what, hint) = if e.is_not_found() {
        let hint = config::fetch_hint(path)
            .unwrap_or_else(|| "it was there when the config was checked: restore it, or fix the path".to_owned());
        ("is missing", hint)
    } else {
        ("cannot be used", "name a regular file: paths are relative to the config file's directory".to_owned())
    };
    let mut r = checked.fresh_report();
    r.push(
        Diag::error(field, span.clone(), format!("{} {what}: {e}", display_path(path))).label("this file").hint(hint),
    );
    config_error(r)
}

/// Checks that `bytes` (a file's contents, or an ELF) is a kernel of the board's boot format (an arm64 Image, an ARM
/// zImage), flattening an ELF.
fn kernel_from_bytes(checked: &Checked, index: usize, bytes: Vec<u8>, from: String) -> Result<KernelImage> {
    let p = &checked.system.partitions[index];
    let board = checked.system.board;
    match image::read_kernel(bytes, BootFormat::of(board.arch)) {
        Ok((bytes, header)) => Ok(KernelImage { bytes, header, from }),
        Err(e) => {
            let mut r = checked.fresh_report();
            let subject = format!("kernel of partition `{}`", p.name);
            let field = format!("partition[{index}].kernel");
            r.push(config::kernel_diag(&field, p.kernel.span.clone(), &subject, board, &e).label(from));
            Err(config_error(r))
        }
    }
}

/// Every partition's kernel: guests are built with cargo (all in one invocation), files are read.
pub fn load_kernels(checked: &Checked, cargo: &Cargo, progress: &Progress) -> Result<Vec<KernelImage>> {
    let target = checked.system.board.arch.rust_target();
    let mut packages: Vec<&str> = Vec::new();
    let mut names: Vec<&str> = Vec::new();
    for p in &checked.system.partitions {
        if let KernelSource::Guest { package, name } = &p.kernel.source {
            if !packages.contains(&package.as_str()) {
                packages.push(package);
                names.push(name);
            }
        }
    }
    if !packages.is_empty() {
        let what = format!("guest{} {}", if names.len() == 1 { "" } else { "s" }, names.join(", "));
        cargo.build_release(&packages, target, &[], &what, progress)?;
    }
    let mut out = Vec::new();
    for (i, p) in checked.system.partitions.iter().enumerate() {
        let (bytes, from) = match &p.kernel.source {
            KernelSource::Guest { name, package } => {
                let path = cargo.release_dir(target).join(package);
                (read(&path)?, format!("guest `{name}` ({})", display_path(&path)))
            }
            KernelSource::File(path) => {
                let bytes = read_input(checked, format!("partition[{i}].kernel"), &p.kernel.span, path)?;
                (bytes, display_path(path))
            }
        };
        out.push(kernel_from_bytes(checked, i, bytes, from)?);
    }
    Ok(out)
}
