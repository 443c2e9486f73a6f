//! The register file of each partition's emulated watchdog, an Arm PrimeCell SP805 (Arm DDI 0270), as pure logic:
//! what a guest's access at any offset, width and value does, when the counter next reaches zero, and what that
//! means. No hypervisor state and no clock here: time comes in as an argument, in ticks of the system counter
//! (CNTPCT), so every sequence of accesses and expiries a guest could cause is tried on the host (tests below).
//!
//! Why an SP805: it is the one watchdog that Debian's stock bookworm kernels drive on both architectures
//! (`CONFIG_ARM_SP805_WATCHDOG=m` in the arm64, armmp and armmp-lpae flavours; the SBSA generic watchdog is built
//! for arm64 only). Linux's `sp805_wdt` binds through the AMBA bus, which reads the PrimeCell ID registers below.
//!
//! How it counts. A 32-bit counter runs down at the watchdog clock (`clock_hz`, what the device tree's `wdog_clk`
//! says) while `INTEN` is set. Reaching zero the first time raises the interrupt (stage one, [`Event::Interrupt`])
//! and reloads the counter; reaching zero again with the interrupt still raised asserts the reset output if
//! `RESEN` allows it (stage two, [`Event::Reset`]): the partition's fault policy decides what that does. A guest
//! keeps it quiet by clearing the interrupt or rewriting `WdogLoad`, both of which reload the counter. Counting
//! from `LOAD`, zero is reached `LOAD` clock ticks later and the reload comes one tick after that, so the reset
//! follows `2 * LOAD + 1` ticks after the last reload: what Linux assumes when it reports the time left.
//!
//! The model keeps only the instant the count last restarted ([`Sp805::deadline`] follows from it); nothing
//! advances between calls, so the caller arms a timer at the deadline and calls [`Sp805::expire`] when it fires.

pub const SIZE: u64 = 0x1000;

const LOAD: u64 = 0x000;
const VALUE: u64 = 0x004;
const CONTROL: u64 = 0x008;
const INTCLR: u64 = 0x00c;
const RIS: u64 = 0x010;
const MIS: u64 = 0x014;
const LOCK: u64 = 0xc00;
const ID_BASE: u64 = 0xfe0;

/// `WdogControl`: counting and the interrupt output.
const INTEN: u32 = 1 << 0;
/// `WdogControl`: the reset output (a mask on it: the count goes on without it).
const RESEN: u32 = 1 << 1;
/// The value written to `WdogLock` that opens the other registers to writes; any other value closes them.
const UNLOCK_KEY: u32 = 0x1acc_e551;
/// Peripheral ID bytes (part 0x805, designer 0x41 'A', revision 1: the AMBA id 0x00141805 `sp805_wdt` matches)
/// and the PrimeCell component ID bytes (0xB105F00D), at 0xFE0..0xFFC.
const IDS: [u32; 8] = [0x05, 0x18, 0x14, 0x00, 0x0d, 0xf0, 0x05, 0xb1];

/// What reaching zero did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// Nothing is due yet (or nothing can happen: the count is stopped, or only reloads).
    None,
    /// Stage one: the interrupt was raised; the watchdog's interrupt line rises (see [`Sp805::irq_high`]).
    Interrupt,
    /// Stage two: the guest left the interrupt raised for a whole further period with `RESEN` set. The device
    /// asserts its reset output and its counter stops; the partition's fault policy applies.
    Reset,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sp805 {
    /// System-counter ticks per second (CNTFRQ) and watchdog-clock ticks per second: the ratio converts between
    /// the caller's time and the counter's. Never zero (the constructor makes sure).
    counter_hz: u64,
    clock_hz: u64,
    load: u32,
    control: u32,
    /// The raw interrupt: set at stage one, cleared only by a write to `WdogIntClr`.
    ris: bool,
    /// Writes to every register but `WdogLock` are ignored: Linux locks the device after each change.
    locked: bool,
    /// While counting: the system-counter time at which the count last restarted from `load`.
    epoch: u64,
    /// While stopped: the counter value `WdogValue` reads.
    held: u32,
    /// The reset output is asserted: the count stopped and nothing fires until the partition restarts.
    fired: bool,
}

impl Sp805 {
    /// The device out of reset, for a system counter of `counter_hz` and a watchdog clock of `clock_hz` (the
    /// frequency the device tree gives `wdog_clk`; a zero for either is taken as 1 so the model stays defined).
    /// Out of reset it does not count: a partition gets a watchdog only when its guest starts it.
    pub const fn new(counter_hz: u32, clock_hz: u32) -> Sp805 {
        Sp805 {
            counter_hz: if counter_hz == 0 { 1 } else { counter_hz as u64 },
            clock_hz: if clock_hz == 0 { 1 } else { clock_hz as u64 },
            load: u32::MAX,
            control: 0,
            ris: false,
            locked: false,
            epoch: 0,
            held: u32::MAX,
            fired: false,
        }
    }

    fn counting(&self) -> bool {
        self.control & INTEN != 0 && !self.fired
    }

    /// System-counter ticks that `n` watchdog-clock ticks take, rounded up (the counter has then surely moved
    /// that far); saturates, a deadline past the end of time being as good as none.
    fn counter_ticks(&self, n: u64) -> u64 {
        let t = (u128::from(n) * u128::from(self.counter_hz)).div_ceil(u128::from(self.clock_hz));
        u64::try_from(t).unwrap_or(u64::MAX)
    }

    /// Whole watchdog-clock ticks in `dt` system-counter ticks.
    fn clock_ticks(&self, dt: u64) -> u64 {
        let n = u128::from(dt) * u128::from(self.clock_hz) / u128::from(self.counter_hz);
        u64::try_from(n).unwrap_or(u64::MAX)
    }

    /// Watchdog-clock ticks since the count last restarted (0 if `now` is before that: time given out of order
    /// rewinds nothing).
    fn elapsed(&self, now: u64) -> u64 {
        self.clock_ticks(now.saturating_sub(self.epoch))
    }

    /// `WdogValue` at `now`.
    fn value(&self, now: u64) -> u32 {
        if !self.counting() {
            return self.held;
        }
        let load = u64::from(self.load);
        let elapsed = self.elapsed(now);
        let v = if elapsed <= load {
            load - elapsed
        } else if self.ris && self.control & RESEN == 0 {
            // Reaching zero again changes nothing visible: the count just goes round, LOAD + 1 ticks a turn.
            load - elapsed % (load + 1)
        } else {
            // Zero reached and its event not taken yet (the caller's timer is late): the counter sits at zero.
            0
        };
        // v <= load, a u32.
        u32::try_from(v).unwrap_or(0)
    }

    /// Restarts the count from `load` at `now`.
    fn reload(&mut self, now: u64) {
        self.epoch = now;
    }

    /// When the count goes round without effect (interrupt raised, reset masked), moves `epoch` to the start of
    /// the current turn, so that [`Self::deadline`] is right again the moment a write unmasks the reset.
    fn settle(&mut self, now: u64) {
        if !self.counting() || !self.ris || self.control & RESEN != 0 {
            return;
        }
        let turn = u64::from(self.load) + 1;
        let turns = self.elapsed(now) / turn;
        if turns > 0 {
            self.epoch = self.epoch.saturating_add(self.counter_ticks(turns.saturating_mul(turn)));
        }
    }

    /// The system-counter time at which the counter next reaches zero with an effect ([`Self::expire`] then
    /// answers [`Event::Interrupt`] or [`Event::Reset`]), if it can: `None` while stopped, after the reset, and
    /// while the interrupt is raised with the reset masked (zero only reloads then).
    pub fn deadline(&self) -> Option<u64> {
        if !self.counting() || (self.ris && self.control & RESEN == 0) {
            return None;
        }
        Some(self.epoch.saturating_add(self.counter_ticks(u64::from(self.load))))
    }

    /// Takes the stage due at `now`, if any. One stage per call: a caller that was late calls again until it gets
    /// [`Event::None`] (at most two events are ever due at once: the interrupt, then the reset).
    pub fn expire(&mut self, now: u64) -> Event {
        let due = match self.deadline() {
            Some(d) if d <= now => d,
            _ => return Event::None,
        };
        if !self.ris {
            self.ris = true;
            // The reload comes one clock tick after zero, counted from when zero was reached, not from `now`:
            // a late caller does not stretch the guest's second period.
            self.epoch = due.saturating_add(self.counter_ticks(1));
            Event::Interrupt
        } else {
            self.fired = true;
            self.held = 0;
            Event::Reset
        }
    }

    /// The interrupt output (`WdogMIS`): raised and enabled. Level-sensitive: high until the guest clears it.
    pub fn irq_high(&self) -> bool {
        self.ris && self.control & INTEN != 0
    }

    /// A guest access at `offset` of `size` bytes at system-counter time `now`; returns the value read (0 for
    /// writes). The registers are 32 bits wide on a 32-bit bus and Linux uses only aligned word accesses, so any
    /// other width or alignment reads as zero and writes nothing: a guest cannot stop or feed the watchdog with a
    /// half-word that a real bus might have widened differently. Unknown registers, the write-only `WdogIntClr`
    /// and the integration-test registers (which could fake the outputs) read as zero and ignore writes.
    pub fn access(&mut self, offset: u64, size: u8, write: Option<u64>, now: u64) -> u64 {
        if size != 4 || !offset.is_multiple_of(4) {
            return 0;
        }
        self.settle(now);
        match write {
            None => u64::from(self.read(offset, now)),
            Some(v) => {
                self.write(offset, v as u32, now);
                0
            }
        }
    }

    fn read(&self, offset: u64, now: u64) -> u32 {
        match offset {
            LOAD => self.load,
            VALUE => self.value(now),
            CONTROL => self.control,
            RIS => u32::from(self.ris),
            MIS => u32::from(self.irq_high()),
            LOCK => u32::from(self.locked),
            o if (ID_BASE..ID_BASE + 0x20).contains(&o) => IDS.get(((o - ID_BASE) / 4) as usize).copied().unwrap_or(0),
            _ => 0,
        }
    }

    fn write(&mut self, offset: u64, v: u32, now: u64) {
        if offset == LOCK {
            self.locked = v != UNLOCK_KEY;
            return;
        }
        // Once the reset is asserted the device is past listening: only a partition restart brings it back.
        if self.locked || self.fired {
            return;
        }
        match offset {
            LOAD => {
                self.load = v;
                self.reload(now);
                if !self.counting() {
                    self.held = v;
                }
            }
            CONTROL => {
                let was = self.control & INTEN != 0;
                if was && v & INTEN == 0 {
                    // Stopping keeps the count where it was, for `WdogValue`.
                    self.held = self.value(now);
                }
                self.control = v & (INTEN | RESEN);
                if !was && v & INTEN != 0 {
                    self.reload(now);
                }
            }
            INTCLR => {
                self.ris = false;
                self.reload(now);
                if !self.counting() {
                    self.held = self.load;
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// QEMU virt's counter (62.5 MHz) and a 100 kHz watchdog clock: 625 counter ticks a clock tick.
    const CNT: u32 = 62_500_000;
    const CLK: u32 = 100_000;
    const TICK: u64 = 625;

    fn rd(w: &mut Sp805, off: u64, now: u64) -> u32 {
        w.access(off, 4, None, now) as u32
    }

    fn wr(w: &mut Sp805, off: u64, v: u32, now: u64) {
        w.access(off, 4, Some(u64::from(v)), now);
    }

    /// What `sp805_wdt` does to start the watchdog and to feed it: unlock, load, clear, (enable), lock.
    fn linux_config(w: &mut Sp805, load: u32, start: bool, now: u64) {
        wr(w, LOCK, UNLOCK_KEY, now);
        wr(w, LOAD, load, now);
        wr(w, INTCLR, 1, now);
        if start {
            wr(w, CONTROL, INTEN | RESEN, now);
        }
        wr(w, LOCK, 1, now);
        rd(w, LOCK, now);
    }

    /// Linux's `sp805_wdt` timeout arithmetic: half the timeout per stage, minus one for the reload tick.
    fn linux_load(timeout_s: u64) -> u32 {
        (u64::from(CLK) / 2 * timeout_s - 1) as u32
    }

    #[test]
    fn the_amba_bus_reads_an_sp805() {
        let mut w = Sp805::new(CNT, CLK);
        let byte = |w: &mut Sp805, i: u64| rd(w, ID_BASE + 4 * i, 0) & 0xff;
        let pid = (0..4).fold(0, |acc, i| acc | byte(&mut w, i) << (8 * i));
        let cid = (0..4).fold(0, |acc, i| acc | byte(&mut w, 4 + i) << (8 * i));
        assert_eq!(pid & 0x00ff_ffff, 0x0014_1805);
        assert_eq!(cid, 0xb105_f00d);
        assert_eq!(rd(&mut w, LOAD, 0), u32::MAX, "out of reset");
        assert_eq!(rd(&mut w, CONTROL, 0), 0, "stopped: Linux sees no running watchdog");
    }

    #[test]
    fn two_stages_interrupt_then_reset() {
        let mut w = Sp805::new(CNT, CLK);
        let load = linux_load(10);
        linux_config(&mut w, load, true, 1000);
        let first = 1000 + u64::from(load) * TICK;
        assert_eq!(w.deadline(), Some(first));
        assert_eq!(w.expire(first - 1), Event::None);
        assert_eq!(w.expire(first), Event::Interrupt);
        assert!(w.irq_high());
        assert_eq!(rd(&mut w, RIS, first), 1);
        let second = first + (u64::from(load) + 1) * TICK;
        assert_eq!(w.deadline(), Some(second));
        // The timeout Linux asked for, 10 s from the start to the reset, less the one clock tick its `- 1` takes.
        assert_eq!(second - 1000, 10 * u64::from(CNT) - TICK);
        assert_eq!(w.expire(second), Event::Reset);
        assert_eq!(w.deadline(), None);
        assert_eq!(w.expire(u64::MAX), Event::None);
        wr(&mut w, LOCK, UNLOCK_KEY, second);
        wr(&mut w, INTCLR, 1, second);
        assert_eq!(w.deadline(), None, "after the reset nothing revives it but a restart");
    }

    #[test]
    fn time_left_is_what_linux_computes() {
        let mut w = Sp805::new(CNT, CLK);
        let load = linux_load(4);
        linux_config(&mut w, load, true, 0);
        let now = 12_345 * TICK;
        let left = u64::from(rd(&mut w, VALUE, now)) + u64::from(load) + 1;
        w.expire(w.deadline().unwrap());
        let reset = w.deadline().unwrap();
        assert_eq!(left, (reset - now) / TICK);
    }

    #[test]
    fn a_late_caller_gets_both_stages_at_once() {
        let mut w = Sp805::new(CNT, CLK);
        linux_config(&mut w, 100, true, 0);
        let late = 10_000 * TICK;
        assert_eq!(w.expire(late), Event::Interrupt);
        assert_eq!(w.expire(late), Event::Reset);
        assert_eq!(w.expire(late), Event::None);
    }

    #[test]
    fn with_the_reset_masked_the_count_only_goes_round() {
        let mut w = Sp805::new(CNT, CLK);
        wr(&mut w, LOAD, 9, 0);
        wr(&mut w, CONTROL, INTEN, 0);
        assert_eq!(w.expire(9 * TICK), Event::Interrupt);
        assert_eq!(w.deadline(), None);
        // Round and round: 10 ticks a turn, reloading one tick after zero.
        assert_eq!(rd(&mut w, VALUE, 10 * TICK), 9);
        assert_eq!(rd(&mut w, VALUE, 25 * TICK), 4);
        // Unmasking the reset: the next zero resets.
        wr(&mut w, CONTROL, INTEN | RESEN, 25 * TICK);
        assert_eq!(w.deadline(), Some(29 * TICK));
        assert_eq!(w.expire(29 * TICK), Event::Reset);
    }

    #[test]
    fn disabling_stops_and_holds_the_count() {
        let mut w = Sp805::new(CNT, CLK);
        linux_config(&mut w, 1000, true, 0);
        wr(&mut w, LOCK, UNLOCK_KEY, 0);
        wr(&mut w, CONTROL, 0, 300 * TICK);
        assert_eq!(w.deadline(), None);
        assert_eq!(w.expire(u64::MAX), Event::None);
        assert_eq!(rd(&mut w, VALUE, u64::MAX), 700);
        // Enabling again restarts from LOAD.
        wr(&mut w, CONTROL, INTEN, 5000 * TICK);
        assert_eq!(w.deadline(), Some(6000 * TICK));
    }

    #[test]
    fn a_locked_device_ignores_writes() {
        let mut w = Sp805::new(CNT, CLK);
        linux_config(&mut w, 1000, true, 0);
        assert_eq!(rd(&mut w, LOCK, 0), 1);
        let before = w;
        wr(&mut w, CONTROL, 0, 10);
        wr(&mut w, LOAD, 5, 10);
        wr(&mut w, INTCLR, 1, 10);
        assert_eq!(w, before);
        wr(&mut w, LOCK, UNLOCK_KEY, 10);
        assert_eq!(rd(&mut w, LOCK, 10), 0);
    }

    #[test]
    fn only_aligned_words_act() {
        let mut w = Sp805::new(CNT, CLK);
        for size in [0u8, 1, 2, 3, 8, 16, 255] {
            assert_eq!(w.access(ID_BASE, size, None, 0), 0, "size {size}");
            w.access(CONTROL, size, Some(u64::from(INTEN | RESEN)), 0);
        }
        for off in [CONTROL + 1, CONTROL + 2, CONTROL + 3] {
            w.access(off, 4, Some(u64::from(INTEN)), 0);
        }
        assert_eq!(w, Sp805::new(CNT, CLK));
        // A word write takes the low 32 bits of the register value.
        w.access(LOAD, 4, Some(0xdead_beef_0000_0042), 0);
        assert_eq!(rd(&mut w, LOAD, 0), 0x42);
    }

    #[test]
    fn degenerate_clocks_stay_defined() {
        let mut w = Sp805::new(0, 0);
        wr(&mut w, LOAD, 0, u64::MAX);
        wr(&mut w, CONTROL, INTEN | RESEN, u64::MAX);
        assert_eq!(w.expire(u64::MAX), Event::Interrupt);
        // The reload saturates at the end of time, which is then also when the reset is due.
        assert_eq!(w.expire(u64::MAX), Event::Reset);
        let mut w = Sp805::new(u32::MAX, 1);
        wr(&mut w, CONTROL, INTEN | RESEN, 0);
        assert_eq!(w.deadline(), Some(u64::from(u32::MAX) * u64::from(u32::MAX)));
    }

    fn any_offset() -> impl Strategy<Value = u64> {
        prop_oneof![
            prop::sample::select(vec![LOAD, VALUE, CONTROL, INTCLR, RIS, MIS, LOCK, 0xf00, 0xf04]),
            (0u64..0x1000),
            any::<u64>(),
        ]
    }

    fn any_write() -> impl Strategy<Value = Option<u64>> {
        prop_oneof![
            Just(None),
            Just(Some(u64::from(UNLOCK_KEY))),
            (0u64..4).prop_map(Some),
            (0u64..2000).prop_map(Some),
            any::<u64>().prop_map(Some),
        ]
    }

    proptest! {
        /// Any sequence of accesses at any offset, width and value, at any times (forward, backward, huge), with
        /// expiries in between: no panic; at most two events are due at once; `WdogValue` never exceeds `LOAD`;
        /// reads of unknown offsets are 0; a deadline, when there is one, is never before the last restart; the
        /// interrupt line is exactly raw status and enable.
        #[test]
        fn any_access_sequence_is_answered(
            counter_hz in prop_oneof![Just(CNT), any::<u32>()],
            clock_hz in prop_oneof![Just(CLK), any::<u32>()],
            ops in prop::collection::vec(
                (any_offset(), prop_oneof![Just(4u8), any::<u8>()], any_write(),
                 prop_oneof![0u64..100_000, any::<u64>()], any::<bool>()),
                1..300,
            ),
        ) {
            let mut w = Sp805::new(counter_hz, clock_hz);
            let mut now = 0u64;
            for (offset, size, write, step, jump) in ops {
                now = if jump { step } else { now.saturating_add(step) };
                let v = w.access(offset, size, write, now);
                if write.is_some() || size != 4 || offset >= SIZE {
                    prop_assert_eq!(v, 0);
                }
                prop_assert!(v <= u64::from(u32::MAX));
                let mut events = 0;
                while w.expire(now) != Event::None {
                    events += 1;
                    prop_assert!(events <= 2);
                }
                if let Some(d) = w.deadline() {
                    prop_assert!(d >= w.epoch);
                }
                prop_assert!(rd(&mut w, VALUE, now) <= rd(&mut w, LOAD, now));
                prop_assert_eq!(w.irq_high(), rd(&mut w, MIS, now) == 1);
            }
        }

        /// A guest that feeds the watchdog (Linux's ping) more often than the first stage never sees an event,
        /// and each feed moves the deadline to a full period after it.
        #[test]
        fn feeding_postpones_expiry(
            load in 1u32..1_000_000,
            feeds in prop::collection::vec(0u64..1_000_000, 1..50),
        ) {
            let mut w = Sp805::new(CNT, CLK);
            let mut now = 0;
            linux_config(&mut w, load, true, now);
            for gap in feeds {
                // Strictly before the deadline.
                now += gap % (u64::from(load) * TICK);
                prop_assert_eq!(w.expire(now), Event::None);
                linux_config(&mut w, load, false, now);
                prop_assert_eq!(w.deadline(), Some(now + u64::from(load) * TICK));
            }
        }

        /// Stopped (INTEN clear), the watchdog never fires, whatever the guest writes other than the enable.
        #[test]
        fn disabled_never_expires(
            ops in prop::collection::vec((any_offset(), any::<u32>(), any::<u64>()), 1..100),
        ) {
            let mut w = Sp805::new(CNT, CLK);
            for (offset, v, now) in ops {
                let v = if offset == CONTROL { v & !INTEN } else { v };
                w.access(offset, 4, Some(u64::from(v)), now);
                prop_assert_eq!(w.deadline(), None);
                prop_assert_eq!(w.expire(now), Event::None);
                prop_assert!(!w.irq_high());
            }
        }
    }
}
