//! The steps from a config file to `out/NAME/hv-static.img`.

use std::fs;
use std::path::{Path, PathBuf};

use board_support::Board;
use dom0_less::{ChannelDt, PartitionDt};
use hv_plan::guest_map;

use crate::cargo::Cargo;
use crate::config::{self, Context, DiskBacking, KernelSource, System};
use crate::diag::{Diag, Report, Span};
use crate::files::write_if_changed;
use crate::guests::GuestCatalog;
use crate::image::{self, BootFormat, Format, ImageHeader};
use crate::layout::{self, Layout, LayoutError};
use crate::progress::Progress;
use crate::units::{align_up, hex, size as fmt_size};
use crate::{display_path, hvconfig, out_dir, report, workspace_root, Error, Result};

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

    // Sizes without reading whole files: an Image's header and length, a ramdisk's length. Guests still to be
    // built count as empty.
    let mut estimates = Vec::new();
    for p in &checked.system.partitions {
        let (kernel_len, header) = match &p.kernel.source {
            KernelSource::File(path) => file_kernel_size(&checked, p.id.into(), path)?,
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
    let dtbs = device_trees(&checked, &estimates)?;
    solve_layout(&checked, &estimates, &dtbs)?;
    Ok(checked)
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

/// What the layout needs to place partition `p` of `s`, whose images have these sizes.
fn partition_request(s: &System, p: &config::Partition, sizes: &ImageSizes, dtb_len: u64) -> layout::PartitionRequest {
    let ramdisk_place = match BootFormat::of(s.board.arch) {
        BootFormat::Arm64Image => layout::RamdiskPlace::AfterKernel,
        BootFormat::ZImage => layout::RamdiskPlace::BelowDeviceTree,
    };
    layout::PartitionRequest {
        ram_size: p.memory.size,
        ipa: p.memory.ipa,
        pa: p.memory.pa,
        kernel_len: sizes.kernel_len,
        text_offset: sizes.header.text_offset,
        kernel_image_size: sizes.header.image_size,
        ramdisk_len: sizes.ramdisk_len,
        ramdisk_place,
        dtb_len,
    }
}

/// What partition `index`'s PV devices need in its guest-physical space: everything else there is taken (RAM, the
/// emulated devices, passed-through devices and their interrupts).
pub fn guest_request(s: &System, index: usize) -> layout::GuestRequest {
    let p = &s.partitions[index];
    let mut taken = vec![layout::Region { base: p.memory.ipa, size: p.memory.size }];
    taken.extend(
        config::device_windows(s.gic, p.vcpus.len(), 0)
            .into_iter()
            .map(|(base, size, _)| layout::Region { base, size }),
    );
    taken.extend(
        p.passthrough.iter().flat_map(|d| d.regs.iter()).map(|m| layout::Region { base: m.base, size: m.size }),
    );
    let mut used_intids = p.spis();
    if p.console {
        used_intids.push(32 + guest_map::UART_SPI);
    }
    let ipa_limit = match s.board.arch {
        board_support::Arch::Aarch64 => config::IPA_LIMIT,
        // Without LPAE an ARMv7 kernel addresses 4 GiB.
        board_support::Arch::Aarch32 => 1 << 32,
    };
    layout::GuestRequest {
        taken,
        used_intids,
        virtio: p.disks.len() + p.networks.len(),
        channels: s.channels_of(index).iter().map(|(c, _)| s.channels[*c].size).collect(),
        ipa_limit,
    }
}

/// The device-tree description of partition `index`'s PV devices, placed as `g` says.
fn pv_nodes(s: &System, index: usize, g: &layout::GuestDevices) -> (Vec<dom0_less::VirtioMmio>, Vec<ChannelDt>) {
    let virtio = g.virtio.iter().map(|v| dom0_less::VirtioMmio { base: v.base, intid: v.intid }).collect();
    let channels = s
        .channels_of(index)
        .iter()
        .zip(&g.channels)
        .map(|((c, access), m)| ChannelDt {
            name: s.channels[*c].name.clone(),
            ipa: m.ipa,
            size: m.size,
            intid: m.doorbell,
            writable: access.writable(),
        })
        .collect();
    (virtio, channels)
}

/// The diagnostic for PV devices that do not fit a partition's guest-physical space or interrupts.
fn guest_diag(s: &System, i: usize, e: &layout::GuestError) -> Diag {
    let p = &s.partitions[i];
    match e {
        layout::GuestError::NoRoomForChannel { channel, size, ipa_limit } => {
            let c = s.channels_of(i)[*channel].0;
            let ch = &s.channels[c];
            Diag::error(
                format!("channel[{c}].size"),
                ch.size_span.clone(),
                format!(
                    "channel `{}` ({}) finds no room in partition `{}`'s guest-physical space below {}",
                    ch.name,
                    fmt_size(*size),
                    p.name,
                    hex(*ipa_limit)
                ),
            )
            .label(fmt_size(*size))
            .hint(format!(
                "channels are mapped from {} up, around the partition's RAM and devices: make it smaller, or move \
                 the partition's RAM (`memory.ipa`) out of the way",
                hex(guest_map::CHANNELS)
            ))
        }
        layout::GuestError::OutOfInterrupts { needed, free } => Diag::error(
            format!("partition[{i}]"),
            p.name_span.clone(),
            format!(
                "partition `{}` needs {needed} interrupts for its disks, networks and channels, but has {free} free SPIs",
                p.name
            ),
        )
        .label("this partition")
        .hint("each virtio device and each channel's doorbell takes an SPI of the emulated distributor: use fewer"),
        layout::GuestError::TooManyTransports { count } => Diag::error(
            format!("partition[{i}]"),
            p.name_span.clone(),
            format!("partition `{}` has {count} PV devices: more than its virtio-mmio window holds", p.name),
        )
        .label("this partition")
        .hint(format!("a partition has at most {} disks and networks together", guest_map::VIRTIO_MMIO_SLOTS)),
        layout::GuestError::TransportTaken { slot, by } => Diag::error(
            format!("partition[{i}]"),
            p.name_span.clone(),
            format!(
                "the virtio-mmio transport {slot} of partition `{}` lies over {}..{}",
                p.name,
                hex(by.base),
                hex(by.end())
            ),
        )
        .label("this partition")
        .hint("move the partition's RAM (`memory.ipa`) or passed-through devices clear of the virtio-mmio window"),
    }
}

/// The partitions' device trees, in config order. A ramdisk's place (for `/chosen`) depends only on the kernel's
/// and the ramdisk's sizes; when they do not fit, the tree leaves it out and the layout reports the problem.
/// A partition's `dt_overlay` is merged into its tree here; what it may not change is reported on that key.
pub fn device_trees(checked: &Checked, sizes: &[ImageSizes]) -> Result<Vec<Vec<u8>>> {
    let s = &checked.system;
    let mut out = Vec::new();
    let mut r = checked.fresh_report();
    for (i, (p, sz)) in s.partitions.iter().zip(sizes).enumerate() {
        let guest = match layout::guest_devices(&guest_request(s, i)) {
            Ok(g) => g,
            Err(e) => {
                r.push(guest_diag(s, i, &e));
                continue;
            }
        };
        let (virtio, channels) = pv_nodes(s, i, &guest);
        let initrd = partition_request(s, p, sz, 0)
            .fit()
            .ok()
            .and_then(|f| f.ramdisk)
            .map(|(start, end)| (p.memory.ipa + start, p.memory.ipa + end));
        let dt = PartitionDt {
            name: p.name.clone(),
            id: p.id.into(),
            vcpus: p.vcpus.len() as u32,
            ram_ipa: p.memory.ipa,
            ram_size: p.memory.size,
            gic: s.gic,
            arch: s.board.arch,
            cpu_compatible: s.board.cpu_compatible.into(),
            uart: p.console.then_some(guest_map::UART),
            bootargs: p.bootargs.clone(),
            initrd,
            devices: p.passthrough.iter().map(|d| **d).collect(),
            virtio,
            channels,
        };
        let blob = match dom0_less::partition_dtb(&dt) {
            Ok(blob) => blob,
            Err(e) => {
                r.push(
                    Diag::error(
                        format!("partition[{i}]"),
                        p.name_span.clone(),
                        format!("cannot write the device tree of partition `{}`: {e}", p.name),
                    )
                    .label("this partition")
                    .hint("see docs/guest-abi.md for what a partition's device tree can hold"),
                );
                continue;
            }
        };
        let blob = match &p.dt_overlay {
            None => blob,
            Some(ov) => match dom0_less::overlay::apply(&blob, &ov.overlay) {
                Ok(merged) => merged,
                Err(e) => {
                    r.push(config::overlay_diag(
                        &format!("partition[{i}].dt_overlay"),
                        ov.span.clone(),
                        &ov.written,
                        &e,
                    ));
                    continue;
                }
            },
        };
        out.push(blob);
    }
    if r.has_errors() {
        return Err(config_error(r));
    }
    Ok(out)
}

/// Host-physical memory the system's RAM-backed disks (then its channels) need, in config order.
fn shared_requests(s: &System) -> Vec<layout::SharedRequest> {
    let disks = s.disks.iter().enumerate().filter(|(_, d)| d.backing == DiskBacking::Ram).map(|(i, d)| {
        // An image's length is known from `check` on; the disk is its size rounded up to sectors.
        let image_len = d.image.as_ref().and_then(|path| fs::metadata(path).ok()).map(|m| m.len());
        layout::SharedRequest { what: layout::Shared::Disk(i), size: d.size, image_len }
    });
    let channels = s.channels.iter().enumerate().map(|(i, c)| layout::SharedRequest {
        what: layout::Shared::Channel(i),
        size: c.size,
        image_len: None,
    });
    disks.chain(channels).collect()
}

/// Lays memory out; impossible layouts become diagnostics on the fields responsible.
pub fn solve_layout(checked: &Checked, sizes: &[ImageSizes], dtbs: &[Vec<u8>]) -> Result<Layout> {
    let s = &checked.system;
    let req = layout::Request {
        ram_base: s.board.ram_base,
        ram_size: s.ram_size,
        hv_base: s.board.hv_load_addr,
        hv_budget: s.hypervisor.budget,
        boot_dtb: s.board.boot_dtb,
        partitions: s
            .partitions
            .iter()
            .zip(sizes)
            .zip(dtbs)
            .map(|((p, sz), d)| partition_request(s, p, sz, d.len() as u64))
            .collect(),
        shared: shared_requests(s),
        host_disks: s.disks.iter().filter(|d| d.backing == DiskBacking::Host).map(|d| d.size).collect(),
        guests: (0..s.partitions.len()).map(|i| guest_request(s, i)).collect(),
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
        LayoutError::TooBig { partition: i, too_big: t } => too_big_diag(part(*i), *i, t),
        LayoutError::DtbTooBig { partition: i, size } => Diag::error(
            format!("partition[{i}]"),
            part(*i).name_span.clone(),
            format!("the device tree of partition `{}` is {}, over its 2 MiB region", part(*i).name, fmt_size(*size)),
        )
        .label("this partition")
        .hint("shorten its bootargs, or its device-tree overlay (`dt_overlay`)"),
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
        LayoutError::OverlapsBootDtb { partition: i, ram, boot_dtb } => Diag::error(
            mem_field(*i),
            mem_span(*i),
            format!("memory of partition `{}` overlaps the boot loader's device tree", part(*i).name),
        )
        .label(format!("{}..{}", hex(ram.base), hex(ram.end())))
        .hint(format!(
            "the boot loader puts the board's device tree at {}..{} (hv-static reads it at boot): move the partition \
             or leave `pa` out to let the layout choose",
            hex(boot_dtb.base),
            hex(boot_dtb.end())
        )),
        LayoutError::NoRoomForBootDtb { boot_dtb, ram_end: end } => Diag::error(
            "board.ram_size",
            0..1,
            format!(
                "the boot image leaves no room for the boot loader's device tree: it would be at {}..{}, beyond RAM \
                 (which ends at {})",
                hex(boot_dtb.base),
                hex(boot_dtb.end()),
                hex(*end)
            ),
        )
        .label("this system")
        .hint("the hypervisor's image carries every kernel and ramdisk: raise [board] ram_size or use smaller images"),
        LayoutError::ImageOverBootDtb { boot_dtb, image_end } => Diag::error(
            "board.name",
            0..1,
            format!(
                "the boot image is too large: from the hypervisor's load address {} it reaches {}, over the boot \
                 loader's device tree at {}..{}",
                hex(s.board.hv_load_addr),
                hex(*image_end),
                hex(boot_dtb.base),
                hex(boot_dtb.end())
            ),
        )
        .label("this system")
        .hint(format!(
            "on `{}` the boot loader puts its device tree {} into RAM (or right after the image as it loads it), and \
             hv-static moves the whole image up to its load address: the hypervisor's image carries every kernel \
             and ramdisk, so use smaller ones (the image may take {} at most)",
            s.board.name,
            fmt_size(board_support::BootDtb::QEMU_INITRD_OFFSET.min(s.ram_size / 2)),
            fmt_size(largest_image(s))
        )),
        LayoutError::Guest { partition, error } => guest_diag(s, *partition, error),
        LayoutError::SharedOutOfRam { shared, region, ram_end } => {
            let (field, span, what) = match shared_requests(s)[*shared].what {
                layout::Shared::Disk(d) => {
                    let disk = &s.disks[d];
                    let key = if disk.image.is_some() { "image" } else { "size" };
                    (format!("disk[{d}].{key}"), disk.span.clone(), format!("RAM-backed disk `{}`", disk.name))
                }
                layout::Shared::Channel(c) => {
                    let ch = &s.channels[c];
                    (format!("channel[{c}].size"), ch.size_span.clone(), format!("channel `{}`", ch.name))
                }
            };
            Diag::error(
                field,
                span,
                format!(
                    "the memory of {what} ({}) lies beyond board RAM, which ends at {}",
                    fmt_size(region.size),
                    hex(*ram_end)
                ),
            )
            .label(format!("would be {}..{}", hex(region.base), hex(region.end())))
            .hint(
                "RAM-backed disks and channels take board RAM of their own, after the boot image: raise [board] \
                 ram_size, or make them or the partitions smaller",
            )
        }
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

/// The largest boot image that ends below where the boot loader puts the board's device tree for a small image.
fn largest_image(s: &System) -> u64 {
    let b = s.board;
    let small = board_support::Mmio { base: b.hv_load_addr, size: 0 };
    b.boot_dtb.region(b.ram_base, s.ram_size, small).base.saturating_sub(b.hv_load_addr)
}

/// The diagnostic for a partition whose kernel, ramdisk and device tree do not fit its RAM.
fn too_big_diag(p: &config::Partition, i: usize, t: &layout::TooBig) -> Diag {
    let ram = fmt_size(p.memory.size);
    let at_least = align_up(t.needed, layout::RAM_ALIGN).max(config::MIN_PARTITION_RAM);
    let kernel =
        format!("the kernel needs {} from RAM base (text_offset + image_size, bss included)", fmt_size(t.kernel_end));
    match (&p.ramdisk, t.ramdisk) {
        (Some(rd), Some((start, end))) => Diag::error(
            format!("partition[{i}].memory.size"),
            p.memory.size_span.clone(),
            format!(
                "the kernel, ramdisk and device tree of partition `{}` do not fit its RAM: they need {}, it has {ram}",
                p.name,
                fmt_size(t.needed)
            ),
        )
        .label(format!("{ram} of RAM"))
        .related(p.kernel.span.clone(), kernel)
        .related(
            rd.span.clone(),
            format!(
                "the ramdisk ({}) goes at IPA {}, the first 2 MiB boundary after the kernel, up to {}",
                fmt_size(end - start),
                hex(p.memory.ipa.saturating_add(start)),
                hex(p.memory.ipa.saturating_add(end))
            ),
        )
        .hint(format!(
            "the kernel ({} from RAM base), then the ramdisk from the next 2 MiB boundary, then the 2 MiB device \
             tree region at the end of RAM take {} in all: give the partition at least {} (memory.size)",
            fmt_size(t.kernel_end),
            fmt_size(t.needed),
            fmt_size(at_least)
        )),
        _ => Diag::error(
            format!("partition[{i}].memory.size"),
            p.memory.size_span.clone(),
            format!(
                "the kernel of partition `{}` does not fit its RAM: with the device tree it needs {}, it has {ram}",
                p.name,
                fmt_size(t.needed)
            ),
        )
        .label(format!("{ram} of RAM"))
        .related(p.kernel.span.clone(), kernel)
        .hint(format!(
            "below the 2 MiB device tree region there are {}: give the partition at least {} (memory.size)",
            fmt_size(t.available.saturating_sub(guest_map::DTB_REGION)),
            fmt_size(at_least)
        )),
    }
}

/// Writes each partition's kernel, ramdisk and device tree at their layout offsets into `out`, the payload's bytes
/// (zeroed, `layout.payload.size` long).
pub fn write_payload(layout: &Layout, parts: Parts<'_>, out: &mut [u8]) {
    let base = layout.payload.base;
    let mut put = |src_pa: u64, bytes: &[u8]| {
        let at = (src_pa - base) as usize;
        out[at..at + bytes.len()].copy_from_slice(bytes);
    };
    for (i, p) in layout.partitions.iter().enumerate() {
        put(p.kernel.src_pa, &parts.kernels[i].bytes);
        if let (Some(rd), Some(bytes)) = (p.ramdisk, &parts.ramdisks[i]) {
            put(rd.src_pa, bytes);
        }
        put(p.dtb.src_pa, &parts.dtbs[i]);
    }
    for s in &layout.shared {
        if let (layout::Shared::Disk(d), Some(load)) = (s.what, s.load) {
            if let Some(bytes) = &parts.disk_images[d] {
                put(load.src_pa, bytes);
            }
        }
    }
}

/// The payload on its own (the boot image is built with [`write_payload`] in place).
pub fn payload(layout: &Layout, parts: Parts<'_>) -> Vec<u8> {
    let mut out = vec![0u8; layout.payload.size as usize];
    write_payload(layout, parts, &mut out);
    out
}

/// The boot header hv-static's image carries, by the board's architecture.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HvHeader {
    /// An arm64 Image with this `text_offset`: the boot loader puts it at RAM base + that, where it is linked. Its
    /// `image_size` becomes the whole image's size.
    Arm64Image { text_offset: u64 },
    /// An ARM zImage (start 0): the boot loader puts it anywhere and hv-static moves its end field's worth of bytes
    /// to its link address, so the end field becomes the whole image's size.
    ZImage,
}

impl HvHeader {
    /// The header hv-static must carry on `board`.
    pub fn for_board(board: &Board) -> HvHeader {
        match BootFormat::of(board.arch) {
            BootFormat::Arm64Image => HvHeader::Arm64Image { text_offset: board.hv_text_offset() },
            BootFormat::ZImage => HvHeader::ZImage,
        }
    }

    /// Checks the header of the flattened hypervisor.
    fn check(self, flat: &[u8]) -> Result<(), String> {
        match self {
            HvHeader::Arm64Image { text_offset } => {
                let Some(header) = image::header(flat) else {
                    return Err("hv-static's image does not start with an arm64 Image header (magic \"ARM\\x64\" at \
                                offset 56)"
                        .into());
                };
                if header.text_offset != text_offset {
                    return Err(format!(
                        "hv-static's Image header has text_offset {}, but the board loads it {} above the start of RAM",
                        hex(header.text_offset),
                        hex(text_offset)
                    ));
                }
            }
            HvHeader::ZImage => match image::zimage_start(flat) {
                None => {
                    return Err(
                        "hv-static's image does not start with a zImage header (magic 0x016F2818 at offset 0x24)"
                            .into(),
                    )
                }
                Some(start) if start != 0 => {
                    return Err(format!("hv-static's zImage header has start {start:#x}: it must be 0"));
                }
                Some(_) => {}
            },
        }
        Ok(())
    }

    /// Writes the whole image's size into the header.
    fn set_size(self, image: &mut [u8], total: u64) -> Result<(), String> {
        match self {
            HvHeader::Arm64Image { .. } => image::set_image_size(image, total),
            HvHeader::ZImage => {
                let end = u32::try_from(total.next_multiple_of(4)).map_err(|_| {
                    format!("the boot image is {}: a zImage's end field holds 32 bits", fmt_size(total))
                })?;
                image::set_zimage_end(image, end);
            }
        }
        Ok(())
    }
}

/// Packs the hypervisor ELF and the payload into the boot image: the flattened hypervisor, padded to its budget,
/// its header's size field (an arm64 Image's `image_size`, a zImage's end) set to the whole image, then the
/// payload, written in place (one buffer the size of the image, whatever the size of the kernels and ramdisks).
pub fn pack(
    hv_elf: &[u8],
    layout: &Layout,
    hv_header: HvHeader,
    parts: Parts<'_>,
) -> Result<(Vec<u8>, HvStats), String> {
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
    hv_header.check(&flat.bytes)?;
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
    let total = align_up(layout.image_size(), layout::PAYLOAD_ALIGN);
    let mut out = Vec::with_capacity(total as usize);
    out.extend_from_slice(&flat.bytes);
    drop(flat);
    out.resize(total as usize, 0);
    hv_header.set_size(&mut out, total)?;
    let payload = layout.payload;
    let at = layout.image_offset(payload.base) as usize;
    write_payload(layout, parts, &mut out[at..at + payload.size as usize]);
    Ok((out, HvStats { image_len, end, budget }))
}

/// `cargo build -p hv-static` for the generated config in `config_dir`; returns the ELF.
pub fn build_hypervisor(
    cargo: &Cargo,
    target: &str,
    config_dir: &Path,
    features: HvFeatures,
    progress: &Progress,
) -> Result<Vec<u8>> {
    let (features, what): (&[&str], _) =
        if features.trace { (&["trace"], "hv-static (trace)") } else { (&[], "hv-static") };
    cargo.build_release_with(
        &["hv-static"],
        features,
        target,
        &[("HV_STATIC_CONFIG_DIR", config_dir)],
        what,
        progress,
    )?;
    read(&cargo.release_dir(target).join("hv-static"))
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
