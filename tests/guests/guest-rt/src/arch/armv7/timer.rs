//! The PL1 virtual timer (CNTV_*) through CP15, the guest's timer per docs/guest-abi.md (Arm ARM B8.2; the 64-bit
//! registers are accessed with MRRC/MCRR, low word first).

/// CNTV_CTL.ENABLE; IMASK (bit 1) stays clear so the timer's condition raises its interrupt.
const CTL_ENABLE: u32 = 1;

/// Counter ticks per second (CNTFRQ).
pub fn frequency() -> u64 {
    let frequency: u32;
    // SAFETY: reads a register; no side effects.
    unsafe { core::arch::asm!("mrc p15, 0, {}, c14, c0, 0", out(reg) frequency, options(nomem, nostack)) };
    frequency.into()
}

/// The virtual count now (CNTVCT). The ISB keeps the read from being taken early, before instructions that precede
/// it.
pub fn now() -> u64 {
    let (lo, hi): (u32, u32);
    // SAFETY: reads the counter; no side effects.
    unsafe {
        core::arch::asm!("isb", "mrrc p15, 1, {}, {}, c14", out(reg) lo, out(reg) hi, options(nomem, nostack));
    }
    u64::from(hi) << 32 | u64::from(lo)
}

/// Fires the timer interrupt once the virtual count reaches `deadline` (CNTV_CVAL), and keeps it asserted until the
/// deadline moves or the timer stops.
pub fn set_deadline(deadline: u64) {
    // SAFETY: programs this vCPU's own timer; touches no memory.
    unsafe {
        core::arch::asm!(
            "mcrr p15, 3, {lo}, {hi}, c14",
            "mcr p15, 0, {ctl}, c14, c3, 1",
            lo = in(reg) deadline as u32,
            hi = in(reg) (deadline >> 32) as u32,
            ctl = in(reg) CTL_ENABLE,
            options(nomem, nostack),
        );
    }
}

pub fn stop() {
    // SAFETY: as for set_deadline().
    unsafe { core::arch::asm!("mcr p15, 0, {}, c14, c3, 1", in(reg) 0_u32, options(nomem, nostack)) };
}
