//! Measuring the schedule from a stream of counter reads: the busy-poll loops and the classification of each jump.
//! Pure code, generic over how the counter is read, so host tests feed it synthetic traces through the very loop
//! the guest runs.

use core::fmt;

use crate::schedule::{Schedule, Slot};
use crate::stats::{OrNa, Samples};

/// What was seen over the measured frames.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub frames: u64,
    /// Deviation (observed - scheduled start, ticks) of every detected run start.
    pub deviations: Samples,
    /// The same over the first and the last tenth of the frames (at least one frame each).
    pub first: Samples,
    pub last: Samples,
    /// Run starts the schedule promised that could be seen.
    pub expected: u64,
    /// Jumps that were not a scheduled run start: a stall inside a run, or a start far from any.
    pub unexpected: u64,
}

impl Report {
    /// Scheduled run starts that were not seen.
    pub fn missed(&self) -> u64 {
        self.expected.saturating_sub(self.deviations.count)
    }

    /// The summary line: `sched: windows=<count> frames=<N> deviation min=<a> max=<b> mean=<c> ticks;
    /// drift=<d> ticks over <N> frames`, with `n/a` for what no sample defines.
    pub fn summary(&self) -> impl fmt::Display + '_ {
        Summary(self)
    }
}

struct Summary<'a>(&'a Report);

impl fmt::Display for Summary<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = self.0;
        let d = &r.deviations;
        let (min, max) = if d.count == 0 { (None, None) } else { (Some(d.min), Some(d.max)) };
        write!(
            f,
            "sched: windows={} frames={} deviation min={} max={} mean={} ticks; drift={} ticks over {} frames",
            d.count,
            r.frames,
            OrNa(min),
            OrNa(max),
            OrNa(d.mean()),
            OrNa(r.last.mean_minus(&r.first)),
            r.frames,
        )
    }
}

/// Polls `read` until it reaches the end of `frames` frames after the one it starts in (that first, partial frame
/// is only a run-in: printing the schedule just before leaves it disturbed). The loop does nothing but compare
/// while the vCPU runs; only a jump beyond the schedule's threshold, i.e. a return from being descheduled, leaves
/// it to be classified.
pub fn measure(schedule: &Schedule, frames: u64, mut read: impl FnMut() -> u64) -> Report {
    let first = read();
    let mut tracker = Tracker::new(schedule, frames, first);
    let (end, threshold) = (tracker.end, schedule.threshold());
    let mut previous = first;
    loop {
        let now = read();
        if now >= end {
            break;
        }
        if now.wrapping_sub(previous) > threshold {
            tracker.on_jump(previous, now);
        }
        previous = now;
    }
    tracker.report
}

struct Tracker<'a> {
    schedule: &'a Schedule,
    /// Counter values bounding the measured frames.
    begin: u64,
    end: u64,
    /// Frames in each of the first and last tenths.
    tenth: u64,
    /// The last run occurrence matched, so that no occurrence counts twice.
    last_seq: Option<u64>,
    report: Report,
}

impl<'a> Tracker<'a> {
    fn new(schedule: &'a Schedule, frames: u64, first_read: u64) -> Self {
        let first_frame = schedule.frame_index(first_read) + 1;
        let report = Report { frames, expected: frames * schedule.detectable_runs(), ..Report::default() };
        Tracker {
            schedule,
            begin: schedule.frame_start(first_frame),
            end: schedule.frame_start(first_frame + frames),
            tenth: (frames / 10).max(1),
            last_seq: None,
            report,
        }
    }

    /// The vCPU read `previous`, then `now` more than a threshold later: it was descheduled in between, and `now` is
    /// the first read after it ran again. That is a run start when the pause covered a scheduled start and `now`
    /// lies within that run, or when `now` is at most a threshold before the next start (a switch slightly early,
    /// a negative deviation; the gap before a start is at least twice the threshold, so `now` cannot be inside
    /// the previous run then). Anything else is unexpected.
    #[inline(never)]
    fn on_jump(&mut self, previous: u64, now: u64) {
        if now < self.begin {
            return;
        }
        let (latest, next) = self.schedule.around(now);
        let matched = if next.start - now <= self.schedule.threshold() {
            Some((next, -((next.start - now) as i64)))
        } else {
            latest.filter(|s| previous < s.start && now < s.end).map(|s| (s, (now - s.start) as i64))
        };
        match matched {
            Some((slot, _)) if self.last_seq == Some(slot.seq) => self.report.unexpected += 1,
            // The pause hid a gap too short to measure: neither a measured start nor a surprise.
            Some((slot, _)) if !slot.detectable => {}
            Some((slot, deviation)) if (self.begin..self.end).contains(&slot.start) => self.record(slot, deviation),
            // A start of the run-in frame or of the frame after the last.
            Some(_) => {}
            None => self.report.unexpected += 1,
        }
    }

    fn record(&mut self, slot: Slot, deviation: i64) {
        self.last_seq = Some(slot.seq);
        self.report.deviations.add(deviation);
        let frame = (slot.start - self.begin) / self.schedule.frame();
        if frame < self.tenth {
            self.report.first.add(deviation);
        }
        if frame >= self.report.frames.saturating_sub(self.tenth) {
            self.report.last.add(deviation);
        }
    }
}

/// Polls `read` until it reaches `end`, as the pinned role does, and returns the longest interval between two
/// reads: a cross-check of the hypervisor's entry count that needs no hypercall.
pub fn spin_until(end: u64, mut read: impl FnMut() -> u64) -> u64 {
    let mut previous = read();
    let mut longest = 0;
    while previous < end {
        let now = read();
        longest = longest.max(now.wrapping_sub(previous));
        previous = now;
    }
    longest
}

#[cfg(test)]
mod tests {
    use std::vec::Vec;

    use pv_drivers::abi::hv::{Frame, Window};

    use super::*;

    const HZ: u64 = 62_500_000;
    const T0: u64 = 5_000_000;
    /// Ticks between two reads while running.
    const STEP: u64 = 7;
    /// A 10000-tick frame with two windows; gaps of 3500 and 2000 ticks, so the threshold is 1000.
    const FRAME: u32 = 10_000;
    const WINDOWS: [Window; 2] = [Window { start: 0, end: 2_500 }, Window { start: 6_000, end: 8_000 }];

    fn schedule() -> Schedule {
        let s = Schedule::new(Frame { length: FRAME, start: T0 }, &WINDOWS, HZ).unwrap();
        assert_eq!(s.threshold(), 1_000);
        s
    }

    /// The reads of a vCPU that runs in `WINDOWS` of frames `0..frames`, each window starting `late(frame,
    /// window)` ticks after its scheduled start (none when `None`: the window is missed) and ending on time.
    fn trace(frames: u64, late: impl Fn(u64, usize) -> Option<i64>) -> Vec<u64> {
        let mut reads = Vec::new();
        for frame in 0..frames {
            let base = T0 + frame * u64::from(FRAME);
            for (i, w) in WINDOWS.iter().enumerate() {
                let Some(late) = late(frame, i) else { continue };
                let mut t = (base + u64::from(w.start)).checked_add_signed(late).unwrap();
                while t < base + u64::from(w.end) {
                    reads.push(t);
                    t += STEP;
                }
            }
        }
        reads
    }

    /// Measures `frames` frames of a trace that starts in frame 0 and runs on two frames past the end.
    fn run(frames: u64, late: impl Fn(u64, usize) -> Option<i64>) -> Report {
        let schedule = schedule();
        let mut reads = trace(frames + 3, late).into_iter();
        measure(&schedule, frames, || reads.next().expect("the trace outlasts the measurement"))
    }

    #[test]
    fn exact_schedule_has_zero_deviation() {
        let r = run(100, |_, _| Some(0));
        assert_eq!(r.deviations, Samples { count: 200, min: 0, max: 0, sum: 0 });
        assert_eq!((r.expected, r.missed(), r.unexpected), (200, 0, 0));
        assert_eq!(
            std::format!("{}", r.summary()),
            "sched: windows=200 frames=100 deviation min=0 max=0 mean=0.0 ticks; drift=0.0 ticks over 100 frames"
        );
    }

    #[test]
    fn constant_lateness_is_constant_deviation_without_drift() {
        let r = run(100, |_, _| Some(40));
        assert_eq!((r.deviations.min, r.deviations.max, r.deviations.count), (40, 40, 200));
        assert_eq!((r.first.count, r.last.count), (20, 20), "a tenth of the frames, two windows each");
        assert_eq!(
            std::format!("{}", r.summary()),
            "sched: windows=200 frames=100 deviation min=40 max=40 mean=40.0 ticks; drift=0.0 ticks over 100 frames"
        );
    }

    #[test]
    fn accumulating_lateness_drifts() {
        // Relative deadlines: every frame starts 3 ticks later than the one before.
        let r = run(100, |frame, _| Some(3 * frame as i64));
        // Measured frames are 1..=100: the first tenth has 3..=30 (mean 16.5), the last 273..=300 (mean 286.5).
        assert_eq!((r.deviations.min, r.deviations.max), (3, 300));
        assert_eq!(r.last.mean_minus(&r.first).map(|d| d.0), Some(2_700));
        assert!(std::format!("{}", r.summary()).ends_with("drift=270.0 ticks over 100 frames"));
        assert_eq!((r.missed(), r.unexpected), (0, 0));
    }

    #[test]
    fn a_missed_window_is_counted() {
        let r = run(20, |frame, i| (frame != 5 || i != 1).then_some(0));
        assert_eq!((r.expected, r.deviations.count, r.missed(), r.unexpected), (40, 39, 1, 0));
    }

    #[test]
    fn a_stall_inside_a_window_is_unexpected() {
        let schedule = schedule();
        let stall_at = T0 + 3 * u64::from(FRAME) + 1_000;
        let mut reads = trace(23, |_, _| Some(0)).into_iter().filter(|&t| !(stall_at..stall_at + 1_200).contains(&t));
        let r = measure(&schedule, 20, || reads.next().unwrap());
        assert_eq!((r.deviations.count, r.missed(), r.unexpected), (40, 0, 1));
    }

    #[test]
    fn an_early_start_is_a_negative_deviation() {
        let r = run(20, |frame, i| Some(if frame == 4 && i == 0 { -300 } else { 0 }));
        assert_eq!((r.deviations.min, r.deviations.max, r.deviations.count), (-300, 0, 40));
        assert_eq!((r.missed(), r.unexpected), (0, 0));
    }

    #[test]
    fn starts_outside_the_measured_frames_do_not_count() {
        // Frame 0 (the run-in) and frame 21 (after the last) are very late; only frames 1..=20 are measured.
        let r = run(20, |frame, _| Some(if frame == 0 || frame == 21 { 900 } else { 10 }));
        assert_eq!((r.deviations.min, r.deviations.max, r.deviations.count), (10, 10, 40));
    }

    #[test]
    fn a_start_after_its_window_ended_is_missed_and_unexpected() {
        // Window 0 of frame 7 never runs; instead the vCPU runs for a while in the gap after it.
        let schedule = schedule();
        let mut reads = trace(23, |frame, i| (frame != 7 || i != 0).then_some(0));
        let in_gap = T0 + 7 * u64::from(FRAME) + 2_600;
        reads.extend((in_gap..in_gap + 100).step_by(STEP as usize));
        reads.sort_unstable();
        let mut reads = reads.into_iter();
        let r = measure(&schedule, 20, || reads.next().unwrap());
        assert_eq!((r.deviations.count, r.missed(), r.unexpected), (39, 1, 1));
    }

    #[test]
    fn a_pause_over_a_gap_too_short_to_see_is_ignored() {
        // Windows 0..2500 and 2800..8000: the 300-tick gap is under twice the 256-tick floor, so only the start
        // after the 4500-tick gap at the frame's end is measured, and the pause over the short gap is no surprise.
        let windows = [Window { start: 0, end: 2_500 }, Window { start: 2_800, end: 8_000 }];
        let schedule = Schedule::new(Frame { length: FRAME, start: T0 }, &windows, HZ).unwrap();
        assert_eq!((schedule.threshold(), schedule.detectable_runs()), (256, 1));
        let mut reads = Vec::new();
        for frame in 0..13 {
            let base = T0 + frame * u64::from(FRAME);
            for w in &windows {
                reads.extend((base + u64::from(w.start)..base + u64::from(w.end)).step_by(STEP as usize));
            }
        }
        // Starting in the middle of a frame changes nothing: that frame is the run-in.
        let mut reads = reads.into_iter().skip_while(|&t| t < T0 + 4_321);
        let r = measure(&schedule, 10, || reads.next().unwrap());
        assert_eq!((r.expected, r.deviations.count, r.deviations.max, r.missed(), r.unexpected), (10, 10, 0, 0, 0));
    }

    #[test]
    fn spinning_reports_the_longest_interval() {
        let mut reads = [10, 12, 15, 400, 402, 405].into_iter();
        assert_eq!(spin_until(402, || reads.next().unwrap()), 385);
    }
}
