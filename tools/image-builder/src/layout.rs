//! Where everything goes in host-physical memory. A pure function of sizes, so it is easy to test and the image
//! is reproducible.
//!
//! ```text
//! RAM base          boot loader (QEMU writes its boot stub here), below the image: never used
//! hv load address   hypervisor image + bss, within its budget
//! + budget          payload: per partition, its kernel, ramdisk and device tree, each 4 KiB-aligned
//! (2 MiB-aligned)   partition RAM in config order (unless a partition fixes `pa`), each 2 MiB-aligned, around
//!                   the 2 MiB where the boot loader puts the board's device tree (board-support's `BootDtb`)
//! ```
//!
//! RAM-backed disks and channels get host-physical regions after the payload (4 KiB-aligned, flowing around the
//! boot loader's device tree and fixed partitions, before the other partitions' RAM); a disk's image travels in the
//! payload after every partition's items and is copied into its region at boot ([`Layout::shared_loads`]). Disks
//! backed by the board's own disk get slices of it instead ([`Layout::host_disk_slices`]).
//!
//! In each partition's guest-physical space ([`guest_devices`]): its disks' and networks' virtio-mmio transports at
//! `guest_map::VIRTIO_MMIO`, one slot each; its channels from `guest_map::CHANNELS` up, around RAM and devices;
//! and an SPI for each transport, each channel's doorbell and the watchdog (when it has one), in that order, the
//! partition's free ones from `guest_map::PV_FIRST_SPI` up.
//!
//! Inside a partition: kernel at RAM base + the Image header's `text_offset` (a zImage's is 0x8000), taking
//! `image_size` bytes (bss included; a zImage's end field); the ramdisk at the next 2 MiB boundary after that (an
//! arm64 Image) or as high as it fits (a zImage, see [`RamdiskPlace`]); device tree at RAM end - 2 MiB. On ARMv7
//! the boot image must end below the boot loader's device tree.

use board_support::BootDtb;
use dom0_less::BootPlan;
use hv_plan::guest_map;

use crate::units::{align_up, checked_align_up};

/// Alignment of items inside the payload.
pub const PAYLOAD_ALIGN: u64 = 4 << 10;
/// Alignment of partition RAM (host- and guest-physical), and of a ramdisk inside it.
pub const RAM_ALIGN: u64 = 2 << 20;

/// A range of addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Region {
    pub base: u64,
    pub size: u64,
}

impl Region {
    /// The end (exclusive). Saturates rather than wrapping: a region reaching past 2^64 ends "at the end", which
    /// every range check then refuses, in debug and release builds alike.
    pub const fn end(&self) -> u64 {
        self.base.saturating_add(self.size)
    }

    pub const fn overlaps(&self, other: &Region) -> bool {
        self.base < other.end() && other.base < self.end()
    }
}

/// Where a partition's ramdisk goes, which depends on what the kernel does with the memory after its own image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RamdiskPlace {
    /// At the first 2 MiB boundary after the kernel's footprint: an arm64 Image's `image_size` covers everything
    /// it writes before it has reserved the ramdisk, so the rest of RAM stays compact.
    AfterKernel,
    /// At the highest 2 MiB boundary that still ends below the device tree region. A zImage's footprint is only
    /// the compressed file: it decompresses the kernel (several times its size) from RAM base + 0x8000 upwards
    /// and moves itself past that end first, so anything placed right after it is overwritten. Linux's
    /// Documentation/arch/arm/booting.rst asks for the initrd high in RAM (above 128 MiB) for the same reason.
    BelowDeviceTree,
}

/// What one partition needs placed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PartitionRequest {
    pub ram_size: u64,
    /// Guest-physical RAM base.
    pub ipa: u64,
    /// Host-physical RAM base fixed by the config.
    pub pa: Option<u64>,
    /// Bytes of the kernel image to copy.
    pub kernel_len: u64,
    /// From the kernel's header (an arm64 Image's; 0x8000 for a zImage).
    pub text_offset: u64,
    /// From the kernel's header: bytes it needs from its load address including bss (0 = unknown).
    pub kernel_image_size: u64,
    /// Bytes of the initial ramdisk, when the partition has one.
    pub ramdisk_len: Option<u64>,
    /// Where the ramdisk goes.
    pub ramdisk_place: RamdiskPlace,
    /// Bytes of the device tree.
    pub dtb_len: u64,
}

impl PartitionRequest {
    /// Bytes the kernel occupies from its load address: the Image header's `image_size` (which includes bss),
    /// or the file's size when the header says 0 or less than the file.
    pub const fn kernel_footprint(&self) -> u64 {
        if self.kernel_image_size > self.kernel_len {
            self.kernel_image_size
        } else {
            self.kernel_len
        }
    }

    /// Where the kernel, ramdisk and device tree go, as offsets from RAM base, or why they do not fit.
    pub fn fit(&self) -> Result<Fit, TooBig> {
        let kernel_end = self.text_offset.saturating_add(self.kernel_footprint());
        let ramdisk = self.ramdisk_len.map(|len| {
            let after_kernel = kernel_end.checked_next_multiple_of(RAM_ALIGN).unwrap_or(u64::MAX);
            let start = match self.ramdisk_place {
                RamdiskPlace::AfterKernel => after_kernel,
                // When even the highest place is below the kernel's end, it goes after the kernel and the check
                // below reports that it does not fit.
                RamdiskPlace::BelowDeviceTree => {
                    let highest = self.ram_size.saturating_sub(guest_map::DTB_REGION).saturating_sub(len);
                    (highest / RAM_ALIGN * RAM_ALIGN).max(after_kernel)
                }
            };
            (start, start.saturating_add(len))
        });
        let used = ramdisk.map_or(kernel_end, |(_, end)| end);
        let needed = used.saturating_add(guest_map::DTB_REGION);
        let fits = needed <= self.ram_size && self.ram_size >= guest_map::DTB_REGION;
        let too_big = TooBig { kernel_end, ramdisk, needed, available: self.ram_size };
        if !fits {
            return Err(too_big);
        }
        Ok(Fit { kernel_end, ramdisk, dtb: self.ram_size - guest_map::DTB_REGION })
    }
}

/// Where a partition's images go, as offsets from its RAM base.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fit {
    /// End of the kernel's footprint (text_offset + image size, bss included).
    pub kernel_end: u64,
    /// Start and end of the ramdisk, on a 2 MiB boundary at or after `kernel_end` (see [`RamdiskPlace`]).
    pub ramdisk: Option<(u64, u64)>,
    /// Start of the device tree region (RAM end - 2 MiB).
    pub dtb: u64,
}

/// A partition's kernel, ramdisk and device tree do not fit its RAM; offsets from RAM base.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TooBig {
    pub kernel_end: u64,
    pub ramdisk: Option<(u64, u64)>,
    /// Bytes from RAM base to the end of the device tree region, were everything placed.
    pub needed: u64,
    /// The partition's RAM.
    pub available: u64,
}

/// What the layout needs to know about the board and hypervisor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub ram_base: u64,
    pub ram_size: u64,
    /// The board's hypervisor load address.
    pub hv_base: u64,
    pub hv_budget: u64,
    /// Where the boot loader puts the board's device tree.
    pub boot_dtb: BootDtb,
    pub partitions: Vec<PartitionRequest>,
    /// Host-physical memory shared by partitions: RAM-backed disks, then channels.
    pub shared: Vec<SharedRequest>,
    /// Sizes of the disks backed by the board's own disk, in config order.
    pub host_disks: Vec<u64>,
    /// Per partition (or none at all: no PV devices anywhere), what its PV devices need in its guest-physical space.
    pub guests: Vec<GuestRequest>,
}

/// What a region of shared host-physical memory is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shared {
    /// A RAM-backed disk: index into `System::disks`.
    Disk(usize),
    /// A channel: index into `System::channels`.
    Channel(usize),
}

/// A region of host-physical memory outside every partition's RAM.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SharedRequest {
    pub what: Shared,
    /// Bytes; the region is 4 KiB-aligned and rounded up to 4 KiB.
    pub size: u64,
    /// Bytes of the image copied into it at boot (a disk's), carried in the payload.
    pub image_len: Option<u64>,
}

/// A copy from the payload to shared memory, made once at boot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Load {
    pub src_pa: u64,
    pub dst_pa: u64,
    pub size: u64,
}

/// Where a [`SharedRequest`] went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SharedLayout {
    pub what: Shared,
    pub region: Region,
    /// Its image's copy, when it has one; the rest of the region starts zeroed.
    pub load: Option<Load>,
}

/// A slice of the board's own disk, in bytes from its start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HostSlice {
    pub offset: u64,
    pub size: u64,
}

/// Alignment of host disk slices.
pub const HOST_SLICE_ALIGN: u64 = 1 << 20;

/// What one partition's PV devices (and its watchdog's interrupt) need in its guest-physical space.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GuestRequest {
    /// Guest-physical ranges already in use: RAM, emulated and passed-through devices.
    pub taken: Vec<Region>,
    /// INTIDs already in use: the console's, the passed-through devices'.
    pub used_intids: Vec<u32>,
    /// virtio-mmio transports: one per disk, then one per network, in attachment order.
    pub virtio: usize,
    /// Sizes of the channels the partition maps, in config order.
    pub channels: Vec<u64>,
    /// Whether the partition has an emulated watchdog (at its fixed address, `guest_map::WATCHDOG`), which needs
    /// an interrupt.
    pub watchdog: bool,
    /// End of the guest-physical space the partition can address (4 GiB for ARMv7 partitions).
    pub ipa_limit: u64,
}

/// A virtio-mmio transport.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VirtioSlot {
    /// Guest-physical base of its `guest_map::VIRTIO_MMIO_STRIDE` bytes.
    pub base: u64,
    /// Its SPI, as an INTID.
    pub intid: u32,
}

/// A channel's mapping in one partition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChannelMap {
    pub ipa: u64,
    pub size: u64,
    /// Its doorbell's SPI, as an INTID.
    pub doorbell: u32,
}

/// Where one partition's PV devices are, in the order of its [`GuestRequest`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GuestDevices {
    pub virtio: Vec<VirtioSlot>,
    pub channels: Vec<ChannelMap>,
    /// The watchdog's SPI, as an INTID, when the partition has one.
    pub watchdog: Option<u32>,
    /// The channel GPIO controller's SPI, as an INTID, when the partition maps channels (its controller is at the
    /// fixed `guest_map::GPIO`).
    pub gpio: Option<u32>,
}

/// Why a partition's PV devices do not fit its guest-physical space or its interrupts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GuestError {
    /// More transports than the window has slots.
    TooManyTransports { count: usize },
    /// A transport's slot is taken (by RAM or a passed-through device).
    TransportTaken { slot: usize, by: Region },
    /// A channel (index into the request's `channels`) finds no room below `ipa_limit`.
    NoRoomForChannel { channel: usize, size: u64, ipa_limit: u64 },
    /// More interrupts are needed than the emulated distributor has free SPIs.
    OutOfInterrupts { needed: usize, free: usize },
}

/// Places one partition's PV devices: transports in the fixed window, channels from `guest_map::CHANNELS` up
/// (`CHANNEL_ALIGN`-aligned, around everything taken), interrupts from the free SPIs: transports first, then
/// doorbells, then the watchdog's, then the channel GPIO controller's (when there are channels).
pub fn guest_devices(req: &GuestRequest) -> Result<GuestDevices, GuestError> {
    use guest_map::{
        CHANNELS, CHANNEL_ALIGN, PV_FIRST_SPI, VGIC_INTIDS, VIRTIO_MMIO, VIRTIO_MMIO_SLOTS, VIRTIO_MMIO_STRIDE,
    };
    if req.virtio as u64 > VIRTIO_MMIO_SLOTS {
        return Err(GuestError::TooManyTransports { count: req.virtio });
    }
    let mut taken = req.taken.clone();
    let mut slots = Vec::new();
    for n in 0..VIRTIO_MMIO_SLOTS.min(req.virtio as u64) {
        let slot = Region { base: VIRTIO_MMIO + n * VIRTIO_MMIO_STRIDE, size: VIRTIO_MMIO_STRIDE };
        if let Some(by) = taken.iter().find(|t| t.overlaps(&slot)) {
            return Err(GuestError::TransportTaken { slot: usize::try_from(n).unwrap_or(usize::MAX), by: *by });
        }
        slots.push(slot.base);
    }
    taken.extend(slots.iter().map(|&base| Region { base, size: VIRTIO_MMIO_STRIDE }));
    let mut maps = Vec::new();
    let mut cursor = CHANNELS;
    for (c, &size) in req.channels.iter().enumerate() {
        let no_room = GuestError::NoRoomForChannel { channel: c, size, ipa_limit: req.ipa_limit };
        let mut candidate = Region { base: align_up(cursor, CHANNEL_ALIGN), size };
        while let Some(t) = taken.iter().find(|t| t.overlaps(&candidate)) {
            // Each step moves past what it overlaps; at the top of the address space there is nowhere to go.
            match checked_align_up(t.end(), CHANNEL_ALIGN) {
                Some(base) if base > candidate.base => candidate.base = base,
                _ => return Err(no_room),
            }
        }
        if candidate.base.checked_add(size).is_none_or(|end| end > req.ipa_limit) {
            return Err(no_room);
        }
        taken.push(candidate);
        maps.push(candidate);
        cursor = candidate.end();
    }
    let gpio = !req.channels.is_empty();
    let needed = req.virtio + req.channels.len() + usize::from(req.watchdog) + usize::from(gpio);
    let free: Vec<u32> = (32 + PV_FIRST_SPI..VGIC_INTIDS).filter(|i| !req.used_intids.contains(i)).collect();
    if needed > free.len() {
        return Err(GuestError::OutOfInterrupts { needed, free: free.len() });
    }
    let virtio = slots.into_iter().zip(&free).map(|(base, &intid)| VirtioSlot { base, intid }).collect();
    let channels = maps
        .into_iter()
        .zip(&free[req.virtio..])
        .map(|(m, &doorbell)| ChannelMap { ipa: m.base, size: m.size, doorbell })
        .collect();
    let after_doorbells = req.virtio + req.channels.len();
    let watchdog = req.watchdog.then(|| free[after_doorbells]);
    let gpio = gpio.then(|| free[after_doorbells + usize::from(req.watchdog)]);
    Ok(GuestDevices { virtio, channels, watchdog, gpio })
}

/// A copy from the payload into partition RAM.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Placement {
    /// Host-physical address inside the payload.
    pub src_pa: u64,
    /// Host-physical destination in partition RAM.
    pub dst_pa: u64,
    /// Guest-physical address of the destination.
    pub ipa: u64,
    pub size: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PartitionLayout {
    /// Host-physical RAM.
    pub ram: Region,
    /// Guest-physical RAM base.
    pub ipa: u64,
    pub kernel: Placement,
    /// Bytes the kernel occupies from its load address, bss included (at least `kernel.size`).
    pub kernel_footprint: u64,
    pub ramdisk: Option<Placement>,
    pub dtb: Placement,
    /// Whether `ram` was fixed by the config.
    pub fixed: bool,
}

impl PartitionLayout {
    /// The copies hv-static makes before it starts the partition: kernel, ramdisk, device tree.
    pub fn loads(&self) -> Vec<Placement> {
        let mut loads = vec![self.kernel];
        loads.extend(self.ramdisk);
        loads.push(self.dtb);
        loads
    }

    /// Guest-physical start and end (exclusive) of the ramdisk, for `/chosen`.
    pub fn initrd(&self) -> Option<(u64, u64)> {
        self.ramdisk.map(|r| (r.ipa, r.ipa.saturating_add(r.size)))
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    /// All of board RAM.
    pub ram: Region,
    /// Below the hypervisor: the boot loader's (QEMU writes its boot stub at RAM base).
    pub boot_loader: Region,
    /// The hypervisor image and its bss.
    pub hypervisor: Region,
    /// Kernels, ramdisks and device trees, copied into partitions at boot.
    pub payload: Region,
    /// Where the boot loader puts the board's device tree; partitions keep clear of it.
    pub boot_dtb: Region,
    pub partitions: Vec<PartitionLayout>,
    /// RAM-backed disks and channels, in the order of the request.
    pub shared: Vec<SharedLayout>,
    /// Slices of the board's own disk, in the order of the request's `host_disks`.
    pub host_disk_slices: Vec<HostSlice>,
    /// Per partition, its PV devices' guest-physical addresses and interrupts.
    pub guests: Vec<GuestDevices>,
}

impl Layout {
    /// Size of the boot image: the hypervisor's budget followed by the payload.
    pub const fn image_size(&self) -> u64 {
        self.hypervisor.size + self.payload.size
    }

    /// Offset of a payload address inside the boot image.
    pub const fn image_offset(&self, pa: u64) -> u64 {
        pa - self.hypervisor.base
    }

    /// The copies of disk images into shared memory hv-static makes at boot (besides each partition's
    /// [`PartitionLayout::loads`]).
    pub fn shared_loads(&self) -> Vec<Load> {
        self.shared.iter().filter_map(|s| s.load).collect()
    }
}

/// Why a layout is impossible; `partition` is an index into the request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LayoutError {
    /// The kernel (with its bss), the ramdisk and the device tree region do not fit the partition's RAM.
    TooBig { partition: usize, too_big: TooBig },
    /// The device tree is larger than its 2 MiB region.
    DtbTooBig { partition: usize, size: u64 },
    /// Partition RAM would end beyond board RAM.
    OutOfRam { partition: usize, ram: Region, ram_end: u64 },
    /// Fixed partition RAM overlaps the hypervisor, its payload or the boot loader's region.
    OverlapsImage { partition: usize, ram: Region, image_end: u64 },
    /// Fixed partition RAM overlaps where the boot loader puts the board's device tree.
    OverlapsBootDtb { partition: usize, ram: Region, boot_dtb: Region },
    /// The boot image leaves no room in RAM for the boot loader's device tree.
    NoRoomForBootDtb { boot_dtb: Region, ram_end: u64 },
    /// The boot image, where it is linked, reaches where the boot loader puts the board's device tree (which a
    /// 32-bit image's boot loader does not move out of the way).
    ImageOverBootDtb { boot_dtb: Region, image_end: u64 },
    /// Two fixed partitions overlap.
    Overlap { partition: usize, other: usize },
    /// A disk's or channel's shared memory (index into the request's `shared`) would end beyond board RAM.
    SharedOutOfRam { shared: usize, region: Region, ram_end: u64 },
    /// A partition's PV devices do not fit its guest-physical space or interrupts.
    Guest { partition: usize, error: GuestError },
}

/// Where a region at `base` that overlaps `obstacle` goes next: the first `align` boundary after the obstacle. When
/// there is none below 2^64 it goes to the very top (`u64::MAX`, past anything the obstacle can overlap), which the
/// caller's range check refuses: the search always ends.
fn past(obstacle: &Region, base: u64, align: u64) -> u64 {
    match checked_align_up(obstacle.end(), align) {
        Some(next) if next > base && next < u64::MAX => next,
        _ => u64::MAX,
    }
}

/// Lays out the hypervisor, its payload and every partition's RAM.
pub fn solve(req: &Request) -> Result<Layout, Vec<LayoutError>> {
    let mut errors = Vec::new();
    let ram = Region { base: req.ram_base, size: req.ram_size };
    let boot_loader = Region { base: req.ram_base, size: req.hv_base - req.ram_base };
    let hypervisor = Region { base: req.hv_base, size: req.hv_budget };

    // Payload: kernel, ramdisk, device tree per partition.
    let payload_base = hypervisor.end();
    let mut cursor = payload_base;
    let mut items = Vec::new();
    // Lengths are of files the config named (bounded by `input::IMAGE_LIMIT`); saturating all the same, so an
    // absurd one makes the image too large for RAM instead of wrapping around.
    let mut place = |len: u64| {
        let at = cursor;
        cursor = align_up(at.saturating_add(len), PAYLOAD_ALIGN);
        at
    };
    for p in &req.partitions {
        let kernel = place(p.kernel_len);
        let ramdisk = p.ramdisk_len.map(&mut place);
        let dtb = place(p.dtb_len);
        items.push((kernel, ramdisk, dtb));
    }
    // Disk images, after every partition's items (so partitions' items do not move when disks are added).
    let images: Vec<Option<u64>> = req.shared.iter().map(|s| s.image_len.map(&mut place)).collect();
    let payload = Region { base: payload_base, size: cursor - payload_base };
    let image_end = payload.end();
    let image = board_support::Mmio { base: hypervisor.base, size: image_end - hypervisor.base };
    let dtb = req.boot_dtb.region(req.ram_base, req.ram_size, image);
    let boot_dtb = Region { base: dtb.base, size: dtb.size };
    if boot_dtb.base < image_end {
        errors.push(LayoutError::ImageOverBootDtb { boot_dtb, image_end });
    } else if boot_dtb.end() > ram.end() {
        errors.push(LayoutError::NoRoomForBootDtb { boot_dtb, ram_end: ram.end() });
    }

    // Partition RAM: fixed ones first, then the rest in order after the payload, around the fixed ones and the
    // boot loader's device tree.
    let fixed: Vec<(usize, Region)> = req
        .partitions
        .iter()
        .enumerate()
        .filter_map(|(i, p)| p.pa.map(|pa| (i, Region { base: pa, size: p.ram_size })))
        .collect();
    let mut rams = vec![Region { base: 0, size: 0 }; req.partitions.len()];
    for (n, &(i, r)) in fixed.iter().enumerate() {
        if r.base < image_end && ram.base < r.end() {
            errors.push(LayoutError::OverlapsImage { partition: i, ram: r, image_end });
        } else if r.base < ram.base || r.end() > ram.end() {
            errors.push(LayoutError::OutOfRam { partition: i, ram: r, ram_end: ram.end() });
        } else if r.overlaps(&boot_dtb) {
            errors.push(LayoutError::OverlapsBootDtb { partition: i, ram: r, boot_dtb });
        }
        if let Some(&(other, _)) = fixed[..n].iter().find(|(_, o)| o.overlaps(&r)) {
            errors.push(LayoutError::Overlap { partition: i, other });
        }
        rams[i] = r;
    }
    let obstacles: Vec<Region> = fixed.iter().map(|(_, r)| *r).chain([boot_dtb]).collect();
    // Shared memory after the image, then partition RAM after that.
    let mut next = image_end;
    let mut shared = Vec::new();
    for (k, (s, image)) in req.shared.iter().zip(images).enumerate() {
        let mut candidate = Region { base: align_up(next, PAYLOAD_ALIGN), size: align_up(s.size, PAYLOAD_ALIGN) };
        while let Some(o) = obstacles.iter().find(|o| o.overlaps(&candidate)) {
            candidate.base = past(o, candidate.base, PAYLOAD_ALIGN);
        }
        let load = image.zip(s.image_len).map(|(src_pa, size)| Load { src_pa, dst_pa: candidate.base, size });
        shared.push(SharedLayout { what: s.what, region: candidate, load });
        if candidate.end() > ram.end() {
            // Reported once, on the disk or channel: the partitions after it are not pushed out of RAM as well.
            errors.push(LayoutError::SharedOutOfRam { shared: k, region: candidate, ram_end: ram.end() });
            continue;
        }
        next = candidate.end();
    }
    let mut next = align_up(next, RAM_ALIGN);
    for (i, p) in req.partitions.iter().enumerate().filter(|(_, p)| p.pa.is_none()) {
        let mut candidate = Region { base: next, size: p.ram_size };
        while let Some(o) = obstacles.iter().find(|o| o.overlaps(&candidate)) {
            candidate.base = past(o, candidate.base, RAM_ALIGN);
        }
        if candidate.end() > ram.end() {
            errors.push(LayoutError::OutOfRam { partition: i, ram: candidate, ram_end: ram.end() });
        }
        rams[i] = candidate;
        next = candidate.end();
    }

    let mut partitions = Vec::new();
    for (i, p) in req.partitions.iter().enumerate() {
        let fit = match p.fit() {
            Ok(fit) => fit,
            Err(too_big) => {
                errors.push(LayoutError::TooBig { partition: i, too_big });
                continue;
            }
        };
        if p.dtb_len > guest_map::DTB_REGION {
            errors.push(LayoutError::DtbTooBig { partition: i, size: p.dtb_len });
        }
        let r = rams[i];
        let plan = BootPlan::new(p.ipa, p.ram_size, p.text_offset);
        // Saturating: with errors above, `r` may be a region that did not fit (the layout is then discarded).
        let to_pa = |ipa: u64| r.base.saturating_add(ipa.saturating_sub(p.ipa));
        let (kernel_src, ramdisk_src, dtb_src) = items[i];
        let ramdisk = fit.ramdisk.zip(ramdisk_src).map(|((start, end), src_pa)| Placement {
            src_pa,
            dst_pa: r.base.saturating_add(start),
            ipa: p.ipa.saturating_add(start),
            size: end.saturating_sub(start),
        });
        partitions.push(PartitionLayout {
            ram: r,
            ipa: p.ipa,
            kernel: Placement { src_pa: kernel_src, dst_pa: to_pa(plan.kernel), ipa: plan.kernel, size: p.kernel_len },
            kernel_footprint: p.kernel_footprint(),
            ramdisk,
            dtb: Placement { src_pa: dtb_src, dst_pa: to_pa(plan.dtb), ipa: plan.dtb, size: p.dtb_len },
            fixed: p.pa.is_some(),
        });
    }
    let mut offset = 0;
    let host_disk_slices = req
        .host_disks
        .iter()
        .map(|&size| {
            let slice = HostSlice { offset, size };
            offset = align_up(offset.saturating_add(size), HOST_SLICE_ALIGN);
            slice
        })
        .collect();
    let mut guests = Vec::new();
    for i in 0..req.partitions.len() {
        match req.guests.get(i).map_or(Ok(GuestDevices::default()), guest_devices) {
            Ok(g) => guests.push(g),
            Err(error) => errors.push(LayoutError::Guest { partition: i, error }),
        }
    }
    if errors.is_empty() {
        Ok(Layout { ram, boot_loader, hypervisor, payload, boot_dtb, partitions, shared, host_disk_slices, guests })
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;
    const GIB: u64 = 1 << 30;

    fn part(ram_size: u64, kernel_len: u64) -> PartitionRequest {
        PartitionRequest {
            ram_size,
            ipa: 0x4000_0000,
            pa: None,
            kernel_len,
            text_offset: 0x8_0000,
            kernel_image_size: 0,
            ramdisk_len: None,
            ramdisk_place: RamdiskPlace::AfterKernel,
            dtb_len: 0x700,
        }
    }

    fn req(partitions: Vec<PartitionRequest>) -> Request {
        Request {
            ram_base: 0x4000_0000,
            ram_size: GIB,
            hv_base: 0x4020_0000,
            hv_budget: 2 * MIB,
            boot_dtb: BootDtb::Qemu,
            partitions,
            shared: vec![],
            host_disks: vec![],
            guests: vec![],
        }
    }

    #[test]
    fn demo_layout() {
        let l = solve(&req(vec![part(64 * MIB, 0x1234), part(64 * MIB, 0x2000)])).unwrap();
        assert_eq!(l.boot_loader, Region { base: 0x4000_0000, size: 2 * MIB });
        // QEMU's device tree: 128 MiB into RAM, which the image does not reach.
        assert_eq!(l.boot_dtb, Region { base: 0x4800_0000, size: 2 * MIB });
        assert_eq!(l.hypervisor, Region { base: 0x4020_0000, size: 2 * MIB });
        // hello0 kernel 0x1234 -> 0x2000, dtb -> 0x1000; hello1 kernel 0x2000, dtb 0x1000.
        assert_eq!(l.payload, Region { base: 0x4040_0000, size: 0x6000 });
        assert_eq!(l.image_size(), 2 * MIB + 0x6000);
        let p0 = &l.partitions[0];
        assert_eq!(p0.kernel.src_pa, 0x4040_0000);
        assert_eq!(p0.dtb.src_pa, 0x4040_2000);
        assert_eq!(l.partitions[1].kernel.src_pa, 0x4040_3000);
        assert_eq!(l.partitions[1].dtb.src_pa, 0x4040_5000);
        // RAM after the payload, 2 MiB-aligned, in order; hello1 would cover QEMU's device tree at 0x4800_0000,
        // so it goes after it.
        assert_eq!(p0.ram, Region { base: 0x4060_0000, size: 64 * MIB });
        assert_eq!(l.partitions[1].ram, Region { base: 0x4820_0000, size: 64 * MIB });
        assert!(l.partitions.iter().all(|p| !p.ram.overlaps(&l.boot_dtb)));
        assert_eq!(p0.ramdisk, None);
        assert_eq!(p0.loads(), [p0.kernel, p0.dtb]);
        // Kernel at RAM base + text_offset, DTB at RAM end - 2 MiB, in both address spaces.
        assert_eq!(p0.kernel.ipa, 0x4008_0000);
        assert_eq!(p0.kernel.dst_pa, 0x4068_0000);
        assert_eq!(p0.kernel.size, 0x1234);
        assert_eq!(p0.dtb.ipa, 0x43e0_0000);
        assert_eq!(p0.dtb.dst_pa, 0x4440_0000);
        assert_eq!(p0.dtb.size, 0x700);
        assert_eq!(l.image_offset(p0.dtb.src_pa), 2 * MIB + 0x2000);
    }

    #[test]
    fn large_payload_pushes_ram_to_the_next_2mib() {
        let l = solve(&req(vec![part(64 * MIB, 3 * MIB)])).unwrap();
        assert_eq!(l.payload.end(), 0x4040_0000 + 3 * MIB + 0x1000);
        assert_eq!(l.partitions[0].ram.base, 0x4080_0000);
    }

    #[test]
    fn fixed_pa_is_kept_and_others_flow_around_it() {
        let mut a = part(64 * MIB, 0x1000);
        a.pa = Some(0x4060_0000);
        let b = part(64 * MIB, 0x1000);
        let l = solve(&req(vec![b, a])).unwrap();
        assert_eq!(l.partitions[1].ram.base, 0x4060_0000);
        assert!(l.partitions[1].fixed);
        // After the fixed one, and after QEMU's device tree at 0x4800_0000.
        assert_eq!(l.partitions[0].ram.base, 0x4820_0000);
    }

    #[test]
    fn guest_ipa_other_than_default() {
        let mut a = part(64 * MIB, 0x1000);
        a.ipa = 0x8000_0000;
        let l = solve(&req(vec![a])).unwrap();
        assert_eq!(l.partitions[0].kernel.ipa, 0x8008_0000);
        assert_eq!(l.partitions[0].kernel.dst_pa, 0x4068_0000);
    }

    #[test]
    fn out_of_ram() {
        let e = solve(&req(vec![part(512 * MIB, 0x1000), part(512 * MIB, 0x1000)])).unwrap_err();
        assert_eq!(
            e,
            [LayoutError::OutOfRam {
                partition: 1,
                ram: Region { base: 0x6820_0000, size: 512 * MIB },
                ram_end: 0x8000_0000
            }]
        );
    }

    #[test]
    fn fixed_pa_inside_the_payload() {
        let mut a = part(64 * MIB, 3 * MIB);
        a.pa = Some(0x4060_0000);
        let e = solve(&req(vec![a])).unwrap_err();
        assert!(matches!(e[..], [LayoutError::OverlapsImage { partition: 0, .. }]), "{e:?}");
    }

    #[test]
    fn fixed_overlaps() {
        let mut a = part(64 * MIB, 0x1000);
        a.pa = Some(0x5000_0000);
        let mut b = a;
        b.pa = Some(0x5200_0000);
        assert_eq!(solve(&req(vec![a, b])).unwrap_err(), [LayoutError::Overlap { partition: 1, other: 0 }]);
    }

    #[test]
    fn absurd_headers_are_errors_not_overflows() {
        let mut a = part(64 * MIB, 0x1000);
        a.text_offset = u64::MAX;
        assert!(matches!(solve(&req(vec![a])).unwrap_err()[..], [LayoutError::TooBig { partition: 0, .. }]));
        let mut b = part(64 * MIB, 0x1000);
        b.kernel_image_size = u64::MAX - 4;
        assert!(matches!(solve(&req(vec![b])).unwrap_err()[..], [LayoutError::TooBig { partition: 0, .. }]));
        let mut c = part(64 * MIB, 0x1000);
        c.kernel_image_size = u64::MAX - 4;
        c.ramdisk_len = Some(0x1000);
        assert!(matches!(solve(&req(vec![c])).unwrap_err()[..], [LayoutError::TooBig { partition: 0, .. }]));
    }

    #[test]
    fn sizes_near_2_pow_64_are_errors_not_overflows() {
        // Shared memory, kernels, ramdisks and host disks of absurd sizes: refused (or saturated), in debug and
        // release builds alike, and the searches for room end.
        let mut r = req(vec![part(64 * MIB, u64::MAX - 10)]);
        r.partitions[0].ramdisk_len = Some(u64::MAX);
        r.shared = vec![
            SharedRequest { what: Shared::Channel(0), size: u64::MAX, image_len: None },
            SharedRequest { what: Shared::Disk(0), size: u64::MAX - 4095, image_len: Some(u64::MAX) },
        ];
        r.host_disks = vec![u64::MAX, u64::MAX];
        let e = solve(&r).unwrap_err();
        assert!(e.iter().any(|e| matches!(e, LayoutError::SharedOutOfRam { shared: 0, .. })), "{e:?}");
        let mut fixed = part(64 * MIB, 0x1000);
        fixed.pa = Some(u64::MAX - MIB);
        let e = solve(&req(vec![fixed, part(64 * MIB, 0x1000)])).unwrap_err();
        assert!(!e.is_empty());
        // A channel as large as the address space, or one after RAM at its very top: no room, found quickly.
        assert!(matches!(
            guest_devices(&guest(0, vec![u64::MAX])),
            Err(GuestError::NoRoomForChannel { channel: 0, .. })
        ));
        let mut top = guest(0, vec![4096, 4096]);
        top.taken.push(Region { base: u64::MAX - 4096, size: 4096 });
        top.taken.push(Region { base: 0x1000_0000, size: u64::MAX - 0x1000_0000 });
        assert!(matches!(guest_devices(&top), Err(GuestError::NoRoomForChannel { channel: 0, .. })));
    }

    #[test]
    fn kernel_must_fit_below_the_dtb() {
        let mut a = part(4 * MIB, MIB);
        assert!(solve(&req(vec![a])).is_ok());
        a.kernel_image_size = 2 * MIB;
        assert_eq!(
            solve(&req(vec![a])).unwrap_err(),
            [LayoutError::TooBig {
                partition: 0,
                too_big: TooBig {
                    kernel_end: 0x8_0000 + 2 * MIB,
                    ramdisk: None,
                    needed: 0x8_0000 + 4 * MIB,
                    available: 4 * MIB
                }
            }]
        );
        let mut b = part(4 * MIB, 0x1000);
        b.dtb_len = 3 * MIB;
        assert!(matches!(solve(&req(vec![b])).unwrap_err()[..], [LayoutError::DtbTooBig { partition: 0, .. }]));
    }

    /// Debian's arm64 kernel: a 31.4 MiB file whose header asks for 32.06 MiB (bss), text_offset 0.
    fn linux(ram_size: u64) -> PartitionRequest {
        PartitionRequest {
            ram_size,
            ipa: 0x4000_0000,
            pa: None,
            kernel_len: 0x1f6_e0c0,
            text_offset: 0,
            kernel_image_size: 0x201_0000,
            ramdisk_len: Some(0x10_9828),
            ramdisk_place: RamdiskPlace::AfterKernel,
            dtb_len: 0x800,
        }
    }

    #[test]
    fn ramdisk_goes_after_the_kernel_bss_on_a_2mib_boundary() {
        let l = solve(&req(vec![part(32 * MIB, 0x1234), linux(256 * MIB)])).unwrap();
        let (hello, lx) = (&l.partitions[0], &l.partitions[1]);
        assert_eq!(hello.ramdisk, None);
        // Payload: hello's kernel and tree, then Linux's kernel, ramdisk and tree, each 4 KiB-aligned.
        assert_eq!(lx.kernel.src_pa, 0x4040_3000);
        let rd = lx.ramdisk.unwrap();
        assert_eq!(rd.src_pa, align_up(0x4040_3000 + 0x1f6_e0c0, PAYLOAD_ALIGN));
        assert_eq!(lx.dtb.src_pa, align_up(rd.src_pa + 0x10_9828, PAYLOAD_ALIGN));
        assert_eq!(l.payload.end(), align_up(lx.dtb.src_pa + 0x800, PAYLOAD_ALIGN));
        // The kernel occupies image_size, not the file size; the ramdisk starts on the next 2 MiB boundary.
        assert_eq!(lx.kernel.ipa, 0x4000_0000);
        assert_eq!(lx.kernel.size, 0x1f6_e0c0);
        assert_eq!(lx.kernel_footprint, 0x201_0000);
        assert_eq!(rd.ipa, 0x4220_0000);
        assert_eq!(rd.size, 0x10_9828);
        assert_eq!(lx.initrd(), Some((0x4220_0000, 0x4220_0000 + 0x10_9828)));
        assert!(rd.ipa >= lx.kernel.ipa + lx.kernel_footprint);
        assert_eq!(rd.dst_pa, lx.ram.base + 0x220_0000);
        assert_eq!(lx.dtb.ipa, 0x4000_0000 + 254 * MIB);
        assert!(rd.ipa + rd.size <= lx.dtb.ipa);
        // hv-static copies kernel, ramdisk, device tree, in that order.
        assert_eq!(lx.loads(), [lx.kernel, rd, lx.dtb]);
        // Linux's 256 MiB would cover QEMU's device tree at 0x4800_0000: it starts after it.
        assert_eq!(l.boot_dtb, Region { base: 0x4800_0000, size: 2 * MIB });
        assert_eq!(hello.ram.base, align_up(l.payload.end(), RAM_ALIGN));
        assert_eq!(lx.ram.base, 0x4820_0000);
        assert!(!lx.ram.overlaps(&l.boot_dtb) && !hello.ram.overlaps(&l.boot_dtb));
        assert!(!l.payload.overlaps(&l.boot_dtb));
    }

    #[test]
    fn a_ramdisk_that_does_not_fit_says_how_much_is_needed() {
        // The kernel alone fits (30 MiB + the 2 MiB device tree region = 32 MiB); with a 4 KiB ramdisk it does not.
        let mut a = linux(32 * MIB);
        a.kernel_len = 20 * MIB;
        a.kernel_image_size = 30 * MIB;
        a.ramdisk_len = None;
        assert!(solve(&req(vec![a])).is_ok());
        a.ramdisk_len = Some(0x1000);
        let too_big = TooBig {
            kernel_end: 30 * MIB,
            ramdisk: Some((30 * MIB, 30 * MIB + 0x1000)),
            needed: 32 * MIB + 0x1000,
            available: 32 * MIB,
        };
        assert_eq!(solve(&req(vec![a])).unwrap_err(), [LayoutError::TooBig { partition: 0, too_big }]);
        // The ramdisk is rounded up to 2 MiB after the kernel's bss, not after the file.
        a.kernel_image_size = 29 * MIB + 1;
        assert_eq!(a.fit().unwrap_err().ramdisk, Some((30 * MIB, 30 * MIB + 0x1000)));
        a.ram_size = 34 * MIB;
        assert_eq!(
            a.fit(),
            Ok(Fit { kernel_end: 29 * MIB + 1, ramdisk: Some((30 * MIB, 30 * MIB + 0x1000)), dtb: 32 * MIB })
        );
    }

    /// Debian's armhf kernel: a 5.3 MiB zImage (decompressing to about 17 MiB) with a 956 KiB initramfs.
    fn zimage_linux(ram_size: u64) -> PartitionRequest {
        PartitionRequest {
            text_offset: 0x8000,
            kernel_len: 0x54_c200,
            kernel_image_size: 0x54_c200,
            ramdisk_len: Some(0xe_f000),
            ramdisk_place: RamdiskPlace::BelowDeviceTree,
            ..linux(ram_size)
        }
    }

    #[test]
    fn a_zimage_s_ramdisk_goes_high_out_of_the_decompressor_s_way() {
        let l = solve(&req(vec![zimage_linux(256 * MIB)])).unwrap();
        let lx = &l.partitions[0];
        let rd = lx.ramdisk.unwrap();
        // The highest 2 MiB boundary that ends below the device tree region (RAM end - 2 MiB): 252 MiB in, well
        // above the 128 MiB Linux's booting.rst asks for and far from the kernel decompressed at the bottom.
        assert_eq!(rd.ipa, 0x4000_0000 + 252 * MIB);
        assert!(rd.ipa + rd.size <= lx.dtb.ipa);
        assert_eq!(lx.dtb.ipa, 0x4000_0000 + 254 * MIB);
        assert_eq!(rd.dst_pa, lx.ram.base + 252 * MIB);
        // A ramdisk that is a 2 MiB multiple still ends exactly below the device tree.
        let mut exact = zimage_linux(64 * MIB);
        exact.ramdisk_len = Some(4 * MIB);
        assert_eq!(exact.fit().unwrap().ramdisk, Some((58 * MIB, 62 * MIB)));
        // Too little RAM: the ramdisk would have to overlap the kernel, so it is placed after it and reported.
        let mut small = zimage_linux(8 * MIB);
        small.ramdisk_len = Some(2 * MIB);
        let too_big = small.fit().unwrap_err();
        assert_eq!(too_big.ramdisk, Some((6 * MIB, 8 * MIB)));
        assert_eq!(too_big.needed, 10 * MIB);
        // The same request for an arm64 Image keeps the ramdisk right after the kernel.
        let after = PartitionRequest { ramdisk_place: RamdiskPlace::AfterKernel, ..zimage_linux(256 * MIB) };
        assert_eq!(after.fit().unwrap().ramdisk.unwrap().0, 6 * MIB);
    }

    #[test]
    fn a_50mb_image_keeps_clear_of_the_boot_device_tree() {
        // A 48 MiB kernel file plus a 4 MiB ramdisk: the image ends below 128 MiB, so QEMU's tree stays there.
        let mut big = linux(256 * MIB);
        big.kernel_len = 48 * MIB;
        big.kernel_image_size = 50 * MIB;
        big.ramdisk_len = Some(4 * MIB);
        let l = solve(&req(vec![big, part(64 * MIB, 0x1000)])).unwrap();
        assert!(l.image_size() > 52 * MIB);
        assert_eq!(l.boot_loader.end(), l.hypervisor.base);
        assert_eq!(l.boot_dtb, Region { base: 0x4800_0000, size: 2 * MIB });
        assert!(!l.payload.overlaps(&l.boot_dtb) && !l.hypervisor.overlaps(&l.boot_dtb));
        for p in &l.partitions {
            assert!(!p.ram.overlaps(&l.boot_dtb), "{p:?}");
            assert!(!p.ram.overlaps(&l.payload) && p.ram.base >= l.payload.end());
        }
        assert_eq!(l.partitions[0].ram.base, 0x4820_0000);

        // An image reaching past 128 MiB pushes QEMU's tree right after it: the first partition starts 2 MiB later.
        let mut huge = linux(512 * MIB);
        huge.kernel_len = 150 * MIB;
        huge.kernel_image_size = 0;
        let l = solve(&req(vec![huge])).unwrap();
        assert!(l.payload.end() > 0x4800_0000);
        assert_eq!(l.boot_dtb, Region { base: align_up(l.payload.end(), RAM_ALIGN), size: 2 * MIB });
        assert_eq!(l.partitions[0].ram.base, l.boot_dtb.end());

        // A board with 128 MiB of RAM: QEMU's tree goes half-way in.
        let mut small = req(vec![part(32 * MIB, 0x1000), part(32 * MIB, 0x1000)]);
        small.ram_size = 128 * MIB;
        let l = solve(&small).unwrap();
        assert_eq!(l.boot_dtb, Region { base: 0x4400_0000, size: 2 * MIB });
        assert_eq!(l.partitions[1].ram.base, 0x4420_0000);
    }

    #[test]
    fn a_32_bit_image_must_end_below_qemu_s_device_tree() {
        let mut r = req(vec![part(64 * MIB, 0x1000), part(64 * MIB, 0x1000)]);
        r.boot_dtb = BootDtb::QemuRaw32;
        let l = solve(&r).unwrap();
        // QEMU loads the image at 0x4001_0000 and puts its tree 128 MiB into RAM; the image moves itself up to
        // 0x4020_0000, still below it.
        assert_eq!(l.boot_dtb, Region { base: 0x4800_0000, size: 2 * MIB });
        assert_eq!(l.partitions[1].ram.base, 0x4820_0000);

        // The largest image that ends below the tree once moved: 126 MiB.
        let mut big = part(256 * MIB, 124 * MIB - 0x1000);
        big.dtb_len = 0x1000;
        r.partitions = vec![big];
        let l = solve(&r).unwrap();
        assert_eq!(l.payload.end(), 0x4800_0000);
        assert_eq!(l.boot_dtb.base, 0x4800_0000);
        assert_eq!(l.partitions[0].ram.base, 0x4820_0000);

        // One page more, and the moved image would cover the tree (which QEMU then puts right after the file as
        // loaded, inside the moved image anyway).
        r.partitions[0].kernel_len += 0x1000;
        let e = solve(&r).unwrap_err();
        assert!(
            matches!(e[..], [LayoutError::ImageOverBootDtb { image_end: 0x4800_1000, boot_dtb }] if boot_dtb.base == 0x4800_0000),
            "{e:?}"
        );
        r.partitions[0].kernel_len = 200 * MIB;
        r.partitions[0].ram_size = 256 * MIB;
        let e = solve(&r).unwrap_err();
        assert!(e.iter().any(|e| matches!(e, LayoutError::ImageOverBootDtb { .. })), "{e:?}");
    }

    #[test]
    fn fixed_pa_over_the_boot_device_tree() {
        let mut a = part(64 * MIB, 0x1000);
        a.pa = Some(0x4600_0000);
        let e = solve(&req(vec![a])).unwrap_err();
        assert_eq!(
            e,
            [LayoutError::OverlapsBootDtb {
                partition: 0,
                ram: Region { base: 0x4600_0000, size: 64 * MIB },
                boot_dtb: Region { base: 0x4800_0000, size: 2 * MIB }
            }]
        );
    }

    #[test]
    fn an_image_filling_ram_leaves_no_room_for_the_boot_device_tree() {
        let mut r = req(vec![part(4 * MIB, 0x1000)]);
        r.ram_size = 16 * MIB;
        r.partitions[0].pa = Some(0x4040_0000);
        r.partitions[0].kernel_len = 12 * MIB;
        let e = solve(&r).unwrap_err();
        assert!(e.iter().any(|e| matches!(e, LayoutError::NoRoomForBootDtb { .. })), "{e:?}");
    }

    /// A partition of 64 MiB at the default IPA with the GICv3 and console windows and the console's SPI.
    fn guest(virtio: usize, channels: Vec<u64>) -> GuestRequest {
        GuestRequest {
            taken: vec![
                Region { base: 0x4000_0000, size: 64 * MIB },
                Region { base: 0x0800_0000, size: 0x1_0000 },
                Region { base: 0x080a_0000, size: 0x2_0000 },
                Region { base: 0x0900_0000, size: 0x1000 },
            ],
            used_intids: vec![33],
            virtio,
            channels,
            watchdog: false,
            ipa_limit: 1 << 39,
        }
    }

    #[test]
    fn transports_take_consecutive_slots_and_the_first_free_spis() {
        let mut g = guest(3, vec![]);
        // A passed-through device on SPI 17 (INTID 49): the transports skip it.
        g.used_intids.push(49);
        let d = guest_devices(&g).unwrap();
        assert_eq!(
            d.virtio,
            [
                VirtioSlot { base: 0x0a00_0000, intid: 48 },
                VirtioSlot { base: 0x0a00_0200, intid: 50 },
                VirtioSlot { base: 0x0a00_0400, intid: 51 }
            ]
        );
        assert!(d.channels.is_empty());
        assert_eq!(guest_devices(&guest(0, vec![])).unwrap(), GuestDevices::default());
        assert_eq!(guest_devices(&guest(33, vec![])), Err(GuestError::TooManyTransports { count: 33 }));
        let mut over = guest(2, vec![]);
        over.taken.push(Region { base: 0x0a00_0000 + 0x300, size: 0x100 });
        assert!(matches!(guest_devices(&over), Err(GuestError::TransportTaken { slot: 1, .. })));
    }

    #[test]
    fn channels_flow_from_their_base_around_what_is_taken() {
        let mut g = guest(1, vec![0x1000, 0x20_0000, 0x1_0000]);
        // A passed-through device at 0x1000_8000: the second channel goes after it, 64 KiB-aligned.
        g.taken.push(Region { base: 0x1001_8000, size: 0x1000 });
        let d = guest_devices(&g).unwrap();
        assert_eq!(
            d.channels,
            [
                ChannelMap { ipa: 0x1000_0000, size: 0x1000, doorbell: 49 },
                ChannelMap { ipa: 0x1002_0000, size: 0x20_0000, doorbell: 50 },
                ChannelMap { ipa: 0x1022_0000, size: 0x1_0000, doorbell: 51 }
            ]
        );
        // RAM in the way: a channel larger than the room below it goes after it.
        let mut low = guest(0, vec![0x4000_0000]);
        low.taken[0] = Region { base: 0x2000_0000, size: 64 * MIB };
        assert_eq!(guest_devices(&low).unwrap().channels[0].ipa, 0x2400_0000);
        // Not below the partition's limit: an error naming the channel.
        low.ipa_limit = 1 << 32;
        low.channels = vec![0x1000, 0xf000_0000];
        assert_eq!(
            guest_devices(&low),
            Err(GuestError::NoRoomForChannel { channel: 1, size: 0xf000_0000, ipa_limit: 1 << 32 })
        );
    }

    #[test]
    fn the_watchdog_takes_the_first_free_spi_after_transports_and_doorbells() {
        // Alone: the first free SPI, past a passed-through device's.
        let mut g = guest(0, vec![]);
        g.watchdog = true;
        g.used_intids.push(48);
        assert_eq!(guest_devices(&g).unwrap(), GuestDevices { watchdog: Some(49), ..GuestDevices::default() });
        // After two transports (48, 50) and a doorbell (51), skipping INTID 49.
        let mut g = guest(2, vec![0x1000]);
        g.watchdog = true;
        g.used_intids.push(49);
        let d = guest_devices(&g).unwrap();
        assert_eq!(d.virtio.iter().map(|v| v.intid).collect::<Vec<_>>(), [48, 50]);
        assert_eq!(d.channels[0].doorbell, 51);
        assert_eq!(d.watchdog, Some(52));
        // The channel GPIO controller's comes last.
        assert_eq!(d.gpio, Some(53));
        // Adding the watchdog moves nothing before it.
        g.watchdog = false;
        assert_eq!(guest_devices(&g).unwrap(), GuestDevices { watchdog: None, gpio: Some(52), ..d });
        // It counts towards the interrupts needed.
        let mut full = guest(32, vec![0x1000; 206]);
        full.used_intids.push(100);
        full.watchdog = true;
        assert_eq!(guest_devices(&full), Err(GuestError::OutOfInterrupts { needed: 240, free: 239 }));
    }

    #[test]
    fn interrupts_run_out_at_the_end_of_the_emulated_distributor() {
        // INTIDs 48..288: 240 SPIs, one of them used.
        // 32 transports, 206 doorbells and the channel GPIO controller's.
        let mut g = guest(32, vec![0x1000; 206]);
        g.used_intids.push(100);
        let d = guest_devices(&g).unwrap();
        assert_eq!((d.channels.last().unwrap().doorbell, d.gpio), (286, Some(287)));
        assert!(d.channels.iter().all(|c| c.doorbell != 100));
        g.channels.push(0x1000);
        assert_eq!(guest_devices(&g), Err(GuestError::OutOfInterrupts { needed: 240, free: 239 }));
    }

    #[test]
    fn shared_memory_follows_the_payload_and_partitions_follow_it() {
        let mut r = req(vec![part(64 * MIB, 0x1234), part(64 * MIB, 0x800)]);
        let plain = solve(&r).unwrap();
        r.shared = vec![
            SharedRequest { what: Shared::Disk(0), size: 0x1800, image_len: Some(0x1234) },
            SharedRequest { what: Shared::Channel(0), size: 0x1_0000, image_len: None },
        ];
        r.host_disks = vec![0x100, 3 * MIB];
        let l = solve(&r).unwrap();
        // The disk image travels after every partition's items; partitions' items stay where they were.
        assert_eq!(l.partitions[1].dtb.src_pa, plain.partitions[1].dtb.src_pa);
        assert_eq!(l.payload.end(), plain.payload.end() + 0x2000);
        let disk = l.shared[0];
        assert_eq!(disk.region, Region { base: l.payload.end(), size: 0x2000 });
        assert_eq!(disk.load, Some(Load { src_pa: plain.payload.end(), dst_pa: disk.region.base, size: 0x1234 }));
        assert_eq!(l.shared[1].region, Region { base: disk.region.end(), size: 0x1_0000 });
        assert_eq!(l.shared_loads(), [disk.load.unwrap()]);
        assert_eq!(l.partitions[0].ram.base, align_up(l.shared[1].region.end(), RAM_ALIGN));
        assert_eq!(
            l.host_disk_slices,
            [HostSlice { offset: 0, size: 0x100 }, HostSlice { offset: MIB, size: 3 * MIB }]
        );
        // Without PV devices nothing moves, and every partition has no guest devices.
        assert_eq!(plain.partitions[0].ram.base, 0x4060_0000);
        assert_eq!(plain.guests, [GuestDevices::default(), GuestDevices::default()]);
    }

    #[test]
    fn shared_memory_keeps_clear_of_fixed_partitions_and_the_boot_device_tree() {
        let mut fixed = part(64 * MIB, 0x1000);
        fixed.pa = Some(0x4060_0000);
        let mut r = req(vec![fixed]);
        // 120 MiB: past the fixed partition it would cover QEMU's tree at 0x4800_0000, so it goes after that.
        r.shared = vec![SharedRequest { what: Shared::Channel(0), size: 120 * MIB, image_len: None }];
        let l = solve(&r).unwrap();
        assert_eq!(l.shared[0].region.base, 0x4820_0000);
        r.shared[0].size = 2 * GIB;
        let e = solve(&r).unwrap_err();
        assert!(matches!(e[..], [LayoutError::SharedOutOfRam { shared: 0, .. }]), "{e:?}");
    }

    #[test]
    fn guest_errors_name_the_partition() {
        let mut r = req(vec![part(64 * MIB, 0x1000), part(64 * MIB, 0x1000)]);
        r.guests = vec![guest(1, vec![]), guest(40, vec![])];
        let e = solve(&r).unwrap_err();
        assert_eq!(e, [LayoutError::Guest { partition: 1, error: GuestError::TooManyTransports { count: 40 } }]);
        r.guests[1] = guest(0, vec![0x1000]);
        let l = solve(&r).unwrap();
        assert_eq!(l.guests[0].virtio.len(), 1);
        assert_eq!(l.guests[1].channels[0].doorbell, 48);
    }
}
