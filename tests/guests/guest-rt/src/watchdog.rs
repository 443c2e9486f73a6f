//! An Arm SP805 watchdog (the one hv-static gives a partition with `watchdog = true`, at the address its device
//! tree's `arm,sp805` node says), driven the way Linux's `sp805_wdt` does: unlock, load, clear, enable, lock. A
//! guest that stops feeding it gets its interrupt after `timeout / 2`, and after `timeout` the watchdog's reset,
//! which hv-static answers with the partition's `on_fault` policy.

use tock_registers::interfaces::{Readable, Writeable};
use tock_registers::register_structs;
use tock_registers::registers::{ReadOnly, ReadWrite, WriteOnly};

register_structs! {
    Regs {
        (0x000 => load: ReadWrite<u32>),
        (0x004 => value: ReadOnly<u32>),
        (0x008 => control: ReadWrite<u32>),
        (0x00c => intclr: WriteOnly<u32>),
        (0x010 => _reserved0),
        (0xc00 => lock: ReadWrite<u32>),
        (0xc04 => @END),
    }
}

/// `WdogControl`: count and interrupt, reset output.
const INTEN: u32 = 1 << 0;
const RESEN: u32 = 1 << 1;
/// The `WdogLock` value that opens the other registers.
const UNLOCK: u32 = 0x1acc_e551;

pub struct Sp805 {
    base: usize,
    /// The counter reload value for the timeout asked for.
    load: u32,
}

impl Sp805 {
    /// The watchdog at `base` (its `reg`), counting at `clock_hz` (its `wdog_clk`), set for a reset `timeout_ms`
    /// after the last feed: the interrupt comes at half of it, the reset at the end, as Linux computes it. Does
    /// not start it.
    ///
    /// # Safety
    /// `base` must be an SP805's register page, mapped as device memory, that nothing else drives.
    pub unsafe fn new(base: usize, clock_hz: u32, timeout_ms: u32) -> Sp805 {
        let ticks = u64::from(clock_hz) / 2 * u64::from(timeout_ms) / 1000;
        let load = u32::try_from(ticks.saturating_sub(1)).unwrap_or(u32::MAX).max(1);
        Sp805 { base, load }
    }

    fn regs(&self) -> &Regs {
        // SAFETY: `new`'s contract: an SP805's register page, mapped, ours alone.
        unsafe { &*(self.base as *const Regs) }
    }

    fn unlocked(&self, f: impl FnOnce(&Regs)) {
        let r = self.regs();
        r.lock.set(UNLOCK);
        f(r);
        r.lock.set(1);
    }

    /// Starts counting, with the reset output enabled.
    pub fn start(&self) {
        self.unlocked(|r| {
            r.load.set(self.load);
            r.intclr.set(1);
            r.control.set(INTEN | RESEN);
        });
    }

    /// Feeds it: the count starts again from the full timeout.
    pub fn feed(&self) {
        self.unlocked(|r| {
            r.load.set(self.load);
            r.intclr.set(1);
        });
    }

    /// Stops counting.
    pub fn stop(&self) {
        self.unlocked(|r| r.control.set(0));
    }

    /// The counter's current value (ticks of its clock to the next zero).
    pub fn value(&self) -> u32 {
        self.regs().value.get()
    }
}
