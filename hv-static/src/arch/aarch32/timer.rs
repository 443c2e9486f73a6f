//! The generic timer as Hyp mode uses it: the physical counter, its frequency, the Hyp timer (CNTHP) that marks a
//! cyclic pool's window boundaries, and switching off the virtual timer a descheduled vCPU leaves loaded.

use aarch32_cpu::register::{CntPct, Cntfrq, CnthpCtl, CntvCtl, SysRegRead64, SysRegWrite64};

use super::regs::CnthpCval;

/// Counter ticks per second.
pub fn frequency() -> u64 {
    Cntfrq::read().0 as u64
}

/// The physical counter (partitions' virtual counter reads the same: CNTVOFF is 0).
pub fn now() -> u64 {
    aarch32_cpu::asm::isb();
    CntPct::read().0
}

/// Raises the Hyp timer's interrupt (PPI 26) once the counter reaches `cval`.
pub fn set_hyp_deadline(cval: u64) {
    // SAFETY: the compare value only decides when the Hyp timer's own interrupt fires.
    unsafe { CnthpCval::write_raw(cval) };
    CnthpCtl::write(CnthpCtl::new_with_raw_value(0).with_enable(true));
}

/// Whether the armed window boundary is due (the Hyp timer is on and has fired), so its interrupt will be taken
/// the moment the CPU returns to a partition. A trap handler about to do long work (completing a console line)
/// asks, and leaves that work for the vCPU's next window instead of starting the next window late.
#[inline]
pub fn hyp_deadline_passed() -> bool {
    let ctl = CnthpCtl::read();
    ctl.enable() && ctl.istatus()
}

/// Whether the armed window boundary is due within `ticks` of the counter (or already): work known to take about
/// that long is better left for the partition's next window than started now.
pub fn hyp_deadline_within(ticks: u64) -> bool {
    if !CnthpCtl::read().enable() {
        return false;
    }
    CnthpCval::read_raw().saturating_sub(now()) < ticks
}

/// Disarms the Hyp timer (its interrupt is level: it stays asserted until disarmed or re-armed).
pub fn hyp_timer_off() {
    CnthpCtl::write(CnthpCtl::new_with_raw_value(0));
}

/// Silences the virtual timer a vCPU left behind, so it cannot fire for whatever runs next.
pub fn vtimer_off() {
    CntvCtl::write(CntvCtl::new_with_raw_value(0));
}
