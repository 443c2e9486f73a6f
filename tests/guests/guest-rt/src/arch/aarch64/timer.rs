//! The EL1 virtual timer (CNTV_*), the guest's timer per docs/guest-abi.md.

use aarch64_cpu::asm::barrier;
use aarch64_cpu::registers::{Readable, Writeable, CNTFRQ_EL0, CNTVCT_EL0, CNTV_CTL_EL0, CNTV_CVAL_EL0};

/// Counter ticks per second.
pub fn frequency() -> u64 {
    CNTFRQ_EL0.get()
}

/// The virtual count now. The ISB keeps the read from being taken early, before instructions that precede it.
pub fn now() -> u64 {
    barrier::isb(barrier::SY);
    CNTVCT_EL0.get()
}

/// Fires the timer interrupt once the virtual count reaches `deadline` (and keeps it asserted until the deadline
/// moves or the timer stops).
pub fn set_deadline(deadline: u64) {
    CNTV_CVAL_EL0.set(deadline);
    CNTV_CTL_EL0.write(CNTV_CTL_EL0::ENABLE::SET + CNTV_CTL_EL0::IMASK::CLEAR);
}

pub fn stop() {
    CNTV_CTL_EL0.write(CNTV_CTL_EL0::ENABLE::CLEAR);
}
