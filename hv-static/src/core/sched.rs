//! Cyclic pools: each CPU of the pool walks its table of slots (built and checked by the image builder), one
//! major frame after another, switching at the slot boundaries.
//!
//! Every boundary is an absolute deadline of the EL2/Hyp timer computed from the frame origin `T0` shared by all
//! CPUs: slot `k` of frame `n` starts at `T0 + ticks(n * major_frame + start_k)`, converted from nanoseconds in
//! one exact step. Nothing is ever added to a previous deadline, so a late interrupt delays one switch and never
//! the ones after it: error cannot accumulate. A CPU of a pinned pool never arms the timer at all.

use crate::config::{CpuSchedule, Slot};

/// Counter ticks in `ns` nanoseconds at `freq` Hz, rounded down (exact for every whole-microsecond time at the
/// usual 1 MHz multiples).
///
/// Exactly `ns * freq / 10^9` (truncated to 64 bits like the 128-bit product would be), computed from the whole
/// seconds and the rest: 64-bit operations only. ARMv7 has no 128-bit division, and its software one took ~2,500
/// instructions, inside hypercalls a partition may make in a loop (`HV_SCHED_FRAME`, `HV_SCHED_WINDOW`) right before
/// a neighbour's window (issue 15).
pub const fn ticks(ns: u64, freq: u64) -> u64 {
    const NS: u64 = 1_000_000_000;
    if freq > u32::MAX as u64 {
        // No counter runs this fast (CNTFRQ is 32 bits); kept exact anyway.
        return (ns as u128 * freq as u128 / NS as u128) as u64;
    }
    // (q * 10^9 + r) * freq / 10^9 = q * freq + r * freq / 10^9, where r * freq < 2^30 * 2^32 fits.
    let (q, r) = (ns / NS, ns % NS);
    q.wrapping_mul(freq).wrapping_add(r * freq / NS)
}

/// Where a CPU is in its table: slot `slot` of frame `frame`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Position {
    pub frame: u64,
    pub slot: usize,
}

impl Position {
    /// The slot after this one (the first of the next frame after the last).
    pub fn next(self, s: &CpuSchedule) -> Position {
        if self.slot + 1 < s.slots.len() {
            Position { slot: self.slot + 1, ..self }
        } else {
            Position { frame: self.frame + 1, slot: 0 }
        }
    }

    /// Counter value at which this slot starts. When a frame is a whole number of ticks (the usual case: 1 MHz
    /// multiples and whole microseconds) this is plain 64-bit arithmetic on the switch path; otherwise the exact
    /// 128-bit conversion of the whole offset from `T0`.
    pub fn start(self, s: &CpuSchedule, t0: u64, freq: u64) -> u64 {
        const NS: u64 = 1_000_000_000;
        let offset = s.slots[self.slot].start_ns;
        match (s.major_frame_ns.checked_mul(freq), offset.checked_mul(freq)) {
            (Some(per_frame), Some(off)) if per_frame % NS == 0 => t0 + self.frame * (per_frame / NS) + off / NS,
            _ => t0 + ticks(self.frame * s.major_frame_ns + offset, freq),
        }
    }

    pub fn slot(self, s: &CpuSchedule) -> &Slot {
        &s.slots[self.slot]
    }
}

/// The slot running at counter value `now` (which must be at or after `t0`).
pub fn position_at(s: &CpuSchedule, t0: u64, freq: u64, now: u64) -> Position {
    let frame_ticks = ticks(s.major_frame_ns, freq).max(1);
    // A first guess from the integer frame length, corrected for rounding by the exact boundaries.
    let mut frame = (now - t0) / frame_ticks;
    while frame > 0 && (Position { frame, slot: 0 }).start(s, t0, freq) > now {
        frame -= 1;
    }
    while (Position { frame: frame + 1, slot: 0 }).start(s, t0, freq) <= now {
        frame += 1;
    }
    let slot = (0..s.slots.len()).rev().find(|&k| (Position { frame, slot: k }).start(s, t0, freq) <= now).unwrap_or(0);
    Position { frame, slot }
}

/// The slot to run when the timer armed for `armed`'s boundary fires at counter value `now`, with the boundaries
/// from `start` (the CPU's [`Boundaries`], or [`Position::start`]). On time (before the boundary after it), that is
/// `armed`, found without a division. Late by more than a slot (EL2 held the CPU, or the host stalled the board),
/// it is the slot under way at `now` (`late`): the missed boundaries are skipped, not each replayed as one more
/// timer interrupt, so a late tick costs one switch, and the table is back in step at once. A timer that fires
/// early (never, architecturally) still starts `armed`.
///
/// Also returns the start of the slot after the one returned when it was computed on the way (on time), so that
/// the caller arming the timer for it does not compute it twice.
pub fn due_by(
    s: &CpuSchedule,
    armed: Position,
    now: u64,
    start: impl Fn(Position) -> u64,
    late: impl FnOnce() -> Position,
) -> (Position, Option<u64>) {
    let after = start(armed.next(s));
    if after > now {
        (armed, Some(after))
    } else {
        (late(), None)
    }
}

/// [`due_by`] with the exact boundaries.
#[cfg(test)]
pub fn due(s: &CpuSchedule, armed: Position, t0: u64, freq: u64, now: u64) -> Position {
    due_by(s, armed, now, |p| p.start(s, t0, freq), || position_at(s, t0, freq, now)).0
}

/// A CPU's slot boundaries in counter ticks from the start of a frame, computed once when the frequency is known,
/// so that the switch path multiplies and adds instead of dividing: ARMv7 has no 64-bit division, and the three
/// per boundary that [`Position::start`] needs cost ~700 instructions there on every window switch (issue 15).
/// Only when a frame is a whole number of ticks (the usual case); otherwise `frame_ticks` is 0 and every boundary
/// takes the exact path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Boundaries<const N: usize> {
    pub frame_ticks: u64,
    pub slot_ticks: [u64; N],
}

impl<const N: usize> Boundaries<N> {
    pub const NONE: Self = Self { frame_ticks: 0, slot_ticks: [0; N] };

    pub fn new(s: &CpuSchedule, freq: u64) -> Self {
        const NS: u64 = 1_000_000_000;
        let mut b = Self::NONE;
        let Some(per_frame) = s.major_frame_ns.checked_mul(freq).filter(|t| t % NS == 0) else { return b };
        if s.slots.len() > N {
            return b;
        }
        for (ticks, slot) in b.slot_ticks.iter_mut().zip(s.slots) {
            match slot.start_ns.checked_mul(freq) {
                Some(t) => *ticks = t / NS,
                None => return Self::NONE,
            }
        }
        b.frame_ticks = per_frame / NS;
        b
    }

    /// Counter value at which `p` starts: what [`Position::start`] returns.
    pub fn start(&self, p: Position, s: &CpuSchedule, t0: u64, freq: u64) -> u64 {
        match self.slot_ticks.get(p.slot) {
            Some(&off) if self.frame_ticks != 0 => t0 + p.frame * self.frame_ticks + off,
            _ => p.start(s, t0, freq),
        }
    }
}

/// The windows vCPU `vcpu` runs in on a CPU, in ticks from the frame start: what the guest's `HV_SCHED_WINDOW`
/// call reports, window `n`.
pub fn window_of(s: &CpuSchedule, vcpu: (usize, usize), n: usize, freq: u64) -> Option<(u64, u64)> {
    s.slots
        .iter()
        .filter(|sl| sl.vcpu == Some(vcpu))
        .nth(n)
        .map(|sl| (ticks(sl.start_ns, freq), ticks(sl.end_ns, freq)))
}

#[cfg(target_os = "none")]
pub use runtime::*;

#[cfg(target_os = "none")]
mod runtime {
    use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

    use super::{position_at, ticks, Boundaries, Position};
    use crate::arch::timer;
    use crate::config::{CpuSchedule, NUM_CPUS, SYSTEM};
    use crate::core::vcpu::VcpuRef;

    /// How long after the boot CPU sets the origin the first frame starts: enough for every CPU to come up, so
    /// all of them begin at their first slot.
    const START_DELAY_NS: u64 = 2_000_000;

    static T0: AtomicU64 = AtomicU64::new(0);
    static FREQ: AtomicU64 = AtomicU64::new(0);
    /// Per CPU: the position of the next boundary (frame in the high bits would overflow soon enough to matter
    /// only after 2^32 frames; kept as two words instead).
    static NEXT_FRAME: [AtomicU64; NUM_CPUS] = [const { AtomicU64::new(0) }; NUM_CPUS];
    static NEXT_SLOT: [AtomicUsize; NUM_CPUS] = [const { AtomicUsize::new(0) }; NUM_CPUS];

    /// The most slots any CPU's table has (from the config).
    const MAX_SLOTS: usize = {
        let (mut most, mut c) = (1, 0);
        while c < NUM_CPUS {
            if let Some(s) = &SYSTEM.cpus[c].schedule {
                if s.slots.len() > most {
                    most = s.slots.len();
                }
            }
            c += 1;
        }
        most
    };

    /// Per CPU: its boundaries, computed by the CPU itself when it starts, read only by it afterwards.
    static BOUNDS: [spin::Once<Boundaries<MAX_SLOTS>>; NUM_CPUS] = [const { spin::Once::new() }; NUM_CPUS];

    /// Counter value at which `p` starts on `cpu`.
    fn boundary(cpu: usize, p: Position, s: &CpuSchedule) -> u64 {
        let (t0, freq) = origin();
        match BOUNDS[cpu].get() {
            Some(b) => b.start(p, s, t0, freq),
            None => p.start(s, t0, freq),
        }
    }

    pub fn schedule(cpu: usize) -> Option<&'static CpuSchedule> {
        SYSTEM.cpus[cpu].schedule.as_ref()
    }

    /// On the boot CPU, before any other starts: fixes the frame origin.
    pub fn init() {
        if SYSTEM.cpus.iter().all(|c| c.schedule.is_none()) {
            return;
        }
        let freq = timer::frequency();
        FREQ.store(freq, Ordering::Relaxed);
        T0.store(timer::now() + ticks(START_DELAY_NS, freq), Ordering::Release);
    }

    fn origin() -> (u64, u64) {
        (T0.load(Ordering::Acquire), FREQ.load(Ordering::Relaxed))
    }

    fn set_next(cpu: usize, p: Position, s: &CpuSchedule) {
        set_next_at(cpu, p, boundary(cpu, p, s));
    }

    /// [`set_next`] with `p`'s start, `at`, known already.
    fn set_next_at(cpu: usize, p: Position, at: u64) {
        NEXT_FRAME[cpu].store(p.frame, Ordering::Relaxed);
        NEXT_SLOT[cpu].store(p.slot, Ordering::Relaxed);
        timer::set_hyp_deadline(at);
    }

    fn next(cpu: usize) -> Position {
        Position { frame: NEXT_FRAME[cpu].load(Ordering::Relaxed), slot: NEXT_SLOT[cpu].load(Ordering::Relaxed) }
    }

    fn vcpu_of(p: Position, s: &CpuSchedule) -> Option<VcpuRef> {
        p.slot(s).vcpu.map(|(part, idx)| VcpuRef { part, idx })
    }

    /// When a cyclic CPU comes up: arms the timer for the next boundary and returns the vCPU of the slot under
    /// way, if the first frame has begun (a CPU that starts late joins mid-slot rather than waiting a frame).
    pub fn start_cpu(cpu: usize) -> Option<VcpuRef> {
        let s = schedule(cpu)?;
        let (t0, freq) = origin();
        BOUNDS[cpu].call_once(|| Boundaries::new(s, freq));
        let now = timer::now();
        if now < t0 {
            set_next(cpu, Position { frame: 0, slot: 0 }, s);
            return None;
        }
        let here = position_at(s, t0, freq, now);
        set_next(cpu, here.next(s), s);
        crate::core::trace::window!(cpu, here.slot(s).vcpu);
        vcpu_of(here, s)
    }

    /// The Hyp timer fired: the boundary it was armed for has come (or passed: see [`super::due`]). Arms the one
    /// after the slot due now and returns that slot's vCPU (`None`: idle).
    pub fn tick(cpu: usize) -> Option<VcpuRef> {
        let s = schedule(cpu)?;
        let (t0, freq) = origin();
        let now = timer::now();
        let (here, after) = super::due_by(s, next(cpu), now, |p| boundary(cpu, p, s), || position_at(s, t0, freq, now));
        let next = here.next(s);
        set_next_at(cpu, next, after.unwrap_or_else(|| boundary(cpu, next, s)));
        crate::core::trace::window!(cpu, here.slot(s).vcpu);
        vcpu_of(here, s)
    }

    /// The vCPU whose slot is under way on this cyclic CPU (the one before the next boundary).
    pub fn running_slot(cpu: usize) -> Option<VcpuRef> {
        let s = schedule(cpu)?;
        let n = next(cpu);
        if n.frame == 0 && n.slot == 0 {
            return None; // The first frame has not begun.
        }
        let k = if n.slot == 0 { s.slots.len() - 1 } else { n.slot - 1 };
        s.slots[k].vcpu.map(|(part, idx)| VcpuRef { part, idx })
    }

    /// `HV_SCHED_FRAME` for a vCPU on `cpu`: the frame length and origin, in counter ticks.
    pub fn frame_info(cpu: usize) -> Option<(u64, u64)> {
        let s = schedule(cpu)?;
        let (t0, freq) = origin();
        Some((ticks(s.major_frame_ns, freq), t0))
    }

    /// `HV_SCHED_WINDOW`: vCPU `v`'s `n`-th window on its CPU, in ticks from the frame start.
    pub fn window(v: VcpuRef, n: usize) -> Option<(u64, u64)> {
        let s = schedule(v.pcpu())?;
        super::window_of(s, (v.part, v.idx), n, origin().1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    mod boundaries {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            /// `ticks` is the 128-bit formula, truncated, for every time and frequency.
            #[test]
            fn ticks_equal_the_128_bit_product(ns in any::<u64>(), freq in prop_oneof![1u64..=u32::MAX as u64, any::<u64>()]) {
                prop_assert_eq!(ticks(ns, freq), (ns as u128 * freq as u128 / 1_000_000_000) as u64);
            }

            /// The precomputed boundaries are the exact ones, for any table, frequency and position; tables they
            /// cannot hold, or frames that are not whole ticks, fall back to the exact path.
            #[test]
            fn precomputed_boundaries_equal_the_exact_ones(
                freq in prop_oneof![Just(62_500_000u64), Just(24_000_000u64), Just(54_000_000u64), 1u64..2_000_000_000],
                starts in proptest::collection::vec(0u64..2_000_000, 1..6),
                extra in 1u64..1_000_000,
                frame in 0u64..1_000_000,
                t0 in 0u64..1 << 40,
                pick in 0usize..6,
            ) {
                let mut starts = starts;
                starts.sort_unstable();
                starts.dedup();
                let slots: Vec<Slot> =
                    starts.iter().map(|&st| Slot { start_ns: st, end_ns: st + 1, vcpu: None }).collect();
                let slots: &'static [Slot] = Box::leak(slots.into_boxed_slice());
                let s = CpuSchedule { major_frame_ns: starts[starts.len() - 1] + extra, slots };
                let p = Position { frame, slot: pick % slots.len() };
                prop_assert_eq!(Boundaries::<4>::new(&s, freq).start(p, &s, t0, freq), p.start(&s, t0, freq));
                prop_assert_eq!(Boundaries::<8>::new(&s, freq).start(p, &s, t0, freq), p.start(&s, t0, freq));
            }
        }
    }

    const FREQ: u64 = 62_500_000; // QEMU's generic timer: 16 ns per tick.

    static SLOTS: [Slot; 3] = [
        Slot { start_ns: 0, end_ns: 400_000, vcpu: Some((0, 0)) },
        Slot { start_ns: 400_000, end_ns: 700_000, vcpu: None },
        Slot { start_ns: 700_000, end_ns: 1_000_000, vcpu: Some((1, 0)) },
    ];
    const S: CpuSchedule = CpuSchedule { major_frame_ns: 1_000_000, slots: &SLOTS };

    #[test]
    fn boundaries_are_absolute() {
        assert_eq!(ticks(1_000_000, FREQ), 62_500);
        let p = Position { frame: 0, slot: 0 };
        assert_eq!(p.start(&S, 100, FREQ), 100);
        assert_eq!(p.next(&S).start(&S, 100, FREQ), 100 + 25_000);
        let last = Position { frame: 7, slot: 2 };
        assert_eq!(last.next(&S), Position { frame: 8, slot: 0 });
        // Frame 1000 starts exactly 1000 frames after T0, whatever the rounding of single slots.
        assert_eq!(Position { frame: 1000, slot: 0 }.start(&S, 5, FREQ), 5 + 62_500_000);
    }

    #[test]
    fn boundaries_do_not_drift_with_inexact_frames() {
        // A 1 MHz-unfriendly clock: 24 MHz and a 1/3 ms slot do not divide evenly, yet frame n starts at n exact
        // frames from T0 (no error carried from one frame into the next).
        static THIRDS: [Slot; 2] = [
            Slot { start_ns: 0, end_ns: 333_333, vcpu: None },
            Slot { start_ns: 333_333, end_ns: 1_000_000, vcpu: None },
        ];
        let s = CpuSchedule { major_frame_ns: 1_000_000, slots: &THIRDS };
        let freq = 24_000_000;
        for n in [1u64, 10, 1000, 1_000_000] {
            assert_eq!(Position { frame: n, slot: 0 }.start(&s, 0, freq), n * 24_000);
        }
        assert_eq!(Position { frame: 3, slot: 1 }.start(&s, 0, freq), 3 * 24_000 + 7_999);
    }

    #[test]
    fn finding_the_slot_under_way() {
        let t0 = 1_000;
        assert_eq!(position_at(&S, t0, FREQ, t0), Position { frame: 0, slot: 0 });
        assert_eq!(position_at(&S, t0, FREQ, t0 + 24_999), Position { frame: 0, slot: 0 });
        assert_eq!(position_at(&S, t0, FREQ, t0 + 25_000), Position { frame: 0, slot: 1 });
        assert_eq!(position_at(&S, t0, FREQ, t0 + 62_499), Position { frame: 0, slot: 2 });
        assert_eq!(position_at(&S, t0, FREQ, t0 + 62_500 * 9 + 43_750), Position { frame: 9, slot: 2 });
    }

    #[test]
    fn a_late_tick_skips_the_missed_boundaries() {
        let t0 = 1_000;
        let armed = Position { frame: 4, slot: 1 };
        let at = armed.start(&S, t0, FREQ);
        assert_eq!(due(&S, armed, t0, FREQ, at), armed, "on time");
        assert_eq!(due(&S, armed, t0, FREQ, at + 18_749), armed, "late, but within its slot");
        assert_eq!(due(&S, armed, t0, FREQ, at + 18_750), Position { frame: 4, slot: 2 });
        assert_eq!(due(&S, armed, t0, FREQ, at + 62_500 * 3), Position { frame: 7, slot: 1 }, "frames missed");
    }

    proptest::proptest! {
        /// However late the tick, the slot it starts is the one under way at `now`, and the next boundary armed
        /// after it is in the future: one timer interrupt per tick, never a burst.
        #[test]
        fn the_slot_due_is_the_one_under_way(frame in 0u64..1_000_000, slot in 0usize..3, late in 0u64..10_000_000) {
            let (t0, armed) = (77, Position { frame, slot });
            let now = armed.start(&S, t0, FREQ) + late;
            let here = due(&S, armed, t0, FREQ, now);
            proptest::prop_assert!(here.start(&S, t0, FREQ) <= now);
            proptest::prop_assert!(here.next(&S).start(&S, t0, FREQ) > now);
            proptest::prop_assert_eq!(here, position_at(&S, t0, FREQ, now));
        }
    }

    #[test]
    fn windows_of_a_vcpu() {
        assert_eq!(window_of(&S, (0, 0), 0, FREQ), Some((0, 25_000)));
        assert_eq!(window_of(&S, (1, 0), 0, FREQ), Some((43_750, 62_500)));
        assert_eq!(window_of(&S, (1, 0), 1, FREQ), None);
        assert_eq!(window_of(&S, (2, 0), 0, FREQ), None);
    }
}
