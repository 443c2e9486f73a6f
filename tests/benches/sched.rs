//! The cyclic scheduler's cost and precision, measured from inside partitions by `schedprobe` under QEMU's
//! `-icount shift=0,align=off,sleep=off`: guest time advances one nanosecond per instruction and every counter value
//! is reproducible, so the numbers are the same on every run and every host.
//!
//! `cargo bench -p hv-tests --bench sched` prints one row per system: the window-start deviation (how late each
//! window's first instruction runs after its scheduled instant, in counter ticks of 16 ns), the same in
//! instructions (on the single-CPU systems the only instructions executed between the deadline and the guest's
//! first counter read are the interrupt entry, hv-static's switch and the probe's loop, so this is the switch's
//! path length to within one tick), and the drift between the first and the last hundred of 1000 frames.

use std::time::Instant;

use hv_tests::checks::{pinned_entries, window_stats};
use hv_tests::{all_of, boot_until_icount};

/// Nanoseconds, hence instructions under `shift=0`, per tick of QEMU's 62.5 MHz counter.
const NS_PER_TICK: i64 = 16;

fn main() {
    println!("cyclic pools under -icount shift=0 (1 instruction = 1 ns; counter tick = {NS_PER_TICK} ns), 1000 frames of 1 ms");
    println!(
        "{:<30} {:>9} {:>22} {:>24} {:>12} {:>14} {:>8}",
        "system", "windows", "deviation ticks", "deviation instructions", "drift ticks", "pinned entries", "wall s"
    );
    for (config, pinned) in [
        ("qemu-aarch64-schedbench.toml", false),
        ("qemu-a15-schedbench.toml", false),
        ("qemu-aarch64-schedprobe.toml", true),
        ("qemu-a15-schedprobe.toml", true),
    ] {
        let expect = if pinned { 3 } else { 2 };
        let until = format!(r"(?s)(schedprobe: done.*){{{expect}}}");
        let started = Instant::now();
        let out = boot_until_icount(config, &all_of(&[&until]), std::time::Duration::from_secs(900));
        let wall = started.elapsed().as_secs_f64();
        let s = window_stats(&out, "a");
        let entries = if pinned { pinned_entries(&out, "steady").to_string() } else { "-".into() };
        println!(
            "{:<30} {:>9} {:>22} {:>24} {:>12} {:>14} {:>8.1}",
            config.trim_end_matches(".toml"),
            s.windows,
            format!("{}/{:.1}/{}", s.min, s.mean, s.max),
            format!("{}..{}", s.min * NS_PER_TICK, s.max * NS_PER_TICK + NS_PER_TICK - 1),
            format!("{:.1}", s.drift),
            entries,
            wall
        );
    }
}
