//! The packing step: the partitions' kernels, ramdisks, device trees and RAM-backed disks' images written at their
//! layout offsets into the payload, and the built hypervisor flattened, checked against the board's boot header
//! and its memory budget, and joined with the payload into the boot image. Pure functions of bytes and the layout,
//! so they are tested without building anything.

use board_support::Board;

use crate::image::{self, BootFormat};
use crate::layout::{self, Layout};
use crate::prepared::{HvStats, Parts};
use crate::units::{align_up, hex, size as fmt_size};

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
