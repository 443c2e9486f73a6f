//! Role `window`: learn the vCPU's schedule from the hypervisor, print it, measure it, print the summary.

use core::fmt;

use guest_rt::{arch, println};
use pv_drivers::abi::hv::{self, HvError, Window};

use crate::measure::measure;
use crate::schedule::{Schedule, MAX_WINDOWS};

pub fn run(frames: u64, frequency: u64) {
    let frame = match hv::sched_frame() {
        Ok(frame) => frame,
        Err(HvError::NotSupported) => return println!("schedprobe: not in a cyclic pool"),
        Err(e) => return println!("schedprobe: HV_SCHED_FRAME failed: {e}"),
    };
    // One more than a schedule may have, so that too many is reported rather than silently cut.
    let mut windows = [Window { start: 0, end: 0 }; MAX_WINDOWS + 1];
    let mut count = 0;
    while count < windows.len() {
        match hv::sched_window(count as u32) {
            Ok(Some(window)) => windows[count] = window,
            Ok(None) => break,
            Err(e) => return println!("schedprobe: HV_SCHED_WINDOW {count} failed: {e}"),
        }
        count += 1;
    }
    let windows = &windows[..count];
    println!("schedprobe: frame {} ticks, T0 {:#x}, windows [{}]", frame.length, frame.start, List(windows));
    let schedule = match Schedule::new(frame, windows, frequency) {
        Ok(schedule) => schedule,
        Err(e) => return println!("schedprobe: bad schedule: {e}"),
    };
    let threshold = schedule.threshold();
    println!("schedprobe: threshold {threshold} ticks, measuring {frames} frames");
    let hidden = schedule.runs().len() as u64 - schedule.detectable_runs();
    if hidden > 0 {
        println!("schedprobe: {hidden} window start(s) after gaps under {} ticks are not measured", 2 * threshold);
    }

    let report = measure(&schedule, frames, arch::timer::now);

    println!("{}", report.summary());
    println!("sched: missed={} unexpected={}", report.missed(), report.unexpected);
}

/// Windows as `0..25000, 40000..50000`.
struct List<'a>(&'a [Window]);

impl fmt::Display for List<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, w) in self.0.iter().enumerate() {
            let separator = if i == 0 { "" } else { ", " };
            write!(f, "{separator}{}..{}", w.start, w.end)?;
        }
        Ok(())
    }
}
