//! A restart's work, cut into steps small enough that no window boundary waits for one: zero every byte of the
//! partition's RAM (so its new run finds nothing of the old one), then copy its images in again from the boot
//! image's payload (the pristine copy, in hypervisor memory no partition maps).
//!
//! Why steps: a partition's RAM is tens to hundreds of MiB. Zeroed and reloaded in one go, inside the trap that
//! faulted, it held its CPU for hundreds of milliseconds under QEMU, and in a cyclic pool the partitions whose
//! windows came meanwhile started late. The restarting partition's CPU does the steps only in that partition's
//! own time (its windows, or its own pinned CPU), and looks at the window boundary between steps (`run`).
//!
//! Pure logic over the partition's regions: which bytes each step touches, tested on the host.

use crate::config::{Load, MemRegion};

/// The most one step zeroes or copies: ~160 instructions of stores and cache cleans on AArch64, ~250 on ARMv7, well
/// under a quiet window switch (~700 and ~830), so a boundary that comes during a step starts its window at most
/// that much later. (4 KiB steps with the targets' `memset`, ~2,900 instructions on ARMv7, started `sched`'s
/// windows in qemu-a15-restart.toml up to 235 ticks late against 53 quiet.)
pub const STEP: u64 = 2048;

/// One step of work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Zero `len` bytes at host-physical `pa`.
    Zero { pa: u64, len: u64 },
    /// Copy `len` bytes from the payload at `src` to `dst`.
    Copy { dst: u64, src: u64, len: u64 },
    /// Nothing left.
    Done,
}

/// Where a restart's work is: the region or load under way and how far into it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plan {
    /// Index into the RAM regions, then (past them) into the loads.
    item: usize,
    offset: u64,
}

impl Plan {
    pub const START: Plan = Plan { item: 0, offset: 0 };

    /// The next step over `ram` (zeroed first) and `loads` (copied after), at most [`STEP`] bytes, never across
    /// two regions.
    pub fn next(&mut self, ram: &[MemRegion], loads: &[Load]) -> Step {
        loop {
            let (base, size, src) = if let Some(m) = ram.get(self.item) {
                (m.pa, m.size, None)
            } else if let Some(l) = loads.get(self.item - ram.len()) {
                (l.dst_pa, l.size, Some(l.src_pa))
            } else {
                return Step::Done;
            };
            if self.offset >= size {
                self.item += 1;
                self.offset = 0;
                continue;
            }
            let len = (size - self.offset).min(STEP);
            let at = self.offset;
            self.offset += len;
            return match src {
                None => Step::Zero { pa: base + at, len },
                Some(src) => Step::Copy { dst: base + at, src: src + at, len },
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn regions() -> impl Strategy<Value = Vec<(u64, u64)>> {
        proptest::collection::vec((0u64..1 << 40, 0u64..5 * STEP + 7), 0..5)
    }

    proptest! {
        /// Whatever the regions and loads: the steps zero every RAM region exactly, front to back, then copy every
        /// load exactly, each step at most `STEP` bytes and never empty, and the plan ends.
        #[test]
        fn steps_cover_every_byte_once_in_order(ram in regions(), loads in regions()) {
            let ram: Vec<MemRegion> = ram.iter().map(|&(pa, size)| MemRegion { ipa: pa, pa, size }).collect();
            let loads: Vec<Load> =
                loads.iter().map(|&(dst, size)| Load { src_pa: dst ^ 0x5000_0000, dst_pa: dst, size }).collect();
            let mut plan = Plan::START;
            let mut zeroed: Vec<(u64, u64)> = Vec::new();
            let mut copied: Vec<(u64, u64, u64)> = Vec::new();
            for _ in 0..10_000 {
                match plan.next(&ram, &loads) {
                    Step::Zero { pa, len } => {
                        prop_assert!(copied.is_empty(), "zeroing comes first");
                        prop_assert!(len > 0 && len <= STEP);
                        zeroed.push((pa, len));
                    }
                    Step::Copy { dst, src, len } => {
                        prop_assert!(len > 0 && len <= STEP);
                        copied.push((dst, src, len));
                    }
                    Step::Done => break,
                }
            }
            prop_assert_eq!(plan.next(&ram, &loads), Step::Done, "done stays done");
            // Coalesced back, the steps are the regions.
            let mut z = zeroed.iter().copied().peekable();
            for m in ram.iter().filter(|m| m.size > 0) {
                let mut at = m.pa;
                while at < m.pa + m.size {
                    let (pa, len) = z.next().expect("a step for every byte");
                    prop_assert_eq!(pa, at);
                    at += len;
                }
                prop_assert_eq!(at, m.pa + m.size);
            }
            prop_assert!(z.next().is_none());
            let mut c = copied.iter().copied();
            for l in loads.iter().filter(|l| l.size > 0) {
                let mut at = 0;
                while at < l.size {
                    let (dst, src, len) = c.next().expect("a step for every byte");
                    prop_assert_eq!((dst, src), (l.dst_pa + at, l.src_pa + at));
                    at += len;
                }
                prop_assert_eq!(at, l.size);
            }
            prop_assert!(c.next().is_none());
        }
    }
}
