//! The GICv3 CPU interface through its system registers (GICv3 spec §12.2). aarch64-cpu does not define the
//! ICC_*_EL1 registers a guest needs, so they are accessed by name here.

/// Turns on the system-register interface and Group 1 interrupts at every priority.
pub fn init_cpu_interface() {
    // SAFETY: ICC_SRE_EL1.SRE = 1 selects the system-register interface (the only one GICv3 guests of hv-static
    // get); PMR 0xff lets every priority through, BPR1 0 disables preemption grouping and IGRPEN1 enables Group 1.
    // None of this touches memory.
    unsafe {
        core::arch::asm!(
            "msr icc_sre_el1, {one}",
            "isb",
            "msr icc_pmr_el1, {pmr}",
            "msr icc_bpr1_el1, xzr",
            "msr icc_igrpen1_el1, {one}",
            "isb",
            one = in(reg) 1_u64,
            pmr = in(reg) 0xff_u64,
            options(nomem, nostack),
        );
    }
}

/// Reads ICC_IAR1_EL1: the highest-priority pending Group 1 INTID, now active (1023 when none).
pub fn acknowledge() -> u32 {
    let iar: u64;
    // SAFETY: acknowledging changes only GIC state, which the caller then owns until end_of_interrupt.
    unsafe { core::arch::asm!("mrs {}, icc_iar1_el1", out(reg) iar, options(nomem, nostack)) };
    iar as u32
}

/// Writes ICC_EOIR1_EL1 with the value acknowledge() returned.
pub fn end_of_interrupt(iar: u32) {
    // SAFETY: ends the interrupt acknowledged earlier on this vCPU; touches no memory.
    unsafe { core::arch::asm!("msr icc_eoir1_el1, {}", in(reg) u64::from(iar), options(nomem, nostack)) };
}

/// Writes ICC_SGI1R_EL1 (value built by `gic::v3::sgi1r`). The DSB makes earlier stores visible to the target
/// before the SGI can reach it; the ISB issues the write now.
pub fn send_sgi(sgi1r: u64) {
    // SAFETY: raising an SGI has no effect on this vCPU's memory; the barriers only order.
    unsafe { core::arch::asm!("dsb ishst", "msr icc_sgi1r_el1, {}", "isb", in(reg) sgi1r, options(nostack)) };
}
