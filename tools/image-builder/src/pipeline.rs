//! The steps from a config file to `out/NAME/hv-static.img`, each in a file of its own and called here in order:
//!
//! 1. check the config ([`crate::config`]), then `inputs`: measure the partitions' images (for [`check`]) or build
//!    the guests and read the kernels, ramdisks and disk images (for [`prepare`]);
//! 2. `device_trees`: each partition's device tree, its `dt_overlay` merged in;
//! 3. `layout`: lay memory out, every failure a diagnostic on the config key responsible;
//! 4. write the device trees, the schedule, the preloaded images and the generated config (`hvconfig/`);
//! 5. `hypervisor`: compile hv-static with that config;
//! 6. `pack`: the payload and the hypervisor into the boot image, then `layout.txt` ([`crate::report`]).
//!
//! [`check`] runs steps 1 to 3 on measured sizes, so it finds memory that cannot fit without building anything;
//! [`prepare`] runs `check`, then steps 1 to 3 again on the real images; [`build`] runs all six. The steps share the
//! types of [`crate::prepared`] and do not call each other, except that the device trees ask the layout step where
//! a partition's PV devices go; what each step makes public is re-exported here, so callers name `pipeline::X`.

mod device_trees;
mod hypervisor;
mod inputs;
mod layout;
mod pack;

use std::path::{Path, PathBuf};

use crate::cargo::Cargo;
use crate::config::{self, Context};
use crate::diag::Report;
use crate::files::write_if_changed;
use crate::guests::GuestCatalog;
use crate::progress::Progress;
use crate::units::size as fmt_size;
use crate::{display_path, hvconfig, out_dir, report, workspace_root, Error, Result};

pub use self::device_trees::device_trees;
pub use self::hypervisor::build_hypervisor;
pub use self::inputs::{load_disk_images, load_kernels, load_ramdisks};
pub use self::layout::{guest_request, solve_layout};
pub use self::pack::{pack, payload, write_payload, HvHeader};
pub use crate::prepared::{Checked, HvStats, ImageSizes, KernelImage, Parts, Prepared};

/// What `build` produced.
#[derive(Clone, Debug)]
pub struct Built {
    pub prepared: Prepared,
    /// `out/NAME`.
    pub out_dir: PathBuf,
    /// `out/NAME/hv-static.img`.
    pub image: PathBuf,
    pub hv: HvStats,
    /// The partitions' images as files a boot loader can put in place (`out/NAME/preload/`).
    pub preload: crate::preload::Preloaded,
}

#[derive(Clone, Debug)]
pub struct BuildOptions {
    pub config: PathBuf,
    /// No progress output.
    pub quiet: bool,
}

/// Optional parts of hv-static, as cargo features.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HvFeatures {
    /// The event trace (`docs/trace.md`): also keeps the ELF as `out/NAME/hv-static.elf`, which decoding needs.
    pub trace: bool,
}

/// Reads a file this tool made or was given (a built guest, the built hypervisor): refused before it is opened
/// when it is not a regular file (see [`crate::input`]).
fn read(path: &Path) -> Result<Vec<u8>> {
    crate::input::read(path, crate::input::IMAGE_LIMIT).map_err(|e| read_error(path, e))
}

/// An input refusal as an [`Error::Read`] (its text says what the path really is).
fn read_error(path: &Path, e: crate::input::InputError) -> Error {
    let kind = if e.is_not_found() { std::io::ErrorKind::NotFound } else { std::io::ErrorKind::Other };
    Error::Read { path: path.to_owned(), source: std::io::Error::new(kind, e) }
}

fn config_error(report: Report) -> Error {
    Error::Config(Box::new(report))
}

/// Validates a config. Beyond the config's own rules this lays memory out with what is known without building
/// anything (kernel files are measured; guests still to be built count as empty), so `check` also finds memory
/// that cannot fit.
pub fn check(config_path: &Path) -> Result<Checked> {
    check_with(config_path, &GuestCatalog::scan(&workspace_root()))
}

/// [`check`] with a given set of guests.
pub fn check_with(config_path: &Path, guests: &GuestCatalog) -> Result<Checked> {
    // A FIFO, device, directory or /proc file is refused before it is opened; bytes that are not UTF-8 are a
    // diagnostic at the first bad byte.
    let bytes = crate::input::read(config_path, crate::input::CONFIG_LIMIT).map_err(|e| read_error(config_path, e))?;
    let source = config::decode_source(&display_path(config_path), bytes).map_err(config_error)?;
    let abs = config_path.canonicalize().unwrap_or_else(|_| config_path.to_owned());
    let stem = abs.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "system".into());
    let base_dir = abs.parent().map(Path::to_owned).unwrap_or_default();
    let ctx = Context { guests, base_dir: &base_dir };
    let (system, report) =
        config::check_source(&display_path(config_path), &source, &stem, &ctx).map_err(config_error)?;
    let checked = Checked { system, report, config_path: abs };
    let estimates = inputs::measure(&checked)?;
    let dtbs = device_trees(&checked, &estimates)?;
    solve_layout(&checked, &estimates, &dtbs)?;
    Ok(checked)
}

/// Checks the config, builds the guests it names, generates device trees and lays memory out.
pub fn prepare(config_path: &Path, progress: &Progress) -> Result<Prepared> {
    crate::needs::fetch_inputs(config_path)?;
    let checked = check(config_path)?;
    if !progress.is_quiet() && checked.report.warnings().next().is_some() {
        checked.report.emit_to_stderr();
    }
    let cargo = Cargo::new(&workspace_root());
    let kernels = load_kernels(&checked, &cargo, progress)?;
    let ramdisks = load_ramdisks(&checked)?;
    let sizes = ImageSizes::of(&kernels, &ramdisks);
    let dtbs = device_trees(&checked, &sizes)?;
    let layout = solve_layout(&checked, &sizes, &dtbs)?;
    let disk_images = load_disk_images(&checked)?;
    Ok(Prepared { checked, kernels, ramdisks, dtbs, disk_images, layout })
}

/// Builds `out/NAME/`: layout.txt, the partitions' device trees, hvconfig/, and hv-static.img.
pub fn build(opts: &BuildOptions) -> Result<Built> {
    build_with(opts, HvFeatures::default())
}

/// [`build`] with optional parts of hv-static.
pub fn build_with(opts: &BuildOptions, features: HvFeatures) -> Result<Built> {
    let progress = Progress::new(opts.quiet);
    let prepared = prepare(&opts.config, &progress)?;
    let system = &prepared.checked.system;
    let out = out_dir(&system.name);
    let config_name = display_path(&prepared.checked.config_path);

    for (p, dtb) in system.partitions.iter().zip(&prepared.dtbs) {
        write_if_changed(&out.join("dtb").join(format!("{}.dtb", p.name)), dtb)?;
    }
    if let Some(svg) = report::schedule_svg(system) {
        write_if_changed(&out.join("schedule.svg"), svg.as_bytes())?;
    }
    let payload_bytes = payload(&prepared.layout, prepared.parts());
    let names: Vec<&str> = system.partitions.iter().map(|p| p.name.as_str()).collect();
    let preload = crate::preload::write(&out.join("preload"), &prepared.layout, &payload_bytes, &names)?;
    drop(payload_bytes);
    let hv = hvconfig::generate(
        system,
        &prepared.layout,
        &config_relative_to_workspace(&prepared.checked.config_path, &config_name),
        preload.token,
    );
    let config_dir = out.join("hvconfig");
    write_if_changed(&config_dir.join("config.rs"), hv.config_rs.as_bytes())?;
    write_if_changed(&config_dir.join("memory.ld"), hv.memory_ld.as_bytes())?;

    let cargo = Cargo::new(&workspace_root());
    let elf = build_hypervisor(&cargo, system.board.arch.hv_rust_target(), &config_dir, features, &progress)?;
    let (img, stats) =
        pack(&elf, &prepared.layout, HvHeader::for_board(system.board), prepared.parts()).map_err(Error::Image)?;
    // The trace decoder needs the ELF the image came from; an ELF left by an earlier trace build would not match.
    let elf_path = out.join("hv-static.elf");
    if features.trace {
        write_if_changed(&elf_path, &elf)?;
    } else if elf_path.exists() {
        std::fs::remove_file(&elf_path).map_err(|source| Error::Write { path: elf_path.clone(), source })?;
    }
    drop(elf);
    let image = out.join("hv-static.img");
    write_if_changed(&image, &img)?;
    write_if_changed(&out.join("layout.txt"), report::layout_text(&prepared, Some(&stats)).as_bytes())?;
    progress.status(
        "Finished",
        &format!(
            "{} ({}: hypervisor {} of {} budget, payload {})",
            display_path(&image),
            fmt_size(img.len() as u64),
            fmt_size(stats.end),
            fmt_size(stats.budget),
            fmt_size(prepared.layout.payload.size)
        ),
    );
    Ok(Built { prepared, out_dir: out, image, hv: stats, preload })
}

/// The config's path relative to the workspace (for the generated file's header, so it does not depend on where
/// the workspace is checked out).
fn config_relative_to_workspace(abs: &Path, fallback: &str) -> String {
    abs.strip_prefix(workspace_root()).map(|p| p.display().to_string()).unwrap_or_else(|_| fallback.to_owned())
}

#[cfg(test)]
mod tests;
