//! The layout step: what each partition, RAM-backed disk and channel asks of memory, handed to the pure solver in
//! [`crate::layout`], and every way it can fail turned into a diagnostic on the config key responsible (a
//! partition's `memory.size` or `pa`, a channel's `size`, a disk's `image`), so a layout problem reads like any
//! other config error.

use std::fs;

use hv_plan::guest_map;

use super::config_error;
use crate::config::{self, DiskBacking, System};
use crate::diag::Diag;
use crate::image::BootFormat;
use crate::layout::{self, Layout, LayoutError};
use crate::prepared::{Checked, ImageSizes};
use crate::units::{align_up, hex, size as fmt_size};
use crate::Result;

/// What the layout needs to place partition `p` of `s`, whose images have these sizes.
pub(super) fn partition_request(
    s: &System,
    p: &config::Partition,
    sizes: &ImageSizes,
    dtb_len: u64,
) -> layout::PartitionRequest {
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

/// What partition `index`'s PV devices and watchdog need in its guest-physical space: everything else there is
/// taken (RAM, the emulated devices, passed-through devices and their interrupts).
pub fn guest_request(s: &System, index: usize) -> layout::GuestRequest {
    let p = &s.partitions[index];
    let mut taken = vec![layout::Region { base: p.memory.ipa, size: p.memory.size }];
    taken.extend(
        config::device_windows(s.gic, p.vcpus.len(), 0, p.watchdog)
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
        watchdog: p.watchdog,
        ipa_limit,
    }
}

/// The diagnostic for PV devices that do not fit a partition's guest-physical space or interrupts.
pub(super) fn guest_diag(s: &System, i: usize, e: &layout::GuestError) -> Diag {
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
                "partition `{}` needs {needed} interrupts for its {}, but has {free} free SPIs",
                p.name,
                if p.watchdog { "disks, networks, channels and watchdog" } else { "disks, networks and channels" }
            ),
        )
        .label("this partition")
        .hint(
            "each virtio device, each channel's doorbell and the watchdog take an SPI of the emulated distributor: \
             use fewer",
        ),
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

/// The diagnostic for one reason the layout failed, on the field responsible; `ram_end` is where board RAM ends.
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
