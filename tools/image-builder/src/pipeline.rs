//! The steps from a config file to `out/NAME/hv-static.img`.

use std::fs;
use std::path::{Path, PathBuf};

use dom0_less::{guest_map, PartitionDt};

use crate::cargo::Cargo;
use crate::config::{self, Context, KernelSource, System};
use crate::diag::{Diag, Report};
use crate::guests::GuestCatalog;
use crate::image::{self, Format, ImageHeader};
use crate::layout::{self, Layout, LayoutError};
use crate::progress::Progress;
use crate::units::{align_up, hex, size as fmt_size};
use crate::{display_path, hvconfig, out_dir, report, workspace_root, Error, Result};

/// A config that passed every check.
#[derive(Clone, Debug)]
pub struct Checked {
    pub system: System,
    /// The config's text and its warnings.
    pub report: Report,
    /// Absolute path of the config file.
    pub config_path: PathBuf,
}

impl Checked {
    /// The config file as the user sees it.
    pub fn file_name(&self) -> &str {
        self.report.file_name()
    }

    /// A new report on the same file, for problems found after checking.
    fn fresh_report(&self) -> Report {
        Report::new(self.report.file_name(), self.report.source())
    }
}

/// A partition's kernel, ready to pack.
#[derive(Clone, Debug)]
pub struct KernelImage {
    pub bytes: Vec<u8>,
    pub header: ImageHeader,
    /// Where it came from, for reports.
    pub from: String,
}

/// Everything known before the hypervisor is built: kernels, device trees, layout.
#[derive(Clone, Debug)]
pub struct Prepared {
    pub checked: Checked,
    pub kernels: Vec<KernelImage>,
    pub dtbs: Vec<Vec<u8>>,
    pub layout: Layout,
}

/// What `build` produced.
#[derive(Clone, Debug)]
pub struct Built {
    pub prepared: Prepared,
    /// `out/NAME`.
    pub out_dir: PathBuf,
    /// `out/NAME/hv-static.img`.
    pub image: PathBuf,
    pub hv: HvStats,
}

#[derive(Clone, Debug)]
pub struct BuildOptions {
    pub config: PathBuf,
    /// No progress output.
    pub quiet: bool,
}

/// Size facts about the built hypervisor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HvStats {
    /// Bytes of the flattened image (code and data).
    pub image_len: u64,
    /// Bytes from the load address to `__hv_end` (bss included).
    pub end: u64,
    pub budget: u64,
}

fn read(path: &Path) -> Result<Vec<u8>> {
    fs::read(path).map_err(|source| Error::Read { path: path.to_owned(), source })
}

/// Writes a file unless it already has these bytes (so cargo does not rebuild for nothing).
fn write_if_changed(path: &Path, bytes: &[u8]) -> Result<()> {
    if fs::read(path).is_ok_and(|old| old == bytes) {
        return Ok(());
    }
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(|source| Error::Write { path: dir.to_owned(), source })?;
    }
    fs::write(path, bytes).map_err(|source| Error::Write { path: path.to_owned(), source })
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
    let source =
        fs::read_to_string(config_path).map_err(|source| Error::Read { path: config_path.to_owned(), source })?;
    let abs = config_path.canonicalize().unwrap_or_else(|_| config_path.to_owned());
    let stem = abs.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "system".into());
    let base_dir = abs.parent().map(Path::to_owned).unwrap_or_default();
    let ctx = Context { guests, base_dir: &base_dir };
    let (system, report) =
        config::check_source(&display_path(config_path), &source, &stem, &ctx).map_err(config_error)?;
    let checked = Checked { system, report, config_path: abs };

    let mut estimates = Vec::new();
    for p in &checked.system.partitions {
        estimates.push(match &p.kernel.source {
            KernelSource::File(path) => {
                kernel_from_bytes(&checked, p.id.into(), read(path)?, path.display().to_string())?
            }
            KernelSource::Guest { name, .. } => KernelImage {
                bytes: Vec::new(),
                header: ImageHeader { text_offset: 0, image_size: 0 },
                from: format!("guest `{name}` (not built yet)"),
            },
        });
    }
    let dtbs = device_trees(&checked)?;
    solve_layout(&checked, &estimates, &dtbs)?;
    Ok(checked)
}

/// Checks the config, builds the guests it names, generates device trees and lays memory out.
pub fn prepare(config_path: &Path, progress: &Progress) -> Result<Prepared> {
    let checked = check(config_path)?;
    if !progress.is_quiet() && checked.report.warnings().next().is_some() {
        checked.report.emit_to_stderr();
    }
    let cargo = Cargo::new(&workspace_root());
    let kernels = load_kernels(&checked, &cargo, progress)?;
    let dtbs = device_trees(&checked)?;
    let layout = solve_layout(&checked, &kernels, &dtbs)?;
    Ok(Prepared { checked, kernels, dtbs, layout })
}

/// Checks that `bytes` (a file's contents, or an ELF) is an arm64 Image, flattening an ELF.
fn kernel_from_bytes(checked: &Checked, index: usize, bytes: Vec<u8>, from: String) -> Result<KernelImage> {
    let p = &checked.system.partitions[index];
    let fail = |why: String| {
        let mut r = checked.fresh_report();
        r.push(
            Diag::error(format!("partition[{index}].kernel"), p.kernel.span.clone(), format!("kernel of partition `{}` is not an arm64 Image: {why}", p.name))
                .label(from.clone())
                .hint("an arm64 Image carries the magic \"ARM\\x64\" at offset 56; a bare-metal guest's linker script must start its image with that header"),
        );
        config_error(r)
    };
    let bytes = match image::sniff(&bytes) {
        Format::Elf => image::flatten(&bytes).map_err(&fail)?.bytes,
        _ => bytes,
    };
    match image::header(&bytes) {
        Some(header) => Ok(KernelImage { bytes, header, from }),
        None => Err(fail("no Image magic at offset 56".into())),
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
        let (path, from) = match &p.kernel.source {
            KernelSource::Guest { name, package } => {
                let path = cargo.release_dir(target).join(package);
                (path.clone(), format!("guest `{name}` ({})", display_path(&path)))
            }
            KernelSource::File(path) => (path.clone(), display_path(path)),
        };
        out.push(kernel_from_bytes(checked, i, read(&path)?, from)?);
    }
    Ok(out)
}

/// The partitions' device trees, in config order.
pub fn device_trees(checked: &Checked) -> Result<Vec<Vec<u8>>> {
    let s = &checked.system;
    let mut out = Vec::new();
    for (i, p) in s.partitions.iter().enumerate() {
        let dt = PartitionDt {
            name: p.name.clone(),
            id: p.id.into(),
            vcpus: p.vcpus.len() as u32,
            ram_ipa: p.memory.ipa,
            ram_size: p.memory.size,
            gic: s.gic,
            uart: p.console.then_some(guest_map::UART),
            bootargs: p.bootargs.clone(),
            initrd: None,
            devices: p.passthrough.iter().map(|d| **d).collect(),
        };
        match dom0_less::partition_dtb(&dt) {
            Ok(blob) => out.push(blob),
            Err(e) => {
                let mut r = checked.fresh_report();
                r.push(
                    Diag::error(
                        format!("partition[{i}]"),
                        p.name_span.clone(),
                        format!("cannot write the device tree of partition `{}`: {e}", p.name),
                    )
                    .label("this partition"),
                );
                return Err(config_error(r));
            }
        }
    }
    Ok(out)
}

/// Lays memory out; impossible layouts become diagnostics on the fields responsible.
pub fn solve_layout(checked: &Checked, kernels: &[KernelImage], dtbs: &[Vec<u8>]) -> Result<Layout> {
    let s = &checked.system;
    let req = layout::Request {
        ram_base: s.board.ram_base,
        ram_size: s.ram_size,
        hv_base: s.board.hv_load_addr,
        hv_budget: s.hypervisor.budget,
        partitions: s
            .partitions
            .iter()
            .zip(kernels)
            .zip(dtbs)
            .map(|((p, k), d)| layout::PartitionRequest {
                ram_size: p.memory.size,
                ipa: p.memory.ipa,
                pa: p.memory.pa,
                kernel_len: k.bytes.len() as u64,
                text_offset: k.header.text_offset,
                kernel_image_size: k.header.image_size,
                dtb_len: d.len() as u64,
            })
            .collect(),
    };
    let errors = match layout::solve(&req) {
        Ok(l) => return Ok(l),
        Err(e) => e,
    };
    let mut r = checked.fresh_report();
    let ram_end = s.board.ram_end(s.ram_size);
    for e in errors {
        r.push(layout_diag(checked, &e, ram_end));
    }
    Err(config_error(r))
}

fn layout_diag(checked: &Checked, e: &LayoutError, ram_end: u64) -> Diag {
    let s = &checked.system;
    let part = |i: usize| &s.partitions[i];
    let mem_span = |i: usize| part(i).memory.pa_span.clone().unwrap_or_else(|| part(i).memory.size_span.clone());
    let mem_field =
        |i: usize| format!("partition[{i}].memory.{}", if part(i).memory.pa.is_some() { "pa" } else { "size" });
    match e {
        LayoutError::KernelTooBig { partition: i, needed, available } => Diag::error(
            format!("partition[{i}].memory.size"),
            part(*i).memory.size_span.clone(),
            format!("the kernel of partition `{}` does not fit its RAM", part(*i).name),
        )
        .label(format!("{} of RAM", fmt_size(part(*i).memory.size)))
        .related(part(*i).kernel.span.clone(), format!("needs {} from RAM base (text_offset + image)", fmt_size(*needed)))
        .hint(format!("below the 2 MiB device tree region there are {}: give the partition more memory", fmt_size(*available))),
        LayoutError::DtbTooBig { partition: i, size } => Diag::error(
            format!("partition[{i}]"),
            part(*i).name_span.clone(),
            format!("the device tree of partition `{}` is {}, over its 2 MiB region", part(*i).name, fmt_size(*size)),
        )
        .label("this partition")
        .hint("shorten its bootargs"),
        LayoutError::OutOfRam { partition: i, ram, .. } => Diag::error(
            mem_field(*i),
            mem_span(*i),
            format!("memory of partition `{}` lies beyond board RAM", part(*i).name),
        )
        .label(format!("would be {}..{}", hex(ram.base), hex(ram.end())))
        .hint(format!(
            "board RAM ends at {} ({} from {}); raise [board] ram_size or shrink partitions",
            hex(ram_end),
            fmt_size(s.ram_size),
            hex(s.board.ram_base)
        )),
        LayoutError::OverlapsImage { partition: i, ram, image_end } => Diag::error(
            mem_field(*i),
            mem_span(*i),
            format!("memory of partition `{}` overlaps the hypervisor's payload", part(*i).name),
        )
        .label(format!("{}..{}", hex(ram.base), hex(ram.end())))
        .hint(format!(
            "the hypervisor and the kernels and device trees it carries end at {}: use a `pa` of at least {} or leave `pa` out",
            hex(*image_end),
            hex(align_up(*image_end, layout::RAM_ALIGN))
        )),
        LayoutError::Overlap { partition: i, other } => Diag::error(
            mem_field(*i),
            mem_span(*i),
            format!("memory of partition `{}` overlaps partition `{}`", part(*i).name, part(*other).name),
        )
        .label("overlapping range")
        .related(mem_span(*other), format!("`{}` is here", part(*other).name))
        .hint("give each partition its own host-physical range, or leave `pa` out to let the layout choose"),
    }
}

/// The payload: each partition's kernel and device tree at their layout offsets.
pub fn payload(layout: &Layout, kernels: &[KernelImage], dtbs: &[Vec<u8>]) -> Vec<u8> {
    let mut out = vec![0u8; layout.payload.size as usize];
    let base = layout.payload.base;
    for ((p, k), d) in layout.partitions.iter().zip(kernels).zip(dtbs) {
        let ko = (p.kernel.src_pa - base) as usize;
        out[ko..ko + k.bytes.len()].copy_from_slice(&k.bytes);
        let dof = (p.dtb.src_pa - base) as usize;
        out[dof..dof + d.len()].copy_from_slice(d);
    }
    out
}

/// Packs the hypervisor ELF and the payload into the boot image: the flattened hypervisor, padded to its budget,
/// its Image header's `image_size` set to the whole image, then the payload.
pub fn pack(hv_elf: &[u8], layout: &Layout, text_offset: u64, payload: &[u8]) -> Result<(Vec<u8>, HvStats), String> {
    let hv_base = layout.hypervisor.base;
    let budget = layout.hypervisor.size;
    let flat = image::flatten(hv_elf).map_err(|e| format!("hv-static's ELF: {e}"))?;
    if flat.paddr != hv_base {
        return Err(format!(
            "hv-static is linked to load at {}, but the board loads it at {} (memory.ld's HV_BASE)",
            hex(flat.paddr),
            hex(hv_base)
        ));
    }
    let Some(header) = image::header(&flat.bytes) else {
        return Err(
            "hv-static's image does not start with an arm64 Image header (magic \"ARM\\x64\" at offset 56)".into()
        );
    };
    if header.text_offset != text_offset {
        return Err(format!(
            "hv-static's Image header has text_offset {}, but the board loads it {} above the start of RAM",
            hex(header.text_offset),
            hex(text_offset)
        ));
    }
    let image_len = flat.bytes.len() as u64;
    if image_len > budget {
        return Err(format!(
            "hv-static's image is {image_len} bytes ({}), over its {budget}-byte ({}) budget: raise [hypervisor] memory_budget",
            fmt_size(image_len),
            fmt_size(budget)
        ));
    }
    let end_sym = image::symbol(hv_elf, "__hv_end")?.ok_or("hv-static's ELF has no `__hv_end` symbol (end of bss)")?;
    let end = end_sym.checked_sub(flat.vaddr).ok_or_else(|| {
        format!("hv-static's `__hv_end` ({}) lies below its load address ({})", hex(end_sym), hex(flat.vaddr))
    })?;
    if end > budget {
        return Err(format!(
            "hv-static needs {end} bytes ({}) up to `__hv_end` (bss included), over its {budget}-byte ({}) budget: raise [hypervisor] memory_budget",
            fmt_size(end),
            fmt_size(budget)
        ));
    }
    let total = align_up(budget + payload.len() as u64, layout::PAYLOAD_ALIGN);
    let mut out = flat.bytes;
    out.resize(budget as usize, 0);
    image::set_image_size(&mut out, total);
    out.extend_from_slice(payload);
    out.resize(total as usize, 0);
    Ok((out, HvStats { image_len, end, budget }))
}

/// `cargo build -p hv-static` for the generated config in `config_dir`; returns the ELF.
pub fn build_hypervisor(cargo: &Cargo, target: &str, config_dir: &Path, progress: &Progress) -> Result<Vec<u8>> {
    cargo.build_release(&["hv-static"], target, &[("HV_STATIC_CONFIG_DIR", config_dir)], "hv-static", progress)?;
    read(&cargo.release_dir(target).join("hv-static"))
}

/// Builds `out/NAME/`: layout.txt, the partitions' device trees, hvconfig/, and hv-static.img.
pub fn build(opts: &BuildOptions) -> Result<Built> {
    let progress = Progress::new(opts.quiet);
    let prepared = prepare(&opts.config, &progress)?;
    let system = &prepared.checked.system;
    let out = out_dir(&system.name);
    let config_name = display_path(&prepared.checked.config_path);

    for (p, dtb) in system.partitions.iter().zip(&prepared.dtbs) {
        write_if_changed(&out.join("dtb").join(format!("{}.dtb", p.name)), dtb)?;
    }
    let hv = hvconfig::generate(
        system,
        &prepared.layout,
        &config_relative_to_workspace(&prepared.checked.config_path, &config_name),
    );
    let config_dir = out.join("hvconfig");
    write_if_changed(&config_dir.join("config.rs"), hv.config_rs.as_bytes())?;
    write_if_changed(&config_dir.join("memory.ld"), hv.memory_ld.as_bytes())?;

    let cargo = Cargo::new(&workspace_root());
    let elf = build_hypervisor(&cargo, system.board.arch.hv_rust_target(), &config_dir, &progress)?;
    let payload = payload(&prepared.layout, &prepared.kernels, &prepared.dtbs);
    let (img, stats) = pack(&elf, &prepared.layout, system.board.hv_text_offset(), &payload).map_err(Error::Image)?;
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
    Ok(Built { prepared, out_dir: out, image, hv: stats })
}

/// The config's path relative to the workspace (for the generated file's header, so it does not depend on where
/// the workspace is checked out).
fn config_relative_to_workspace(abs: &Path, fallback: &str) -> String {
    abs.strip_prefix(workspace_root()).map(|p| p.display().to_string()).unwrap_or_else(|_| fallback.to_owned())
}

#[cfg(test)]
mod tests;
