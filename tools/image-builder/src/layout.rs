//! Where everything goes in host-physical memory. A pure function of sizes, so it is easy to test and the image
//! is reproducible.
//!
//! ```text
//! RAM base          boot loader's device tree (QEMU puts it at the start of RAM, below the image)
//! hv load address   hypervisor image + bss, within its budget
//! + budget          payload: per partition, its kernel then its device tree, each 4 KiB-aligned
//! (2 MiB-aligned)   partition RAM in config order (unless a partition fixes `pa`), each 2 MiB-aligned
//! ```
//!
//! Inside a partition: kernel at RAM base + the Image header's `text_offset`, device tree at RAM end - 2 MiB.

use dom0_less::{guest_map, BootPlan};

use crate::units::align_up;

/// Alignment of items inside the payload.
pub const PAYLOAD_ALIGN: u64 = 4 << 10;
/// Alignment of partition RAM (host- and guest-physical).
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
    /// From the kernel's Image header.
    pub text_offset: u64,
    /// From the kernel's Image header: bytes it needs from its load address including bss (0 = unknown).
    pub kernel_image_size: u64,
    /// Bytes of the device tree.
    pub dtb_len: u64,
}

/// What the layout needs to know about the board and hypervisor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub ram_base: u64,
    pub ram_size: u64,
    /// The board's hypervisor load address.
    pub hv_base: u64,
    pub hv_budget: u64,
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
    pub dtb: Placement,
    /// Whether `ram` was fixed by the config.
    pub fixed: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    /// All of board RAM.
    pub ram: Region,
    /// Below the hypervisor: where the boot loader puts the board's device tree.
    pub boot_dtb: Region,
    /// The hypervisor image and its bss.
    pub hypervisor: Region,
    /// Kernels and device trees, copied into partitions at boot.
    pub payload: Region,
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
    /// The kernel plus its bss does not fit below the device tree region.
    KernelTooBig { partition: usize, needed: u64, available: u64 },
    /// The device tree is larger than its 2 MiB region.
    DtbTooBig { partition: usize, size: u64 },
    /// Partition RAM would end beyond board RAM.
    OutOfRam { partition: usize, ram: Region, ram_end: u64 },
    /// Fixed partition RAM overlaps the hypervisor, its payload or the boot device tree.
    OverlapsImage { partition: usize, ram: Region, image_end: u64 },
    /// Two fixed partitions overlap.
    Overlap { partition: usize, other: usize },
}

/// Lays out the hypervisor, its payload and every partition's RAM.
pub fn solve(req: &Request) -> Result<Layout, Vec<LayoutError>> {
    let mut errors = Vec::new();
    let ram = Region { base: req.ram_base, size: req.ram_size };
    let boot_dtb = Region { base: req.ram_base, size: req.hv_base - req.ram_base };
    let hypervisor = Region { base: req.hv_base, size: req.hv_budget };

    // Payload: kernel then device tree per partition.
    let payload_base = hypervisor.end();
    let mut cursor = payload_base;
    let mut items = Vec::new();
    for p in &req.partitions {
        let kernel = cursor;
        cursor = align_up(kernel + p.kernel_len, PAYLOAD_ALIGN);
        let dtb = cursor;
        cursor = align_up(dtb + p.dtb_len, PAYLOAD_ALIGN);
        items.push((kernel, dtb));
    }
    let payload = Region { base: payload_base, size: cursor - payload_base };
    let image_end = payload.end();

    // Partition RAM: fixed ones first, then the rest in order after the payload.
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
        }
        if let Some(&(other, _)) = fixed[..n].iter().find(|(_, o)| o.overlaps(&r)) {
            errors.push(LayoutError::Overlap { partition: i, other });
        }
        rams[i] = r;
    }
    let mut next = align_up(image_end, RAM_ALIGN);
    for (i, p) in req.partitions.iter().enumerate().filter(|(_, p)| p.pa.is_none()) {
        let mut candidate = Region { base: next, size: p.ram_size };
        while let Some((_, f)) = fixed.iter().find(|(_, f)| f.overlaps(&candidate)) {
            candidate.base = align_up(f.end(), RAM_ALIGN);
        }
        if candidate.end() > ram.end() {
            errors.push(LayoutError::OutOfRam { partition: i, ram: candidate, ram_end: ram.end() });
        }
        rams[i] = candidate;
        next = candidate.end();
    }

    let mut partitions = Vec::new();
    for (i, p) in req.partitions.iter().enumerate() {
        let needed = p.text_offset.saturating_add(p.kernel_len.max(p.kernel_image_size));
        let available = p.ram_size.saturating_sub(guest_map::DTB_REGION);
        if needed > available {
            errors.push(LayoutError::KernelTooBig { partition: i, needed, available });
            continue;
        }
        if p.dtb_len > guest_map::DTB_REGION {
            errors.push(LayoutError::DtbTooBig { partition: i, size: p.dtb_len });
        }
        let r = rams[i];
        let plan = BootPlan::new(p.ipa, p.ram_size, p.text_offset);
        let to_pa = |ipa: u64| r.base + (ipa - p.ipa);
        let (kernel_src, dtb_src) = items[i];
        partitions.push(PartitionLayout {
            ram: r,
            ipa: p.ipa,
            kernel: Placement { src_pa: kernel_src, dst_pa: to_pa(plan.kernel), ipa: plan.kernel, size: p.kernel_len },
            dtb: Placement { src_pa: dtb_src, dst_pa: to_pa(plan.dtb), ipa: plan.dtb, size: p.dtb_len },
            fixed: p.pa.is_some(),
        });
    }
    if errors.is_empty() {
        Ok(Layout { ram, boot_dtb, hypervisor, payload, partitions })
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
            dtb_len: 0x700,
        }
    }

    fn req(partitions: Vec<PartitionRequest>) -> Request {
        Request { ram_base: 0x4000_0000, ram_size: GIB, hv_base: 0x4020_0000, hv_budget: 2 * MIB, partitions }
    }

    #[test]
    fn demo_layout() {
        let l = solve(&req(vec![part(64 * MIB, 0x1234), part(64 * MIB, 0x2000)])).unwrap();
        assert_eq!(l.boot_dtb, Region { base: 0x4000_0000, size: 2 * MIB });
        assert_eq!(l.hypervisor, Region { base: 0x4020_0000, size: 2 * MIB });
        // hello0 kernel 0x1234 -> 0x2000, dtb -> 0x1000; hello1 kernel 0x2000, dtb 0x1000.
        assert_eq!(l.payload, Region { base: 0x4040_0000, size: 0x6000 });
        assert_eq!(l.image_size(), 2 * MIB + 0x6000);
        let p0 = &l.partitions[0];
        assert_eq!(p0.kernel.src_pa, 0x4040_0000);
        assert_eq!(p0.dtb.src_pa, 0x4040_2000);
        assert_eq!(l.partitions[1].kernel.src_pa, 0x4040_3000);
        assert_eq!(l.partitions[1].dtb.src_pa, 0x4040_5000);
        // RAM after the payload, 2 MiB-aligned, in order.
        assert_eq!(p0.ram, Region { base: 0x4060_0000, size: 64 * MIB });
        assert_eq!(l.partitions[1].ram, Region { base: 0x4460_0000, size: 64 * MIB });
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
        assert_eq!(l.partitions[0].ram.base, 0x4460_0000);
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
                ram: Region { base: 0x6060_0000, size: 512 * MIB },
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
        a.pa = Some(0x4800_0000);
        let mut b = a;
        b.pa = Some(0x4a00_0000);
        assert_eq!(solve(&req(vec![a, b])).unwrap_err(), [LayoutError::Overlap { partition: 1, other: 0 }]);
    }

    #[test]
    fn absurd_headers_are_errors_not_overflows() {
        let mut a = part(64 * MIB, 0x1000);
        a.text_offset = u64::MAX;
        assert!(matches!(solve(&req(vec![a])).unwrap_err()[..], [LayoutError::KernelTooBig { partition: 0, .. }]));
        let mut b = part(64 * MIB, 0x1000);
        b.kernel_image_size = u64::MAX - 4;
        assert!(matches!(solve(&req(vec![b])).unwrap_err()[..], [LayoutError::KernelTooBig { partition: 0, .. }]));
    }

    #[test]
    fn kernel_must_fit_below_the_dtb() {
        let mut a = part(4 * MIB, MIB);
        assert!(solve(&req(vec![a])).is_ok());
        a.kernel_image_size = 2 * MIB;
        assert_eq!(
            solve(&req(vec![a])).unwrap_err(),
            [LayoutError::KernelTooBig { partition: 0, needed: 0x8_0000 + 2 * MIB, available: 2 * MIB }]
        );
        let mut b = part(4 * MIB, 0x1000);
        b.dtb_len = 3 * MIB;
        assert!(matches!(solve(&req(vec![b])).unwrap_err()[..], [LayoutError::DtbTooBig { partition: 0, .. }]));
    }
}
