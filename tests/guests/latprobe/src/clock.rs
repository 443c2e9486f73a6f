//! Timestamps finer than the counter's tick, for QEMU's `-icount shift=0` (one instruction = one nanosecond).
//!
//! QEMU `virt`'s counter ticks at 62.5 MHz, every 16 ns, too coarse for paths of a few dozen instructions. A
//! [`stamp`] reads the virtual counter, then spins in a loop of exactly [`LOOP`] instructions until the counter
//! changes. Two estimates come out of it:
//!
//! - [`Stamp::start_ns`]: the time the stamp returned, just after a tick edge (within one loop iteration of
//!   `16 × tick`): what to take before an operation, so that it starts at a known instant;
//! - [`Stamp::first_read_ns`]: the time of the stamp's first counter read, i.e. the edge it found minus the loop
//!   iterations it spun: what to take when something has just happened (an operation returned, a handler was
//!   entered), so that the spin itself is not counted.
//!
//! Both are exact to within one loop iteration ([`LOOP`] ns); the constant offset between them, what a stamp
//! followed at once by another measures, is calibrated away by the caller ([`crate::events`]). The arithmetic is
//! pure and unit-tested; only [`stamp`] itself is assembly.

use core::sync::atomic::{AtomicU64, Ordering};

/// Instructions per iteration of the stamp's loop (add, isb, counter read, compare, branch), hence its resolution
/// in nanoseconds under `-icount shift=0`.
pub const LOOP: u64 = 5;

/// Nanoseconds per counter tick, set once from CNTFRQ by [`init`] (16 on QEMU `virt`).
static NS_PER_TICK: AtomicU64 = AtomicU64::new(16);

/// Derives the tick length from the counter frequency; returns it. A frequency that does not divide a second into
/// whole nanoseconds is rounded (the figures are then off by that much, which the header line shows).
pub fn init(frequency: u64) -> u64 {
    let ns = (1_000_000_000 + frequency / 2).checked_div(frequency).unwrap_or(16);
    NS_PER_TICK.store(ns.max(1), Ordering::Relaxed);
    ns.max(1)
}

pub fn ns_per_tick() -> u64 {
    NS_PER_TICK.load(Ordering::Relaxed)
}

/// Counter ticks to nanoseconds.
pub fn ticks_to_ns(ticks: u64) -> u64 {
    ticks.saturating_mul(ns_per_tick())
}

/// Nanoseconds to whole counter ticks (rounded down).
pub fn ns_to_ticks(ns: u64) -> u64 {
    ns / ns_per_tick()
}

/// One stamp: the counter at the first read, the counter that ended the loop and the loop's iterations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stamp {
    pub first: u64,
    pub last: u64,
    pub spins: u64,
}

impl Stamp {
    /// When the stamp returned: at the tick edge that ended its loop (plus less than one iteration).
    pub fn start_ns(&self) -> u64 {
        ticks_to_ns(self.last)
    }

    /// When the stamp's first counter read ran: the next edge after it minus the iterations spun to find it.
    pub fn first_read_ns(&self) -> u64 {
        ticks_to_ns(self.first.wrapping_add(1)).saturating_sub(self.spins.saturating_mul(LOOP))
    }
}

/// Reads the virtual counter and spins until it changes; see the module docs.
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
#[inline(always)]
pub fn stamp() -> Stamp {
    let (first, last, spins): (u64, u64, u64);
    // SAFETY: reads the virtual counter (never trapped: CNTVCT_EL0 is readable at EL1 and hv-static leaves
    // CNTHCTL_EL2's virtual-counter trap off) into registers; writes no memory.
    unsafe {
        core::arch::asm!(
            "isb",
            "mrs {first}, cntvct_el0",
            "mov {spins}, #0",
            "2:",
            "add {spins}, {spins}, #1",
            "isb",
            "mrs {last}, cntvct_el0",
            "cmp {last}, {first}",
            "b.eq 2b",
            first = out(reg) first,
            last = out(reg) last,
            spins = out(reg) spins,
            // Not `nomem`: the stamp is a compiler barrier, so the accesses it brackets stay between two stamps.
            options(nostack),
        );
    }
    Stamp { first, last, spins }
}

/// Reads the virtual counter and spins until it changes; see the module docs. The loop compares the low words only
/// (a carry into the high word ends it as well, since the low word then changes too).
#[cfg(all(target_arch = "arm", target_os = "none"))]
#[inline(always)]
pub fn stamp() -> Stamp {
    let (first_lo, first_hi, last_lo, last_hi, spins): (u32, u32, u32, u32, u32);
    // SAFETY: reads CNTVCT (not trappable on ARMv7) into registers; writes no memory.
    unsafe {
        core::arch::asm!(
            "isb",
            "mrrc p15, 1, {flo}, {fhi}, c14",
            "mov {spins}, #0",
            "2:",
            "add {spins}, {spins}, #1",
            "isb",
            "mrrc p15, 1, {llo}, {lhi}, c14",
            "cmp {llo}, {flo}",
            "beq 2b",
            flo = out(reg) first_lo,
            fhi = out(reg) first_hi,
            llo = out(reg) last_lo,
            lhi = out(reg) last_hi,
            spins = out(reg) spins,
            // Not `nomem`: the stamp is a compiler barrier, as on AArch64.
            options(nostack),
        );
    }
    Stamp {
        first: u64::from(first_hi) << 32 | u64::from(first_lo),
        last: u64::from(last_hi) << 32 | u64::from(last_lo),
        spins: spins.into(),
    }
}

/// Host stand-in: the guest never runs on the host.
#[cfg(not(target_os = "none"))]
pub fn stamp() -> Stamp {
    panic!("latprobe: stamp() exists only on bare metal")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_convert_to_nanoseconds() {
        init(62_500_000);
        assert_eq!(ns_per_tick(), 16);
        let s = Stamp { first: 100, last: 101, spins: 2 };
        assert_eq!(s.start_ns(), 1616);
        assert_eq!(s.first_read_ns(), 1616 - 10, "two iterations of 5 instructions before the edge");
        assert_eq!(ns_to_ticks(1616 + 15), 101);
        assert_eq!(init(24_000_000), 42, "Allwinner's 24 MHz counter: 41.7 ns rounded");
        init(62_500_000);
    }
}
