//! Single-instruction accesses of every width (1, 2, 4 and 8 bytes), so that a fault hook returning
//! `Action::SkipInstruction` resumes right after the one that faulted, and a branch to an address, which never
//! comes back when the hypervisor contains it.

#[cfg(all(target_arch = "aarch64", target_os = "none"))]
mod imp {
    /// One load of `width` bytes from `addr` (zero-extended).
    pub fn load(addr: usize, width: u8) -> u64 {
        let v: u64;
        // SAFETY: the caller probes `addr` on purpose: an emulated device register, or memory it does not own,
        // where a fault is taken by the exception handler (stopping the vCPU or stepping over this instruction).
        unsafe {
            match width {
                1 => core::arch::asm!("ldrb {v:w}, [{a}]", a = in(reg) addr, v = out(reg) v, options(nostack)),
                2 => core::arch::asm!("ldrh {v:w}, [{a}]", a = in(reg) addr, v = out(reg) v, options(nostack)),
                4 => core::arch::asm!("ldr {v:w}, [{a}]", a = in(reg) addr, v = out(reg) v, options(nostack)),
                _ => core::arch::asm!("ldr {v}, [{a}]", a = in(reg) addr, v = out(reg) v, options(nostack)),
            }
        }
        v
    }

    /// One store of the low `width` bytes of `value` to `addr`.
    pub fn store(addr: usize, width: u8, value: u64) {
        // SAFETY: as for `load`; never the guest's own stack or data.
        unsafe {
            match width {
                1 => core::arch::asm!("strb {v:w}, [{a}]", a = in(reg) addr, v = in(reg) value, options(nostack)),
                2 => core::arch::asm!("strh {v:w}, [{a}]", a = in(reg) addr, v = in(reg) value, options(nostack)),
                4 => core::arch::asm!("str {v:w}, [{a}]", a = in(reg) addr, v = in(reg) value, options(nostack)),
                _ => core::arch::asm!("str {v}, [{a}]", a = in(reg) addr, v = in(reg) value, options(nostack)),
            }
        }
    }

    /// Branches to `addr` as to a function; returns only if something there returns.
    pub fn fetch(addr: usize) {
        // SAFETY: executing memory the guest does not own on purpose; the hypervisor stops the partition.
        unsafe { core::arch::asm!("blr {a}", a = in(reg) addr, clobber_abi("C")) };
    }
}

#[cfg(all(target_arch = "arm", target_os = "none"))]
mod imp {
    /// One load of `width` bytes from `addr`; 8 bytes is an `ldrd`, which carries no syndrome.
    pub fn load(addr: usize, width: u8) -> u64 {
        let (lo, hi): (u32, u32);
        // SAFETY: as on AArch64.
        unsafe {
            match width {
                1 => core::arch::asm!("ldrb {v}, [{a}]", a = in(reg) addr, v = out(reg) lo, options(nostack)),
                2 => core::arch::asm!("ldrh {v}, [{a}]", a = in(reg) addr, v = out(reg) lo, options(nostack)),
                4 => core::arch::asm!("ldr {v}, [{a}]", a = in(reg) addr, v = out(reg) lo, options(nostack)),
                _ => {
                    core::arch::asm!("ldrd r2, r3, [{a}]", a = in(reg) addr, out("r2") lo, out("r3") hi, options(nostack));
                    return u64::from(hi) << 32 | u64::from(lo);
                }
            }
        }
        lo.into()
    }

    /// One store of the low `width` bytes of `value` to `addr`; 8 bytes is an `strd`.
    pub fn store(addr: usize, width: u8, value: u64) {
        let (lo, hi) = (value as u32, (value >> 32) as u32);
        // SAFETY: as on AArch64.
        unsafe {
            match width {
                1 => core::arch::asm!("strb {v}, [{a}]", a = in(reg) addr, v = in(reg) lo, options(nostack)),
                2 => core::arch::asm!("strh {v}, [{a}]", a = in(reg) addr, v = in(reg) lo, options(nostack)),
                4 => core::arch::asm!("str {v}, [{a}]", a = in(reg) addr, v = in(reg) lo, options(nostack)),
                _ => {
                    core::arch::asm!("strd r2, r3, [{a}]", a = in(reg) addr, in("r2") lo, in("r3") hi, options(nostack))
                }
            }
        }
    }

    /// Branches to `addr` (ARM state); returns only if something there returns.
    pub fn fetch(addr: usize) {
        // SAFETY: as on AArch64. Caller-saved registers are clobbered by hand (`clobber_abi` fails on armv7a).
        unsafe {
            core::arch::asm!(
                "blx {a}",
                a = in(reg) addr & !1,
                out("r0") _, out("r1") _, out("r2") _, out("r3") _, out("r12") _, out("lr") _,
            )
        };
    }
}

#[cfg(not(target_os = "none"))]
mod imp {
    //! Host builds only compile the guest; nothing here runs.
    pub fn load(_addr: usize, _width: u8) -> u64 {
        unimplemented!("bare metal only")
    }
    pub fn store(_addr: usize, _width: u8, _value: u64) {
        unimplemented!("bare metal only")
    }
    pub fn fetch(_addr: usize) {
        unimplemented!("bare metal only")
    }
}

pub use imp::{fetch, load, store};
