//! Raw SMCCC calls over both conduits the document names ("SMCCC 1.1 over `HVC #0`; `SMC #0` is trapped and
//! handled the same way"), with whole registers: the probe sets the upper halves of `x1`-`x3` itself to check that
//! SMC32 calls ignore them, which no typed wrapper would let it do.

/// The instruction that carries a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    Hvc,
    Smc,
}

/// The result registers `x0`-`x3` (`r0`-`r3` on AArch32, zero-extended).
#[derive(Clone, Copy, Debug)]
pub struct Regs(pub [u64; 4]);

impl Regs {
    /// `x0` as the signed 32-bit status SMCCC and PSCI return: only its low 32 bits are defined.
    pub fn status(&self) -> i32 {
        self.0[0] as u32 as i32
    }

    /// The low 32 bits of result register `n`: all an SMC32 call defines ("only the low 32 bits of each result
    /// register are defined").
    pub fn word(&self, n: usize) -> u32 {
        self.0.get(n).map_or(0, |&r| r as u32)
    }
}

/// Calls `fid` over `HVC #0` with `x1`-`x3` = `args`.
pub fn hvc(fid: u32, args: [u64; 3]) -> Regs {
    raw(Via::Hvc, fid, args)
}

/// [`hvc`] returning only the status.
pub fn hvc_status(fid: u32, args: [u64; 3]) -> i32 {
    hvc(fid, args).status()
}

#[cfg(all(target_arch = "aarch64", target_os = "none"))]
pub fn raw(via: Via, fid: u32, args: [u64; 3]) -> Regs {
    let mut r = [u64::from(fid), args[0], args[1], args[2]];
    // SAFETY: a hypercall: per SMCCC 1.1 the hypervisor changes x0-x3 only (declared here), never our stack. Not
    // `nomem`: CPU_ON makes another vCPU read what we wrote before the call.
    unsafe {
        match via {
            Via::Hvc => core::arch::asm!("hvc #0", inout("x0") r[0], inout("x1") r[1], inout("x2") r[2],
                inout("x3") r[3], options(nostack)),
            Via::Smc => core::arch::asm!("smc #0", inout("x0") r[0], inout("x1") r[1], inout("x2") r[2],
                inout("x3") r[3], options(nostack)),
        }
    }
    Regs(r)
}

#[cfg(all(target_arch = "arm", target_os = "none"))]
pub fn raw(via: Via, fid: u32, args: [u64; 3]) -> Regs {
    // AArch32 registers are 32 bits: the upper halves the caller gives cannot be passed.
    let mut r = [fid, args[0] as u32, args[1] as u32, args[2] as u32];
    // SAFETY: as on AArch64 (r0-r3). `.arch_extension` lets the assembler take `hvc` and `smc` on ARMv7-A.
    unsafe {
        match via {
            Via::Hvc => core::arch::asm!(".arch_extension virt", "hvc #0", inout("r0") r[0], inout("r1") r[1],
                inout("r2") r[2], inout("r3") r[3], options(nostack)),
            Via::Smc => core::arch::asm!(".arch_extension sec", "smc #0", inout("r0") r[0], inout("r1") r[1],
                inout("r2") r[2], inout("r3") r[3], options(nostack)),
        }
    }
    Regs(r.map(u64::from))
}

/// Off target there is no hypervisor: every call answers NOT_SUPPORTED (nothing runs it; the crate only builds).
#[cfg(not(target_os = "none"))]
pub fn raw(_via: Via, _fid: u32, _args: [u64; 3]) -> Regs {
    Regs([u64::MAX, 0, 0, 0])
}
