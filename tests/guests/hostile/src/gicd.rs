//! `probe=gicd`: every offset of the partition's distributor (and, on GICv3, of its own redistributor frames) at
//! every width and alignment, read and written with hostile values (all ones, alternating bits, zero: each register
//! gets each at some width in every pass), pass after pass. The hypervisor emulates all of
//! it and must take whatever comes: undefined widths and misaligned accesses read as zero and are ignored.
//!
//! On GICv2 the probe starts with the three accesses that once panicked hv-static at EL2 (a halfword at GICD+0x91F,
//! a word at 0x91E, a doubleword at 0x91C, each running past the end of a register). ARMv7 has no 64-bit
//! single-register access: an `ldrd`/`strd` there carries no syndrome and hv-static does not emulate it (the guest
//! ABI excludes it on emulated registers), so the ARMv7 sweep uses widths 1, 2 and 4, and the doubleword at 0x91C
//! comes last, after the `done` line: the hypervisor answers it with a synchronous external abort, which the
//! partition takes itself and survives.

use guest_rt::dt::{GicInfo, GicVersion, Region};
use guest_rt::println;

use crate::{access, guarded, Args, Then};

/// Values written: all ones, the two alternating patterns, zero. Which one goes where turns with the offset, the
/// width and the pass, so that one pass writes each of them to every register (at some width).
pub const VALUES: [u64; 4] = [u64::MAX, 0xAAAA_AAAA_AAAA_AAAA, 0x5555_5555_5555_5555, 0];
const WIDTHS: &[u8] = if cfg!(target_arch = "arm") { &[1, 2, 4] } else { &[1, 2, 4, 8] };
/// GICv2: (offset, width) of the accesses that once panicked hv-static.
const OLD_PANICS: [(usize, u8); 3] = [(0x91F, 2), (0x91E, 4), (0x91C, 8)];

pub fn run(args: &Args, gic: &GicInfo, vcpus: usize, only: Option<(u64, u64)>) {
    let mut gicd = gic.distributor;
    let mut gicr = (gic.version == GicVersion::V3).then_some(gic.per_cpu);
    if let Some((from, to)) = only {
        // `range=FROM-TO`: only these distributor offsets (to reproduce what one register range does).
        gicd = Region { base: gicd.base + from, size: to.min(gicd.size).saturating_sub(from) };
        gicr = None;
    }
    match gicr {
        Some(r) => println!(
            "hostile: gicd sweeping GICD {:#x}+{:#x} and GICR {:#x}+{:#x} ({vcpus} vCPU frames), widths {WIDTHS:?}, {} pass(es)",
            gicd.base, gicd.size, r.base, r.size, args.passes
        ),
        None => println!(
            "hostile: gicd sweeping GICD {:#x}+{:#x}, widths {WIDTHS:?}, {} pass(es)",
            gicd.base, gicd.size, args.passes
        ),
    }
    let mut accesses = 0u64;
    if gic.version == GicVersion::V2 {
        for (off, width) in OLD_PANICS.iter().filter(|(_, w)| WIDTHS.contains(w)) {
            let addr = gicd.base as usize + off;
            let (value, _) = guarded::run(|| access::load(addr, *width));
            guarded::run(|| access::store(addr, *width, u64::MAX));
            accesses += 2;
            println!("hostile: gicd GICD+{off:#x} width {width}: read {value:#x}, wrote all ones");
        }
    }
    let mut pass = 0;
    loop {
        accesses += sweep(gicd, pass);
        if let Some(r) = gicr {
            accesses += sweep(r, pass);
        }
        pass += 1;
        if pass == args.passes {
            println!("hostile: gicd done ({accesses} accesses in {pass} pass(es), {} guest faults)", guarded::faults());
            if args.then != Then::Repeat {
                break;
            }
        }
    }
    if cfg!(target_arch = "arm") {
        let addr = gicd.base as usize + 0x91C;
        println!("hostile: gicd doubleword (ldrd) at {addr:#x}: the hypervisor must answer with an abort");
        let (value, fault) = guarded::run(|| access::load(addr, 8));
        println!("hostile: gicd ldrd at {addr:#x} returned {value:#x} (fault in the guest: {})", fault.is_some());
    }
}

/// Reads and writes every offset and width of `region` (pass `pass`, which picks the values); returns the number
/// of accesses.
pub fn sweep(region: Region, pass: u64) -> u64 {
    let mut n = 0;
    for off in 0..region.size as usize {
        let addr = region.base as usize + off;
        for (w, &width) in WIDTHS.iter().enumerate() {
            let value = VALUES[(pass as usize + off / 4 + w) % VALUES.len()];
            guarded::run(|| access::load(addr, width));
            guarded::run(|| access::store(addr, width, value));
            n += 2;
        }
    }
    n
}
