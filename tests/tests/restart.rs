//! Partition restarts (issue 17): a partition that faults is restarted from its images by its `on_fault =
//! "restart"` policy, RAM scrubbed, again and again; the work of each restart runs in the restarting partition's
//! own windows, so time-partitioned neighbours start their windows as on time as beside a partition that never
//! faults (`X-restart-quiet`), and a victim on another CPU keeps beating. (The budget, the delay and restarts
//! beside pinned partitions: `checks::lifecycle`.)

use hv_tests::hostile::{
    assert_no_breach, check_twice_quiet, heartbeat, timing, windows, Timing, DEVIATION_FACTOR, DEVIATION_SLACK,
    ICOUNT_GAP_PERIODS,
};
use hv_tests::lines_of;
use image_builder::qemu::RunOutcome;

/// The runs of partition `name` (its `hello from` lines), each checked to start from scrubbed RAM.
fn clean_boots(out: &RunOutcome, name: &str) -> usize {
    let lines = lines_of(out, name);
    let boots = lines.iter().filter(|l| l.starts_with("hello from ")).count();
    let checks: Vec<&&str> = lines.iter().filter(|l| l.starts_with("ram: ")).collect();
    assert!(checks.iter().all(|l| **l == "ram: clean"), "{name} saw its previous run's RAM: {checks:?}");
    assert!(checks.len() + 1 >= boots, "{name}: a run without its RAM check: {lines:?}");
    boots
}

/// What one of `crashy`'s console lines may add on ARMv7 beyond issue 14's bound, in counter ticks: a boundary that
/// comes while hv-static copies a partition's completed line into the console and drains its first bytes (~1 µs
/// under QEMU's round-robin -icount, 66 ticks measured; on AArch64 the same work fits inside the bound) starts the
/// next window that much later. `crashy` prints its boot lines on every restart, so how close one comes to a
/// boundary depends on the guest's instruction counts (a change to guest-rt's device-tree parsing moved `sched2`'s
/// worst start from 70 to 119 ticks). Shortening that path is issue 15's; the restart's own steps stay within the
/// bound (4 KiB steps gave 235 ticks here, still caught).
const ARMV7_CONSOLE_LINE_TICKS: i64 = 70;

fn check(stem: &str) {
    let t: Timing = timing(stem);
    let out = &t.attacked;
    // `crashy` faults in every run and is restarted every time, numbered.
    let restarts = out.output.matches("[hv] partition 'crashy' restarting (fault), restart ").count();
    let restarted = out.output.matches("[hv] partition 'crashy' restarted ").count();
    assert!(restarted >= 2, "{stem}: crashy restarted {restarted} times: {}", out.output);
    // The run may end between a restart and the boot it leads to.
    assert!(restarts >= restarted && clean_boots(out, "crashy") >= restarted, "{stem}: {}", out.output);
    for n in 1..=restarted {
        let line = format!("[hv] partition 'crashy' restarting (fault), restart {n}");
        assert!(out.output.lines().any(|l| l.trim_end() == line), "{stem}: no `{line}`");
    }
    // The neighbours in crashy's pool lose no window, and start them at most twice as late as beside a partition
    // that never faults (and no more than the hostile suite's slack later).
    for name in ["sched", "sched2"] {
        let (q, a) = windows(&t, stem, name);
        assert!(a.max <= q.max + DEVIATION_SLACK, "{stem} {name}: {a:?} vs {q:?}");
        if stem.contains("a15") {
            eprintln!("{stem} {name}: windows start up to {} ticks late attacked, {} quiet", a.max, q.max);
            let bound = DEVIATION_FACTOR * q.max + ARMV7_CONSOLE_LINE_TICKS;
            assert!(a.max <= bound, "{stem} {name}: attacked windows start up to {} ticks late (bound {bound})", a.max);
        } else {
            check_twice_quiet(stem, &t, name);
        }
    }
    let quiet = heartbeat(&t.quiet, "victim", 20, ICOUNT_GAP_PERIODS);
    let attacked = heartbeat(out, "victim", 20, ICOUNT_GAP_PERIODS);
    eprintln!("{stem} victim: quiet {quiet:?}, beside restarts {attacked:?}");
    assert_no_breach(out);
}

#[test]
fn gicv3_restarts_in_bounded_steps_in_their_own_windows() {
    check("qemu-aarch64-restart");
}

#[test]
fn a15_restarts_in_bounded_steps_in_their_own_windows() {
    check("qemu-a15-restart");
}
