//! Accesses that are exactly one instruction, so that a fault hook returning `Action::SkipInstruction` resumes
//! right after them. Isolation probes use these to touch memory they do not own.

/// One 32-bit load from `addr`.
pub fn load(addr: usize) -> u32 {
    let value: u32;
    // SAFETY: the caller is probing `addr` on purpose; a fault is taken by the exception handler, which either
    // stops the vCPU or steps over this instruction (then `value` is meaningless and the caller knows it).
    unsafe { core::arch::asm!("ldr {v}, [{a}]", a = in(reg) addr, v = out(reg) value, options(nostack)) };
    value
}

/// One 32-bit store of `value` to `addr`.
pub fn store(addr: usize, value: u32) {
    // SAFETY: as for `load`; the target is memory the guest does not own, never its own stack or data.
    unsafe { core::arch::asm!("str {v}, [{a}]", a = in(reg) addr, v = in(reg) value, options(nostack)) };
}
