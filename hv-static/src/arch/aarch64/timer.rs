//! The generic timer as EL2 uses it: the physical counter, its frequency, the EL2 physical timer (CNTHP) that
//! marks a cyclic pool's window boundaries, and switching off the virtual timer a descheduled vCPU leaves loaded.

use aarch64_cpu::registers::{Readable, Writeable, CNTFRQ_EL0, CNTHP_CTL_EL2, CNTPCT_EL0, CNTV_CTL_EL0};
use core::arch::asm;

/// Counter ticks per second.
pub fn frequency() -> u64 {
    CNTFRQ_EL0.get()
}

/// The physical counter (partitions' virtual counter reads the same: CNTVOFF_EL2 is 0).
pub fn now() -> u64 {
    // SAFETY: an ISB only orders the read after earlier instructions.
    unsafe { asm!("isb", options(nomem, nostack)) };
    CNTPCT_EL0.get()
}

/// Raises the EL2 physical timer's interrupt (PPI 26) once the counter reaches `cval`.
pub fn set_hyp_deadline(cval: u64) {
    // SAFETY: CNTHP_CVAL_EL2 only sets when the hypervisor's own timer fires.
    unsafe { asm!("msr cnthp_cval_el2, {}", in(reg) cval, options(nomem, nostack)) };
    CNTHP_CTL_EL2.write(CNTHP_CTL_EL2::ENABLE::SET + CNTHP_CTL_EL2::IMASK::CLEAR);
}

/// Whether the armed window boundary is due (the EL2 physical timer is on and has fired), so its interrupt will be
/// taken the moment the CPU returns to a partition. A trap handler about to do long work (completing a console
/// line) asks, and leaves that work for the vCPU's next window instead of starting the next window late.
#[inline]
pub fn hyp_deadline_passed() -> bool {
    CNTHP_CTL_EL2.matches_all(CNTHP_CTL_EL2::ENABLE::SET + CNTHP_CTL_EL2::ISTATUS::SET)
}

/// Whether the armed window boundary is due within `ticks` of the counter (or already): work known to take about
/// that long is better left for the partition's next window than started now.
pub fn hyp_deadline_within(ticks: u64) -> bool {
    if !CNTHP_CTL_EL2.matches_all(CNTHP_CTL_EL2::ENABLE::SET) {
        return false;
    }
    let cval: u64;
    // SAFETY: reads the EL2 timer's compare value; no side effects.
    unsafe { asm!("mrs {}, cnthp_cval_el2", out(reg) cval, options(nomem, nostack)) };
    cval.saturating_sub(now()) < ticks
}

/// Disarms the EL2 physical timer (its interrupt is level: it stays asserted until disarmed or re-armed).
pub fn hyp_timer_off() {
    CNTHP_CTL_EL2.set(0);
}

/// Silences the virtual timer a vCPU left behind, so it cannot fire for whatever runs next.
pub fn vtimer_off() {
    CNTV_CTL_EL0.set(0);
}
