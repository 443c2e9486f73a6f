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
//! Inside a partition: kernel at RAM base + the Image header's `text_offset` (a zImage's is 0x8000), taking
//! `image_size` bytes (bss included; a zImage's end field); the ramdisk at the next 2 MiB boundary after that (an
//! arm64 Image) or as high as it fits (a zImage, see [`RamdiskPlace`]); device tree at RAM end - 2 MiB. On ARMv7
//! the boot image must end below the boot loader's device tree.

use board_support::BootDtb;
use dom0_less::{guest_map, BootPlan};

use crate::units::align_up;

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
    pub const fn end(&self) -> u64 {
        self.base + self.size
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
        self.ramdisk.map(|r| (r.ipa, r.ipa + r.size))
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
    let mut place = |len: u64| {
        let at = cursor;
        cursor = align_up(at + len, PAYLOAD_ALIGN);
        at
    };
    for p in &req.partitions {
        let kernel = place(p.kernel_len);
        let ramdisk = p.ramdisk_len.map(&mut place);
        let dtb = place(p.dtb_len);
        items.push((kernel, ramdisk, dtb));
    }
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
    let mut next = align_up(image_end, RAM_ALIGN);
    for (i, p) in req.partitions.iter().enumerate().filter(|(_, p)| p.pa.is_none()) {
        let mut candidate = Region { base: next, size: p.ram_size };
        while let Some(o) = obstacles.iter().find(|o| o.overlaps(&candidate)) {
            candidate.base = align_up(o.end(), RAM_ALIGN);
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
        let to_pa = |ipa: u64| r.base + (ipa - p.ipa);
        let (kernel_src, ramdisk_src, dtb_src) = items[i];
        let ramdisk = fit.ramdisk.zip(ramdisk_src).map(|((start, end), src_pa)| Placement {
            src_pa,
            dst_pa: r.base + start,
            ipa: p.ipa + start,
            size: end - start,
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
    if errors.is_empty() {
        Ok(Layout { ram, boot_loader, hypervisor, payload, boot_dtb, partitions })
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
}
