//! `probe=unsyndromed`: loads and stores to the emulated distributor that carry no syndrome, so the hypervisor
//! cannot emulate them: on AArch64 a load pair, a store pair, a post-indexed load, a pre-indexed store and a SIMD
//! load; on ARMv7 `ldrd`, `strd`, `ldm`, `stm` (which hv-static does not decode), and `ldm` again with TTBCR.EAE set
//! (the long-descriptor DFSR format). Each must come back as a synchronous external abort in this partition, at the
//! address it used, with the partition still running; none may reach the device (the priorities the stores aim at,
//! set to 0x80 each first, read the same before and after). Then the first access again `count` times, silently,
//! for the hypervisor's rate limit. Prints one line per access, then `hostile: unsyndromed done (...)`.

use guest_rt::dt::GicInfo;
use guest_rt::println;

use crate::{access, guarded, Args};

/// GICD_IPRIORITYR for INTIDs 32-47: 16 writable bytes, 16-byte aligned (a SIMD load needs that on device memory).
const PRIORITIES: usize = 0x420;
/// Priority 0x80 for each of them.
const SEED: u64 = 0x8080_8080;

pub fn run(args: &Args, gic: &GicInfo) {
    let base = gic.distributor.base as usize + PRIORITIES;
    // A pattern every implemented priority width keeps, so that a store of all ones that reached the device shows.
    for i in 0..4 {
        access::store(base + 4 * i, 4, SEED);
    }
    let before = priorities(base);
    println!("hostile: unsyndromed at GICD+{PRIORITIES:#x} ({base:#x}): {} accesses", imp::ACCESSES.len());
    let mut aborts = 0;
    for a in imp::ACCESSES {
        let kind = if a.write { "write" } else { "read" };
        let addr = base + a.offset;
        match guarded::run(|| (a.run)(base)).1 {
            Some(f) => {
                aborts += 1;
                println!(
                    "hostile: unsyndromed {} ({kind}) at {addr:#x}: abort in the guest, {} {:#x} {} {:#x} ({})",
                    a.name, f.syndrome_name, f.syndrome, f.address_name, f.address, f.class
                );
            }
            None => println!("hostile: unsyndromed {} ({kind}) at {addr:#x}: no abort in the guest", a.name),
        }
    }
    let first = &imp::ACCESSES[0];
    let mut repeated = 0;
    for _ in 0..args.count {
        if guarded::run(|| (first.run)(base)).1.is_some() {
            repeated += 1;
        }
    }
    println!("hostile: unsyndromed repeated {} {} times: {repeated} aborts", first.name, args.count);
    let after = priorities(base);
    println!(
        "hostile: unsyndromed done ({} accesses, {aborts} aborts in the guest, priorities {before:#x} -> {after:#x})",
        imp::ACCESSES.len()
    );
}

/// The 16 priority bytes, with ordinary (syndromed) word loads.
fn priorities(base: usize) -> u128 {
    (0..4).fold(0u128, |acc, i| acc | u128::from(access::load(base + 4 * i, 4) as u32) << (32 * i))
}

/// One access without a syndrome, at `offset` from the address it is given.
pub struct Unsyndromed {
    pub name: &'static str,
    pub write: bool,
    pub offset: usize,
    pub run: fn(usize),
}

#[cfg(all(target_arch = "aarch64", target_os = "none"))]
mod imp {
    use super::Unsyndromed;

    pub const ACCESSES: &[Unsyndromed] = &[
        Unsyndromed { name: "ldp", write: false, offset: 0, run: ldp },
        Unsyndromed { name: "stp", write: true, offset: 0, run: stp },
        Unsyndromed { name: "ldr-post-index", write: false, offset: 0, run: ldr_post },
        Unsyndromed { name: "str-pre-index", write: true, offset: 8, run: str_pre },
        Unsyndromed { name: "ldr-simd", write: false, offset: 0, run: ldr_q },
    ];

    // Each access below targets the emulated distributor, which the probe reaches on purpose: the abort the
    // hypervisor injects is taken by guest-rt's handler, which steps over the instruction (`guarded`). None touches
    // the guest's own memory.

    fn ldp(a: usize) {
        // SAFETY: see above.
        unsafe {
            core::arch::asm!("ldp {x}, {y}, [{a}]", a = in(reg) a, x = out(reg) _, y = out(reg) _, options(nostack))
        };
    }

    fn stp(a: usize) {
        // SAFETY: see above.
        unsafe { core::arch::asm!("stp {v}, {v}, [{a}]", a = in(reg) a, v = in(reg) u64::MAX, options(nostack)) };
    }

    fn ldr_post(a: usize) {
        // SAFETY: see above.
        unsafe { core::arch::asm!("ldr {v}, [{a}], #8", a = inout(reg) a => _, v = out(reg) _, options(nostack)) };
    }

    fn str_pre(a: usize) {
        // SAFETY: see above.
        unsafe {
            core::arch::asm!("str {v:w}, [{a}, #8]!", a = inout(reg) a => _, v = in(reg) u32::MAX, options(nostack))
        };
    }

    fn ldr_q(a: usize) {
        // SAFETY: see above.
        unsafe { core::arch::asm!("ldr q0, [{a}]", a = in(reg) a, out("v0") _, options(nostack)) };
    }
}

#[cfg(all(target_arch = "arm", target_os = "none"))]
mod imp {
    use super::Unsyndromed;

    pub const ACCESSES: &[Unsyndromed] = &[
        Unsyndromed { name: "ldrd", write: false, offset: 0, run: ldrd },
        Unsyndromed { name: "strd", write: true, offset: 0, run: strd },
        Unsyndromed { name: "ldm", write: false, offset: 0, run: ldm },
        Unsyndromed { name: "stm", write: true, offset: 0, run: stm },
        Unsyndromed { name: "ldm-lpae", write: false, offset: 0, run: ldm_lpae },
    ];

    // Each access below targets the emulated distributor on purpose, as on AArch64.
    fn ldrd(a: usize) {
        // SAFETY: see above.
        unsafe { core::arch::asm!("ldrd r2, r3, [{a}]", a = in(reg) a, out("r2") _, out("r3") _, options(nostack)) };
    }

    fn strd(a: usize) {
        // SAFETY: see above.
        unsafe {
            core::arch::asm!("strd r2, r3, [{a}]", a = in(reg) a, in("r2") u32::MAX, in("r3") u32::MAX, options(nostack))
        };
    }

    fn ldm(a: usize) {
        // SAFETY: see above.
        unsafe { core::arch::asm!("ldm {a}, {{r2, r3}}", a = in(reg) a, out("r2") _, out("r3") _, options(nostack)) };
    }

    fn stm(a: usize) {
        // SAFETY: see above.
        unsafe {
            core::arch::asm!("stm {a}, {{r2, r3}}", a = in(reg) a, in("r2") u32::MAX, in("r3") u32::MAX, options(nostack))
        };
    }

    /// TTBCR.EAE selects the long-descriptor format for the fault status registers too (the MMU stays off, so no
    /// translation changes): the injected DFSR must follow it.
    fn ldm_lpae(a: usize) {
        const EAE: u32 = 1 << 31;
        // SAFETY: TTBCR only selects the translation table format, unused while the MMU is off; restored at once.
        unsafe { core::arch::asm!("mcr p15, 0, {t}, c2, c0, 2", "isb", t = in(reg) EAE, options(nostack)) };
        ldm(a);
        // SAFETY: as above.
        unsafe { core::arch::asm!("mcr p15, 0, {t}, c2, c0, 2", "isb", t = in(reg) 0, options(nostack)) };
    }
}
