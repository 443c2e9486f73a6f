//! The generic timer as Hyp mode uses it: the physical counter, its frequency, the Hyp timer (CNTHP) that marks a
//! cyclic pool's window boundaries, and switching off the virtual timer a descheduled vCPU leaves loaded.

use super::regs::{cp15_32, cp15_64};

cp15_32!(cntfrq, _set_cntfrq, 0, c14, c0, 0);
cp15_64!(cntpct, _set_cntpct, 0, c14);
cp15_32!(_cnthp_ctl, set_cnthp_ctl, 4, c14, c2, 1);
cp15_64!(_cnthp_cval, set_cnthp_cval, 6, c14);
cp15_32!(_cntv_ctl, set_cntv_ctl, 0, c14, c3, 1);

const CTL_ENABLE: u32 = 1;

/// Counter ticks per second.
pub fn frequency() -> u64 {
    cntfrq() as u64
}

/// The physical counter (partitions' virtual counter reads the same: CNTVOFF is 0).
pub fn now() -> u64 {
    // SAFETY: an ISB only orders the read after earlier instructions.
    unsafe { core::arch::asm!("isb", options(nomem, nostack)) };
    cntpct()
}

/// Raises the Hyp timer's interrupt (PPI 26) once the counter reaches `cval`.
pub fn set_hyp_deadline(cval: u64) {
    set_cnthp_cval(cval);
    set_cnthp_ctl(CTL_ENABLE);
}

/// Disarms the Hyp timer (its interrupt is level: it stays asserted until disarmed or re-armed).
pub fn hyp_timer_off() {
    set_cnthp_ctl(0);
}

/// Silences the virtual timer a vCPU left behind, so it cannot fire for whatever runs next.
pub fn vtimer_off() {
    set_cntv_ctl(0);
}
