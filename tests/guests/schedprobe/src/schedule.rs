//! The calling vCPU's cyclic schedule as the hypervisor reports it, checked and turned into what the measurement
//! needs: the runs it expects to see start, the threshold that tells a descheduling from polling noise, and for any
//! counter value the scheduled run starts around it.

use core::fmt;

use guest_rt::timer::ticks_for_us;
use pv_drivers::abi::hv::{Frame, Window};

/// Windows a schedule may have; more is refused rather than truncated (a missing window would show up as
/// unexpected starts).
pub const MAX_WINDOWS: usize = 32;

/// The threshold never goes below this many ticks. Between two reads of a busy loop a few ticks pass at most (tens
/// of nanoseconds on hardware; QEMU's TCG, whose counter follows the host clock, a few more), and any stall of our
/// own (a cache or TLB miss, even with a two-stage walk) stays within a couple of microseconds; 256 ticks is about
/// 4 us at QEMU's 62.5 MHz and 11 us at the 24 MHz of many SoCs, so only a hypervisor entry can make such a jump.
/// It also keeps the counter's one-tick granularity negligible against the threshold on slow counters.
pub const MIN_THRESHOLD_TICKS: u64 = 256;

/// The threshold is at most this long. Longer gaps would allow a higher threshold, but a hypervisor interruption
/// inside a window (an interrupt, a stray trap) shorter than the threshold goes unseen; 50 us is well above any
/// noise of the loop itself and well below the 100 us the image builder requires of a window.
pub const MAX_THRESHOLD_US: u64 = 50;

/// Why a schedule from the hypervisor cannot be measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScheduleError {
    /// The major frame is zero ticks long.
    ZeroFrame,
    /// The vCPU has no window, yet it runs.
    NoWindows,
    /// More than [`MAX_WINDOWS`].
    TooManyWindows,
    /// Window `index` is empty or reversed.
    Empty { index: usize, window: Window },
    /// Window `index` ends after the frame.
    PastFrame { index: usize, window: Window },
    /// Window `index` starts before the previous one ends (the ABI lists them in time order, disjoint).
    OutOfOrder { index: usize, window: Window },
}

impl fmt::Display for ScheduleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::ZeroFrame => write!(f, "the major frame is 0 ticks"),
            Self::NoWindows => write!(f, "the vCPU has no window"),
            Self::TooManyWindows => write!(f, "more than {MAX_WINDOWS} windows"),
            Self::Empty { index, window: w } => write!(f, "window {index} [{}..{}] is empty", w.start, w.end),
            Self::PastFrame { index, window: w } => {
                write!(f, "window {index} [{}..{}] ends after the frame", w.start, w.end)
            }
            Self::OutOfOrder { index, window: w } => {
                write!(f, "window {index} [{}..{}] overlaps or precedes the previous one", w.start, w.end)
            }
        }
    }
}

/// A stretch of the frame in which the vCPU runs without a break: windows that touch are one run, as the hypervisor
/// has nothing to switch between them. Offsets are ticks from the frame start; the last run ends past the frame
/// when it continues into the first window of the next frame.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Run {
    pub start: u64,
    pub end: u64,
    /// Idle time (for this vCPU) before the run starts, since the previous run ended.
    pub gap_before: u64,
}

/// One occurrence of a run: absolute counter values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slot {
    pub start: u64,
    pub end: u64,
    /// Counts runs since frame 0 (frame × runs + run), so each occurrence has its own number.
    pub seq: u64,
    /// Whether the gap before it is long enough for its start to be seen: at least twice the threshold.
    pub detectable: bool,
}

#[derive(Clone, Debug)]
pub struct Schedule {
    frame: u64,
    t0: u64,
    runs: [Run; MAX_WINDOWS],
    len: usize,
    threshold: u64,
}

impl Schedule {
    /// Checks the hypervisor's windows, merges those that touch, and fixes the jump threshold for a counter of
    /// `frequency` Hz:
    ///
    /// `max(MIN_THRESHOLD_TICKS, min(shortest gap / 2, MAX_THRESHOLD_US))`.
    ///
    /// Half the shortest gap: a descheduling across a gap `g` shows as a jump of about `g` minus however late the
    /// hypervisor took the CPU away, so half of `g` still sees a descheduling up to `g / 2` late. A gap shorter
    /// than twice the threshold (only possible when the floor applies) cannot be told reliably from polling noise:
    /// the start after it is not [`Slot::detectable`] and not measured.
    pub fn new(frame: Frame, windows: &[Window], frequency: u64) -> Result<Self, ScheduleError> {
        let length = u64::from(frame.length);
        if length == 0 {
            return Err(ScheduleError::ZeroFrame);
        }
        if windows.is_empty() {
            return Err(ScheduleError::NoWindows);
        }
        if windows.len() > MAX_WINDOWS {
            return Err(ScheduleError::TooManyWindows);
        }
        let mut runs = [Run::default(); MAX_WINDOWS];
        let mut len = 0_usize;
        for (index, &window) in windows.iter().enumerate() {
            let (start, end) = (u64::from(window.start), u64::from(window.end));
            if start >= end {
                return Err(ScheduleError::Empty { index, window });
            }
            if end > length {
                return Err(ScheduleError::PastFrame { index, window });
            }
            let previous_end = len.checked_sub(1).map(|last| runs[last].end);
            match previous_end {
                Some(previous) if start < previous => return Err(ScheduleError::OutOfOrder { index, window }),
                Some(previous) if start == previous => runs[len - 1].end = end,
                _ => {
                    runs[len] = Run { start, end, gap_before: previous_end.map_or(0, |previous| start - previous) };
                    len += 1;
                }
            }
        }
        // Across the frame boundary: the first run's gap follows the last run; if none, the two are one run.
        let wrap_gap = runs[0].start + length - runs[len - 1].end;
        if wrap_gap == 0 && len > 1 {
            runs[len - 1].end = length + runs[0].end;
            runs.copy_within(1..len, 0);
            len -= 1;
        }
        runs[0].gap_before = runs[0].start + length - runs[len - 1].end;

        let shortest_gap = runs[..len].iter().map(|r| r.gap_before).filter(|&g| g > 0).min();
        let ceiling = ticks_for_us(frequency, MAX_THRESHOLD_US);
        let threshold = shortest_gap.map_or(ceiling, |g| ceiling.min(g / 2)).max(MIN_THRESHOLD_TICKS);
        Ok(Self { frame: length, t0: frame.start, runs, len, threshold })
    }

    /// Ticks per major frame.
    pub fn frame(&self) -> u64 {
        self.frame
    }

    /// A jump between two consecutive counter reads larger than this means the vCPU was not running.
    pub fn threshold(&self) -> u64 {
        self.threshold
    }

    pub fn runs(&self) -> &[Run] {
        &self.runs[..self.len]
    }

    /// Run starts per frame that can be seen (see [`Slot::detectable`]).
    pub fn detectable_runs(&self) -> u64 {
        self.runs().iter().filter(|r| self.is_detectable(r)).count() as u64
    }

    fn is_detectable(&self, run: &Run) -> bool {
        run.gap_before >= 2 * self.threshold
    }

    /// The frame `at` falls in (0 before frame 0 started).
    pub fn frame_index(&self, at: u64) -> u64 {
        at.saturating_sub(self.t0) / self.frame
    }

    /// When frame `n` starts.
    pub fn frame_start(&self, n: u64) -> u64 {
        self.t0.saturating_add(n.saturating_mul(self.frame))
    }

    /// The latest run occurrence starting at or before `at`, if any started since frame 0, and the earliest one
    /// starting after it.
    pub fn around(&self, at: u64) -> (Option<Slot>, Slot) {
        let runs = self.runs();
        if at < self.t0 {
            return (None, self.slot(0, 0));
        }
        let n = self.frame_index(at);
        let offset = (at - self.t0) % self.frame;
        // Runs are sorted by start; `after` is the first one starting later in this frame.
        let after = runs.iter().position(|r| r.start > offset).unwrap_or(runs.len());
        let latest = match after.checked_sub(1) {
            Some(i) => Some(self.slot(n, i)),
            None => n.checked_sub(1).map(|previous| self.slot(previous, runs.len() - 1)),
        };
        let next = if after < runs.len() { self.slot(n, after) } else { self.slot(n + 1, 0) };
        (latest, next)
    }

    fn slot(&self, frame: u64, index: usize) -> Slot {
        let run = &self.runs[index];
        let start = self.frame_start(frame).saturating_add(run.start);
        Slot {
            start,
            end: start.saturating_add(run.end - run.start),
            seq: frame.saturating_mul(self.len as u64).saturating_add(index as u64),
            detectable: self.is_detectable(run),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// QEMU virt's counter.
    const HZ: u64 = 62_500_000;

    fn w(start: u32, end: u32) -> Window {
        Window { start, end }
    }

    fn schedule(length: u32, windows: &[Window]) -> Result<Schedule, ScheduleError> {
        Schedule::new(Frame { length, start: 1_000_000 }, windows, HZ)
    }

    #[test]
    fn threshold_is_half_the_shortest_gap_within_bounds() {
        // Gaps of 15000 and 12500 ticks: 50 us (3125 ticks) is smaller than half of either.
        let s = schedule(62_500, &[w(0, 25_000), w(40_000, 50_000)]).unwrap();
        assert_eq!(s.threshold(), 3_125);
        // A 2000-tick gap: half of it.
        let s = schedule(62_500, &[w(0, 25_000), w(27_000, 50_000)]).unwrap();
        assert_eq!(s.threshold(), 1_000);
        // A 300-tick gap: the floor, and that gap's run start cannot be measured.
        let s = schedule(62_500, &[w(0, 25_000), w(25_300, 50_000)]).unwrap();
        assert_eq!(s.threshold(), MIN_THRESHOLD_TICKS);
        assert_eq!(s.detectable_runs(), 1);
        // A slow counter: 50 us is 50 ticks at 1 MHz, below the floor.
        let s = Schedule::new(Frame { length: 1_000, start: 0 }, &[w(0, 500)], 1_000_000).unwrap();
        assert_eq!(s.threshold(), MIN_THRESHOLD_TICKS);
    }

    #[test]
    fn touching_windows_are_one_run_even_across_the_frame() {
        let s = schedule(100_000, &[w(0, 10_000), w(10_000, 20_000), w(50_000, 60_000), w(90_000, 100_000)]).unwrap();
        assert_eq!(
            s.runs(),
            [
                Run { start: 50_000, end: 60_000, gap_before: 30_000 },
                Run { start: 90_000, end: 120_000, gap_before: 30_000 }
            ]
        );
        // Always running: one run, no gap, nothing to detect.
        let s = schedule(100_000, &[w(0, 100_000)]).unwrap();
        assert_eq!(s.runs(), [Run { start: 0, end: 100_000, gap_before: 0 }]);
        assert_eq!(s.detectable_runs(), 0);
        assert_eq!(s.threshold(), 3_125);
    }

    #[test]
    fn bad_schedules_are_refused() {
        assert_eq!(schedule(0, &[w(0, 1)]).unwrap_err(), ScheduleError::ZeroFrame);
        assert_eq!(schedule(100, &[]).unwrap_err(), ScheduleError::NoWindows);
        assert_eq!(schedule(100, &[w(0, 1); MAX_WINDOWS + 1]).unwrap_err(), ScheduleError::TooManyWindows);
        assert_eq!(schedule(100, &[w(5, 5)]).unwrap_err(), ScheduleError::Empty { index: 0, window: w(5, 5) });
        assert_eq!(schedule(100, &[w(0, 101)]).unwrap_err(), ScheduleError::PastFrame { index: 0, window: w(0, 101) });
        let err = schedule(100, &[w(10, 20), w(15, 30)]).unwrap_err();
        assert_eq!(err, ScheduleError::OutOfOrder { index: 1, window: w(15, 30) });
        assert_eq!(std::format!("{err}"), "window 1 [15..30] overlaps or precedes the previous one");
    }

    #[test]
    fn slots_around_a_counter_value() {
        let s = schedule(62_500, &[w(0, 25_000), w(40_000, 50_000)]).unwrap();
        let t0 = 1_000_000;
        let (latest, next) = s.around(t0 + 62_500 + 30_000);
        let latest = latest.unwrap();
        assert_eq!((latest.start, latest.end, latest.seq), (t0 + 62_500, t0 + 62_500 + 25_000, 2));
        assert_eq!((next.start, next.seq), (t0 + 62_500 + 40_000, 3));
        // Exactly at a start: that run is the latest.
        assert_eq!(s.around(t0 + 40_000).0.unwrap().seq, 1);
        // Before frame 0: nothing started yet.
        assert_eq!(s.around(t0 - 1), (None, s.around(t0).0.unwrap()));
        // Late in a frame: the next is the first run of the next frame.
        assert_eq!(s.around(t0 + 62_499).1.start, t0 + 62_500);
    }

    #[test]
    fn a_run_wrapping_into_the_next_frame_is_the_latest_there() {
        let s = schedule(100_000, &[w(0, 10_000), w(50_000, 60_000), w(90_000, 100_000)]).unwrap();
        let t0 = 1_000_000;
        let (latest, next) = s.around(t0 + 100_000 + 5_000);
        let latest = latest.unwrap();
        assert_eq!((latest.start, latest.end), (t0 + 90_000, t0 + 110_000));
        assert_eq!(next.start, t0 + 100_000 + 50_000);
        assert_eq!(s.around(t0 + 5_000).0, None, "frame 0 has no earlier run");
    }
}
