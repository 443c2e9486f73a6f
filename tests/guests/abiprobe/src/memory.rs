//! The "Memory map" and "Console" sections: the partition's RAM reads back what it writes, its image and device
//! tree are where the map puts them, the emulated devices answer at their addresses, the console's `UARTFR` and
//! transmit interrupt behave as documented, and channel memory starts zeroed.

use crate::report;
use crate::tree::{Facts, DTB_AREA, GICC, GICD, GICR, GICR_STRIDE, GPIO, RAM_BASE, UART};

/// A 32-bit register or RAM word at a guest-physical address (the MMU is off: identity, Device memory).
fn read(addr: u64) -> u32 {
    // SAFETY: every address read here is one the document maps into the partition (RAM, an emulated device, a
    // channel), checked against the device tree by the caller; a single aligned word load, which the hypervisor
    // can emulate.
    unsafe { core::ptr::with_exposed_provenance::<u32>(addr as usize).read_volatile() }
}

fn write(addr: u64, value: u32) {
    // SAFETY: as in `read`; only RAM clear of the image and the device tree, writable channels and the console's
    // interrupt mask (restored) are written.
    unsafe { core::ptr::with_exposed_provenance_mut::<u32>(addr as usize).write_volatile(value) }
}

/// Where the running image starts and ends: computed PC-relatively on AArch64, so it is the load address.
fn image() -> (u64, u64) {
    #[cfg(target_os = "none")]
    {
        unsafe extern "C" {
            static __guest_image_start: u8;
            static __guest_image_end: u8;
        }
        // Only the symbols' addresses are taken (guest-rt's linker script defines both); nothing is read.
        let (start, end) = (&raw const __guest_image_start, &raw const __guest_image_end);
        (start as u64, end as u64)
    }
    #[cfg(not(target_os = "none"))]
    (0, 0)
}

pub fn check(facts: &Facts, dtb: &[u8], vcpus: u32) {
    report::section("memory");
    let (base, size) = facts.ram;
    let end = base + size;
    // "kernel | RAM base + `text_offset`" (guest-rt's Image header says 0x80000). On ARMv7 the guest copies itself
    // to its link address before any Rust code runs, so where it was loaded is not visible.
    let (image_start, image_end) = image();
    if cfg!(target_arch = "aarch64") {
        report::hex(format_args!("image loaded at (RAM base + text_offset 0x80000)"), image_start, RAM_BASE + 0x8_0000);
    }
    // "device tree | last 2 MiB of RAM | at most 2 MiB".
    let (dtb_start, dtb_end) = (dtb.as_ptr() as u64, dtb.as_ptr() as u64 + dtb.len() as u64);
    report::holds(
        format_args!("device tree address"),
        dtb_start >= end - DTB_AREA && dtb_end <= end,
        format_args!("{dtb_start:#x}..{dtb_end:#x}"),
        "in the last 2 MiB of RAM",
    );
    // RAM reads back what it writes, just past the image, in the middle and just below the device tree.
    let past_image = (image_end + 0x1FFF) & !0xFFF;
    for addr in [past_image, base + size / 2, end - DTB_AREA - 0x1000] {
        if addr < past_image || addr + 8 > end - DTB_AREA {
            continue;
        }
        let pattern = 0x5A5A_0000 ^ addr as u32;
        write(addr, pattern);
        write(addr + 4, !pattern);
        let got = (read(addr), read(addr + 4));
        report::holds(
            format_args!("RAM at {addr:#x} reads back"),
            got == (pattern, !pattern),
            format_args!("{:#x}, {:#x}", got.0, got.1),
            "the two words written",
        );
    }
    devices(facts, vcpus);
    gpio(facts);
    console();
    channels(facts);
}

/// The GIC's frames answer at the memory map's addresses.
fn devices(facts: &Facts, vcpus: u32) {
    // GICD_TYPER.ITLinesNumber: the distributor answers, and serves at least the INTIDs the tree hands out.
    let typer = read(GICD + 0x4);
    let lines = ((typer & 0x1F) + 1) * 32;
    let highest = facts.channels().iter().map(|c| c.intid).max().unwrap_or(33);
    report::holds(
        format_args!("GIC distributor at {GICD:#x}: GICD_TYPER interrupt lines"),
        lines > highest,
        format_args!("{lines}"),
        "more than the highest INTID in the device tree",
    );
    if facts.gic_v3 {
        // One 128 KiB redistributor frame per vCPU: GICR_TYPER's affinity (bits 63:32) is the vCPU's, Last (bit 4)
        // marks the last frame.
        for n in 0..vcpus {
            let frame = GICR + u64::from(n) * GICR_STRIDE;
            let (low, high) = (read(frame + 0x8), read(frame + 0xC));
            let last = low & 1 << 4 != 0;
            report::holds(
                format_args!("GICv3 redistributor {n} at {frame:#x}: GICR_TYPER"),
                high == n && last == (n + 1 == vcpus),
                format_args!("affinity {high:#x}, Last {}", u8::from(last)),
                "affinity = the vCPU's Aff0, Last only on the last frame",
            );
        }
    } else {
        // The hardware's virtual CPU interface: a read of GICC_IIDR must not fault.
        let iidr = read(GICC + 0xFC);
        report::check(
            true,
            format_args!("GICv2 CPU interface at {GICC:#x}: GICC_IIDR read"),
            format_args!("{iidr:#x}"),
            format_args!("a read"),
        );
    }
}

/// 1.5: "the PrimeCell ID registers read `0x00041061` and `0xB105F00D`" (one byte per word at 0xFE0..0xFFC); with
/// every line an input after reset, `GPIODATA` through the all-lines mask (0x3FC) reads 0: a doorbell line holds no
/// level.
fn gpio(facts: &Facts) {
    if facts.channels().is_empty() {
        return;
    }
    // One plain load per register: a loop of volatile reads may become post-indexed loads, which carry no syndrome
    // (hv-static answers those with an abort, as the Memory map section says).
    let id = |base: u64| {
        (0..4).fold(0u32, |v, i| v | (guest_rt::arch::probe::load((base + 4 * i) as usize) & 0xff) << (8 * i))
    };
    report::hex(format_args!("PL061 at {GPIO:#x}: peripheral ID"), id(GPIO + 0xFE0).into(), 0x0004_1061);
    report::hex(format_args!("PL061 at {GPIO:#x}: PrimeCell ID"), id(GPIO + 0xFF0).into(), 0xB105_F00D);
    report::hex(format_args!("PL061 at {GPIO:#x}: GPIODATA, all lines"), read(GPIO + 0x3FC).into(), 0);
}

/// "`UARTFR` reports the transmitter empty and never busy, and the transmit interrupt is always raised while
/// unmasked." PL011 registers: UARTFR 0x18 (BUSY bit 3, RXFE 4, TXFF 5, TXFE 7), UARTIMSC 0x38, UARTMIS 0x40.
fn console() {
    report::section("console");
    let fr = read(UART + 0x18);
    report::holds(
        format_args!("UARTFR at {:#x}", UART + 0x18),
        fr & 1 << 7 != 0 && fr & 1 << 3 == 0 && fr & 1 << 5 == 0,
        format_args!("{fr:#x}"),
        "TXFE set, BUSY and TXFF clear",
    );
    // Nothing is typed during the test: the 256-byte receive buffer is empty.
    report::holds(format_args!("UARTFR.RXFE (nothing typed)"), fr & 1 << 4 != 0, format_args!("{fr:#x}"), "RXFE set");
    let imsc = read(UART + 0x38);
    write(UART + 0x38, imsc | 1 << 5);
    let mis = read(UART + 0x40);
    write(UART + 0x38, imsc);
    report::holds(
        format_args!("UARTMIS.TXMIS with UARTIMSC.TXIM set"),
        mis & 1 << 5 != 0,
        format_args!("{mis:#x}"),
        "bit 5 set",
    );
}

/// "The memory is zeroed once, when hv-static boots": every channel reads zero (but the first words of the first,
/// which [`crate::guest`]'s exchange uses), and a writable one keeps what is written.
fn channels(facts: &Facts) {
    report::section("channels");
    for (i, c) in facts.channels().iter().enumerate() {
        let first = if i == 0 { crate::guest::PROTOCOL_WORDS } else { 0 };
        let words = c.size / 4;
        let nonzero = (first..words).find(|&w| read(c.base + 4 * w) != 0);
        report::holds(
            format_args!("channel {i} at {:#x} zeroed at boot", c.base),
            nonzero.is_none(),
            format_args!("{}", nonzero.map_or(0, |w| c.base + 4 * w)),
            "no non-zero word (0)",
        );
        if c.writable {
            let last = c.base + c.size - 4;
            write(last, 0xC0DE_0000 | i as u32);
            let got = read(last);
            write(last, 0);
            report::hex(
                format_args!("channel {i}: its last word reads back"),
                got.into(),
                u64::from(0xC0DE_0000 | i as u32),
            );
        }
    }
}
