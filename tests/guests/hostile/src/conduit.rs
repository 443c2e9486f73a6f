//! Raw hypercalls: the whole of x0 (not only W0), through `HVC #0`, `SMC #0` (which hv-static traps) or an `HVC`
//! with a non-zero immediate, so that the `calls` probe controls every bit the hypervisor sees.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    Hvc,
    Smc,
    HvcImm,
}

impl Via {
    pub const ALL: [Via; 3] = [Via::Hvc, Via::Smc, Via::HvcImm];
}

#[cfg(all(target_arch = "aarch64", target_os = "none"))]
pub fn call(via: Via, x: [u64; 4]) -> [u64; 4] {
    let mut r = x;
    // SAFETY: a hypercall: per SMCCC 1.1 the hypervisor changes x0..x3 only (declared), never memory the compiler
    // tracks; hostile arguments are the point.
    unsafe {
        match via {
            Via::Hvc => core::arch::asm!("hvc #0", inout("x0") r[0], inout("x1") r[1], inout("x2") r[2],
                inout("x3") r[3], options(nostack)),
            Via::Smc => core::arch::asm!("smc #0", inout("x0") r[0], inout("x1") r[1], inout("x2") r[2],
                inout("x3") r[3], options(nostack)),
            Via::HvcImm => core::arch::asm!("hvc #0xbad", inout("x0") r[0], inout("x1") r[1], inout("x2") r[2],
                inout("x3") r[3], options(nostack)),
        }
    }
    r
}

#[cfg(all(target_arch = "arm", target_os = "none"))]
pub fn call(via: Via, x: [u64; 4]) -> [u64; 4] {
    let mut r = x.map(|v| v as u32);
    // SAFETY: as on AArch64 (r0..r3). `.arch_extension` lets the assembler take `hvc` and `smc` on ARMv7-A.
    unsafe {
        match via {
            Via::Hvc => core::arch::asm!(".arch_extension virt", "hvc #0", inout("r0") r[0], inout("r1") r[1],
                inout("r2") r[2], inout("r3") r[3], options(nostack)),
            Via::Smc => core::arch::asm!(".arch_extension sec", "smc #0", inout("r0") r[0], inout("r1") r[1],
                inout("r2") r[2], inout("r3") r[3], options(nostack)),
            Via::HvcImm => core::arch::asm!(".arch_extension virt", "hvc #0xbad", inout("r0") r[0],
                inout("r1") r[1], inout("r2") r[2], inout("r3") r[3], options(nostack)),
        }
    }
    r.map(u64::from)
}

#[cfg(not(target_os = "none"))]
pub fn call(_via: Via, _x: [u64; 4]) -> [u64; 4] {
    unimplemented!("bare metal only")
}
