//! Role `window`: how late this vCPU's first instruction runs after each of its cyclic windows starts. The vCPU
//! busy-reads the virtual counter with IRQs masked; a jump of more than [`GAP_TICKS`] between two reads means it
//! was switched out, and the read after the jump is the first thing it did in its new window. A stamp right after
//! that read dates it to within a few nanoseconds; the window's scheduled start comes from HV_SCHED_FRAME and
//! HV_SCHED_WINDOW (the latest scheduled start not after the read).
//!
//! Between two starts the vCPU sleeps: after each sample it sets the virtual timer to [`WAKE_BEFORE_END_US`]
//! before its window ends and waits in WFI, then busy-reads again until it is switched out. Under `-icount
//! sleep=off` the sleep costs no host time, so 10,000 windows of 100 us take seconds, not minutes.

use guest_rt::{arch, println};
use pv_drivers::abi::hv::{self, Frame, HvError, Window};

use crate::clock::{self, stamp};
use crate::stats::{self, MAX_SAMPLES};

/// A jump between two counter reads longer than this (1 µs at 62.5 MHz) is a switch.
pub const GAP_TICKS: u64 = 64;
/// Windows per vCPU and frame that are looked at.
const MAX_WINDOWS: usize = 16;
/// How long before its window ends the vCPU wakes to busy-read through the switch.
const WAKE_BEFORE_END_US: u64 = 5;

/// The latest scheduled window (start and end, ticks) starting not after `t`, `None` before frame 0's first
/// window.
pub fn scheduled_window(frame: Frame, windows: &[Window], t: u64) -> Option<(u64, u64)> {
    let length = u64::from(frame.length);
    if length == 0 || windows.is_empty() || t < frame.start {
        return None;
    }
    let k = (t - frame.start) / length;
    let offset = (t - frame.start) % length;
    let (frame_start, w) = match windows.iter().rev().find(|w| u64::from(w.start) <= offset) {
        Some(w) => (frame.start_of(k), w),
        None if k > 0 => (frame.start_of(k - 1), windows.last()?),
        None => return None,
    };
    Some((frame_start + u64::from(w.start), frame_start + u64::from(w.end)))
}

pub fn run(events: usize, samples: &mut [i32; MAX_SAMPLES]) {
    let frame = match hv::sched_frame() {
        Ok(frame) => frame,
        Err(HvError::NotSupported) => return println!("lat: window skipped (not in a cyclic pool)"),
        Err(e) => return println!("lat: window skipped (HV_SCHED_FRAME failed: {e})"),
    };
    let mut windows = [Window { start: 0, end: 0 }; MAX_WINDOWS];
    let mut count = 0;
    while count < MAX_WINDOWS {
        match hv::sched_window(count as u32) {
            Ok(Some(w)) => windows[count] = w,
            Ok(None) => break,
            Err(e) => return println!("lat: window skipped (HV_SCHED_WINDOW failed: {e})"),
        }
        count += 1;
    }
    let windows = &windows[..count];
    println!("latprobe: frame {} ticks from {:#x}, {count} window(s) of this vCPU", frame.length, frame.start);
    let buf = &mut samples[..events.min(MAX_SAMPLES)];
    let wake_early = guest_rt::timer::ticks_for_us(arch::timer::frequency(), WAKE_BEFORE_END_US);
    arch::enable_irqs();
    let mut filled = 0;
    let mut previous = arch::timer::now();
    while filled < buf.len() {
        let t = arch::timer::now();
        if t.wrapping_sub(previous) > GAP_TICKS {
            // The read of `t` ran in tick `t`; the stamp dates it to within its loop, a few instructions later.
            let read_ns = stamp().first_read_ns();
            if let Some((start, end)) = scheduled_window(frame, windows, t) {
                buf[filled] = stats::sample(read_ns as i64 - clock::ticks_to_ns(start) as i64);
                filled += 1;
                if end > arch::timer::now() + 2 * wake_early {
                    crate::events::sleep_until(end - wake_early);
                }
            }
            previous = arch::timer::now();
            continue;
        }
        previous = t;
    }
    stats::report("window", buf);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_latest_start() {
        let frame = Frame { length: 1000, start: 10_000 };
        let w = [Window { start: 0, end: 400 }, Window { start: 500, end: 900 }];
        assert_eq!(scheduled_window(frame, &w, 10_003), Some((10_000, 10_400)));
        assert_eq!(scheduled_window(frame, &w, 12_510), Some((12_500, 12_900)));
        assert_eq!(scheduled_window(frame, &w, 9_999), None);
        let late = [Window { start: 600, end: 900 }];
        assert_eq!(scheduled_window(frame, &late, 11_100), Some((10_600, 10_900)), "before this frame's window");
        assert_eq!(scheduled_window(frame, &late, 10_100), None);
    }
}
